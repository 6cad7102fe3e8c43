/**
 * The encoder against real toolchain output: every fixture section (gas and ld, binutils 2.40 V1 and
 * 2.46 V3, x86-64 / AArch64 / s390x, `.o` and linked) decoded and re-encoded gives the original bytes;
 * the encoder's defaults alone (no stored layout) reproduce what gas wrote for every `.o`; and the V1
 * bytes `as 2.40 --gsframe` printed for a two-function file (reference §1.12) come out of a plain
 * description. Then fast-check round trips over random descriptions.
 */
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ElfFile } from "../../../formats/elf/file.ts";
import { decodeSframeData } from "../../../formats/sframe/decode.ts";
import {
  calcFreType,
  describeSframe,
  encodeSframe,
  type SframeDescription,
  SframeEncodeError,
  type SframeFreDescription,
  type SframeFunctionDescription,
} from "../../../formats/sframe/encode.ts";
import type { SframeSectionData } from "../../../formats/sframe/types.ts";
import { fixtureBinaries } from "./fixture-files.ts";

function sframeSectionBytes(path: string): Uint8Array {
  const elf = ElfFile.fromBytes(new Uint8Array(readFileSync(path)), path);
  const sec = elf.section(".sframe");
  if (!sec) throw new Error(`${path}: no .sframe`);
  return elf.sectionData(sec);
}

function signed(word: number, size: number): number {
  return size === 1 ? (word << 24) >> 24 : size === 2 ? (word << 16) >> 16 : word | 0;
}

/** The semantic content of a decoded section, with none of the stored layout choices. */
function plainDescription(d: SframeSectionData): SframeDescription {
  const h = d.header;
  return {
    version: h.preamble.version as 1 | 2 | 3,
    littleEndian: h.littleEndian,
    flags: h.preamble.flags,
    abiArch: h.abiArch,
    cfaFixedFpOffset: h.cfaFixedFpOffset,
    cfaFixedRaOffset: h.cfaFixedRaOffset,
    functions: d.functions.map(({ fde, fres }) => ({
      start: fde.funcStart,
      size: fde.funcSize,
      pcType: fde.pcType,
      pauthKey: fde.pauthKey,
      signal: fde.version === 3 && fde.signal,
      repSize: fde.repSize,
      fdeType: fde.version === 3 ? fde.fdeType : 0,
      fres: fres.map((fre) => ({
        startOffset: fre.startOffset,
        cfaBaseReg: fre.cfaBaseReg,
        mangledRa: fre.mangledRa,
        dataWords: fre.dataWords.map((w) => signed(w, fre.dataWordSize)),
      })),
    })),
  };
}

describe("encodeSframe on the toolchain fixtures", () => {
  const bins = fixtureBinaries();

  it("has fixtures to check", () => {
    expect(bins.length).toBe(30);
  });

  it.each(bins.map((b) => [b.name, b.path]))("%s: decode → describe → encode gives the section back", (_n, path) => {
    const bytes = sframeSectionBytes(path);
    const again = encodeSframe(describeSframe(decodeSframeData(bytes)));
    expect(Buffer.from(again).toString("hex")).toBe(Buffer.from(bytes).toString("hex"));
  });

  it.each(bins.filter((b) => b.name.endsWith(".o")).map((b) => [b.name, b.path]))(
    "%s: the encoder's defaults make gas's choices (widths, FRE order)",
    (_n, path) => {
      const bytes = sframeSectionBytes(path);
      const data = decodeSframeData(bytes);
      const again = encodeSframe(plainDescription(data));
      // gas's .o sections may carry alignment padding after the FRE data, which is not content.
      expect(Buffer.from(again).toString("hex")).toBe(
        Buffer.from(bytes.subarray(0, bytes.length - data.trailing.length)).toString("hex"),
      );
    },
  );
});

describe("encodeSframe on a description", () => {
  it("writes the bytes `as 2.40 --gsframe` wrote for foo/bar (reference §1.12)", () => {
    // foo = push rbp; mov rbp,rsp; nop; pop rbp; ret (7 bytes); bar = sub/add $24; ret (9 bytes).
    const fre = (startOffset: number, cfaBaseReg: 0 | 1, ...dataWords: number[]): SframeFreDescription => ({
      startOffset,
      cfaBaseReg,
      dataWords,
    });
    const bytes = encodeSframe({
      version: 1,
      littleEndian: true,
      flags: 0,
      abiArch: 3,
      cfaFixedFpOffset: 0,
      cfaFixedRaOffset: -8,
      functions: [
        { start: 0, size: 7, fres: [fre(0, 1, 8), fre(1, 1, 16, -16), fre(4, 0, 16, -16), fre(6, 1, 8, -16)] },
        { start: 0, size: 9, fres: [fre(0, 1, 8), fre(4, 1, 32), fre(8, 1, 8)] },
      ],
    });
    const expected = [
      "e2de0100 0300f800 02000000 07000000 18000000 00000000 22000000",
      "00000000 07000000 00000000 04000000 00",
      "00000000 09000000 0f000000 03000000 00",
      "000308 010510f0 040410f0 060508f0",
      "000308 040320 080308",
    ]
      .join("")
      .replaceAll(" ", "");
    expect(Buffer.from(bytes).toString("hex")).toBe(expected);
  });

  it("stores a PCREL start relative to its own field, V2 and V3", () => {
    for (const version of [2, 3] as const) {
      const bytes = encodeSframe({
        version,
        littleEndian: version === 2,
        flags: 0x5,
        abiArch: version === 2 ? 3 : 4,
        cfaFixedFpOffset: 0,
        cfaFixedRaOffset: 0,
        functions: [
          { start: -0x1000, size: 0x20, fres: [{ startOffset: 0, dataWords: [1] }] },
          { start: -0x800, size: 0x300, fres: [] },
        ],
      });
      const d = decodeSframeData(bytes);
      expect(d.functions.map((f) => f.fde.funcStart)).toEqual([-0x1000, -0x800]);
      expect(d.functions.map((f) => Number(f.fde.rawStart))).toEqual(
        version === 2 ? [-0x1000 - 28, -0x800 - 48] : [-0x1000 - 28, -0x800 - 44],
      );
      expect(d.functions[1]?.fde.freType).toBe(calcFreType(0x300));
    }
  });

  it("writes header overrides verbatim, for malformed-input tests", () => {
    const bytes = encodeSframe({
      version: 3,
      littleEndian: false,
      flags: 5,
      abiArch: 4,
      cfaFixedFpOffset: 0,
      cfaFixedRaOffset: 0,
      functions: [{ start: 0, size: 4, fres: [{ startOffset: 0, dataWords: [0] }] }],
      override: { magic: 0x1234, numFdes: 7, numFres: 99, freLen: 0xffff },
    });
    const dv = new DataView(bytes.buffer);
    expect([dv.getUint16(0), dv.getUint32(8), dv.getUint32(12), dv.getUint32(16)]).toEqual([0x1234, 7, 99, 0xffff]);
    expect(bytes.length).toBe(28 + 16 + 5 + 3);
  });

  it("rejects what cannot be stored with a typed error naming the field", () => {
    const base: SframeDescription = {
      version: 3,
      littleEndian: true,
      flags: 5,
      abiArch: 3,
      cfaFixedFpOffset: 0,
      cfaFixedRaOffset: -8,
      functions: [],
    };
    const bad = (fn: SframeFunctionDescription, field: string) => {
      let err: unknown;
      try {
        encodeSframe({ ...base, functions: [fn] });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SframeEncodeError);
      expect((err as SframeEncodeError).field).toBe(field);
    };
    bad(
      { start: 0, size: 0x10, freType: 0, fres: [{ startOffset: 0x100, dataWords: [8] }] },
      "functions[0].fres[0].startOffset",
    );
    bad(
      { start: 0, size: 0x10, fres: [{ startOffset: 0, dataWords: [300], dataWordSize: 1 }] },
      "functions[0].fres[0].dataWords[0]",
    );
    bad(
      { start: 0, size: 0x10, fres: [{ startOffset: 0, dataWords: new Array(16).fill(1) }] },
      "functions[0].fres[0].dataWords",
    );
    bad({ start: 0, size: -1, fres: [] }, "functions[0].size");
    expect(() => encodeSframe({ ...base, cfaFixedRaOffset: 200 })).toThrow(SframeEncodeError);
    expect(() =>
      encodeSframe({
        ...base,
        functions: [
          { start: 0, size: 4, startFreOff: 0, fres: [{ startOffset: 0, dataWords: [8] }] },
          { start: 4, size: 4, startFreOff: 2, fres: [{ startOffset: 0, dataWords: [8] }] },
        ],
      }),
    ).toThrow(/overlaps/);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const ADDR = [1, 2, 4] as const;

/** A fully explicit description: every stored choice given, as describeSframe returns them. */
const explicitDescription: fc.Arbitrary<SframeDescription> = fc
  .record({
    version: fc.constantFrom(1, 2, 3) as fc.Arbitrary<1 | 2 | 3>,
    littleEndian: fc.boolean(),
    abiArch: fc.integer({ min: 1, max: 4 }),
    cfaFixedFpOffset: fc.integer({ min: -128, max: 127 }),
    cfaFixedRaOffset: fc.integer({ min: -128, max: 127 }),
    auxLen: fc.integer({ min: 0, max: 3 }),
    fdeOff: fc.integer({ min: 0, max: 5 }),
    gap: fc.integer({ min: 0, max: 5 }),
    extraFre: fc.integer({ min: 0, max: 3 }),
    trailing: fc.uint8Array({ maxLength: 4 }),
    flagPick: fc.nat(),
    fns: fc.array(
      fc.record({
        start: fc.integer({ min: -0x100000, max: 0x100000 }),
        freType: fc.integer({ min: 0, max: 2 }),
        sizeSeed: fc.nat(),
        infoHigh: fc.integer({ min: 0, max: 15 }),
        info2: fc.integer({ min: 0, max: 255 }),
        repSize: fc.integer({ min: 0, max: 255 }),
        padding: fc.integer({ min: 0, max: 0xffff }),
        gapBefore: fc.integer({ min: 0, max: 3 }),
        fres: fc.array(
          fc.record({
            startSeed: fc.nat(),
            sizeCode: fc.integer({ min: 0, max: 2 }),
            baseReg: fc.integer({ min: 0, max: 1 }),
            mangled: fc.boolean(),
            words: fc.array(fc.integer(), { maxLength: 15 }),
          }),
          { maxLength: 5 },
        ),
      }),
      { maxLength: 6 },
    ),
    order: fc.array(fc.nat(), { maxLength: 6 }),
  })
  .map((r): SframeDescription => {
    const validFlags = r.version === 3 ? [0, 1, 4, 5] : r.version === 2 ? [0, 1, 2, 3, 4, 5, 6, 7] : [0, 1, 2, 3];
    const flags = validFlags[r.flagPick % validFlags.length] as number;
    const entry = r.version === 3 ? 16 : r.version === 2 ? 20 : 17;
    // Function bodies first (explicit info bytes and word widths), then a permuted FRE-block layout.
    const bodies = r.fns.map((f) => {
      const addrSize = ADDR[f.freType] as number;
      const fres = f.fres.map((x) => {
        const size = 1 << x.sizeCode;
        const half = 2 ** (8 * size - 1);
        const words = x.words.map((w) => (((w % half) + half) % (2 * half)) - half);
        return {
          startOffset: x.startSeed % 2 ** (8 * addrSize),
          info: (x.mangled ? 0x80 : 0) | (x.sizeCode << 5) | (words.length << 1) | x.baseReg,
          dataWords: words,
          bytes: addrSize + 1 + words.length * size,
        };
      });
      const blockLen = (r.version === 3 ? 5 : 0) + fres.reduce((a, x) => a + x.bytes, 0);
      return { f, fres, blockLen };
    });
    const order = bodies.map((_, i) => i).sort((a, b) => (r.order[a] ?? a) - (r.order[b] ?? b) || a - b);
    const offsets = new Array<number>(bodies.length).fill(0);
    let cursor = 0;
    for (const i of order) {
      const b = bodies[i];
      if (!b) continue;
      cursor += b.f.gapBefore;
      offsets[i] = cursor;
      cursor += b.blockLen;
    }
    const functions = bodies.map(({ f, fres }, i): SframeFunctionDescription => {
      const sizeLimit = f.freType === 2 ? 0x7fffffff : 2 ** (8 * (ADDR[f.freType] as number));
      const common = {
        start: f.start,
        size: f.sizeSeed % sizeLimit,
        info: (f.infoHigh << 4) | f.freType,
        startFreOff: offsets[i] as number,
        fres: fres.map(({ startOffset, info, dataWords }) => ({ startOffset, info, dataWords })),
      };
      if (r.version === 3) return { ...common, info2: f.info2, repSize: f.repSize };
      if (r.version === 2) return { ...common, repSize: f.repSize, padding: f.padding };
      return common;
    });
    const fdeOff = r.fdeOff;
    return {
      version: r.version,
      littleEndian: r.littleEndian,
      flags,
      abiArch: r.abiArch,
      cfaFixedFpOffset: r.cfaFixedFpOffset,
      cfaFixedRaOffset: r.cfaFixedRaOffset,
      auxHeader: new Uint8Array(r.auxLen).fill(0xa5),
      fdeOff,
      freOff: fdeOff + functions.length * entry + r.gap,
      freLen: cursor + r.extraFre,
      functions,
      trailing: r.trailing,
    };
  });

/** A description that leaves every layout choice to the encoder. */
const plainArb: fc.Arbitrary<SframeDescription> = fc
  .record({
    version: fc.constantFrom(1, 2, 3) as fc.Arbitrary<1 | 2 | 3>,
    littleEndian: fc.boolean(),
    flags: fc.constantFrom(0, 1, 4, 5),
    abiArch: fc.integer({ min: 1, max: 4 }),
    cfaFixedFpOffset: fc.constant(0),
    cfaFixedRaOffset: fc.constantFrom(0, -8),
    functions: fc.array(
      fc.record({
        start: fc.integer({ min: -0x100000, max: 0x100000 }),
        size: fc.integer({ min: 0, max: 0x20000 }),
        pcType: fc.constantFrom("inc", "mask") as fc.Arbitrary<"inc" | "mask">,
        repSize: fc.integer({ min: 0, max: 255 }),
        fres: fc.array(
          fc.record({
            startOffset: fc.integer({ min: 0, max: 0xff }),
            cfaBaseReg: fc.constantFrom(0, 1) as fc.Arbitrary<0 | 1>,
            mangledRa: fc.boolean(),
            dataWords: fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 6 }),
          }),
          { maxLength: 5 },
        ),
      }),
      { maxLength: 8 },
    ),
  })
  // Flags the version defines (the decoder rejects others, as libsframe does).
  .map((d) => ({ ...d, flags: d.version === 1 ? d.flags & 3 : d.flags }));

describe("encodeSframe properties", () => {
  it("decode(encode(d)) gives d back, for fully explicit descriptions", () => {
    fc.assert(
      fc.property(explicitDescription, (d) => {
        const bytes = encodeSframe(d);
        expect(describeSframe(decodeSframeData(bytes))).toEqual(d);
      }),
      { numRuns: 300 },
    );
  });

  it("encode → decode → encode is stable and keeps every field, for descriptions left to the defaults", () => {
    fc.assert(
      fc.property(plainArb, (d) => {
        const bytes = encodeSframe(d);
        const data = decodeSframeData(bytes);
        expect(encodeSframe(describeSframe(data))).toEqual(bytes);
        expect(encodeSframe(plainDescription(data))).toEqual(bytes);
        data.functions.forEach(({ fde, fres }, i) => {
          const f = d.functions[i] as SframeFunctionDescription;
          expect(fde.funcStart).toBe(f.start);
          expect(fde.funcSize).toBe(f.size);
          expect(fde.pcType).toBe(f.pcType);
          expect(fde.freType).toBe(calcFreType(f.size));
          if (d.version !== 1) expect(fde.repSize).toBe(f.repSize);
          fres.forEach((fre, j) => {
            const x = f.fres[j] as SframeFreDescription;
            expect(fre.startOffset).toBe(x.startOffset);
            expect(fre.cfaBaseReg).toBe(x.cfaBaseReg);
            expect(fre.mangledRa).toBe(x.mangledRa);
            expect(fre.dataWords.map((w) => signed(w, fre.dataWordSize))).toEqual(x.dataWords);
          });
        });
      }),
      { numRuns: 300 },
    );
  });

  it("is deterministic", () => {
    fc.assert(
      fc.property(plainArb, (d) => {
        expect(encodeSframe(d)).toEqual(encodeSframe(structuredClone(d)));
      }),
      { numRuns: 50 },
    );
  });
});
