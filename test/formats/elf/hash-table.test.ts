/**
 * DT_HASH / DT_GNU_HASH lookups against readelf 2.40's --dyn-syms indices: every defined dynamic
 * symbol of the fixtures, libc.so.6 and libstdc++ is found through each hash table the file has at
 * an index readelf prints for that name, absent names are rejected, and the GNU-hash-derived symbol
 * count equals readelf's. Plus the glibc-rtld.md §3.6 vectors and libfoo.so facts.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ElfFile } from "../../../formats/elf/file.ts";
import { gnuHash, sysvHash } from "../../../formats/elf/hash-function.ts";
import {
  GnuHashTable,
  type HashTable,
  hashLookup,
  hashLookupName,
  hashTables,
  SysvHashTable,
} from "../../../formats/elf/hash-table.ts";
import { dynamicSymbols, type SymbolTable } from "../../../formats/elf/symbols.ts";
import { FormatError } from "../../../formats/errors.ts";
import {
  expectedOutput,
  FIXTURE_ROOT,
  HOST_LIBS,
  hasGcc,
  hasReadelf240,
  parseReadelfSymbols,
  readelf,
} from "./elf-symbol-fixtures.ts";

const enc = new TextEncoder();

function lookup(table: HashTable, syms: SymbolTable, name: string): number | undefined {
  const bytes = enc.encode(name);
  const viaName = hashLookupName(table, syms, name);
  const viaMatch = hashLookup(table, bytes, (i) => syms.nameEquals(i, bytes));
  expect(viaName).toBe(viaMatch);
  return viaMatch;
}

/** Every defined dynsym name resolves, through each table, to an index readelf lists under that name. */
function checkFile(elf: ElfFile, readelfText: string): number {
  const rows = parseReadelfSymbols(readelfText, ".dynsym");
  const syms = dynamicSymbols(elf);
  if (!syms) throw new Error("no .dynsym");
  const { gnu, sysv } = hashTables(elf);
  const tables = [gnu, sysv].filter((t): t is GnuHashTable | SysvHashTable => t !== undefined);
  expect(tables.length).toBeGreaterThan(0);
  if (gnu) expect(gnu.symbolCount()).toBe(rows.length);
  if (sysv) expect(sysv.symbolCount).toBe(rows.length);
  const indicesByName = new Map<string, number[]>();
  for (const r of rows) {
    const name = r.printed.replace(/@.*$/, "");
    indicesByName.set(name, [...(indicesByName.get(name) ?? []), r.index]);
  }
  let checked = 0;
  for (const r of rows) {
    // Local entries (section symbols on aarch64/s390x) sit below symoffset and are never hashed.
    if (r.ndx === "UND" || r.bind === "LOCAL") continue;
    const name = r.printed.replace(/@.*$/, "");
    const all = indicesByName.get(name) ?? [];
    for (const t of tables) {
      const found = lookup(t, syms, name);
      expect(found, `${name} via ${t.kind}`).toBeDefined();
      expect(all).toContain(found);
      if (all.length === 1) expect(found).toBe(r.index);
      // Every same-named definition is on the chain glibc walks (check_match picks by version).
      const hash = t.kind === "gnu" ? gnuHash(name) : sysvHash(name);
      const onChain = [...t.candidates(hash)].filter((i) => syms.nameEquals(i, enc.encode(name)));
      const defined = all.filter((i) => syms.symbol(i).shndx !== 0);
      for (const d of defined) expect(onChain).toContain(d);
      checked++;
    }
  }
  for (const absent of ["", "no_such_symbol_at_all", "printf_", "zz_missing", "foo_counte"]) {
    if (indicesByName.has(absent)) continue;
    for (const t of tables) expect(lookup(t, syms, absent)).toBeUndefined();
  }
  return checked;
}

describe("hash functions (glibc-rtld.md §3.6 vectors)", () => {
  const vectors: [string, number, number][] = [
    ["", 0x00001505, 0x00000000],
    ["a", 0x0002b606, 0x00000061],
    ["printf", 0x156b2bb8, 0x077905a6],
    ["exit", 0x7c967e3f, 0x0006cf04],
    ["syscall", 0xbac212a0, 0x0b09985c],
    ["flapenguin", 0x1c69a62e, 0x06c2397e],
    ["dlopen", 0xf9040207, 0x06b366be],
    ["__libc_start_main", 0xf63d4e2e, 0x0177ff8e],
  ];
  for (const [name, gnu, sysv] of vectors) {
    it(JSON.stringify(name), () => {
      expect(gnuHash(name)).toBe(gnu);
      expect(sysvHash(name)).toBe(sysv);
    });
  }
});

function checkLibfoo(path: string): void {
  const elf = ElfFile.openPath(path);
  try {
    const { gnu } = hashTables(elf);
    const syms = dynamicSymbols(elf);
    if (!gnu || !syms) throw new Error("libfoo.so lacks .gnu.hash/.dynsym");
    expect([gnu.nbuckets, gnu.symoffset, gnu.bloomSize, gnu.bloomShift]).toEqual([3, 5, 1, 6]);
    expect(lookup(gnu, syms, "foo")).toBe(5);
    expect(lookup(gnu, syms, "foo_data")).toBe(6);
    expect(lookup(gnu, syms, "foo_counter")).toBe(7);
    // Rejected by the bloom filter itself, before any bucket is read.
    expect(gnu.bloomMayContain(gnuHash("bar"))).toBe(false);
    expect(gnu.bloomMayContain(gnuHash("printf"))).toBe(false);
    expect(lookup(gnu, syms, "bar")).toBeUndefined();
    expect(gnu.symbolCount()).toBe(8);
  } finally {
    elf.close();
  }
}

describe("libfoo.so (glibc-rtld.md §3.6)", () => {
  it("committed fixture: nbuckets=3 symoffset=5 bloom 1/6; foo/foo_data/foo_counter = 5/6/7", () => {
    checkLibfoo(join(FIXTURE_ROOT, "elf-symbols/x86_64/libfoo.so"));
  });
  it.skipIf(!hasGcc)("rebuilt with the host gcc from src/libfoo.c", () => {
    const dir = mkdtempSync(join(tmpdir(), "ldsim-libfoo-"));
    try {
      const out = join(dir, "libfoo.so");
      execFileSync("gcc", ["-shared", "-fPIC", "-o", out, join(FIXTURE_ROOT, "elf-symbols/src/libfoo.c")]);
      checkLibfoo(out);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("lookups vs readelf --dyn-syms (committed outputs)", () => {
  for (const fx of [
    "elf-symbols/x86_64/libv.so",
    "elf-symbols/i686/libv.so",
    "elf-symbols/x86_64/libfoo.so",
    "sframe/v3/aarch64/liba.so",
    "sframe/v3/s390x/liba.so",
    "sframe/v1/x86_64/libb.so",
  ]) {
    it(fx, () => {
      const elf = ElfFile.openPath(join(FIXTURE_ROOT, fx));
      try {
        expect(checkFile(elf, expectedOutput(fx, "dyn-syms"))).toBeGreaterThan(0);
      } finally {
        elf.close();
      }
    });
  }
  it("libv.so has both tables and they agree", () => {
    const elf = ElfFile.openPath(join(FIXTURE_ROOT, "elf-symbols/x86_64/libv.so"));
    const t = hashTables(elf);
    expect(t.gnu).toBeDefined();
    expect(t.sysv).toBeDefined();
    elf.close();
  });
});

describe.skipIf(!hasReadelf240)("lookups vs host readelf 2.40 --dyn-syms", () => {
  if (!hasReadelf240) console.warn("skipping host hash-table parity: GNU readelf 2.40 not found");
  for (const lib of HOST_LIBS) {
    it(lib, () => {
      const elf = ElfFile.openPath(lib);
      try {
        expect(checkFile(elf, readelf(["--dyn-syms"], lib))).toBeGreaterThan(10);
      } finally {
        elf.close();
      }
    });
  }
});

const IMPORT_ONLY_LIB = "/usr/libexec/coreutils/libstdbuf.so";
describe.skipIf(!hasReadelf240 || !existsSync(IMPORT_ONLY_LIB))("a GNU table with every bucket empty", () => {
  it(`${IMPORT_ONLY_LIB}: count is symoffset, a lower bound; no name resolves`, () => {
    const elf = ElfFile.openPath(IMPORT_ONLY_LIB);
    try {
      const { gnu } = hashTables(elf);
      const syms = dynamicSymbols(elf);
      if (!gnu || !syms) throw new Error("no .gnu.hash");
      const rows = parseReadelfSymbols(readelf(["--dyn-syms"], IMPORT_ONLY_LIB), ".dynsym");
      expect(gnu.symbolCount()).toBe(gnu.symoffset);
      expect(rows.length).toBeGreaterThanOrEqual(gnu.symoffset);
      for (const r of rows.slice(1)) expect(lookup(gnu, syms, syms.name(r.index))).toBeUndefined();
    } finally {
      elf.close();
    }
  });
});

describe("tables from raw bytes (as read from process memory)", () => {
  it("a GNU table given the bytes from its address to the end of the mapping", () => {
    const path = join(FIXTURE_ROOT, "elf-symbols/x86_64/libfoo.so");
    const file = readFileSync(path);
    const elf = ElfFile.fromBytes(new Uint8Array(file));
    const sec = elf.section(".gnu.hash");
    if (!sec) throw new Error("no .gnu.hash");
    const fromMemory = new GnuHashTable(new Uint8Array(file.subarray(Number(sec.offset))), {
      is64: true,
      littleEndian: true,
    });
    const syms = dynamicSymbols(elf);
    if (!syms) throw new Error("no .dynsym");
    expect(lookup(fromMemory, syms, "foo_counter")).toBe(7);
    expect(fromMemory.symbolCount()).toBe(8);
  });

  it("truncated headers, bloom or buckets are FormatErrors", () => {
    expect(() => new GnuHashTable(new Uint8Array(8), { is64: true, littleEndian: true })).toThrow(FormatError);
    const h = new Uint8Array(16);
    const v = new DataView(h.buffer);
    v.setUint32(0, 1, true);
    v.setUint32(8, 1, true);
    expect(() => new GnuHashTable(h, { is64: true, littleEndian: true })).toThrow(/before its chains/);
    const np2 = new Uint8Array(16 + 3 * 8 + 4);
    new DataView(np2.buffer).setUint32(8, 3, true);
    expect(() => new GnuHashTable(np2, { is64: true, littleEndian: true })).toThrow(/power of 2/);
    const sysv = new Uint8Array(8);
    new DataView(sysv.buffer).setUint32(0, 4, true);
    expect(() => new SysvHashTable(sysv, { is64: true, littleEndian: true })).toThrow(FormatError);
  });

  it("a SysV chain that loops ends the walk", () => {
    // nbucket 1, nchain 3, bucket[0] = 1, chain = [0, 2, 1] (1 -> 2 -> 1 -> ...)
    const b = new Uint8Array(4 * 6);
    const v = new DataView(b.buffer);
    for (const [i, x] of [1, 3, 1, 0, 2, 1].entries()) v.setUint32(4 * i, x, true);
    const t = new SysvHashTable(b, { is64: true, littleEndian: true });
    const seen = [...t.candidates(0)];
    expect(seen.length).toBeLessThanOrEqual(4);
    expect(hashLookup(t, "x", () => false)).toBeUndefined();
  });

  it("a GNU chain without an end bit ends at the table's end", () => {
    // nbuckets 1, symoffset 1, bloom_size 1, shift 0, bloom all ones, bucket[0] = 1, chain words all even
    const b = new Uint8Array(16 + 8 + 4 + 8);
    const v = new DataView(b.buffer);
    v.setUint32(0, 1, true);
    v.setUint32(4, 1, true);
    v.setUint32(8, 1, true);
    v.setBigUint64(16, (1n << 64n) - 1n, true);
    v.setUint32(24, 1, true);
    const t = new GnuHashTable(b, { is64: true, littleEndian: true });
    expect([...t.candidates(0)]).toEqual([1, 2]);
    expect(() => t.symbolCount()).toThrow(/no end-of-chain/);
  });

  it("arbitrary bytes: construction and lookups work or throw FormatError, never hang", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 160 }),
        fc.boolean(),
        fc.boolean(),
        fc.string(),
        (bytes, is64, le, name) => {
          for (const make of [
            () => new GnuHashTable(bytes, { is64, littleEndian: le }),
            () => new SysvHashTable(bytes, { is64, littleEndian: le }),
          ]) {
            try {
              const t = make();
              hashLookup(t, name, () => false);
              if (t.kind === "gnu") t.symbolCount();
            } catch (e) {
              if (!(e instanceof FormatError)) throw e;
            }
          }
        },
      ),
    );
  });
});
