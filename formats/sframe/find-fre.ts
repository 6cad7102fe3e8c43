import type { SframeSection } from "./decode.ts";
import { freAddrSize } from "./decode.ts";
import { SframeFormatError } from "./errors.ts";
import type { SframeFreLookup, SframeLookupErrorCode } from "./types.ts";

const U32 = 0x100000000;

/** `(uint32_t) x` for an integer x (exact for |x| < 2^53). */
function u32(x: number): number {
  const r = x % U32;
  return r < 0 ? r + U32 : r;
}

/** An FRE start address of `size` bytes. */
function readStart(dv: DataView, at: number, size: number, le: boolean): number {
  return size === 1 ? dv.getUint8(at) : size === 2 ? dv.getUint16(at, le) : dv.getUint32(at, le);
}

function fail(code: SframeLookupErrorCode, message: string): SframeFreLookup {
  return { ok: false, code, message };
}

/**
 * Index of the FDE covering section-relative `pc`, by libsframe 2.46's binary search
 * (`sframe_get_funcdesc_with_addr_internal`): probe mid; hit when `start <= pc` and
 * `(uint32_t)(pc - start) < size`; otherwise go right when `start < pc`, left when not.
 * Returns -1 when no FDE covers the PC. Allocation-free: reads the FDE table in place.
 */
export function findFdeIndex(section: SframeSection, pc: number): number {
  let low = 0;
  let high = section.header.numFdes - 1;
  while (low <= high) {
    const mid = low + ((high - low) >> 1);
    const start = section.funcStartAt(mid);
    if (start <= pc && u32(pc - start) < section.funcSizeAt(mid)) return mid;
    if (start < pc) low = mid + 1;
    else high = mid - 1;
  }
  return -1;
}

/**
 * The FRE covering a SECTION-RELATIVE pc (`pc = address - section address`, what libsframe's
 * `sframe_find_fre(ctx, pc, &fre)` takes), with libsframe 2.46 semantics:
 *
 * 1. the FDE table must be flagged SFRAME_F_FDE_SORTED (else SFRAME_ERR_FDE_NOTSORTED);
 * 2. binary search for the FDE with `start <= pc < start + size` (SFRAME_ERR_FDE_NOTFOUND);
 * 3. walk its FREs in order: an FRE starting beyond `(uint32_t)(pc - start)` ends the walk with
 *    SFRAME_ERR_FRE_INVAL; an FRE matches when `start <= off <= end`, where `end` is the next FRE's
 *    start - 1 (the last: func_size - 1) and `off` is reduced modulo rep_size for PC type MASK;
 *    no match (e.g. zero FREs) is SFRAME_ERR_FDE_INVAL.
 *
 * Differences from libsframe, where libsframe has undefined behaviour: an FRE outside the FRE
 * sub-section or with an invalid FRE type / data-word size is reported (code "bounds" /
 * SFRAME_ERR_FRE_INVAL) instead of read; PC type MASK with rep_size 0 is SFRAME_ERR_FDE_INVAL instead
 * of a division by zero. V1 FDEs have no rep_size: a V1 PC-MASK FDE is searched like PC-INC, as
 * libsframe 2.40 (the last libsframe reading V1) does.
 *
 * Decodes only the probed FDE table entries and the FREs of one function; the FDE and FRE records
 * of the answer are memoised on the section (built once, shared, readonly), so a warm lookup
 * allocates only the small result object.
 */
export function findFre(section: SframeSection, pc: number): SframeFreLookup {
  if (!section.sorted) return fail("SFRAME_ERR_FDE_NOTSORTED", "FDE table is not flagged SFRAME_F_FDE_SORTED");
  if (!Number.isSafeInteger(pc)) return fail("SFRAME_ERR_FDE_NOTFOUND", `pc ${pc} is not an integer offset`);
  let idx: number;
  try {
    idx = findFdeIndex(section, pc);
  } catch (e) {
    if (e instanceof SframeFormatError) return fail("SFRAME_ERR_FDE_INVAL", e.message);
    throw e;
  }
  if (idx < 0) return fail("SFRAME_ERR_FDE_NOTFOUND", `no FDE covers section offset ${pc}`);
  let fde: ReturnType<SframeSection["fde"]>;
  try {
    fde = section.cachedFde(idx);
  } catch (e) {
    if (e instanceof SframeFormatError) return fail("bounds", e.message);
    throw e;
  }
  const addrSize = freAddrSize(fde.freType);
  if (addrSize === 0) return fail("SFRAME_ERR_FRE_INVAL", `FDE ${idx} has invalid FRE type ${fde.freType}`);
  // V1 has no rep_size: libsframe 2.40, the last reader of V1, searches PC-MASK FDEs like PC-INC ones.
  const mask = fde.pcType === "mask" && fde.version !== 1;
  if (mask && fde.repSize === 0) return fail("SFRAME_ERR_FDE_INVAL", `FDE ${idx} has PC type MASK with rep_size 0`);

  const dv = section.view;
  const le = section.littleEndian;
  const fresEnd = section.layout.fresEnd;

  const rawOff = u32(pc - fde.funcStart);
  const pcOffset = mask ? rawOff % fde.repSize : rawOff;
  let at = fde.fresOffset;
  for (let i = 0; i < fde.numFres; i++) {
    if (at + addrSize + 1 > fresEnd)
      return fail("bounds", `FRE ${i} of FDE ${idx} at 0x${at.toString(16)} lies outside the FRE sub-section`);
    const start = readStart(dv, at, addrSize, le);
    const info = dv.getUint8(at + addrSize);
    const sizeCode = (info >> 5) & 3;
    if (sizeCode === 3) return fail("SFRAME_ERR_FRE_INVAL", `FRE ${i} of FDE ${idx} has data-word size code 3`);
    const size = addrSize + 1 + ((info >> 1) & 0xf) * (1 << sizeCode);
    if (at + size > fresEnd)
      return fail("bounds", `FRE ${i} of FDE ${idx} at 0x${at.toString(16)} extends past the FRE sub-section`);
    if (start > rawOff)
      return fail("SFRAME_ERR_FRE_INVAL", `FRE ${i} of FDE ${idx} starts at +0x${start.toString(16)}, beyond the PC`);
    let end: number;
    if (i < fde.numFres - 1) {
      if (at + size + addrSize > fresEnd)
        return fail("bounds", `FRE ${i + 1} of FDE ${idx} lies outside the FRE sub-section`);
      end = u32(readStart(dv, at + size, addrSize, le) - 1);
    } else {
      end = u32(fde.funcSize - 1);
    }
    if (start <= pcOffset && end >= pcOffset) {
      return { ok: true, fde, fre: section.cachedFre(fde, at, i), pcOffset };
    }
    at += size;
  }
  return fail("SFRAME_ERR_FDE_INVAL", `no FRE of FDE ${idx} covers offset +0x${pcOffset.toString(16)}`);
}

/**
 * `findFre` for an absolute address: `pc - section.vaddr` (the section's run-time address passed to
 * decodeSframe). An address more than 2^53 away from the section finds nothing.
 */
export function findFreByAddress(section: SframeSection, pc: bigint): SframeFreLookup {
  const rel = pc - section.vaddr;
  if (rel > BigInt(Number.MAX_SAFE_INTEGER) || rel < BigInt(Number.MIN_SAFE_INTEGER)) {
    return fail("SFRAME_ERR_FDE_NOTFOUND", `address 0x${pc.toString(16)} is too far from the section`);
  }
  return findFre(section, Number(rel));
}
