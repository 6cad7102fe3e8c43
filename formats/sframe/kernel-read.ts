/**
 * The Linux SFrame unwinder's reads of a registered section, modelled on `kernel/unwind/sframe.c`
 * (sframe/core tree, V3 + FLEX): `__read_fde`, `__read_fre`, `__read_fre_datawords`, `__find_fde`,
 * `__find_fre`. Addresses are 64-bit user addresses (bigint, wrapping like `unsigned long`); the
 * section's memory is a byte array starting at `sframeStart` — a read outside it is a user-copy fault
 * (-EFAULT), exactly where the kernel's `unsafe_copy_from_user` would fault on an unmapped page.
 *
 * Used by validate.ts (CONFIG_SFRAME_VALIDATION) and by `kernelFindFrame` (sframe_find_user).
 */
import {
  SFRAME_FDE_TYPE_DEFAULT,
  SFRAME_FDE_TYPE_FLEX,
  SFRAME_V1_FDE_SIZE,
  SFRAME_V2_FDE_SIZE,
  SFRAME_V3_FDE_ATTR_SIZE,
  SFRAME_V3_FDE_INDEX_SIZE,
  SFRAME_V3_FDE_TYPE_MASK,
} from "./constants.ts";
import type { SframeErrnoName } from "./types.ts";

const MASK64 = (1n << 64n) - 1n;
/** `unsigned long` addition. */
export function addr64(a: bigint, b: bigint | number): bigint {
  return (a + BigInt(b)) & MASK64;
}

/**
 * What the kernel keeps for a registered section (`struct sframe_section`). Field names match
 * kernel-shim's registry record, so one can be passed for the other.
 */
export interface SframeKernelSection {
  readonly sframeStart: bigint;
  readonly sframeEnd: bigint;
  readonly textStart: bigint;
  /** `text_start + text_length`: exclusive bound for function addresses in `__read_fde`. */
  readonly textEnd: bigint;
  readonly fdesStart: bigint;
  readonly fresStart: bigint;
  readonly fresEnd: bigint;
  readonly numFdes: number;
  /** Header fixed RA / FP offsets (`s8 ra_off`, `s8 fp_off`). */
  readonly raOff: number;
  readonly fpOff: number;
  /** 3 (sframe/core); 2 models the v11/v12 series (20-byte FDEs, no attribute block, no FLEX); 1: 17-byte FDEs. */
  readonly version: number;
}

/** A failure inside a kernel read: errno plus the user address and what was expected there. */
export class KernelReadFault {
  constructor(
    readonly errno: SframeErrnoName,
    readonly check: string,
    readonly addr: bigint,
    readonly expected: string,
    readonly message: string,
  ) {}
}

/** The section's memory as the kernel reads it through `unsafe_get_user` (native byte order). */
export class KernelMemory {
  private readonly view: DataView;
  private readonly lengthBig: bigint;
  constructor(
    readonly bytes: Uint8Array,
    readonly base: bigint,
    readonly littleEndian: boolean,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.lengthBig = BigInt(bytes.length);
  }
  /** Byte index of [addr, addr+size) or -1 when any of it is outside the memory (a fault). */
  index(addr: bigint, size: number): number {
    const rel = (addr - this.base) & MASK64;
    // One bigint compare against the length computed once; the rest in numbers (no BigInt per read).
    if (rel >= this.lengthBig) return -1;
    const i = Number(rel);
    return i + size > this.bytes.length ? -1 : i;
  }
  /** Unsigned (or signed) read of 1/2/4/8 bytes; undefined on a fault. */
  read(addr: bigint, size: number, signed: boolean): number | undefined {
    const i = this.index(addr, size);
    if (i < 0) return undefined;
    const le = this.littleEndian;
    switch (size) {
      case 1:
        return signed ? this.view.getInt8(i) : this.view.getUint8(i);
      case 2:
        return signed ? this.view.getInt16(i, le) : this.view.getUint16(i, le);
      case 4:
        return signed ? this.view.getInt32(i, le) : this.view.getUint32(i, le);
      default:
        return undefined;
    }
  }
  readI64(addr: bigint): bigint | undefined {
    const i = this.index(addr, 8);
    return i < 0 ? undefined : this.view.getBigInt64(i, this.littleEndian);
  }
}

/** The arch's DWARF numbers for SFRAME_REG_SP / SFRAME_REG_FP (asm/unwind_sframe.h). */
export interface KernelRegs {
  readonly sp: number;
  readonly fp: number;
  /**
   * s390: `arch_sframe_cfa_offset_decode` = SFRAME_V3_S390X_CFA_OFFSET_DECODE (`off * 8 + 160`),
   * applied to the CFA offset of DEFAULT and FLEX FREs (Jens Remus' s390 series); identity elsewhere.
   */
  readonly s390CfaDecode?: boolean;
}
export const X86_64_REGS: KernelRegs = { sp: 7, fp: 6 };
export const ARM64_REGS: KernelRegs = { sp: 31, fp: 29 };
export const S390_REGS: KernelRegs = { sp: 15, fp: 11, s390CfaDecode: true };

/** `sframe_cfa_offset_decode`. */
function cfaDecode(regs: KernelRegs, off: number): number {
  return regs.s390CfaDecode ? off * 8 + 160 : off;
}

/** `struct sframe_fde_internal`. */
export interface KernelFde {
  readonly index: number;
  readonly fdeAddr: bigint;
  readonly funcAddr: bigint;
  readonly funcSize: number;
  readonly fdaOff: number;
  /** FRE offset of the first FRE (V3: past the attribute block). */
  readonly fresOff: number;
  readonly fresNum: number;
  readonly info: number;
  readonly info2: number;
  readonly repSize: number;
}

/** `struct sframe_fre_internal` (before the data words are decoded). */
export interface KernelFre {
  readonly addr: bigint;
  readonly size: number;
  readonly ipOff: number;
  readonly info: number;
  readonly dwAddr: bigint;
  readonly dwCount: number;
  readonly dwSize: number;
}

/** Control word + offset per entity, as `__read_fre_datawords` leaves them. */
export interface KernelDatawords {
  readonly cfaCtl: number;
  readonly cfaOff: number;
  readonly raCtl: number;
  readonly raOff: number;
  readonly fpCtl: number;
  readonly fpOff: number;
}

function fault(check: string, addr: bigint, expected: string, message: string): KernelReadFault {
  return new KernelReadFault("EFAULT", check, addr, expected, message);
}

/** Bytes per FDE entry: V3 16 (index entry), V2 20, V1 17. */
export function kernelFdeEntrySize(version: number): number {
  return version === 3 ? SFRAME_V3_FDE_INDEX_SIZE : version === 1 ? SFRAME_V1_FDE_SIZE : SFRAME_V2_FDE_SIZE;
}

/** `__read_fde`: read FDE `i`, check its function lies in the text range and its FREs start in bounds. */
export function readFde(mem: KernelMemory, sec: SframeKernelSection, i: number): KernelFde | KernelReadFault {
  const fdeAddr = addr64(sec.fdesStart, i * kernelFdeEntrySize(sec.version));
  const v3 = sec.version === 3;
  const startOff = v3 ? mem.readI64(fdeAddr) : mem.read(fdeAddr, 4, true);
  const funcSize = mem.read(addr64(fdeAddr, v3 ? 8 : 4), 4, false);
  const fresOffRaw = mem.read(addr64(fdeAddr, v3 ? 12 : 8), 4, false);
  if (startOff === undefined || funcSize === undefined || fresOffRaw === undefined) {
    return fault("__read_fde", fdeAddr, "FDE entry in readable memory", `FDE ${i}: copy of the FDE entry faulted`);
  }
  const funcAddr = addr64(fdeAddr, BigInt(startOff));
  if (funcAddr < sec.textStart || funcAddr >= sec.textEnd) {
    return new KernelReadFault(
      "EINVAL",
      "__read_fde",
      fdeAddr,
      `function address in [0x${sec.textStart.toString(16)}, 0x${sec.textEnd.toString(16)})`,
      `FDE ${i}: function at 0x${funcAddr.toString(16)} is outside the registered text`,
    );
  }
  if (!v3) {
    // v11/v12 (V2): 20-byte FDEs carry num_fres/info/rep_size; FREs follow at fres_start + fres_off.
    // V1 (17 bytes, no rep_size) for kernels configured to accept it.
    const fresNum = mem.read(addr64(fdeAddr, 12), 4, false);
    const info = mem.read(addr64(fdeAddr, 16), 1, false);
    const repSize = sec.version === 1 ? 0 : mem.read(addr64(fdeAddr, 17), 1, false);
    if (fresNum === undefined || info === undefined || repSize === undefined) {
      return fault("__read_fde", fdeAddr, "FDE entry in readable memory", `FDE ${i}: copy of the FDE entry faulted`);
    }
    return {
      index: i,
      fdeAddr,
      funcAddr,
      funcSize,
      fdaOff: fresOffRaw,
      fresOff: fresOffRaw,
      fresNum,
      info,
      info2: 0,
      repSize,
    };
  }
  const fdaAddr = addr64(sec.fresStart, fresOffRaw);
  if (addr64(fdaAddr, SFRAME_V3_FDE_ATTR_SIZE) > sec.fresEnd) {
    return new KernelReadFault(
      "EINVAL",
      "__read_fde",
      addr64(fdeAddr, 12),
      `attribute block within the FRE sub-section (fres_off <= 0x${(sec.fresEnd - sec.fresStart - 5n).toString(16)})`,
      `FDE ${i}: attribute block at FRE offset 0x${fresOffRaw.toString(16)} extends past fres_end`,
    );
  }
  const fresNum = mem.read(fdaAddr, 2, false);
  const info = mem.read(addr64(fdaAddr, 2), 1, false);
  const info2 = mem.read(addr64(fdaAddr, 3), 1, false);
  const repSize = mem.read(addr64(fdaAddr, 4), 1, false);
  if (fresNum === undefined || info === undefined || info2 === undefined || repSize === undefined) {
    return fault(
      "__read_fde",
      fdaAddr,
      "attribute block in readable memory",
      `FDE ${i}: copy of the attribute block faulted`,
    );
  }
  return {
    index: i,
    fdeAddr,
    funcAddr,
    funcSize,
    fdaOff: fresOffRaw,
    fresOff: fresOffRaw + SFRAME_V3_FDE_ATTR_SIZE,
    fresNum,
    info,
    info2,
    repSize,
  };
}

/** `__read_fre`: the FRE at `addr` of `fde` (start, info, where its data words are). */
export function readFre(
  mem: KernelMemory,
  sec: SframeKernelSection,
  fde: KernelFde,
  addr: bigint,
  j: number,
): KernelFre | KernelReadFault {
  // Messages are formatted on failure only (this runs for every FRE walked by every lookup).
  const freType = fde.info & 0xf;
  if (freType > 2) {
    return fault("__read_fre", fde.fdeAddr, "FRE type 0, 1 or 2", `FDE ${fde.index} FRE ${j}: FRE type ${freType}`);
  }
  const addrSize = 1 << freType;
  if (addr64(addr, addrSize + 1) > sec.fresEnd) {
    return fault(
      "__read_fre",
      addr,
      `FRE start and info before fres_end 0x${sec.fresEnd.toString(16)}`,
      `FDE ${fde.index} FRE ${j}: FRE header extends past fres_end`,
    );
  }
  const ipOff = mem.read(addr, addrSize, false);
  if (ipOff === undefined)
    return fault("__read_fre", addr, "FRE in readable memory", `FDE ${fde.index} FRE ${j}: read faulted`);
  if ((fde.info & 0x10) === 0 && ipOff > fde.funcSize) {
    return fault(
      "__read_fre",
      addr,
      `FRE start offset <= func_size (0x${fde.funcSize.toString(16)})`,
      `FDE ${fde.index} FRE ${j}: start offset 0x${ipOff.toString(16)} lies beyond the function`,
    );
  }
  const infoAddr = addr64(addr, addrSize);
  const info = mem.read(infoAddr, 1, false);
  if (info === undefined)
    return fault("__read_fre", infoAddr, "FRE in readable memory", `FDE ${fde.index} FRE ${j}: read faulted`);
  const dwCount = (info >> 1) & 0xf;
  const sizeCode = (info >> 5) & 3;
  if (sizeCode > 2) {
    return fault(
      "__read_fre",
      infoAddr,
      "data-word size code 0, 1 or 2",
      `FDE ${fde.index} FRE ${j}: data-word size code 3`,
    );
  }
  const dwSize = 1 << sizeCode;
  const dwAddr = addr64(infoAddr, 1);
  if (addr64(dwAddr, dwCount * dwSize) > sec.fresEnd) {
    return fault(
      "__read_fre",
      infoAddr,
      `data words before fres_end 0x${sec.fresEnd.toString(16)}`,
      `FDE ${fde.index} FRE ${j}: ${dwCount} data words extend past fres_end`,
    );
  }
  return { addr, size: addrSize + 1 + dwCount * dwSize, ipOff, info, dwAddr, dwCount, dwSize };
}

/** Where a data-word read is, for messages: a ready string or (FDE, FRE) indices formatted on failure only. */
export type KernelWhere = string | { readonly fdeIndex: number; readonly freIndex: number };

function whereText(where: KernelWhere): string {
  return typeof where === "string" ? where : `FDE ${where.fdeIndex} FRE ${where.freIndex}`;
}

const NO_DATAWORDS: KernelDatawords = Object.freeze({ cfaCtl: 0, cfaOff: 0, raCtl: 0, raOff: 0, fpCtl: 0, fpOff: 0 });

/** A data word of `fre` at byte `k` past its first data word; undefined on a fault. */
function dataword(mem: KernelMemory, fre: KernelFre, k: number, signed: boolean): number | undefined {
  return mem.read(addr64(fre.dwAddr, k), fre.dwSize, signed);
}

function dwFault(fre: KernelFre, k: number, where: KernelWhere): KernelReadFault {
  return fault(
    "__read_fre_datawords",
    addr64(fre.dwAddr, k),
    "data word in readable memory",
    `${whereText(where)}: read faulted`,
  );
}

function leftover(fre: KernelFre, count: number, where: KernelWhere): KernelReadFault {
  return fault(
    "__read_fre_datawords",
    fre.addr,
    "no data words beyond CFA/RA/FP",
    `${whereText(where)}: ${count} data word(s) left over`,
  );
}

/**
 * `__read_fre_datawords`: control words and offsets for CFA, RA, FP (DEFAULT and FLEX FDEs).
 * Reads the words in order through a byte cursor (no closures: this runs once per unwound frame).
 */
export function readDatawords(
  mem: KernelMemory,
  sec: SframeKernelSection,
  fde: KernelFde,
  fre: KernelFre,
  where: KernelWhere,
  regs: KernelRegs = X86_64_REGS,
): KernelDatawords | KernelReadFault {
  if (fre.dwCount === 0) return NO_DATAWORDS;
  const size = fre.dwSize;
  let k = 0; // byte cursor from fre.dwAddr
  let count = fre.dwCount;
  const fdeType = fde.info2 & SFRAME_V3_FDE_TYPE_MASK;
  if (fdeType === SFRAME_FDE_TYPE_DEFAULT) {
    const cfaOff = dataword(mem, fre, k, true);
    if (cfaOff === undefined) return dwFault(fre, k, where);
    k += size;
    count--;
    let raOff = sec.raOff;
    if (!raOff && count) {
      count--;
      const v = dataword(mem, fre, k, true);
      if (v === undefined) return dwFault(fre, k, where);
      k += size;
      raOff = v;
    }
    let fpOff = sec.fpOff;
    if (!fpOff && count) {
      count--;
      const v = dataword(mem, fre, k, true);
      if (v === undefined) return dwFault(fre, k, where);
      k += size;
      fpOff = v;
    }
    if (count) return leftover(fre, count, where);
    // Synthetic control word `(SFRAME_REG_FP or SFRAME_REG_SP) << 3 | 1`, as the kernel builds it.
    const cfaReg = (fre.info & 1) === 1 ? regs.sp : regs.fp;
    return {
      cfaCtl: cfaReg * 8 + 1,
      cfaOff: cfaDecode(regs, cfaOff),
      raCtl: raOff ? 2 : 0,
      raOff,
      fpCtl: fpOff ? 2 : 0,
      fpOff,
    };
  }
  if (fdeType === SFRAME_FDE_TYPE_FLEX) {
    if (count < 2)
      return fault(
        "__read_flex_fde_fre_datawords",
        fre.addr,
        "at least 2 data words",
        `${whereText(where)}: FLEX FRE with ${count} data word`,
      );
    const cfaCtl = dataword(mem, fre, k, false);
    if (cfaCtl === undefined) return dwFault(fre, k, where);
    k += size;
    const cfaOff = dataword(mem, fre, k, true);
    if (cfaOff === undefined) return dwFault(fre, k, where);
    k += size;
    count -= 2;
    // RA then FP: a (control, offset) pair when at least two words remain; a zero control word is
    // padding (one word) and re-deduces the rule from the header's fixed offset.
    let raOff = sec.raOff;
    let raCtl = raOff ? 2 : 0;
    if (count >= 2) {
      const c = dataword(mem, fre, k, false);
      if (c === undefined) return dwFault(fre, k, where);
      k += size;
      count--;
      if (c) {
        const d = dataword(mem, fre, k, true);
        if (d === undefined) return dwFault(fre, k, where);
        k += size;
        count--;
        raCtl = c;
        raOff = d;
      }
    }
    let fpOff = sec.fpOff;
    let fpCtl = fpOff ? 2 : 0;
    if (count >= 2) {
      const c = dataword(mem, fre, k, false);
      if (c === undefined) return dwFault(fre, k, where);
      k += size;
      count--;
      if (c) {
        const d = dataword(mem, fre, k, true);
        if (d === undefined) return dwFault(fre, k, where);
        k += size;
        count--;
        fpCtl = c;
        fpOff = d;
      }
    }
    if (count) return leftover(fre, count, where);
    return { cfaCtl, cfaOff: cfaDecode(regs, cfaOff), raCtl, raOff, fpCtl, fpOff };
  }
  return fault(
    "__read_fre_datawords",
    fde.fdeAddr,
    "FDE type DEFAULT (0) or FLEX (1)",
    `${whereText(where)}: unknown FDE type ${fdeType}`,
  );
}
