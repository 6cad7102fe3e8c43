/**
 * `ldsim readelf -W -h / -l / -S / -d` against GNU readelf on copies of fixtures whose header fields
 * were rewritten with random values (types, flags, machine, OS/ABI, sizes, alignments), so the
 * naming and formatting rules are exercised beyond what real linkers emit. Both tools read the
 * same mutated file; the expected text is whatever readelf prints.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { formatReadelf, requestFromArgs } from "../../cli/readelf/index.ts";
import { ElfFile } from "../../formats/elf/file.ts";
import { LdsimError } from "../../formats/errors.ts";

const hasReadelf = spawnSync("readelf", ["--version"]).status === 0;
if (!hasReadelf) console.warn("readelf-mutations: GNU readelf not found; tests skipped");

const FIX = join(import.meta.dirname, "..", "fixtures");
const tmp = mkdtempSync(join(tmpdir(), "ldsim-readelf-mut-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const BASES = ["readelf/x86_64/libfull.so", "readelf/i686/liblib.so", "sframe/v3/s390x/libb.so"] as const;

type Mutation = (bytes: Uint8Array, view: DataView, le: boolean, is64: boolean) => void;

/** Apply `mutate` to a copy of `base`, then return [ldsim, readelf] for `option`, or undefined if ldsim refused. */
function both(base: string, option: string, mutate: Mutation, tag: string): [string, string] | undefined {
  const bytes = new Uint8Array(readFileSync(join(FIX, base)));
  const le = bytes[5] === 1;
  const is64 = bytes[4] === 2;
  mutate(bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), le, is64);
  const path = join(tmp, `${tag}-${base.replaceAll("/", "_")}`);
  writeFileSync(path, bytes);
  const args = ["-W", ...option.split(" ")];
  const theirs = spawnSync("readelf", [...args, path], { encoding: "latin1" }).stdout;
  try {
    return [formatReadelf(ElfFile.fromBytes(bytes, path), requestFromArgs(args)), theirs];
  } catch (e) {
    if (e instanceof LdsimError) return undefined;
    throw e;
  }
}

function shdr(view: DataView, le: boolean, is64: boolean, i: number) {
  const shoff = Number(is64 ? view.getBigUint64(0x28, le) : BigInt(view.getUint32(0x20, le)));
  const base = shoff + i * (is64 ? 64 : 40);
  return {
    setType: (t: number) => view.setUint32(base + 4, t, le),
    setFlags: (f: bigint) =>
      is64 ? view.setBigUint64(base + 8, f, le) : view.setUint32(base + 8, Number(BigInt.asUintN(32, f)), le),
    setLinkInfo: (l: number, inf: number) => {
      view.setUint32(base + (is64 ? 40 : 24), l, le);
      view.setUint32(base + (is64 ? 44 : 28), inf, le);
    },
    setPlace: (addr: bigint, off: bigint, size: bigint) => {
      if (is64) {
        view.setBigUint64(base + 16, addr, le);
        view.setBigUint64(base + 24, off, le);
        view.setBigUint64(base + 32, size, le);
      } else {
        view.setUint32(base + 12, Number(BigInt.asUintN(32, addr)), le);
        view.setUint32(base + 16, Number(BigInt.asUintN(32, off)), le);
        view.setUint32(base + 20, Number(BigInt.asUintN(32, size)), le);
      }
    },
    setAlignEnt: (a: bigint, e: bigint) => {
      if (is64) {
        view.setBigUint64(base + 48, a, le);
        view.setBigUint64(base + 56, e, le);
      } else {
        view.setUint32(base + 32, Number(BigInt.asUintN(32, a)), le);
        view.setUint32(base + 36, Number(BigInt.asUintN(32, e)), le);
      }
    },
  };
}

function phdr(view: DataView, le: boolean, is64: boolean, i: number) {
  const phoff = Number(is64 ? view.getBigUint64(0x20, le) : BigInt(view.getUint32(0x1c, le)));
  const base = phoff + i * (is64 ? 56 : 32);
  return {
    setType: (t: number) => view.setUint32(base, t, le),
    setFlags: (f: number) => view.setUint32(base + (is64 ? 4 : 24), f, le),
    setAlign: (a: bigint) =>
      is64 ? view.setBigUint64(base + 48, a, le) : view.setUint32(base + 28, Number(BigInt.asUintN(32, a)), le),
    setPaddr: (a: bigint) =>
      is64 ? view.setBigUint64(base + 24, a, le) : view.setUint32(base + 12, Number(BigInt.asUintN(32, a)), le),
  };
}

const u32 = fc.oneof(
  fc.integer({ min: 0, max: 0x20 }),
  fc.integer({ min: 0x60000000, max: 0x60000010 }),
  fc.integer({ min: 0x6474e550, max: 0x6474e560 }),
  fc.integer({ min: 0x6ffffff0, max: 0x6fffffff }),
  fc.integer({ min: 0x70000000, max: 0x70000008 }),
  fc.integer({ min: 0x7ffffff0, max: 0x7fffffff }),
  fc.integer({ min: 0x80000000, max: 0x80000004 }),
  fc.integer({ min: 0, max: 0xffffffff }),
);
const u64 = fc.oneof(fc.bigInt({ min: 0n, max: 0x40n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }));
const flagBits = fc.oneof(
  fc.bigInt({ min: 0n, max: 0xfffn }),
  fc.bigInt({ min: 0n, max: 0xffffffffn }),
  fc.constantFrom(0x200000n, 0x1000000n, 0x10000000n, 0x20000000n, 0x80000000n, 0x0ff00000n, 0xf0000000n),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
);

const RUNS = 40;

describe.skipIf(!hasReadelf)("readelf formatting on mutated fixtures", () => {
  it("-h: every e_machine value 0..299 and the vendor range (flags zero: their decoding is per machine)", () => {
    const machines = [
      ...Array.from({ length: 300 }, (_, i) => i),
      0x1057,
      0x9026,
      0xa390,
      0xbaab,
      0xfeb0,
      0xff00,
      0xffff,
    ];
    for (const m of machines) {
      const r = both(
        "readelf/x86_64/libfull.so",
        "-h",
        (_b, v, le) => {
          v.setUint16(18, m, le);
          v.setUint32(0x30, 0, le);
        },
        "machine",
      );
      expect(r).toBeDefined();
      expect(r?.[0]).toBe(r?.[1]);
    }
  });

  for (const base of BASES) {
    it(`-S: section types, flags, link/info, alignment, entsize (${base})`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 12 }),
          u32,
          flagBits,
          fc.integer({ min: 0, max: 0xffffffff }),
          fc.integer({ min: 0, max: 0xffffffff }),
          u64,
          u64,
          fc.constantFrom(0, 3, 9, 6),
          (i, type, flags, link, info, align, ent, osabi) => {
            const r = both(
              base,
              "-S",
              (b, v, le, is64) => {
                b[7] = osabi;
                const s = shdr(v, le, is64, i);
                s.setType(type);
                s.setFlags(flags);
                s.setLinkInfo(link, info);
                s.setAlignEnt(align, ent);
              },
              "S",
            );
            if (r) expect(r[0]).toBe(r[1]);
          },
        ),
        { numRuns: RUNS },
      );
    });

    it(`-l: segment types, flags, alignment, physical address (${base})`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 5 }),
          u32,
          fc.integer({ min: 0, max: 0xffffffff }),
          u64,
          u64,
          fc.constantFrom(0, 3, 9),
          (i, type, flags, align, paddr, osabi) => {
            const r = both(
              base,
              "-l",
              (b, v, le, is64) => {
                b[7] = osabi;
                const p = phdr(v, le, is64, i);
                p.setType(type);
                p.setFlags(flags);
                p.setAlign(align);
                p.setPaddr(paddr);
              },
              "l",
            );
            if (r) expect(r[0]).toBe(r[1]);
          },
        ),
        { numRuns: RUNS },
      );
    });

    it(`-l: section to segment mapping at segment edges, TLS/alloc/NOBITS combinations (${base})`, () => {
      const elf = ElfFile.fromBytes(new Uint8Array(readFileSync(join(FIX, base))));
      const edges = elf.programHeaders.flatMap((p) => [
        p.offset,
        p.offset + p.filesz,
        p.vaddr,
        p.vaddr + p.memsz,
        p.vaddr + p.filesz,
      ]);
      const near = fc.tuple(fc.constantFrom(...edges), fc.integer({ min: -2, max: 2 })).map(([e, d]) => {
        const v = e + BigInt(d);
        return v < 0n ? 0n : v;
      });
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 20 }),
          near,
          near,
          fc.oneof(fc.constantFrom(0n, 1n, 4n), fc.bigInt({ min: 0n, max: 0x400n })),
          fc.constantFrom(1, 7, 8, 6),
          fc.constantFrom(0n, 0x2n, 0x3n, 0x402n, 0x403n, 0x400n),
          (i, addr, off, size, type, flags) => {
            const r = both(
              base,
              "-l",
              (_b, v, le, is64) => {
                const s = shdr(v, le, is64, i);
                s.setPlace(addr, off, size);
                s.setType(type);
                s.setFlags(flags);
              },
              "map",
            );
            if (r) expect(r[0]).toBe(r[1]);
          },
        ),
        { numRuns: RUNS },
      );
    });

    it(`-h: type, OS/ABI, ABI version, ident version, e_version, flags, entry (${base})`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 0xffff }),
          fc.integer({ min: 0, max: 255 }),
          fc.integer({ min: 0, max: 255 }),
          fc.integer({ min: 0, max: 3 }),
          fc.integer({ min: 0, max: 0xffffffff }),
          fc.integer({ min: 0, max: 0xffffffff }),
          (type, osabi, abiver, identVersion, version, flags) => {
            const r = both(
              base,
              "-h",
              (b, v, le) => {
                b[6] = identVersion;
                b[7] = osabi;
                b[8] = abiver;
                v.setUint16(16, type, le);
                v.setUint32(20, version, le);
                // e_flags sits after e_shoff: 0x30 in ELF64, 0x24 in ELF32.
                v.setUint32(
                  b[4] === 2 ? 0x30 : 0x24,
                  b[4] === 2 && v.getUint16(18, le) === 22 ? flags & ~1 : flags,
                  le,
                );
              },
              "h",
            );
            if (r) expect(r[0]).toBe(r[1]);
          },
        ),
        { numRuns: RUNS },
      );
    });
  }
});
