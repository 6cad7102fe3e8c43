/**
 * Symbol tables against GNU readelf 2.40: every field of every .dynsym/.symtab entry of the
 * fixtures (ELF64 LE, ELF32 LE, ELF64 BE s390x, AArch64) equals what readelf printed, plus typed
 * errors for broken tables.
 */
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SHT_DYNSYM, SHT_SYMTAB } from "../../../formats/elf/constants.ts";
import { ElfFile } from "../../../formats/elf/file.ts";
import {
  symbolBindingName,
  symbolIndexName,
  symbolTypeName,
  symbolVisibilityName,
} from "../../../formats/elf/symbol-constants.ts";
import { dynamicSymbols, SymbolTable, staticSymbols, symbolTableFromSection } from "../../../formats/elf/symbols.ts";
import { FormatError } from "../../../formats/errors.ts";
import {
  expectedOutput,
  FIXTURE_ROOT,
  HOST_LIBS,
  hasReadelf240,
  parseReadelfSymbols,
  readelf,
  SYMBOL_FIXTURES,
} from "./elf-symbol-fixtures.ts";

function checkAgainst(elf: ElfFile, text: string): number {
  let checked = 0;
  for (const sec of elf.sections) {
    if (sec.type !== SHT_DYNSYM && sec.type !== SHT_SYMTAB) continue;
    const table = symbolTableFromSection(elf, sec);
    const rows = parseReadelfSymbols(text, sec.name);
    expect(table.count).toBe(rows.length);
    const osabi = elf.header.ident.osabi;
    for (const row of rows) {
      const s = table.symbol(row.index);
      expect(s.value).toBe(row.value);
      expect(s.size).toBe(row.size);
      expect(symbolTypeName(s.type, elf.header.machine, osabi)).toBe(row.type);
      expect(symbolBindingName(s.bind, osabi)).toBe(row.bind);
      expect(symbolVisibilityName(s.visibility)).toBe(row.vis);
      expect(symbolIndexName(s.shndx, elf.header.machine, elf.shnum, s.extendedShndx).trim()).toBe(row.ndx);
      // readelf appends @VER / @@VER / @VER (n) to dynamic names; the name itself is the prefix.
      const name = s.type === 3 && s.nameOffset === 0 ? "" : table.name(row.index);
      if (s.type !== 3) expect(row.printed.startsWith(name)).toBe(true);
      if (sec.type === SHT_SYMTAB && s.type !== 3) expect(row.printed).toBe(name);
      checked++;
    }
  }
  return checked;
}

describe("symbol tables vs readelf 2.40 (committed outputs)", () => {
  for (const fx of SYMBOL_FIXTURES) {
    it(fx, () => {
      const elf = ElfFile.openPath(join(FIXTURE_ROOT, fx));
      try {
        expect(checkAgainst(elf, expectedOutput(fx, "s"))).toBeGreaterThan(0);
      } finally {
        elf.close();
      }
    });
  }
});

describe.skipIf(!hasReadelf240)("symbol tables vs host readelf 2.40", () => {
  if (!hasReadelf240) console.warn("skipping host readelf parity: GNU readelf 2.40 not found");
  for (const lib of HOST_LIBS) {
    it(lib, () => {
      const elf = ElfFile.openPath(lib);
      try {
        expect(checkAgainst(elf, readelf(["-s"], lib))).toBeGreaterThan(10);
      } finally {
        elf.close();
      }
    });
  }
});

describe("SymbolTable", () => {
  const libv = () => ElfFile.openPath(join(FIXTURE_ROOT, "elf-symbols/x86_64/libv.so"));

  it("finds .dynsym and .symtab, decodes lazily by index", () => {
    const elf = libv();
    const dyn = dynamicSymbols(elf);
    const st = staticSymbols(elf);
    expect(dyn?.count).toBe(14);
    expect(st?.count).toBeGreaterThan(14);
    expect(dyn?.name(7)).toBe("vsym");
    expect(dyn?.nameEquals(7, new TextEncoder().encode("vsym"))).toBe(true);
    expect(dyn?.nameEquals(7, new TextEncoder().encode("vsy"))).toBe(false);
    expect(dyn?.nameEquals(7, new TextEncoder().encode("vsymx"))).toBe(false);
    expect(new TextDecoder().decode(dyn?.nameBytes(7))).toBe("vsym");
    expect([...(dyn ?? [])].length).toBe(14);
    elf.close();
  });

  it("rejects out-of-range indices with a FormatError", () => {
    const elf = libv();
    const dyn = dynamicSymbols(elf);
    expect(() => dyn?.symbol(14)).toThrow(FormatError);
    expect(() => dyn?.symbol(-1)).toThrow(FormatError);
    expect(() => dyn?.name(1.5)).toThrow(FormatError);
    elf.close();
  });

  it("an unterminated or out-of-range name is a FormatError", () => {
    const bytes = new Uint8Array(48);
    const view = new DataView(bytes.buffer);
    view.setUint32(24, 1, true); // symbol 1: st_name 1
    const unterminated = new SymbolTable(bytes, Uint8Array.of(0, 0x61, 0x62), { is64: true, littleEndian: true });
    expect(() => unterminated.name(1)).toThrow(/not NUL-terminated/);
    const short = new SymbolTable(bytes, Uint8Array.of(0), { is64: true, littleEndian: true });
    expect(() => short.name(1)).toThrow(/outside string table/);
    expect(short.name(0)).toBe("");
  });

  it("big-endian ELF32 fields", () => {
    const bytes = new Uint8Array(32);
    const v = new DataView(bytes.buffer);
    v.setUint32(16, 1, false);
    v.setUint32(20, 0x12345678, false);
    v.setUint32(24, 0x10, false);
    bytes[28] = 0x12; // GLOBAL FUNC
    bytes[29] = 2; // HIDDEN
    v.setUint16(30, 0xfff1, false);
    const t = new SymbolTable(bytes, Uint8Array.of(0, 0x66, 0), { is64: false, littleEndian: false });
    const s = t.symbol(1);
    expect(s).toMatchObject({ value: 0x12345678n, size: 0x10n, bind: 1, type: 2, visibility: 2, shndx: 0xfff1 });
    expect(t.name(1)).toBe("f");
  });

  it("SHN_XINDEX resolves through SHT_SYMTAB_SHNDX", () => {
    const bytes = new Uint8Array(48);
    const v = new DataView(bytes.buffer);
    v.setUint16(24 + 6, 0xffff, true);
    const shndx = new Uint8Array(8);
    new DataView(shndx.buffer).setUint32(4, 70000, true);
    const t = new SymbolTable(bytes, Uint8Array.of(0), { is64: true, littleEndian: true }, shndx);
    expect(t.symbol(1)).toMatchObject({ rawShndx: 0xffff, shndx: 70000, extendedShndx: true });
    const noTable = new SymbolTable(bytes, Uint8Array.of(0), { is64: true, littleEndian: true });
    expect(noTable.symbol(1)).toMatchObject({ shndx: 0xffff, extendedShndx: false });
    const shortTable = new SymbolTable(bytes, Uint8Array.of(0), { is64: true, littleEndian: true }, new Uint8Array(4));
    expect(() => shortTable.symbol(1)).toThrow(FormatError);
  });

  it("entry size smaller than an Elf64_Sym is a FormatError", () => {
    expect(
      () => new SymbolTable(new Uint8Array(32), new Uint8Array(1), { is64: true, littleEndian: true, entsize: 16 }),
    ).toThrow(FormatError);
  });

  it("arbitrary bytes: every access either works or throws a FormatError", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.uint8Array({ maxLength: 40 }),
        fc.boolean(),
        fc.boolean(),
        fc.nat(20),
        (syms, strs, is64, le, idx) => {
          const t = new SymbolTable(syms, strs, { is64, littleEndian: le });
          for (const f of [() => t.symbol(idx), () => t.name(idx), () => t.nameBytes(idx)]) {
            try {
              f();
            } catch (e) {
              if (!(e instanceof FormatError)) throw e;
            }
          }
        },
      ),
    );
  });
});
