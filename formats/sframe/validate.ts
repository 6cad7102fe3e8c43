/**
 * The kernel's two levels of SFrame validation (kernel/unwind/sframe.c, sframe/core tree):
 *
 * 1. `checkHeaderForRegistration` — what `sframe_add_section` checks of the section itself at
 *    registration (`sframe_read_header`), in the kernel's order, returning the FIRST failure;
 * 2. `validateSframeForKernel` — with CONFIG_SFRAME_VALIDATION, `sframe_validate_section` walks every
 *    FDE and FRE before accepting the section.
 *
 * The checks of the syscall arguments and VMAs (zero addresses, sframe/text VMAs, VM_EXEC) and the
 * maple-tree insert belong to the kernel shim; these functions see only the section's bytes plus the
 * addresses it is registered at.
 */
import { SFRAME_F_FDE_FUNC_START_PCREL, SFRAME_F_FDE_SORTED, SFRAME_HEADER_SIZE, SFRAME_MAGIC } from "./constants.ts";
import {
  addr64,
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
import type { SframeCheckFailure, SframeErrnoName } from "./types.ts";

/**
 * Default address a section is assumed registered at when the caller gives none: a typical user-space
 * address, so PC-relative function starts before the section do not wrap around zero.
 */
export const DEFAULT_SFRAME_START = 0x7f0000000000n;

export interface RegistrationOptions {
  /**
   * Versions the kernel accepts: `[3]` for the sframe/core tree (default); `[2]` models the v11/v12
   * series (V2 + PCREL); `[2]` with `requirePcrel: false` the ≤ v10 series.
   */
  readonly acceptedVersions?: readonly number[];
  /** Require SFRAME_F_FDE_FUNC_START_PCREL (v11 onwards; default true). */
  readonly requirePcrel?: boolean;
  /** `sframe_start`: address of the first byte of `bytes` (default DEFAULT_SFRAME_START). */
  readonly sframeStart?: bigint;
  /** `sframe_end` = sframe_start + addr_length (default: sframe_start + bytes.length). */
  readonly sframeEnd?: bigint;
  /** The kernel reads the header in its own byte order (x86_64/aarch64: little, s390x: big). Default true. */
  readonly littleEndian?: boolean;
}

/** A header the kernel accepted: what `sframe_read_header` stores in `struct sframe_section`. */
export interface RegistrationAccepted {
  readonly ok: true;
  readonly version: number;
  readonly sframeStart: bigint;
  readonly sframeEnd: bigint;
  readonly numFdes: number;
  readonly fdesStart: bigint;
  readonly fresStart: bigint;
  readonly fresEnd: bigint;
  readonly raOff: number;
  readonly fpOff: number;
}

export type RegistrationCheck = RegistrationAccepted | SframeCheckFailure;

function failure(
  errno: SframeErrnoName,
  check: string,
  offset: number,
  expected: string,
  message: string,
  where: { fdeIndex?: number; freIndex?: number } = {},
): SframeCheckFailure {
  return { ok: false, errno, check, offset, expected, message, ...where };
}

/**
 * `sframe_read_header` as called by `sframe_add_section`, in the kernel's order:
 * 1. copy of the 28-byte header faults → EFAULT (here: fewer than 28 bytes readable);
 * 2. magic ≠ 0xdee2 (native order), version not accepted, SORTED clear, PCREL clear, auxhdr_len ≠ 0 → EINVAL
 *    (one `if`; the first failing condition is reported);
 * 3. num_fdes == 0 or num_fres == 0 → EINVAL;
 * 4. header_end = sframe_start + 28 ≥ sframe_end → EINVAL;
 * 5. fres_start < fdes_end (FDE table runs into the FREs) or fres_end > sframe_end → EINVAL.
 * Unknown flag bits, abi_arch and alignment are not checked (the kernel does not).
 */
export function checkHeaderForRegistration(bytes: Uint8Array, options: RegistrationOptions = {}): RegistrationCheck {
  const accepted = options.acceptedVersions ?? [3];
  const requirePcrel = options.requirePcrel ?? true;
  const start = options.sframeStart ?? DEFAULT_SFRAME_START;
  const end = options.sframeEnd ?? addr64(start, bytes.length);
  const le = options.littleEndian ?? true;

  if (bytes.length < SFRAME_HEADER_SIZE) {
    return failure(
      "EFAULT",
      "copy_from_user(sframe_header)",
      0,
      "28 readable header bytes",
      `only ${bytes.length} bytes of the SFrame header are readable`,
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, SFRAME_HEADER_SIZE);
  const magic = dv.getUint16(0, le);
  const version = dv.getUint8(2);
  const flags = dv.getUint8(3);
  const auxLen = dv.getUint8(7);
  const numFdes = dv.getUint32(8, le);
  const numFres = dv.getUint32(12, le);
  const freLen = dv.getUint32(16, le);
  const fdesOff = dv.getUint32(20, le);
  const fresOff = dv.getUint32(24, le);

  const bad = "bad/unsupported sframe header";
  if (magic !== SFRAME_MAGIC) {
    return failure(
      "EINVAL",
      bad,
      0,
      "magic 0xdee2 in the kernel's byte order",
      `${bad}: magic 0x${magic.toString(16)}`,
    );
  }
  if (!accepted.includes(version)) {
    return failure("EINVAL", bad, 2, `version ${accepted.join(" or ")}`, `${bad}: version ${version}`);
  }
  if (!(flags & SFRAME_F_FDE_SORTED)) {
    return failure(
      "EINVAL",
      bad,
      3,
      "SFRAME_F_FDE_SORTED set",
      `${bad}: flags 0x${flags.toString(16)} lack SFRAME_F_FDE_SORTED`,
    );
  }
  if (requirePcrel && !(flags & SFRAME_F_FDE_FUNC_START_PCREL)) {
    return failure(
      "EINVAL",
      bad,
      3,
      "SFRAME_F_FDE_FUNC_START_PCREL set",
      `${bad}: flags 0x${flags.toString(16)} lack SFRAME_F_FDE_FUNC_START_PCREL`,
    );
  }
  if (auxLen !== 0) {
    return failure("EINVAL", bad, 7, "sfh_auxhdr_len 0", `${bad}: auxiliary header of ${auxLen} bytes`);
  }
  if (!numFdes || !numFres) {
    return failure(
      "EINVAL",
      "no FDE/FRE entries",
      numFdes ? 12 : 8,
      "sfh_num_fdes > 0 and sfh_num_fres > 0",
      `no FDE/FRE entries (num_fdes ${numFdes}, num_fres ${numFres})`,
    );
  }
  const headerEnd = addr64(start, SFRAME_HEADER_SIZE + auxLen);
  if (headerEnd >= end) {
    return failure(
      "EINVAL",
      "header doesn't fit in section",
      0,
      `sframe_end > sframe_start + ${SFRAME_HEADER_SIZE}`,
      `header doesn't fit in section (${(end - start) & ((1n << 64n) - 1n)} bytes registered)`,
    );
  }
  const entrySize = kernelFdeEntrySize(version);
  const fdesStart = addr64(headerEnd, fdesOff);
  const fdesEnd = addr64(fdesStart, numFdes * entrySize);
  const fresStart = addr64(headerEnd, fresOff);
  const fresEnd = addr64(fresStart, freLen);
  if (fresStart < fdesEnd) {
    return failure(
      "EINVAL",
      "inconsistent FDE/FRE offsets",
      24,
      `sfh_freoff >= sfh_fdeoff + ${entrySize} × sfh_num_fdes (0x${(fdesOff + numFdes * entrySize).toString(16)})`,
      `inconsistent FDE/FRE offsets: FRE sub-section at 0x${fresOff.toString(16)} starts inside the FDE table`,
    );
  }
  if (fresEnd > end) {
    return failure(
      "EINVAL",
      "inconsistent FDE/FRE offsets",
      16,
      `sfh_freoff + sfh_fre_len <= 0x${((end - headerEnd) & ((1n << 64n) - 1n)).toString(16)}`,
      "inconsistent FDE/FRE offsets: FRE sub-section extends past sframe_end",
    );
  }
  return {
    ok: true,
    version,
    sframeStart: start,
    sframeEnd: end,
    numFdes,
    fdesStart,
    fresStart,
    fresEnd,
    raOff: dv.getInt8(6),
    fpOff: dv.getInt8(5),
  };
}

export interface ValidationOptions extends RegistrationOptions {
  /** Registered text range `[text_start, text_end)` FDE function addresses must lie in (default: anywhere). */
  readonly textStart?: bigint;
  readonly textEnd?: bigint;
  /** The arch's DWARF SP/FP numbers (only affect the synthetic control words; default x86_64 7/6). */
  readonly regs?: KernelRegs;
}

export type ValidationResult =
  | { readonly ok: true; readonly fdes: number; readonly fres: number; readonly section: SframeKernelSection }
  | SframeCheckFailure;

/**
 * CONFIG_SFRAME_VALIDATION: `sframe_read_header` then `sframe_validate_section`. For every FDE in
 * order: `__read_fde` (function in text → else EINVAL; attribute block inside the FRE sub-section →
 * else EINVAL; copy fault → EFAULT); function addresses strictly increasing (else EFAULT); then every
 * FRE: `__read_fre` (FRE type ≤ 2, header and data words inside the FRE sub-section, PC-INC start ≤
 * func_size, data-word size code ≠ 3 → else EFAULT), `__read_fre_datawords` (no leftover words, FLEX
 * needs ≥ 2, known FDE type → else EFAULT), FRE starts strictly increasing (else EFAULT).
 * Every read is bounds-checked against the FRE sub-section, so the walk costs at most
 * num_fdes × (fre_len / 2) FRE reads — the kernel's own cost for the same input.
 */
export function validateSframeForKernel(bytes: Uint8Array, options: ValidationOptions = {}): ValidationResult {
  const hdr = checkHeaderForRegistration(bytes, options);
  if (!hdr.ok) return hdr;
  const le = options.littleEndian ?? true;
  const section: SframeKernelSection = {
    sframeStart: hdr.sframeStart,
    sframeEnd: hdr.sframeEnd,
    textStart: options.textStart ?? 1n,
    textEnd: options.textEnd ?? (1n << 64n) - 1n,
    fdesStart: hdr.fdesStart,
    fresStart: hdr.fresStart,
    fresEnd: hdr.fresEnd,
    numFdes: hdr.numFdes,
    raOff: hdr.raOff,
    fpOff: hdr.fpOff,
    version: hdr.version,
  };
  const mem = new KernelMemory(bytes, hdr.sframeStart, le);
  const off = (a: bigint): number => Number((a - hdr.sframeStart) & ((1n << 64n) - 1n));
  const fromFault = (f: KernelReadFault, where: { fdeIndex?: number; freIndex?: number }): SframeCheckFailure =>
    failure(f.errno, f.check, off(f.addr), f.expected, f.message, where);
  let prevIp = 0n;
  let totalFres = 0;
  for (let i = 0; i < hdr.numFdes; i++) {
    const fde = readFde(mem, section, i);
    if (fde instanceof KernelReadFault) return fromFault(fde, { fdeIndex: i });
    if (fde.funcAddr <= prevIp) {
      return failure(
        "EFAULT",
        "FDE not sorted",
        off(fde.fdeAddr),
        `function address > 0x${prevIp.toString(16)} (previous FDE)`,
        `FDE ${i} not sorted: function at 0x${fde.funcAddr.toString(16)}`,
        { fdeIndex: i },
      );
    }
    prevIp = fde.funcAddr;
    let freAddr = addr64(section.fresStart, fde.fresOff);
    let prev: KernelFre | undefined;
    for (let j = 0; j < fde.fresNum; j++) {
      const fre = readFre(mem, section, fde, freAddr, j);
      if (fre instanceof KernelReadFault) return fromFault(fre, { fdeIndex: i, freIndex: j });
      const dw = readDatawords(mem, section, fde, fre, `FDE ${i} FRE ${j}`, options.regs ?? X86_64_REGS);
      if (dw instanceof KernelReadFault) return fromFault(dw, { fdeIndex: i, freIndex: j });
      freAddr = addr64(freAddr, fre.size);
      if (prev && fre.ipOff <= prev.ipOff) {
        return failure(
          "EFAULT",
          "FRE not sorted",
          off(fre.addr),
          `FRE start offset > 0x${prev.ipOff.toString(16)} (previous FRE)`,
          `FDE ${i}: FRE ${j} not sorted (start 0x${fre.ipOff.toString(16)})`,
          { fdeIndex: i, freIndex: j },
        );
      }
      prev = fre;
      totalFres++;
    }
  }
  return { ok: true, fdes: hdr.numFdes, fres: totalFres, section };
}
