/**
 * A deterministic ELF mutation engine for fuzzing readers: seeded from real files, it produces inputs
 * that break one structural promise at a time (truncation, byte flips, huge counts and sizes,
 * offsets past the end, unterminated string tables, cyclic sh_link) as well as plain random damage.
 *
 * It locates header fields with its own minimal raw decoding (no ldsim reader code), so a reader bug
 * cannot hide a mutation. Same seed + same RNG seed → same inputs, so every failure is replayable
 * from the `(seedName, iteration)` pair the caller reports.
 */
import type { Rng } from "./rng.ts";

/** Where the structures of a seed file are, decoded without any reader code. */
export interface ElfShape {
  readonly is64: boolean;
  readonly littleEndian: boolean;
  readonly phoff: number;
  readonly phnum: number;
  readonly phentsize: number;
  readonly shoff: number;
  readonly shnum: number;
  readonly shentsize: number;
  readonly sections: readonly {
    /** Offset of this section's header in the file. */
    readonly header: number;
    readonly type: number;
    readonly offset: number;
    readonly size: number;
  }[];
}

export interface Seed {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly shape: ElfShape | undefined;
}

function readUint(b: Uint8Array, at: number, width: number, le: boolean): number {
  let v = 0;
  for (let i = 0; i < width; i++) {
    const byte = b[le ? at + width - 1 - i : at + i] ?? 0;
    v = v * 256 + byte;
  }
  return v;
}

function writeUint(b: Uint8Array, at: number, width: number, le: boolean, value: bigint): void {
  let v = BigInt.asUintN(width * 8, value);
  for (let i = 0; i < width; i++) {
    const idx = le ? at + i : at + width - 1 - i;
    if (idx >= 0 && idx < b.length) b[idx] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** Decode the header fields and section table of a well-formed seed (undefined for non-ELF input). */
export function elfShape(b: Uint8Array): ElfShape | undefined {
  if (b.length < 52 || b[0] !== 0x7f || b[1] !== 0x45 || b[2] !== 0x4c || b[3] !== 0x46) return undefined;
  const is64 = b[4] === 2;
  const le = b[5] !== 2;
  if (is64 && b.length < 64) return undefined;
  const f = (o32: number, o64: number, w32: number, w64: number) =>
    is64 ? readUint(b, o64, w64, le) : readUint(b, o32, w32, le);
  const phoff = f(28, 32, 4, 8);
  const shoff = f(32, 40, 4, 8);
  const phentsize = f(42, 54, 2, 2);
  const phnum = f(44, 56, 2, 2);
  const shentsize = f(46, 58, 2, 2);
  const shnum = f(48, 60, 2, 2);
  const sections: { header: number; type: number; offset: number; size: number }[] = [];
  for (let i = 0; i < shnum && shoff + (i + 1) * shentsize <= b.length; i++) {
    const h = shoff + i * shentsize;
    sections.push({
      header: h,
      type: readUint(b, h + 4, 4, le),
      offset: is64 ? readUint(b, h + 24, 8, le) : readUint(b, h + 16, 4, le),
      size: is64 ? readUint(b, h + 32, 8, le) : readUint(b, h + 20, 4, le),
    });
  }
  return { is64, littleEndian: le, phoff, phnum, phentsize, shoff, shnum, shentsize, sections };
}

export function makeSeed(name: string, bytes: Uint8Array): Seed {
  return { name, bytes, shape: elfShape(bytes) };
}

/** Values that sit on boundaries readers get wrong. */
function interesting(rng: Rng, fileSize: number, width: number): bigint {
  const max = (1n << BigInt(width * 8)) - 1n;
  return rng.pick([
    0n,
    1n,
    max,
    max - 1n,
    max >> 1n,
    (max >> 1n) + 1n,
    BigInt(fileSize),
    BigInt(fileSize + 1),
    BigInt(Math.max(0, fileSize - 1)),
    0xffffn,
    0xfeffn,
    0x7fffffffn & max,
    0x80000000n & max,
    0x100000n,
    BigInt(rng.u32()) & max,
  ]);
}

export type MutationKind =
  | "truncate"
  | "flip"
  | "random-bytes"
  | "huge-phnum"
  | "huge-shnum"
  | "huge-sh-size"
  | "offset-past-end"
  | "unterminated-strtab"
  | "cyclic-link"
  | "header-field"
  | "section-field"
  | "program-field"
  | "table-word"
  | "dynamic-entry";

const KINDS: readonly MutationKind[] = [
  "truncate",
  "flip",
  "random-bytes",
  "huge-phnum",
  "huge-shnum",
  "huge-sh-size",
  "offset-past-end",
  "unterminated-strtab",
  "cyclic-link",
  "header-field",
  "section-field",
  "program-field",
  "table-word",
  "table-word",
  "dynamic-entry",
];

/** Section types whose contents are tables a reader walks (counts, links, chains, offsets). */
const TABLE_TYPES = new Set([2, 4, 5, 6, 7, 9, 11, 19, 0x6ffffff6, 0x6ffffffd, 0x6ffffffe, 0x6fffffff]);

/** Dynamic tags worth planting: the ones readers follow to other structures. */
const DYNAMIC_TAGS = [
  0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 14, 15, 17, 18, 19, 20, 23, 25, 27, 29, 35, 36, 37, 0x6ffffef5, 0x6ffffff0,
  0x6ffffffc, 0x6ffffffd, 0x6ffffffe, 0x6fffffff,
];

/** Apply one mutation of `kind` (in place where possible; truncation returns a shorter view). */
export function applyMutation(
  bytes: Uint8Array,
  shape: ElfShape | undefined,
  kind: MutationKind,
  rng: Rng,
): Uint8Array {
  const n = bytes.length;
  if (n === 0) return bytes;
  const le = shape?.littleEndian ?? true;
  const is64 = shape?.is64 ?? true;
  const word = is64 ? 8 : 4;
  const section = () => (shape && shape.sections.length > 0 ? rng.pick(shape.sections) : undefined);
  switch (kind) {
    case "truncate": {
      // Bias cuts towards structure boundaries: inside the header, the phdrs, the shdrs, a section.
      const s = section();
      const points = [rng.below(n), rng.below(Math.min(n, 80)), n - 1 - rng.below(Math.min(n, 128))];
      if (shape) points.push(shape.phoff + rng.below(Math.max(1, shape.phnum * shape.phentsize)));
      if (s) points.push(s.offset + rng.below(Math.max(1, s.size)));
      const cut = Math.max(0, Math.min(n, rng.pick(points)));
      return bytes.subarray(0, cut);
    }
    case "flip": {
      const count = 1 + rng.below(8);
      for (let i = 0; i < count; i++) {
        const at = rng.chance(0.5) ? rng.below(Math.min(n, 64)) : rng.below(n);
        bytes[at] = (bytes[at] ?? 0) ^ (1 << rng.below(8));
      }
      return bytes;
    }
    case "random-bytes": {
      const at = rng.below(n);
      const len = 1 + rng.below(16);
      for (let i = at; i < Math.min(n, at + len); i++) bytes[i] = rng.below(256);
      return bytes;
    }
    case "huge-phnum":
      writeUint(bytes, is64 ? 56 : 44, 2, le, rng.pick([0xffffn, 0xfffen, 0x8000n, BigInt(rng.below(0x10000))]));
      return bytes;
    case "huge-shnum":
      writeUint(bytes, is64 ? 60 : 48, 2, le, rng.pick([0n, 0xffffn, 0xfeffn, 0xff00n, BigInt(rng.below(0x10000))]));
      return bytes;
    case "huge-sh-size": {
      const s = section();
      if (s) writeUint(bytes, s.header + (is64 ? 32 : 20), word, le, interesting(rng, n, word));
      return bytes;
    }
    case "offset-past-end": {
      const past = BigInt(n + rng.below(1 << 20));
      const targets = [is64 ? 32 : 28, is64 ? 40 : 32];
      const s = section();
      if (s) targets.push(s.header + (is64 ? 24 : 16));
      if (shape && shape.phnum > 0) {
        const ph = shape.phoff + rng.below(shape.phnum) * shape.phentsize;
        targets.push(ph + (is64 ? 8 : 4));
      }
      writeUint(bytes, rng.pick(targets), word, le, rng.chance(0.5) ? past : interesting(rng, n, word));
      return bytes;
    }
    case "unterminated-strtab": {
      const strtabs = shape?.sections.filter((s) => s.type === 3) ?? [];
      if (strtabs.length === 0) return bytes;
      const s = rng.pick(strtabs);
      const whole = rng.chance(0.5);
      for (let i = 0; i < s.size; i++) {
        const at = s.offset + i;
        if (at >= n) break;
        if (whole || bytes[at] === 0) bytes[at] = whole ? 0x41 : rng.chance(0.3) ? 0x41 : 0;
      }
      // Always kill the final NUL so the last string runs off the table.
      const last = s.offset + s.size - 1;
      if (last >= 0 && last < n) bytes[last] = 0x41;
      return bytes;
    }
    case "cyclic-link": {
      if (!shape || shape.sections.length === 0) return bytes;
      const i = rng.below(shape.sections.length);
      const j = rng.below(shape.sections.length);
      const a = shape.sections[i];
      const b = shape.sections[j];
      const link = is64 ? 40 : 24;
      if (a) writeUint(bytes, a.header + link, 4, le, BigInt(rng.chance(0.5) ? i : j));
      if (b && rng.chance(0.5)) writeUint(bytes, b.header + link, 4, le, BigInt(i));
      return bytes;
    }
    case "header-field": {
      const fields = is64
        ? [
            [16, 2],
            [18, 2],
            [24, 8],
            [32, 8],
            [40, 8],
            [52, 2],
            [54, 2],
            [56, 2],
            [58, 2],
            [60, 2],
            [62, 2],
          ]
        : [
            [16, 2],
            [18, 2],
            [24, 4],
            [28, 4],
            [32, 4],
            [40, 2],
            [42, 2],
            [44, 2],
            [46, 2],
            [48, 2],
            [50, 2],
          ];
      const [at, w] = rng.pick(fields) as [number, number];
      writeUint(bytes, at, w, le, interesting(rng, n, w));
      return bytes;
    }
    case "section-field": {
      const s = section();
      if (!s) return bytes;
      const fields = is64
        ? [
            [0, 4],
            [4, 4],
            [8, 8],
            [16, 8],
            [24, 8],
            [32, 8],
            [40, 4],
            [44, 4],
            [48, 8],
            [56, 8],
          ]
        : [
            [0, 4],
            [4, 4],
            [8, 4],
            [12, 4],
            [16, 4],
            [20, 4],
            [24, 4],
            [28, 4],
            [32, 4],
            [36, 4],
          ];
      const [at, w] = rng.pick(fields) as [number, number];
      const v =
        at === 4
          ? BigInt(rng.pick([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 18, 19, 0x6ffffff6, 0x6fffffff]))
          : interesting(rng, n, w);
      writeUint(bytes, s.header + at, w, le, v);
      return bytes;
    }
    case "table-word": {
      // A word inside a table section: counts, sh_link-like indices, vd_next/vn_aux chain offsets
      // (small negative values wrap into cycles), hash buckets, relocation info.
      const tables = shape?.sections.filter((x) => TABLE_TYPES.has(x.type) && x.size >= 4) ?? [];
      if (tables.length === 0) return bytes;
      const t = rng.pick(tables);
      const wide = is64 && rng.chance(0.3);
      const w = wide ? 8 : 4;
      const at = t.offset + Math.floor(rng.below(Math.max(1, t.size - w + 1)) / w) * w;
      const small = rng.pick([-20n, -16n, -8n, -1n, 16n, 20n, 0n, 1n, 2n]);
      writeUint(bytes, at, w, le, rng.chance(0.4) ? small : interesting(rng, n, w));
      return bytes;
    }
    case "dynamic-entry": {
      const dyn = shape?.sections.find((x) => x.type === 6);
      if (!dyn || dyn.size < 2 * word) return bytes;
      const count = Math.floor(dyn.size / (2 * word));
      const at = dyn.offset + rng.below(count) * 2 * word;
      if (rng.chance(0.5)) writeUint(bytes, at, word, le, BigInt(rng.pick(DYNAMIC_TAGS)));
      else writeUint(bytes, at + word, word, le, interesting(rng, n, word));
      return bytes;
    }
    case "program-field": {
      if (!shape || shape.phnum === 0) return bytes;
      const ph = shape.phoff + rng.below(shape.phnum) * shape.phentsize;
      const fields = is64
        ? [
            [0, 4],
            [4, 4],
            [8, 8],
            [16, 8],
            [32, 8],
            [40, 8],
            [48, 8],
          ]
        : [
            [0, 4],
            [4, 4],
            [8, 4],
            [16, 4],
            [20, 4],
            [24, 4],
            [28, 4],
          ];
      const [at, w] = rng.pick(fields) as [number, number];
      const v = at === 0 ? BigInt(rng.pick([1, 2, 3, 4, 6, 7, 0x6474e550, 0x6474e554])) : interesting(rng, n, w);
      writeUint(bytes, ph + at, w, le, v);
      return bytes;
    }
  }
}

export interface Mutant {
  readonly bytes: Uint8Array;
  readonly kinds: readonly MutationKind[];
}

/** One to three mutations of a copy of `seed`. */
export function mutate(seed: Seed, rng: Rng): Mutant {
  let bytes: Uint8Array = seed.bytes.slice();
  const count = 1 + (rng.chance(0.6) ? 0 : rng.below(3));
  const kinds: MutationKind[] = [];
  for (let i = 0; i < count; i++) {
    const kind = rng.pick(KINDS);
    kinds.push(kind);
    bytes = applyMutation(bytes, seed.shape, kind, rng);
  }
  return { bytes, kinds };
}
