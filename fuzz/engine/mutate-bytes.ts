import type { Rng } from "./rng.ts";

/**
 * Structure-blind damage for any byte string: bit flips, random runs, boundary values written at
 * random offsets, truncation, duplicated or deleted chunks, and splices from another seed. The
 * structure-aware mutators (mutate-elf.ts, mutate-sframe.ts) call this for part of their inputs so
 * layouts they do not know about still get exercised.
 */
export function mutateBytes(input: Uint8Array, rng: Rng, other?: Uint8Array): Uint8Array {
  let b = input.slice();
  const ops = 1 + rng.below(4);
  for (let k = 0; k < ops; k++) {
    const n = b.length;
    switch (rng.below(8)) {
      case 0: {
        if (n === 0) break;
        const at = rng.below(n);
        b[at] = (b[at] ?? 0) ^ (1 << rng.below(8));
        break;
      }
      case 1: {
        if (n === 0) break;
        const at = rng.below(n);
        for (let i = at; i < Math.min(n, at + 1 + rng.below(8)); i++) b[i] = rng.below(256);
        break;
      }
      case 2: {
        // A boundary value (0, -1, max positive, min negative) as 1/2/4/8 bytes, either byte order.
        if (n === 0) break;
        const w = rng.pick([1, 2, 4, 8]);
        const at = rng.below(Math.max(1, n - w + 1));
        const fill = rng.pick([0x00, 0xff, 0x7f, 0x80]);
        for (let i = 0; i < w && at + i < n; i++)
          b[at + i] = i === 0 || rng.chance(0.2) ? fill : fill === 0x7f ? 0xff : fill === 0x80 ? 0 : fill;
        break;
      }
      case 3:
        b = b.subarray(0, rng.below(n + 1)).slice();
        break;
      case 4: {
        if (n === 0) break;
        const at = rng.below(n);
        const len = 1 + rng.below(Math.min(64, n - at));
        const out = new Uint8Array(n + len);
        out.set(b.subarray(0, at + len), 0);
        out.set(b.subarray(at), at + len);
        b = out;
        break;
      }
      case 5: {
        if (n === 0) break;
        const at = rng.below(n);
        const len = 1 + rng.below(Math.min(64, n - at));
        const out = new Uint8Array(n - len);
        out.set(b.subarray(0, at), 0);
        out.set(b.subarray(at + len), at);
        b = out;
        break;
      }
      case 6: {
        if (!other || other.length === 0 || n === 0) break;
        const from = rng.below(other.length);
        const len = 1 + rng.below(Math.min(256, other.length - from));
        const at = rng.below(n);
        for (let i = 0; i < len && at + i < n; i++) b[at + i] = other[from + i] ?? 0;
        break;
      }
      default: {
        if (n === 0) break;
        const at = rng.below(n);
        b[at] = ((b[at] ?? 0) + rng.pick([1, -1, 16, -16, 128])) & 0xff;
      }
    }
  }
  return b;
}
