/**
 * Symbol versioning against readelf 2.40: for each dynamic symbol, the version SymbolVersioning
 * reports (name, hidden bit, defined vs needed, versym index) is what readelf printed in
 * --dyn-syms (`sym@@V`, `sym@V`, `sym@V (n)`); Verdef/Verneed chains match readelf -V; broken
 * chains are typed errors.
 */
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ElfFile } from "../../../formats/elf/file.ts";
import { dynamicSymbols } from "../../../formats/elf/symbols.ts";
import {
  parseVerdefs,
  parseVerneeds,
  parseVersym,
  SymbolVersioning,
  symbolVersioning,
} from "../../../formats/elf/versions.ts";
import { FormatError } from "../../../formats/errors.ts";
import {
  expectedOutput,
  FIXTURE_ROOT,
  HOST_LIBS,
  hasReadelf240,
  parseReadelfSymbols,
  readelf,
} from "./elf-symbol-fixtures.ts";

/** What readelf would print after the name, derived from SymbolVersioning. */
function suffix(v: SymbolVersioning, symidx: number, defined: boolean, isVersionSymbol: boolean): string {
  const ver = v.versionOf(symidx);
  if (!ver || (ver.index === 0 && !ver.hidden)) return "";
  const e = ver.entry;
  if (!e) return "";
  if (e.kind === "def") {
    if (!defined || (e.flags & 1) !== 0 || isVersionSymbol) return "";
    return ver.hidden ? `@${e.name}` : `@@${e.name}`;
  }
  return `@${e.name} (${ver.index})`;
}

function check(elf: ElfFile, text: string): number {
  const v = symbolVersioning(elf);
  const syms = dynamicSymbols(elf);
  const rows = parseReadelfSymbols(text, ".dynsym");
  if (!v || !syms) return 0;
  let n = 0;
  for (const r of rows) {
    const s = syms.symbol(r.index);
    if (s.type === 3) continue; // section symbols print their section's name
    const name = syms.name(r.index);
    const isVersionSymbol = s.shndx === 0xfff1 && v.versionOf(r.index)?.entry?.name === name;
    expect(`${name}${suffix(v, r.index, s.shndx !== 0, isVersionSymbol)}`).toBe(r.printed);
    n++;
  }
  return n;
}

describe("per-symbol versions vs readelf 2.40 --dyn-syms", () => {
  for (const fx of [
    "elf-symbols/x86_64/libv.so",
    "elf-symbols/i686/libv.so",
    "sframe/v3/s390x/main",
    "sframe/v3/aarch64/main",
    "sframe/v3/x86_64/main",
  ]) {
    it(fx, () => {
      const elf = ElfFile.openPath(join(FIXTURE_ROOT, fx));
      try {
        expect(check(elf, expectedOutput(fx, "dyn-syms"))).toBeGreaterThan(5);
      } finally {
        elf.close();
      }
    });
  }
  describe.skipIf(!hasReadelf240)("host libraries", () => {
    if (!hasReadelf240) console.warn("skipping host version parity: GNU readelf 2.40 not found");
    for (const lib of HOST_LIBS) {
      it(lib, () => {
        const elf = ElfFile.openPath(lib);
        try {
          expect(check(elf, readelf(["--dyn-syms"], lib))).toBeGreaterThan(10);
        } finally {
          elf.close();
        }
      });
    }
  });
});

describe("libv.so version data (readelf -V)", () => {
  it("Verdef: base, VER_1, VER_2 with parent VER_1; Verneed libc GLIBC_2.2.5 as index 4", () => {
    const elf = ElfFile.openPath(join(FIXTURE_ROOT, "elf-symbols/x86_64/libv.so"));
    const v = symbolVersioning(elf);
    elf.close();
    if (!v) throw new Error("no versioning");
    expect(v.verdefs.map((d) => [d.ndx, d.flags, d.names.map((a) => a.name)])).toEqual([
      [1, 1, ["libv.so"]],
      [2, 0, ["VER_1"]],
      [3, 0, ["VER_2", "VER_1"]],
    ]);
    expect(v.verdefs.map((d) => d.offset)).toEqual([0, 0x1c, 0x38]);
    expect(v.verdefs[2]?.names[1]?.offset).toBe(0x54);
    expect(v.verneeds.map((n) => [n.file, n.aux.map((a) => [a.name, a.other, a.flags])])).toEqual([
      ["libc.so.6", [["GLIBC_2.2.5", 4, 0]]],
    ]);
    expect(v.entries.get(4)).toMatchObject({ kind: "need", name: "GLIBC_2.2.5", file: "libc.so.6" });
    expect(v.entries.get(3)).toMatchObject({ kind: "def", name: "VER_2" });
    // vsym@VER_1 is the hidden one (readelf: "2h(VER_1)").
    const hidden = [...Array(v.versym?.length ?? 0).keys()].filter((i) => v.versionOf(i)?.hidden);
    expect(hidden.length).toBe(1);
    expect(expectedOutput("elf-symbols/x86_64/libv.so", "V")).toContain("2h(VER_1)");
  });
});

describe("broken version data", () => {
  const le = true;
  it("vd_next past the end is a FormatError naming the offset", () => {
    const b = new Uint8Array(28);
    const v = new DataView(b.buffer);
    v.setUint16(0, 1, le);
    v.setUint16(6, 1, le); // vd_cnt
    v.setUint32(12, 20, le); // vd_aux
    v.setUint32(16, 100, le); // vd_next -> outside
    expect(() => parseVerdefs(b, { littleEndian: le, count: 2 })).toThrow(FormatError);
    // With count 1 the chain is not followed further.
    expect(parseVerdefs(b, { littleEndian: le, count: 1 })).toHaveLength(1);
  });
  it("vda_next / vna_next past the end are FormatErrors", () => {
    const d = new Uint8Array(28);
    const dv = new DataView(d.buffer);
    dv.setUint16(6, 2, le);
    dv.setUint32(12, 20, le);
    dv.setUint32(24, 64, le); // vda_next
    expect(() => parseVerdefs(d, { littleEndian: le })).toThrow(/Verdaux/);
    const n = new Uint8Array(32);
    const nv = new DataView(n.buffer);
    nv.setUint16(2, 2, le);
    nv.setUint32(8, 16, le);
    nv.setUint32(28, 16, le); // vna_next -> offset 32, no room
    expect(() => parseVerneeds(n, { littleEndian: le })).toThrow(/Vernaux/);
  });
  it("arbitrary bytes: parse or FormatError, bounded", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.uint8Array({ maxLength: 20 }), fc.boolean(), (b, s, l) => {
        for (const f of [
          () => parseVerdefs(b, { littleEndian: l, strtab: s }),
          () => parseVerneeds(b, { littleEndian: l, strtab: s }),
        ]) {
          try {
            f();
          } catch (e) {
            if (!(e instanceof FormatError)) throw e;
          }
        }
        const vs = parseVersym(b, l);
        expect(vs.length).toBe(b.length >> 1);
        new SymbolVersioning(vs, [], []).versionOf(0);
      }),
    );
  });
});
