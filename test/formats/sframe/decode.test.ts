/**
 * The decoder against `objdump --sframe` (binutils 2.40 for the V1 fixtures, 2.46 for V3) on every
 * fixture binary, and against hand-assembled sections for what the toolchain fixtures lack (V2, the
 * PCREL flag absent, aarch64 big-endian, pauth key B and mangled RA, s390x V2 register words, aux
 * header, trailing bytes). Hand-assembled expectations come from the format spec, byte by byte.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ByteWriter } from "../../../formats/bytes/writer.ts";
import { ElfFile } from "../../../formats/elf/file.ts";
import { decodeSframe, decodeSframeData, type SframeSection } from "../../../formats/sframe/decode.ts";
import { SframeFormatError } from "../../../formats/sframe/errors.ts";
import { findFre } from "../../../formats/sframe/find-fre.ts";
import { interpretFre } from "../../../formats/sframe/interpret.ts";
import { locateSframe } from "../../../formats/sframe/locate.ts";
import type { SframeFde, SframeFre, SframeRegRule, SframeRow } from "../../../formats/sframe/types.ts";
import { fixtureBinaries, openFixture, parseObjdumpSframe } from "./fixture-files.ts";

function signed(n: number): string {
  return n >= 0 ? `+${n}` : `${n}`;
}

/** objdump's CFA / FP / RA columns for one row (binutils `sframe-dump.c` notation). */
function objdumpColumns(sec: SframeSection, fde: SframeFde, row: SframeRow): { cfa: string; fp: string; ra: string } {
  if (row.outermost || !row.cfa) return { cfa: "RA undefined", fp: "", ra: "" };
  const flex = fde.version === 3 && fde.fdeType === 1;
  const regName = (base: string, regnum: number): string => (base === "reg" ? `r${regnum}` : base);
  const c = row.cfa;
  const cfaBase = flex ? regName(c.base, c.regnum) : c.base;
  const cfa = c.deref ? `(${cfaBase}${signed(c.offset)})` : `${cfaBase}${signed(c.offset)}`;
  const col = (rule: SframeRegRule, source: string): string => {
    if (source === "header") return sec.version === 1 ? "u" : "f";
    if (source === "padding") return flex ? "U" : "u";
    switch (rule.kind) {
      case "same":
      case "undefined":
        return "u";
      case "cfa":
        return rule.deref ? `c${signed(rule.offset)}` : `c${signed(rule.offset)}`;
      case "reg": {
        const name = rule.regnum === 6 && sec.header.abiArch === 3 ? "fp" : `r${rule.regnum}`;
        return rule.deref ? `(${name}${signed(rule.offset)})` : `${name}${signed(rule.offset)}`;
      }
    }
  };
  let ra = col(row.ra, row.raSource);
  if (row.mangledRa) ra += "[s]";
  return { cfa, fp: col(row.fp, row.fpSource), ra };
}

describe("decode matches objdump --sframe on every fixture", () => {
  const bins = fixtureBinaries();
  it("finds 30 fixture binaries (v1 x86_64/aarch64, v3 x86_64/aarch64/s390x)", () => {
    expect(bins.length).toBe(30);
  });
  let rows = 0;
  for (const bin of bins) {
    it(bin.name, () => {
      const dump = parseObjdumpSframe(readFileSync(`${bin.path}.sframe.txt`, "utf8"));
      const sec = openFixture(bin.path);
      const relocatable = bin.name.endsWith(".o");
      expect(`SFRAME_VERSION_${sec.version}`).toBe(dump.version);
      const flags: string[] = [];
      if (sec.header.preamble.flags & 1) flags.push("SFRAME_F_FDE_SORTED");
      if (sec.header.preamble.flags & 2) flags.push("SFRAME_F_FRAME_POINTER");
      if (sec.header.preamble.flags & 4) flags.push("SFRAME_F_FDE_FUNC_START_PCREL");
      expect(flags.length ? flags : ["NONE"]).toEqual(dump.flags);
      expect(sec.header.numFdes).toBe(dump.numFdes);
      expect(sec.header.numFres).toBe(dump.numFres);
      if (sec.version !== 1) expect(sec.header.cfaFixedRaOffset || undefined).toBe(dump.fixedRa);
      expect(sec.header.cfaFixedFpOffset || undefined).toBe(dump.fixedFp);
      expect(dump.functions.length).toBe(sec.numFdes);
      for (const fn of dump.functions) {
        const fde = sec.fde(fn.index);
        // objdump applies .rela.sframe in a .o; the raw bytes hold 0 there, so compare PCs only when linked.
        if (!relocatable) expect(sec.funcAddress(fde), `func idx [${fn.index}] pc`).toBe(fn.pc);
        expect(fde.funcSize).toBe(fn.size);
        expect(fde.pcType === "mask").toBe(fn.mask);
        const attr = `${fde.version === 3 && fde.signal ? "S" : ""}${fde.version === 3 && fde.fdeType === 1 ? "F" : ""}`;
        expect(attr).toBe(fn.attr);
        const fres = sec.fres(fde);
        expect(fres.length).toBe(fn.rows.length);
        fn.rows.forEach((r, j) => {
          const fre = fres[j] as SframeFre;
          const startPc = fn.mask ? BigInt(fre.startOffset) : fn.pc + BigInt(fre.startOffset);
          expect(startPc, `func idx [${fn.index}] row ${j}`).toBe(r.startPc);
          expect(objdumpColumns(sec, fde, interpretFre(sec, fde, fre)), `func idx [${fn.index}] row ${j}`).toEqual({
            cfa: r.cfa,
            fp: r.fp,
            ra: r.ra,
          });
          rows++;
        });
      }
    });
  }
  it("compared every row", () => {
    expect(rows).toBeGreaterThan(250);
    console.log(`objdump --sframe parity: ${bins.length} binaries, ${rows} rows identical`);
  });

  it("locates PT_GNU_SFRAME in linked objects and .sframe in relocatable ones", () => {
    const elf = ElfFile.fromBytes(
      new Uint8Array(readFileSync(bins.find((b) => b.name === "v3/x86_64/libb.so")?.path ?? "")),
    );
    const loc = locateSframe(elf);
    expect(loc).toMatchObject({ from: "segment", vaddr: 0x2120n, memSize: 0x12en });
    const obj = ElfFile.fromBytes(
      new Uint8Array(readFileSync(bins.find((b) => b.name === "v3/x86_64/libb.o")?.path ?? "")),
    );
    expect(locateSframe(obj)).toMatchObject({ from: "section", vaddr: 0n });
    // The segment is larger than the section (0xf4 bytes): the rest is zero padding after the FREs.
    const data = decodeSframeData(loc?.bytes ?? new Uint8Array(), { vaddr: 0x2120n });
    expect(data.layout.fresEnd).toBe(0xf4);
    expect(data.trailing.length).toBe(0x12e - 0xf4);
    expect(data.trailing.every((b) => b === 0)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------

function hex(s: string): Uint8Array {
  const clean = s.replace(/[^0-9a-f]/gi, "");
  return Uint8Array.from(clean.match(/../g) ?? [], (b) => Number.parseInt(b, 16));
}

describe("hand-checked sections", () => {
  it("decodes binutils 2.40's V1 output for foo/bar (reference §1.12, bytes from a real `as --gsframe`)", () => {
    const bytes = hex(`
      e2de 0100 0300 f800 02000000 07000000 18000000 00000000 22000000
      00000000 07000000 00000000 04000000 00
      00000000 09000000 0f000000 03000000 00
      000308 010510f0 040410f0 060508f0
      000308 040320 080308`);
    const sec = decodeSframe(bytes);
    expect(sec.version).toBe(1);
    expect(sec.sorted).toBe(false);
    expect(sec.layout).toEqual({
      headerSize: 28,
      fdesOffset: 28,
      fdeEntrySize: 17,
      fdesEnd: 62,
      fresOffset: 62,
      fresEnd: 86,
    });
    const [foo, bar] = sec.functions();
    expect(foo?.fde).toMatchObject({ version: 1, offset: 0x1c, funcStart: 0, funcSize: 7, numFres: 4, repSize: 0 });
    expect(bar?.fde).toMatchObject({ version: 1, offset: 0x2d, funcStart: 0, funcSize: 9, startFreOff: 15 });
    expect(foo?.fres.map((f) => [f.startOffset, f.cfaBaseReg, f.dataWordCount, f.dataWords])).toEqual([
      [0, 1, 1, [0x08]],
      [1, 1, 2, [0x10, 0xf0]],
      [4, 0, 2, [0x10, 0xf0]],
      [6, 1, 2, [0x08, 0xf0]],
    ]);
    const row = interpretFre(sec, foo?.fde as SframeFde, foo?.fres[2] as SframeFre);
    expect(row).toMatchObject({
      cfa: { base: "fp", regnum: 6, offset: 16, deref: false },
      fp: { kind: "cfa", offset: -16, deref: true },
      ra: { kind: "cfa", offset: -8, deref: true },
      raSource: "header",
      outermost: false,
      signal: false,
    });
    expect(bar?.fres.map((f) => f.offset)).toEqual([0x4d, 0x50, 0x53]);
    // gas leaves the table unsorted; libsframe refuses to binary-search it.
    expect(findFre(sec, 0)).toMatchObject({ ok: false, code: "SFRAME_ERR_FDE_NOTSORTED" });
  });

  /** A V2 x86_64 section: one PC-INC function and a PLT (PC-MASK, rep_size 16). */
  function v2x86(pcrel: boolean): Uint8Array {
    const w = new ByteWriter(true);
    w.u16(0xdee2)
      .u8(2)
      .u8(pcrel ? 5 : 1)
      .u8(3)
      .i8(0)
      .i8(-8)
      .u8(0);
    w.u32(2).u32(3).u32(10).u32(0).u32(40);
    // FDE 0 at 28: function at section offset -0x1000, 0x20 bytes; FDE 1 at 48: PLT at -0x800.
    w.i32(pcrel ? -0x1000 - 28 : -0x1000)
      .u32(0x20)
      .u32(0)
      .u32(2)
      .u8(0x00)
      .u8(0)
      .u16(0);
    w.i32(pcrel ? -0x800 - 48 : -0x800)
      .u32(0x40)
      .u32(7)
      .u32(1)
      .u8(0x10)
      .u8(16)
      .u16(0xbeef);
    w.bytes(hex("000308 040510f0")); // FDE 0: SP+8; from +4 SP+16, FP at CFA-16
    w.bytes(hex("000310")); // FDE 1 (FRE offset 7): SP+16
    return w.finish();
  }

  for (const pcrel of [true, false]) {
    it(`decodes V2 x86_64 with SFRAME_F_FDE_FUNC_START_PCREL ${pcrel ? "set" : "clear"}`, () => {
      const bytes = v2x86(pcrel);
      const sec = decodeSframe(bytes, { vaddr: 0x5000n });
      expect(sec.pcrel).toBe(pcrel);
      const f0 = sec.fde(0);
      const f1 = sec.fde(1);
      expect(f0).toMatchObject({
        version: 2,
        funcStart: -0x1000,
        funcSize: 0x20,
        numFres: 2,
        pcType: "inc",
        repSize: 0,
      });
      expect(f1).toMatchObject({ version: 2, funcStart: -0x800, pcType: "mask", repSize: 16, padding: 0xbeef });
      expect(sec.funcAddress(f0)).toBe(0x4000n);
      expect(f0.rawStart).toBe(pcrel ? BigInt(-0x1000 - 28) : -0x1000n);
      // PC offsets 0..3 → FRE 0, 4..0x1f → FRE 1; PLT offsets mod 16 → its single FRE.
      expect(findFre(sec, -0x1000 + 3)).toMatchObject({ ok: true, fre: { index: 0, startOffset: 0 } });
      expect(findFre(sec, -0x1000 + 0x1f)).toMatchObject({ ok: true, fre: { index: 1, startOffset: 4 } });
      expect(findFre(sec, -0x1000 + 0x20)).toMatchObject({ ok: false, code: "SFRAME_ERR_FDE_NOTFOUND" });
      expect(findFre(sec, -0x800 + 0x3f)).toMatchObject({ ok: true, pcOffset: 15, fre: { index: 0 } });
      const row = interpretFre(sec, f0, sec.fres(f0)[1] as SframeFre);
      expect(row).toMatchObject({ cfa: { base: "sp", offset: 16 }, fp: { kind: "cfa", offset: -16, deref: true } });
    });
  }

  it("decodes a big-endian aarch64 V2 section: pauth key B, mangled RA, 2-byte data words", () => {
    const w = new ByteWriter(false);
    w.u16(0xdee2).u8(2).u8(5).u8(1).i8(0).i8(0).u8(0);
    w.u32(1).u32(2).u32(11).u32(0).u32(20);
    w.i32(-0x400 - 28)
      .u32(0x100)
      .u32(0)
      .u32(2)
      .u8(0x20)
      .u8(0)
      .u16(0);
    w.u8(0).u8(0x03).u8(0); // start 0: CFA = SP + 0; RA in LR, FP unchanged
    w.u8(8).u8(0xa7).u16(0x100).i16(-8).i16(-16); // start 8: 2-byte words, mangled RA
    const sec = decodeSframe(w.finish());
    expect(sec.littleEndian).toBe(false);
    const fde = sec.fde(0);
    expect(fde).toMatchObject({ funcStart: -0x400, pauthKey: 1, freType: 0 });
    const [a, b] = sec.fres(fde);
    expect(interpretFre(sec, fde, a as SframeFre)).toMatchObject({
      cfa: { base: "sp", regnum: 31, offset: 0 },
      ra: { kind: "same" },
      raSource: "absent",
      fp: { kind: "same" },
      pauthKey: 1,
      mangledRa: false,
    });
    expect(b).toMatchObject({
      dataWordSize: 2,
      dataWordSizeCode: 1,
      dataWords: [0x100, 0xfff8, 0xfff0],
      mangledRa: true,
    });
    expect(interpretFre(sec, fde, b as SframeFre)).toMatchObject({
      cfa: { base: "sp", offset: 256 },
      ra: { kind: "cfa", offset: -8, deref: true },
      fp: { kind: "cfa", offset: -16, deref: true },
      mangledRa: true,
    });
  });

  it("decodes s390x V2: CFA offset scaling, RA padding word, LSB-1 register words", () => {
    const w = new ByteWriter(false);
    w.u16(0xdee2).u8(2).u8(1).u8(4).i8(0).i8(0).u8(0);
    w.u32(1).u32(3).u32(13).u32(0).u32(20);
    w.i32(-0x300).u32(0x80).u32(0).u32(3).u8(0).u8(0).u16(0);
    w.u8(0).u8(0x03).u8(0); // CFA = SP + 0*8 + 160
    w.u8(6).u8(0x07).u8(20).u8(0).u8(0xb8); // CFA = SP + 320; RA padding; FP at CFA-72
    w.u8(10).u8(0x07).u8(20).u8(0x1d).u8(0x17); // RA in r14, FP in r11
    const sec = decodeSframe(w.finish());
    const fde = sec.fde(0);
    const [a, b, c] = sec.fres(fde).map((f) => interpretFre(sec, fde, f));
    expect(a).toMatchObject({ cfa: { base: "sp", regnum: 15, offset: 160 }, ra: { kind: "same" }, spOffset: -160 });
    expect(b).toMatchObject({
      cfa: { offset: 320 },
      ra: { kind: "same" },
      raSource: "padding",
      fp: { kind: "cfa", offset: -72, deref: true },
    });
    expect(c).toMatchObject({
      ra: { kind: "reg", regnum: 14, offset: 0, deref: false },
      fp: { kind: "reg", regnum: 11, offset: 0, deref: false },
    });
  });

  it("decodes a V3 FLEX FDE (DRAP: CFA = *(RBP-8), reference §1.8) and a signal FDE with zero FREs", () => {
    const w = new ByteWriter(true);
    w.u16(0xdee2).u8(3).u8(5).u8(3).i8(0).i8(-8).u8(0);
    w.u32(2).u32(1).u32(18).u32(0).u32(32);
    w.u64(BigInt.asUintN(64, -0x2000n - 28n))
      .u32(0x40)
      .u32(0); // FDE index 0 at 28
    w.u64(BigInt.asUintN(64, -0x1f00n - 44n))
      .u32(0x10)
      .u32(13); // FDE index 1 at 44
    w.u16(1).u8(0x00).u8(0x01).u8(0); // attr: 1 FRE, info ADDR1/INC, FLEX
    w.bytes(hex("10 0c 33 f8 02 f8 33 00"));
    w.u16(0).u8(0x80).u8(0).u8(0); // attr: 0 FREs, signal
    const sec = decodeSframe(w.finish());
    const f0 = sec.fde(0);
    expect(f0).toMatchObject({
      version: 3,
      attrOffset: 60,
      fresOffset: 65,
      fdeType: 1,
      numFres: 1,
      funcStart: -0x2000,
    });
    const [fre] = sec.fres(f0);
    expect(interpretFre(sec, f0, fre as SframeFre)).toMatchObject({
      cfa: { base: "fp", regnum: 6, offset: -8, deref: true },
      ra: { kind: "cfa", offset: -8, deref: true },
      raSource: "dataword",
      fp: { kind: "reg", regnum: 6, offset: 0, deref: true },
    });
    const f1 = sec.fde(1);
    expect(f1).toMatchObject({ signal: true, numFres: 0, fdeType: 0 });
    expect(sec.fres(f1)).toEqual([]);
    expect(findFre(sec, -0x1f00 + 4)).toMatchObject({ ok: false, code: "SFRAME_ERR_FDE_INVAL" });
    expect(findFre(sec, -0x2000 + 0xf)).toMatchObject({ ok: false, code: "SFRAME_ERR_FRE_INVAL" });
    expect(findFre(sec, -0x2000 + 0x10)).toMatchObject({ ok: true, fre: { startOffset: 0x10 } });
  });

  it("keeps the aux header bytes and counts offsets from its end", () => {
    const w = new ByteWriter(true);
    w.u16(0xdee2).u8(2).u8(5).u8(3).i8(0).i8(-8).u8(4);
    w.u32(1).u32(1).u32(3).u32(0).u32(20);
    w.u8(0xa).u8(0xb).u8(0xc).u8(0xd);
    w.i32(-0x100 - 32)
      .u32(8)
      .u32(0)
      .u32(1)
      .u8(0)
      .u8(0)
      .u16(0);
    w.bytes(hex("000308"));
    w.bytes(hex("0000"));
    const data = decodeSframeData(w.finish());
    expect(data.header.auxHeader).toEqual(Uint8Array.from([0xa, 0xb, 0xc, 0xd]));
    expect(data.layout.fdesOffset).toBe(32);
    expect(data.functions[0]?.fde.funcStart).toBe(-0x100);
    expect(data.trailing).toEqual(new Uint8Array(2));
  });

  it("raises typed errors naming the offset and what was expected", () => {
    const expectErr = (bytes: Uint8Array, kind: string, offset: number) => {
      try {
        decodeSframeData(bytes);
      } catch (e) {
        expect(e).toBeInstanceOf(SframeFormatError);
        expect((e as SframeFormatError).kind).toBe(kind);
        expect((e as SframeFormatError).offset).toBe(offset);
        expect((e as SframeFormatError).message).toContain("expected");
        return;
      }
      throw new Error("no error");
    };
    const good = v2x86(true);
    expectErr(good.subarray(0, 20), "truncated", 0);
    expectErr(hex("0000 0200 0300 f800 00000000 00000000 00000000 00000000 00000000"), "bad-magic", 0);
    const patched = (at: number, v: number) => {
      const b = good.slice();
      b[at] = v;
      return b;
    };
    expectErr(patched(2, 4), "bad-version", 2);
    expectErr(patched(3, 0x0d), "bad-flags", 3);
    expectErr(patched(20, 41), "bad-offsets", 20);
    expectErr(patched(8, 3), "bad-offsets", 8);
    expectErr(patched(16, 12), "truncated", 16);
    expectErr(patched(44, 0x03), "bad-fde", 44); // FRE type 3
    expectErr(patched(69, 0x65), "bad-fre", 69); // data-word size code 3
    expectErr(patched(56, 9), "bad-fre", 77); // FDE 1's first FRE would straddle the sub-section end
    expectErr(patched(40, 9), "bad-fre", 78); // FDE 0 claims 9 FREs: the 4th starts at the end
  });
});
