import { mutateBytes } from "./mutate-bytes.ts";
import type { Rng } from "./rng.ts";

/**
 * SFrame-aware mutations. Like mutate-elf.ts it finds fields with its own raw decoding (preamble,
 * header, FDE table; sframe-and-kernel.md §1) rather than ldsim's decoder, so a decoder bug cannot
 * hide a mutation. Each mutation breaks one promise: a count larger than the table, an offset past
 * the end, fdeoff > freoff, an FDE whose FREs run past fre_len, an FRE type or data-word size code
 * out of range, a function range that wraps, unsorted FDEs.
 */

interface SframeShape {
  readonly le: boolean;
  readonly version: number;
  readonly hdrLen: number;
  readonly numFdes: number;
  readonly fdeoff: number;
  readonly freoff: number;
  readonly freLen: number;
  readonly fdeSize: number;
}

const get = (b: Uint8Array, at: number, w: number, le: boolean): number => {
  let v = 0;
  for (let i = 0; i < w; i++) v = v * 256 + (b[le ? at + w - 1 - i : at + i] ?? 0);
  return v;
};
const put = (b: Uint8Array, at: number, w: number, le: boolean, value: number): void => {
  let v = BigInt.asUintN(w * 8, BigInt(Math.trunc(value)));
  for (let i = 0; i < w; i++) {
    const idx = le ? at + i : at + w - 1 - i;
    if (idx >= 0 && idx < b.length) b[idx] = Number(v & 0xffn);
    v >>= 8n;
  }
};

function shape(b: Uint8Array): SframeShape | undefined {
  if (b.length < 28) return undefined;
  const le = b[0] === 0xe2 && b[1] === 0xde;
  const be = b[0] === 0xde && b[1] === 0xe2;
  if (!le && !be) return undefined;
  const version = b[2] ?? 0;
  return {
    le,
    version,
    hdrLen: 28 + (b[7] ?? 0),
    numFdes: get(b, 8, 4, le),
    freLen: get(b, 16, 4, le),
    fdeoff: get(b, 20, 4, le),
    freoff: get(b, 24, 4, le),
    fdeSize: version === 1 ? 17 : version === 2 ? 20 : 16,
  };
}

const BOUNDARY = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff];

/** One to three mutations of a copy of `input`, `other` being another seed to splice from. */
export function mutateSframe(input: Uint8Array, rng: Rng, other?: Uint8Array): Uint8Array {
  if (rng.chance(0.25)) return mutateBytes(input, rng, other);
  const b = input.slice();
  const s = shape(b);
  if (!s) return mutateBytes(b, rng, other);
  const count = 1 + (rng.chance(0.6) ? 0 : rng.below(3));
  const fdeBase = s.hdrLen + s.fdeoff;
  const freBase = s.hdrLen + s.freoff;
  for (let k = 0; k < count; k++) {
    const fde = fdeBase + rng.below(Math.max(1, s.numFdes)) * s.fdeSize;
    const near = (v: number) => rng.pick([v + 1, v - 1, v + s.fdeSize, v * 2, rng.pick(BOUNDARY)]);
    switch (rng.below(12)) {
      case 0: // version, flags
        if (rng.chance(0.5)) b[2] = rng.pick([0, 1, 2, 3, 4, 0xff]);
        else b[3] = rng.pick([0, 1, 2, 4, 5, 7, 8, 0xff]) & 0xff;
        break;
      case 1: // abi / fixed offsets / auxhdr_len
        b[rng.pick([4, 5, 6, 7])] = rng.pick([0, 1, 2, 3, 4, 5, 0x7f, 0x80, 0xf0, 0xff]);
        break;
      case 2: // num_fdes / num_fres
        put(b, rng.pick([8, 12]), 4, s.le, near(get(b, 8, 4, s.le)));
        break;
      case 3: // fre_len, fdeoff, freoff
        put(b, rng.pick([16, 20, 24]), 4, s.le, rng.chance(0.5) ? rng.pick(BOUNDARY) : near(get(b, 16, 4, s.le)));
        break;
      case 4: // FDE function start: wrap, collide with a neighbour, far away
        put(b, fde, 4, s.le, rng.pick([0, -1, 0x7fffffff, -0x80000000, get(b, fde + s.fdeSize, 4, s.le)]));
        break;
      case 5: // FDE function size
        put(b, fde + 4, 4, s.le, rng.pick(BOUNDARY));
        break;
      case 6: // FDE FRE offset (V1/V2 at +8; V3 index entry at +8 too)
        put(b, fde + 8, 4, s.le, rng.pick([s.freLen, s.freLen - 1, s.freLen + 1, ...BOUNDARY]));
        break;
      case 7: // FDE FRE count / V3 attribute fields
        if (s.version === 3) put(b, fde + 12, 4, s.le, rng.pick(BOUNDARY));
        else put(b, fde + 12, 4, s.le, rng.pick([0, 1, 0xffff, 0x10000, 0x7fffffff, 0xffffffff]));
        break;
      case 8: {
        // The FDE info byte (V1/V2 at +16) or a V3 attribute block's info/type bytes.
        const at = s.version === 3 ? freBase + get(b, fde + 8, 4, s.le) + 2 + rng.below(3) : fde + 16;
        if (at < b.length) b[at] = rng.below(256);
        break;
      }
      case 9: {
        // An FRE info byte somewhere in the FRE sub-section: bad size code 3, many words, flags.
        if (s.freLen === 0) break;
        const at = freBase + rng.below(s.freLen);
        if (at < b.length) b[at] = rng.pick([0x60, 0x61, 0x1e, 0x1f, 0x41, 0xff, 0x00, rng.below(256)]);
        break;
      }
      case 10: {
        // Swap two FDEs: unsorted table.
        if (s.numFdes < 2) break;
        const other2 = fdeBase + rng.below(s.numFdes) * s.fdeSize;
        for (let i = 0; i < s.fdeSize; i++) {
          const x = b[fde + i];
          const y = b[other2 + i];
          if (x === undefined || y === undefined) break;
          b[fde + i] = y;
          b[other2 + i] = x;
        }
        break;
      }
      default: {
        // Truncate at a structure boundary: inside the header, the FDE table or the FREs.
        const cut = rng.pick([
          rng.below(28),
          fdeBase + rng.below(Math.max(1, s.numFdes * s.fdeSize)),
          freBase + rng.below(Math.max(1, s.freLen)),
        ]);
        return b.subarray(0, Math.min(b.length, cut));
      }
    }
  }
  return b;
}
