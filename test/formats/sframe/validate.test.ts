/**
 * The kernel's registration header checks and CONFIG_SFRAME_VALIDATION walk (kernel/unwind/sframe.c,
 * sframe/core tree as read: `sframe_read_header`, `sframe_validate_section`, `__read_fde`, `__read_fre`,
 * `__read_fre_datawords`), and the lookup `sframe_find_user` performs. Expected errnos come from that
 * code: each mutation below breaks exactly one rule the kernel checks.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ByteWriter } from "../../../formats/bytes/writer.ts";
import { PF_X, PT_LOAD } from "../../../formats/elf/constants.ts";
import { ElfFile } from "../../../formats/elf/file.ts";
import { decodeSframe } from "../../../formats/sframe/decode.ts";
import { kernelFindFrame } from "../../../formats/sframe/kernel-find.ts";
import { ARM64_REGS, S390_REGS, type SframeKernelSection } from "../../../formats/sframe/kernel-read.ts";
import { locateSframe } from "../../../formats/sframe/locate.ts";
import type { SframeCheckFailure } from "../../../formats/sframe/types.ts";
import {
  checkHeaderForRegistration,
  type ValidationOptions,
  validateSframeForKernel,
} from "../../../formats/sframe/validate.ts";
import { FIXTURES, parseLookup } from "./fixture-files.ts";

const BIAS = 0x555555554000n;

interface Linked {
  bytes: Uint8Array;
  options: ValidationOptions;
  le: boolean;
}

/** A linked fixture as ld.so would register it: PT_GNU_SFRAME and the PF_X PT_LOAD, at a load bias. */
function linked(name: string): Linked {
  const elf = ElfFile.fromBytes(new Uint8Array(readFileSync(join(FIXTURES, name))), name);
  const loc = locateSframe(elf);
  const text = elf.programHeaders.find((p) => p.type === PT_LOAD && (p.flags & PF_X) !== 0);
  if (!loc || !text) throw new Error(`${name}: no GNU_SFRAME or text`);
  const sframeStart = BIAS + loc.vaddr;
  return {
    bytes: loc.bytes.slice(),
    le: elf.littleEndian,
    options: {
      sframeStart,
      sframeEnd: sframeStart + loc.memSize,
      textStart: BIAS + text.vaddr,
      textEnd: BIAS + text.vaddr + text.memsz,
      littleEndian: elf.littleEndian,
      ...(elf.header.machine === 22 ? { regs: S390_REGS } : elf.header.machine === 183 ? { regs: ARM64_REGS } : {}),
    },
  };
}

function failed(r: { ok: boolean }): SframeCheckFailure {
  if (r.ok) throw new Error("expected a failure");
  return r as SframeCheckFailure;
}

const LINKED = ["x86_64", "aarch64", "s390x"].flatMap((a) => ["main", "liba.so", "libb.so"].map((f) => `v3/${a}/${f}`));

describe("registration header checks (sframe_add_section → sframe_read_header)", () => {
  for (const name of LINKED) {
    it(`accepts ${name}`, () => {
      const { bytes, options } = linked(name);
      const r = checkHeaderForRegistration(bytes, options);
      expect(r).toMatchObject({ ok: true, version: 3 });
      if (r.ok) expect(r.fdesStart).toBe((options.sframeStart ?? 0n) + 28n);
    });
  }

  it("rejects gas output (.o: SORTED clear) and V1 sections with EINVAL", () => {
    const obj = readFileSync(join(FIXTURES, "v3/x86_64/main.o"));
    const sec = locateSframe(ElfFile.fromBytes(new Uint8Array(obj)));
    expect(failed(checkHeaderForRegistration(sec?.bytes ?? new Uint8Array()))).toMatchObject({
      errno: "EINVAL",
      offset: 3,
      expected: "SFRAME_F_FDE_SORTED set",
    });
    const v1 = linked("v1/x86_64/main");
    expect(failed(checkHeaderForRegistration(v1.bytes, v1.options))).toMatchObject({
      errno: "EINVAL",
      offset: 2,
      expected: "version 3",
    });
  });

  it("reads the header in the kernel's byte order: a big-endian section on a little-endian kernel fails the magic", () => {
    const s390 = linked("v3/s390x/main");
    expect(failed(checkHeaderForRegistration(s390.bytes, { ...s390.options, littleEndian: true }))).toMatchObject({
      errno: "EINVAL",
      offset: 0,
    });
  });

  it("reports the first failing check, in the kernel's order", () => {
    const { bytes, options } = linked("v3/x86_64/main");
    const mut = (...patches: [number, number][]) => {
      const b = bytes.slice();
      for (const [at, v] of patches) b[at] = v;
      return b;
    };
    const check = (b: Uint8Array, o: ValidationOptions = options) => failed(checkHeaderForRegistration(b, o));
    // Fewer than 28 readable bytes: the header copy faults before anything is compared.
    expect(check(mut([0, 0]).subarray(0, 27))).toMatchObject({
      errno: "EFAULT",
      check: "copy_from_user(sframe_header)",
    });
    // magic before version before SORTED before PCREL before auxhdr_len.
    expect(check(mut([0, 0], [2, 2], [3, 0], [7, 1]))).toMatchObject({ errno: "EINVAL", offset: 0 });
    expect(check(mut([2, 2], [3, 0], [7, 1]))).toMatchObject({ errno: "EINVAL", offset: 2 });
    expect(check(mut([3, 4], [7, 1]))).toMatchObject({
      errno: "EINVAL",
      offset: 3,
      expected: "SFRAME_F_FDE_SORTED set",
    });
    expect(check(mut([3, 1], [7, 1]))).toMatchObject({
      errno: "EINVAL",
      offset: 3,
      expected: "SFRAME_F_FDE_FUNC_START_PCREL set",
    });
    expect(check(mut([7, 1], [8, 0]))).toMatchObject({ errno: "EINVAL", offset: 7 });
    // Unknown flag bits and the ABI byte are not checked.
    expect(checkHeaderForRegistration(mut([3, 0xf7], [4, 0x99]), options).ok).toBe(true);
    // num_fdes 0 (with num_fres 0 too) is reported before the size checks.
    expect(check(mut([8, 0], [12, 0], [16, 0xff], [17, 0xff]))).toMatchObject({
      errno: "EINVAL",
      check: "no FDE/FRE entries",
      offset: 8,
    });
    expect(check(mut([12, 0]))).toMatchObject({ errno: "EINVAL", offset: 12 });
    // addr_length of 28 (or less): the header copy succeeds (memory is readable), then header_end >= sframe_end.
    const start = options.sframeStart ?? 0n;
    expect(check(bytes, { ...options, sframeEnd: start + 28n })).toMatchObject({
      errno: "EINVAL",
      check: "header doesn't fit in section",
    });
    expect(check(bytes, { ...options, sframeEnd: start + 20n })).toMatchObject({
      errno: "EINVAL",
      check: "header doesn't fit in section",
    });
    // fres_start < fdes_end: num_fdes larger than the gap before the FRE sub-section.
    expect(check(mut([9, 1]))).toMatchObject({ errno: "EINVAL", check: "inconsistent FDE/FRE offsets", offset: 24 });
    // fres_end > sframe_end.
    expect(
      check(bytes, { ...options, sframeEnd: start + BigInt(decodeSframe(bytes).layout.fresEnd - 1) }),
    ).toMatchObject({
      errno: "EINVAL",
      check: "inconsistent FDE/FRE offsets",
      offset: 16,
    });
  });

  it("models the older series: V2 + PCREL (v11/v12) and plain V2 (≤ v10)", () => {
    const w = new ByteWriter(true);
    w.u16(0xdee2).u8(2).u8(1).u8(3).i8(0).i8(-8).u8(0);
    w.u32(1).u32(1).u32(3).u32(0).u32(20);
    w.i32(-0x1000).u32(0x10).u32(0).u32(1).u8(0).u8(0).u16(0);
    w.u8(0).u8(3).u8(8);
    const v2 = w.finish();
    expect(failed(checkHeaderForRegistration(v2))).toMatchObject({ offset: 2 });
    expect(failed(checkHeaderForRegistration(v2, { acceptedVersions: [2] }))).toMatchObject({
      expected: "SFRAME_F_FDE_FUNC_START_PCREL set",
    });
    expect(checkHeaderForRegistration(v2, { acceptedVersions: [2], requirePcrel: false })).toMatchObject({
      ok: true,
      version: 2,
    });
    expect(
      validateSframeForKernel(v2, { acceptedVersions: [2], requirePcrel: false, sframeStart: 0x20000n }),
    ).toMatchObject({
      ok: true,
      fdes: 1,
      fres: 1,
    });
  });
});

describe("CONFIG_SFRAME_VALIDATION walk (sframe_validate_section)", () => {
  for (const name of LINKED) {
    it(`validates ${name}`, () => {
      const { bytes, options } = linked(name);
      const r = validateSframeForKernel(bytes, options);
      const sec = decodeSframe(bytes);
      expect(r).toMatchObject({ ok: true, fdes: sec.header.numFdes, fres: sec.header.numFres });
    });
  }

  /** v3/x86_64/main with one patch; offsets found with the decoder, errnos from the kernel code. */
  function mutated(patch: (b: Uint8Array, dv: DataView, sec: ReturnType<typeof decodeSframe>) => void) {
    const { bytes, options } = linked("v3/x86_64/libb.so");
    const b = bytes.slice();
    patch(b, new DataView(b.buffer), decodeSframe(bytes));
    return failed(validateSframeForKernel(b, options));
  }

  it("unsorted FDEs → EFAULT", () => {
    const f = mutated((_b, dv, sec) => {
      // Give FDE 3 the function of FDE 2 (PC-relative: adjust by the entry distance).
      const raw2 = dv.getBigInt64(sec.fdeOffset(2), true);
      dv.setBigInt64(sec.fdeOffset(3), raw2 - 16n, true);
    });
    expect(f).toMatchObject({ errno: "EFAULT", check: "FDE not sorted", fdeIndex: 3 });
  });

  it("overlapping functions with equal starts → EFAULT; a function outside the text → EINVAL", () => {
    expect(
      mutated((_b, dv, sec) => {
        dv.setBigInt64(sec.fdeOffset(1), dv.getBigInt64(sec.fdeOffset(0), true) - 16n, true);
      }),
    ).toMatchObject({ errno: "EFAULT", fdeIndex: 1 });
    expect(
      mutated((_b, dv, sec) => {
        dv.setBigInt64(sec.fdeOffset(0), -0x100000n, true);
      }),
    ).toMatchObject({ errno: "EINVAL", check: "__read_fde", fdeIndex: 0, offset: 28 });
  });

  it("attribute block beyond fres_end → EINVAL; FRE type 3 → EFAULT", () => {
    expect(
      mutated((_b, dv, sec) => {
        dv.setUint32(sec.fdeOffset(2) + 12, sec.header.freLen - 4, true);
      }),
    ).toMatchObject({ errno: "EINVAL", check: "__read_fde", fdeIndex: 2 });
    expect(
      mutated((b, _dv, sec) => {
        const fde = sec.fde(1);
        if (fde.version !== 3) throw new Error("v3");
        b[fde.attrOffset + 2] = (b[fde.attrOffset + 2] as number) | 3;
      }),
    ).toMatchObject({ errno: "EFAULT", check: "__read_fre", fdeIndex: 1, freIndex: 0 });
  });

  it("FRE start beyond the function, unsorted FREs, size code 3, leftover words, FLEX with one word → EFAULT", () => {
    const fde3 = (sec: ReturnType<typeof decodeSframe>) => sec.fres(sec.fde(3));
    expect(
      mutated((b, _dv, sec) => {
        const fre = fde3(sec)[1];
        if (!fre) throw new Error("fre");
        b[fre.offset] = 0xff; // 255 > func_size 115
      }),
    ).toMatchObject({ errno: "EFAULT", check: "__read_fre", fdeIndex: 3, freIndex: 1 });
    expect(
      mutated((b, _dv, sec) => {
        const fre = fde3(sec)[2];
        if (!fre) throw new Error("fre");
        b[fre.offset] = 0x01; // not above FRE 1's start
      }),
    ).toMatchObject({ errno: "EFAULT", check: "FRE not sorted", fdeIndex: 3, freIndex: 2 });
    expect(
      mutated((b, _dv, sec) => {
        const fre = fde3(sec)[0];
        if (!fre) throw new Error("fre");
        b[fre.offset + 1] = (fre.info & 0x9f) | 0x60;
      }),
    ).toMatchObject({ errno: "EFAULT", check: "__read_fre", freIndex: 0 });
    expect(
      mutated((b, _dv, sec) => {
        // FRE 0 claims 3 one-byte words: CFA, FP (the RA is fixed on x86) and one left over.
        const fre = fde3(sec)[0];
        if (!fre) throw new Error("fre");
        b[fre.offset + 1] = (fre.info & ~0x1e) | (3 << 1);
      }),
    ).toMatchObject({ errno: "EFAULT", check: "__read_fre_datawords", fdeIndex: 3, freIndex: 0 });
    expect(
      mutated((b, _dv, sec) => {
        const flex = sec.fde(4);
        if (flex.version !== 3 || flex.fdeType !== 1) throw new Error("fixture FDE 4 is FLEX");
        const fre = sec.fres(flex)[0];
        if (!fre) throw new Error("fre");
        b[fre.offset + 2] = (fre.info & ~0x1e) | (1 << 1);
      }),
    ).toMatchObject({ errno: "EFAULT", check: "__read_flex_fde_fre_datawords", fdeIndex: 4, freIndex: 0 });
  });

  it("memory shorter than the registered section faults (EFAULT) where the walk reaches it", () => {
    const { bytes, options } = linked("v3/x86_64/libb.so");
    const sec = decodeSframe(bytes);
    const r = failed(validateSframeForKernel(bytes.subarray(0, sec.layout.fresEnd - 3), options));
    expect(r.errno).toBe("EFAULT");
  });
});

describe("sframe_find_user lookups (kernelFindFrame)", () => {
  function kernelSection(l: Linked): SframeKernelSection {
    const r = validateSframeForKernel(l.bytes, l.options);
    if (!r.ok) throw new Error(r.message);
    return r.section;
  }

  for (const arch of ["x86_64", "aarch64", "s390x"]) {
    it(`${arch}: every libsframe find_fre answer has the same CFA rule in the kernel's lookup`, () => {
      for (const f of ["main", "liba.so", "libb.so"]) {
        const l = linked(`v3/${arch}/${f}`);
        const sec = kernelSection(l);
        const lookup = parseLookup(readFileSync(join(FIXTURES, `v3/${arch}/${f}.sframe-lookup.txt`), "utf8"));
        const base = (l.options.sframeStart ?? 0n) - BigInt(lookup.fields.get("sframe_vaddr") ?? "0");
        for (const fde of lookup.fdes) {
          for (const fre of fde.fres) {
            if (!fre.query) continue;
            const r = kernelFindFrame(l.bytes, sec, base + fre.query.pc, {
              littleEndian: l.le,
              ...(l.options.regs ? { regs: l.options.regs } : {}),
            });
            if (fre.rules.startsWith("RA-undefined")) {
              // As read in sframe/core: the zeroed CFA control word of an N=0 FRE fails with EINVAL.
              expect(r).toMatchObject({ ok: false, errno: "EINVAL", check: "sframe_init_cfa_rule_data" });
              const o = kernelFindFrame(l.bytes, sec, base + fre.query.pc, {
                littleEndian: l.le,
                outermost: "outermost",
              });
              expect(o).toMatchObject({ ok: true, frame: { outermost: true, ra: { kind: "undefined" } } });
              continue;
            }
            if (!r.ok) throw new Error(`${f} 0x${fre.query.pc.toString(16)}: ${r.errno} ${r.message}`);
            expect(r.fdeIndex).toBe(fde.index);
            const m = /cfa=(\(?)(sp|fp|r\d+)([+-]\d+)/.exec(fre.rules);
            if (!m) throw new Error(fre.rules);
            const reg = m[2] as string;
            // s390x: the arch hook sframe_cfa_offset_decode scales the stored offset (`* 8 + 160`).
            expect(r.frame.cfa.offset).toBe(Number(m[3]));
            expect(r.frame.cfa.deref).toBe(m[1] === "(");
            if (reg === "sp" || reg === "fp") expect(r.frame.cfa.base).toBe(reg);
            else expect(r.frame.cfa.regnum).toBe(Number(reg.slice(1)));
          }
        }
      }
    });
  }

  it("gaps and PCs before the first function → EINVAL; the signal-frame RFC answers zero-FRE signal FDEs", () => {
    const w = new ByteWriter(true);
    w.u16(0xdee2).u8(3).u8(5).u8(3).i8(0).i8(-8).u8(0);
    w.u32(2).u32(1).u32(13).u32(0).u32(32);
    w.u64(BigInt.asUintN(64, -0x2000n - 28n))
      .u32(0x40)
      .u32(0);
    w.u64(BigInt.asUintN(64, -0x1f00n - 44n))
      .u32(0x10)
      .u32(8);
    w.u16(1)
      .u8(0)
      .u8(0)
      .u8(0)
      .bytes(Uint8Array.from([0, 3, 8]));
    w.u16(0).u8(0x80).u8(0).u8(0);
    const bytes = w.finish();
    const start = 0x7f0000100000n;
    const r = validateSframeForKernel(bytes, { sframeStart: start });
    if (!r.ok) throw new Error(r.message);
    const at = (off: bigint) => start + off;
    expect(kernelFindFrame(bytes, r.section, at(-0x2000n + 4n))).toMatchObject({
      ok: true,
      frame: { cfa: { base: "sp", offset: 8 }, ra: { kind: "cfa", offset: -8, deref: true }, fp: { kind: "same" } },
    });
    expect(kernelFindFrame(bytes, r.section, at(-0x2001n))).toMatchObject({
      ok: false,
      errno: "EINVAL",
      check: "__find_fde",
    });
    expect(kernelFindFrame(bytes, r.section, at(-0x2000n + 0x40n))).toMatchObject({
      ok: false,
      errno: "EINVAL",
      check: "__find_fde (gap)",
    });
    expect(kernelFindFrame(bytes, r.section, at(-0x1f00n + 2n))).toMatchObject({
      ok: false,
      errno: "EINVAL",
      check: "__find_fre",
    });
    expect(kernelFindFrame(bytes, r.section, at(-0x1f00n + 2n), { signalFrames: true })).toMatchObject({
      ok: true,
      freIndex: -1,
      frame: { signal: true },
    });
  });
});
