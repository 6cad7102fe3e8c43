/**
 * `sframe_find_user(ip, &frame)` after the maple-tree lookup: `__find_fde` + `__find_fre` +
 * `__read_fre_datawords` + `sframe_init_{cfa_,}rule_data` (kernel/unwind/sframe.c, sframe/core).
 * Returns the kernel's errno on failure; the caller (kernel shim) removes the section on EFAULT.
 */
import {
  addr64,
  type KernelFde,
  type KernelFre,
  KernelMemory,
  KernelReadFault,
  type KernelRegs,
  kernelFdeEntrySize,
  readDatawords,
  readFde,
  readFre,
  type SframeKernelSection,
  X86_64_REGS,
} from "./kernel-read.ts";
import type { SframeCfaRule, SframeCheckFailure, SframeErrnoName, SframeKernelFrame, SframeRegRule } from "./types.ts";

export interface KernelFindOptions {
  /** The arch's DWARF SP/FP (SFRAME_REG_SP/FP): x86_64 7/6 (default), arm64 31/29, s390 15/11. */
  readonly regs?: KernelRegs;
  /** Byte order the kernel reads in (default little). */
  readonly littleEndian?: boolean;
  /**
   * An FRE with no data words (RA undefined). "einval": as the sframe/core code reads — the zeroed
   * CFA control word fails `sframe_init_cfa_rule_data` before `outermost` is set, so the lookup fails
   * with EINVAL and the unwinder tries frame pointers (reference Q2). "outermost": the spec's and the
   * v11 series' intent — succeed with `outermost` set. Default "einval".
   */
  readonly outermost?: "einval" | "outermost";
  /** Jan-2026 signal-frame RFC: a signal FDE with no FRE covering the PC yields `signal: true`. Default false. */
  readonly signalFrames?: boolean;
}

export type KernelFindResult =
  | {
      readonly ok: true;
      readonly frame: SframeKernelFrame;
      readonly fdeIndex: number;
      /** -1 when the signal-frame RFC answered without an FRE. */
      readonly freIndex: number;
      readonly funcAddr: bigint;
    }
  | SframeCheckFailure;

const MASK64 = (1n << 64n) - 1n;

interface Where {
  readonly fdeIndex?: number;
  readonly freIndex?: number;
}

/** A failed check at user address `at` (reported as a section offset). Module-level: no per-lookup closures. */
function fail(
  sec: SframeKernelSection,
  errno: SframeErrnoName,
  check: string,
  at: bigint,
  expected: string,
  message: string,
  where: Where = {},
): SframeCheckFailure {
  return { ok: false, errno, check, offset: Number((at - sec.sframeStart) & MASK64), expected, message, ...where };
}

function fromFault(sec: SframeKernelSection, f: KernelReadFault, where: Where): SframeCheckFailure {
  return fail(sec, f.errno, f.check, f.addr, f.expected, f.message, where);
}

/**
 * Look up `ip` in a registered section whose memory is `mem` (bytes from `sec.sframeStart`; fewer bytes
 * than the section models an unmapped tail: reads there fault with EFAULT).
 */
export function kernelFindFrame(
  mem: Uint8Array,
  sec: SframeKernelSection,
  ip: bigint,
  options: KernelFindOptions = {},
): KernelFindResult {
  const m = new KernelMemory(mem, sec.sframeStart, options.littleEndian ?? true);

  // __find_fde: bisect on the i64 at each entry's start, checking sortedness on the way.
  const entry = kernelFdeEntrySize(sec.version);
  let low = 0;
  let high = sec.numFdes - 1;
  let found = -1;
  let addrLow = 0n;
  let addrHigh = MASK64;
  while (low <= high) {
    const mid = low + Math.floor((high - low) / 2);
    const at = addr64(sec.fdesStart, mid * entry);
    const raw = sec.version === 3 ? m.readI64(at) : m.read(at, 4, true);
    if (raw === undefined)
      return fail(sec, "EFAULT", "__find_fde", at, "FDE entry in readable memory", `FDE ${mid}: read faulted`);
    const funcAddr = addr64(at, BigInt(raw));
    if (ip >= funcAddr) {
      if (funcAddr < addrLow) {
        return fail(
          sec,
          "EFAULT",
          "__find_fde",
          at,
          `function address >= 0x${addrLow.toString(16)}`,
          `FDE ${mid}: table not sorted`,
          { fdeIndex: mid },
        );
      }
      addrLow = funcAddr;
      found = mid;
      low = mid + 1;
    } else {
      if (funcAddr > addrHigh) {
        return fail(
          sec,
          "EFAULT",
          "__find_fde",
          at,
          `function address <= 0x${addrHigh.toString(16)}`,
          `FDE ${mid}: table not sorted`,
          { fdeIndex: mid },
        );
      }
      addrHigh = funcAddr;
      high = mid - 1;
    }
  }
  if (found < 0)
    return fail(
      sec,
      "EINVAL",
      "__find_fde",
      sec.fdesStart,
      "an FDE starting at or below the PC",
      `no FDE for 0x${ip.toString(16)}`,
    );
  const fde = readFde(m, sec, found);
  if (fde instanceof KernelReadFault) return fromFault(sec, fde, { fdeIndex: found });
  if (ip < fde.funcAddr || ip >= addr64(fde.funcAddr, fde.funcSize)) {
    return fail(
      sec,
      "EINVAL",
      "__find_fde (gap)",
      fde.fdeAddr,
      `PC inside [0x${fde.funcAddr.toString(16)}, +0x${fde.funcSize.toString(16)})`,
      `0x${ip.toString(16)} lies in a gap after FDE ${found}`,
      { fdeIndex: found },
    );
  }
  return findFre(m, sec, fde, ip, options);
}

function findFre(
  m: KernelMemory,
  sec: SframeKernelSection,
  fde: KernelFde,
  ip: bigint,
  options: KernelFindOptions,
): KernelFindResult {
  let ipOff = Number((ip - fde.funcAddr) & 0xffffffffn);
  if (fde.info & 0x10) {
    if (fde.repSize === 0) {
      // The kernel computes `ip_off %= rep_size` unchecked: a division by zero (reference Q6).
      return fail(
        sec,
        "EINVAL",
        "__find_fre",
        fde.fdeAddr,
        "rep_size > 0 for PC type MASK",
        `FDE ${fde.index}: PC type MASK with rep_size 0`,
        {
          fdeIndex: fde.index,
        },
      );
    }
    ipOff %= fde.repSize;
  }
  let freAddr = addr64(sec.fresStart, fde.fresOff);
  let prev: KernelFre | undefined;
  let prevJ = -1;
  for (let j = 0; j < fde.fresNum; j++) {
    const fre = readFre(m, sec, fde, freAddr, j);
    if (fre instanceof KernelReadFault) return fromFault(sec, fre, { fdeIndex: fde.index, freIndex: j });
    freAddr = addr64(freAddr, fre.size);
    if (prev && fre.ipOff <= prev.ipOff) {
      return fail(
        sec,
        "EFAULT",
        "__find_fre",
        fre.addr,
        `FRE start > 0x${prev.ipOff.toString(16)}`,
        `FDE ${fde.index}: FRE ${j} not sorted`,
        {
          fdeIndex: fde.index,
          freIndex: j,
        },
      );
    }
    if (fre.ipOff > ipOff) break;
    prev = fre;
    prevJ = j;
  }
  const signal = (fde.info & 0x80) !== 0;
  if (!prev) {
    if (options.signalFrames && signal) {
      const none: SframeCfaRule = { base: "sp", regnum: (options.regs ?? X86_64_REGS).sp, offset: 0, deref: false };
      return {
        ok: true,
        frame: { cfa: none, ra: { kind: "same" }, fp: { kind: "same" }, outermost: false, signal: true },
        fdeIndex: fde.index,
        freIndex: -1,
        funcAddr: fde.funcAddr,
      };
    }
    return fail(
      sec,
      "EINVAL",
      "__find_fre",
      fde.fdeAddr,
      "an FRE starting at or below the PC offset",
      `FDE ${fde.index}: no FRE covers +0x${ipOff.toString(16)}`,
      {
        fdeIndex: fde.index,
      },
    );
  }
  const fre = prev;
  const j = prevJ;
  const regs = options.regs ?? X86_64_REGS;
  const where = { fdeIndex: fde.index, freIndex: j };
  const dw = readDatawords(m, sec, fde, fre, where, regs);
  if (dw instanceof KernelReadFault) return fromFault(sec, dw, where);
  const outermost = fre.dwCount === 0;
  if (outermost && (options.outermost ?? "einval") === "outermost") {
    const cfa: SframeCfaRule = { base: "sp", regnum: regs.sp, offset: 0, deref: false };
    return {
      ok: true,
      frame: {
        cfa,
        ra: { kind: "undefined" },
        fp: { kind: "same" },
        outermost: true,
        signal: options.signalFrames ? signal : false,
      },
      fdeIndex: fde.index,
      freIndex: j,
      funcAddr: fde.funcAddr,
    };
  }
  if ((dw.cfaCtl & 1) === 0) {
    return fail(
      sec,
      "EINVAL",
      "sframe_init_cfa_rule_data",
      fre.addr,
      "CFA control word with reg_p set",
      outermost
        ? `FDE ${fde.index} FRE ${j}: RA-undefined FRE (zeroed CFA control word)`
        : `FDE ${fde.index} FRE ${j}: CFA control word without reg_p`,
      where,
    );
  }
  const regnum = dw.cfaCtl >>> 3;
  const cfa: SframeCfaRule = {
    base: regnum === regs.sp ? "sp" : regnum === regs.fp ? "fp" : "reg",
    regnum,
    offset: dw.cfaOff,
    deref: (dw.cfaCtl & 2) !== 0,
  };
  return {
    ok: true,
    frame: {
      cfa,
      ra: rule(dw.raCtl, dw.raOff),
      fp: rule(dw.fpCtl, dw.fpOff),
      outermost,
      signal: options.signalFrames ? signal : false,
    },
    fdeIndex: fde.index,
    freIndex: j,
    funcAddr: fde.funcAddr,
  };
}

/** `sframe_init_rule_data`. */
function rule(ctl: number, off: number): SframeRegRule {
  if (!ctl && !off) return { kind: "same" };
  const deref = (ctl & 2) !== 0;
  if (ctl & 1) return { kind: "reg", regnum: ctl >>> 3, offset: off, deref };
  return { kind: "cfa", offset: off, deref };
}
