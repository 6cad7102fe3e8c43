/**
 * DT_* and DF_* constants against glibc's <elf.h> on the host, and the names and values `readelf -d`
 * prints for every tag against GNU readelf itself: a copy of a fixture gets its dynamic array
 * rewritten with the tags under test, then both readelf and ldsim print it.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { formatDynamic } from "../../../cli/readelf/dynamic.ts";
import { readDynamic } from "../../../formats/elf/dynamic.ts";
import * as DT from "../../../formats/elf/dynamic-tags.ts";
import { ElfFile } from "../../../formats/elf/file.ts";

const ELF_H = "/usr/include/elf.h";
const hasElfH = existsSync(ELF_H);
const hasReadelf = spawnSync("readelf", ["--version"]).status === 0;
if (!hasElfH) console.warn("dynamic-tags: /usr/include/elf.h missing (install libc6-dev); elf.h checks skipped");
if (!hasReadelf) console.warn("dynamic-tags: GNU readelf not found; readelf name checks skipped");

const FIX = join(import.meta.dirname, "..", "..", "fixtures");

/** `#define NAME value` lines of elf.h with the given prefix. */
function elfHDefines(prefix: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  const re = new RegExp(`^#define\\s+(${prefix}\\w+)\\s+(0x[0-9a-fA-F]+|\\d+)\\b`, "gm");
  for (const m of readFileSync(ELF_H, "latin1").matchAll(re)) out.set(m[1] as string, BigInt(m[2] as string));
  return out;
}

/** Architecture-specific tags and range markers: not part of the generic table. */
const ARCH_OR_RANGE =
  /^DT_(MIPS|ALPHA|PPC|PPC64|IA_64|NIOS2|X86_64|AARCH64|RISCV|SPARC)_|^DT_(LOOS|HIOS|LOPROC|HIPROC|NUM|PROCNUM|VERSIONTAGNUM|EXTRANUM|VALNUM|ADDRNUM)$/;

describe.skipIf(!hasElfH)("constants match glibc <elf.h>", () => {
  const ours = DT as unknown as Record<string, unknown>;
  it("every generic DT_ tag of elf.h exists with the same value", () => {
    const defs = [...elfHDefines("DT_")].filter(([n]) => !ARCH_OR_RANGE.test(n));
    expect(defs.length).toBeGreaterThan(70);
    const mismatched = defs.filter(([n, v]) => ours[n] !== v).map(([n, v]) => `${n}=${v} (ours ${String(ours[n])})`);
    expect(mismatched).toEqual([]);
  });
  it("DT_NUM and the range markers match", () => {
    const defs = elfHDefines("DT_");
    for (const n of ["DT_NUM", "DT_LOOS", "DT_HIOS", "DT_LOPROC", "DT_HIPROC", "DT_VALRNGLO", "DT_ADDRRNGLO"]) {
      expect([n, ours[n]]).toEqual([n, defs.get(n)]);
    }
  });
  it("every DF_ flag bit of elf.h exists with the same value", () => {
    const defs = [...elfHDefines("DF_")].filter(([n]) => !/^DF_(GNU_1_UNIQUE)$/.test(n));
    expect(defs.length).toBeGreaterThan(35);
    expect(defs.filter(([n, v]) => ours[n] !== v).map(([n]) => n)).toEqual([]);
  });
  it("the AArch64 tags ldsim names match elf.h", () => {
    // elf.h spells these `(DT_LOPROC + n)`.
    const defs = new Map<string, bigint>();
    for (const m of readFileSync(ELF_H, "latin1").matchAll(/^#define\s+(DT_AARCH64_\w+)\s+\(DT_LOPROC \+ (\d+)\)/gm)) {
      defs.set(m[1] as string, DT.DT_LOPROC + BigInt(m[2] as string));
    }
    for (const n of ["DT_AARCH64_BTI_PLT", "DT_AARCH64_PAC_PLT", "DT_AARCH64_VARIANT_PCS"]) {
      expect([n, ours[n]]).toEqual([n, defs.get(n)]);
    }
  });
});

const tmp = mkdtempSync(join(tmpdir(), "ldsim-dyntags-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * Rewrite the dynamic array of `fixture` (keeping its length) with `entries` followed by DT_NULL,
 * then return [readelf -W -d, ldsim] for the result.
 */
function bothWith(fixture: string, entries: readonly (readonly [bigint, bigint])[]): [string, string] {
  const bytes = new Uint8Array(readFileSync(join(FIX, fixture)));
  const elf = ElfFile.fromBytes(bytes, "orig");
  const dyn = readDynamic(elf);
  if (!dyn) throw new Error(`${fixture}: no dynamic section`);
  const ent = elf.is64 ? 16 : 8;
  const capacity = Math.floor(dyn.size / ent);
  if (entries.length + 1 > capacity) throw new Error(`too many entries for ${fixture}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = elf.littleEndian;
  const put = (i: number, tag: bigint, val: bigint) => {
    const o = dyn.offset + i * ent;
    if (elf.is64) {
      view.setBigUint64(o, BigInt.asUintN(64, tag), le);
      view.setBigUint64(o + 8, BigInt.asUintN(64, val), le);
    } else {
      view.setUint32(o, Number(BigInt.asUintN(32, tag)), le);
      view.setUint32(o + 4, Number(BigInt.asUintN(32, val)), le);
    }
  };
  // Keep DT_STRTAB/DT_STRSZ in front so names resolve for files without a .dynstr section too.
  entries.forEach(([t, v], i) => {
    put(i, t, v);
  });
  for (let i = entries.length; i < capacity; i++) put(i, 0n, 0n);
  const path = join(tmp, fixture.replaceAll("/", "_"));
  writeFileSync(path, bytes);
  const theirs = spawnSync("readelf", ["-W", "-d", path], { encoding: "latin1" }).stdout;
  const ours = formatDynamic(ElfFile.fromBytes(bytes, path));
  return [ours, theirs];
}

const ALL_TAGS: readonly bigint[] = [
  ...new Set(
    Object.entries(DT)
      .filter(([n, v]) => n.startsWith("DT_") && typeof v === "bigint" && v !== 0n)
      .map(([, v]) => v as bigint),
  ),
];

function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

describe.skipIf(!hasReadelf)("tag names and values as readelf -d prints them", () => {
  for (const [fixture, per] of [
    ["readelf/x86_64/libfull.so", 28],
    ["readelf/i686/liblib.so", 20],
    ["sframe/v3/s390x/libb.so", 16],
    ["sframe/v1/aarch64/libb.so", 20],
  ] as const) {
    it(`every tag ldsim knows, with small values (${fixture})`, () => {
      for (const group of chunks(ALL_TAGS, per)) {
        const entries = group.map((t, i) => [t, BigInt(i * 3 + 1)] as const);
        const [ours, theirs] = bothWith(fixture, entries);
        expect(ours).toBe(theirs);
      }
    });
  }

  it("flag words: every bit of DT_FLAGS, DT_FLAGS_1, DT_POSFLAG_1, DT_FEATURE_1, DT_GNU_FLAGS_1", () => {
    const words = [DT.DT_FLAGS, DT.DT_FLAGS_1, DT.DT_POSFLAG_1, DT.DT_FEATURE_1, DT.DT_GNU_FLAGS_1];
    const values = [0n, 1n, 0x1fn, 0x7fffffffn, 0xffffffffn, 0x8000000n, 0xdeadbeefn, 0x100000000n, (1n << 64n) - 1n];
    const entries = words.flatMap((w) => values.map((v) => [w, v] as const));
    for (const group of chunks(entries, 28)) {
      const [ours, theirs] = bothWith("readelf/x86_64/libfull.so", group);
      expect(ours).toBe(theirs);
    }
  });

  it("tags outside the table (OS, processor and unknown ranges) and random values", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.oneof(
              fc.bigInt({ min: 1n, max: 0x7fn }),
              fc.bigInt({ min: 0x6000000dn, max: 0x6ffff000n }),
              fc.bigInt({ min: 0x6ffffd00n, max: 0x6fffffffn }),
              fc.bigInt({ min: 0x70000000n, max: 0x7fffffffn }),
              fc.bigInt({ min: 0x80000000n, max: (1n << 64n) - 1n }),
            ),
            fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
          ),
          { minLength: 1, maxLength: 20 },
        ),
        (entries) => {
          // STRTAB/STRSZ far out of range would only change readelf's warnings; names come from .dynstr.
          const [ours, theirs] = bothWith("readelf/x86_64/libfull.so", entries);
          expect(ours).toBe(theirs);
        },
      ),
      { numRuns: 40 },
    );
  });
});
