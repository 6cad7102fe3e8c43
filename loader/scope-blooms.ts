/**
 * The GNU hash tables' first two steps for one scope list, flattened into typed arrays, so that
 * do_lookup_x's tests (glibc 2.36 elf/dl-lookup.c: `bitmask_word = l_gnu_bitmask[(hash / 64) &
 * l_gnu_bitmask_idxbits]`, both bits `hash % 64` and `(hash >> l_gnu_shift) % 64` set, then
 * `l_gnu_buckets[hash % l_nbuckets]`) run over the whole list in one loop of number arithmetic.
 * Most objects of a large program's scope are ruled out there: gdb's startup tests about 32
 * objects per lookup and walks a chain in two.
 *
 * The filters and buckets are copies of what each object's l_info view (loader/dynamic-info.ts)
 * read from process memory, taken when the index is built; they are only ever read, as ld.so reads them.
 */
import type { DynamicInfo } from "./dynamic-info.ts";
import type { LinkMap } from "./link-map.ts";

/** meta offset of an object the flat loop cannot test: its l_info view is not built yet, or it has no GNU hash table. */
export const TEST_IN_OBJECT = -1;
/** meta offset of a faked (ldd "not found") entry: do_lookup_x never looks into it. */
export const NEVER = -2;
/** Numbers per position in `meta`. */
export const META = 5;

export class ScopeBlooms {
  /**
   * Per position (META numbers): offset of its bitmask in `words` (or TEST_IN_OBJECT / NEVER),
   * idxbits, shift, offset of its buckets in `buckets`, nbuckets.
   */
  readonly meta: Int32Array;
  /** Every filter's 64-bit words as 32-bit halves (word k of a filter at offset o: [o + 2k] low, [o + 2k + 1] high). */
  readonly words: Uint32Array;
  /** Every object's bucket array. */
  readonly buckets: Uint32Array;
  /** The l_info view of each position whose tables are in `words` and `buckets`. */
  readonly infos: (DynamicInfo | undefined)[];

  /** `view(map)`: the object's l_info view, or undefined when it cannot be read (the walk then tests it in place). */
  constructor(list: readonly LinkMap[], view: (map: LinkMap) => DynamicInfo | undefined) {
    const n = list.length;
    this.meta = new Int32Array(n * META);
    this.infos = new Array(n).fill(undefined);
    let nWords = 0;
    let nBuckets = 0;
    for (let i = 0; i < n; i++) {
      const map = list[i] as LinkMap;
      if (map.faked) {
        this.meta[META * i] = NEVER;
        continue;
      }
      const info = view(map);
      const g = info?.gnu;
      if (info && g && info.nbuckets !== 0) {
        this.infos[i] = info;
        nWords += g.bitmask.length;
        nBuckets += g.buckets.length;
      } else this.meta[META * i] = TEST_IN_OBJECT;
    }
    this.words = new Uint32Array(nWords);
    this.buckets = new Uint32Array(nBuckets);
    let w = 0;
    let b = 0;
    for (let i = 0; i < n; i++) {
      const g = this.infos[i]?.gnu;
      if (!g) continue;
      this.words.set(g.bitmask, w);
      this.buckets.set(g.buckets, b);
      const m = META * i;
      this.meta[m] = w;
      this.meta[m + 1] = g.idxbits;
      this.meta[m + 2] = g.shift;
      this.meta[m + 3] = b;
      this.meta[m + 4] = g.buckets.length;
      w += g.bitmask.length;
      b += g.buckets.length;
    }
  }
}
