/**
 * The GNU bloom filters of one scope list, flattened into two typed arrays, so that do_lookup_x's
 * first test (glibc 2.36 elf/dl-lookup.c: `bitmask_word = l_gnu_bitmask[(hash / 64) &
 * l_gnu_bitmask_idxbits]`, both bits `hash % 64` and `(hash >> l_gnu_shift) % 64` set) runs over
 * the whole list in one loop of number arithmetic. Most objects of a large program's scope are ruled
 * out by it: gdb's startup tests about 32 objects per distinct name and looks further into one.
 *
 * The filters are copies of what each object's l_info view (loader/dynamic-info.ts) read from
 * process memory, taken when the scope memo is built; they are only ever read, as ld.so reads them.
 */
import type { DynamicInfo } from "./dynamic-info.ts";
import type { LinkMap } from "./link-map.ts";

/** meta offset of an object the flat loop cannot test: its l_info view is not built yet, or it has no GNU hash table. */
export const TEST_IN_OBJECT = -1;
/** meta offset of a faked (ldd "not found") entry: do_lookup_x never looks into it. */
export const NEVER = -2;

export class ScopeBlooms {
  /** Per position: [offset of its bitmask in `words` (or TEST_IN_OBJECT / NEVER), idxbits, shift]. */
  readonly meta: Int32Array;
  /** Every filter's 64-bit words as 32-bit halves (word k of a filter at offset o: [o + 2k] low, [o + 2k + 1] high). */
  readonly words: Uint32Array;
  /** The l_info view of each position whose filter is in `words`. */
  readonly infos: (DynamicInfo | undefined)[];

  /** `known(map)`: the object's l_info view if it is already built (the index never builds one). */
  constructor(list: readonly LinkMap[], known: (map: LinkMap) => DynamicInfo | undefined) {
    const n = list.length;
    this.meta = new Int32Array(n * 3);
    this.infos = new Array(n).fill(undefined);
    let total = 0;
    const views: (DynamicInfo | undefined)[] = new Array(n).fill(undefined);
    for (let i = 0; i < n; i++) {
      const map = list[i] as LinkMap;
      if (map.faked) {
        this.meta[3 * i] = NEVER;
        continue;
      }
      const info = known(map);
      const g = info?.gnu;
      if (info && g && info.nbuckets !== 0) {
        views[i] = info;
        total += g.bitmask.length;
      } else this.meta[3 * i] = TEST_IN_OBJECT;
    }
    this.words = new Uint32Array(total);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const info = views[i];
      const g = info?.gnu;
      if (!info || !g) continue;
      this.words.set(g.bitmask, at);
      this.meta[3 * i] = at;
      this.meta[3 * i + 1] = g.idxbits;
      this.meta[3 * i + 2] = g.shift;
      this.infos[i] = info;
      at += g.bitmask.length;
    }
  }
}
