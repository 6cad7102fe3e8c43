import type { SframeSection } from "./decode.ts";
import { SframeFormatError } from "./errors.ts";
import type { SframeFreLookup, SframeLookupErrorCode } from "./types.ts";

const U32 = 0x100000000;

/** `(uint32_t) x` for an integer x (exact for |x| < 2^53). */
function u32(x: number): number {
  if (x >= 0 && x < U32) return x;
  const r = x % U32;
  return r < 0 ? r + U32 : r;
}

/**
 * A caller-owned, reusable answer for `findFreInto`: libsframe's `sframe_frame_row_entry` (start
 * address, info byte, data words copied out) plus where the row was found. Filled in place, so a
 * lookup allocates nothing; valid until the next `findFreInto` with the same record.
 */
export class SframeFreHit {
  /** Index of the FDE covering the PC. -1 until a lookup succeeds. */
  fdeIndex = -1;
  /** Index of the FRE within its function. */
  freIndex = -1;
  /** Section offset of the FRE. */
  freOffset = 0;
  /** `fre_start_addr`: offset of the row from the function start. */
  startOffset = 0;
  /** `fre_info`. */
  info = 0;
  /** Data words in the row (bits 1-4 of the info byte). */
  dataWordCount = 0;
  /** Bytes per data word: 1, 2 or 4. */
  dataWordSize = 1;
  /** PC offset from the function start, reduced modulo rep_size for PC type MASK. */
  pcOffset = 0;
  /** The row's data words as stored (unsigned; `signExtend(w, dataWordSize)` for offsets). Up to 15. */
  readonly dataWords = new Uint32Array(15);
  /** Why the last lookup failed (undefined after a success). */
  code: SframeLookupErrorCode | undefined = undefined;
  /** One-line reason for the last failure ("" after a success). */
  message = "";
}

function miss(out: SframeFreHit, code: SframeLookupErrorCode, message: string): false {
  out.code = code;
  out.message = message;
  return false;
}

/**
 * Index of the FDE covering section-relative `pc`, by libsframe 2.46's binary search
 * (`sframe_get_funcdesc_with_addr_internal`): probe mid; hit when `start <= pc` and
 * `(uint32_t)(pc - start) < size`; otherwise go right when `start < pc`, left when not.
 * Returns -1 when no FDE covers the PC. Throws SframeFormatError when a probed V3 start does not fit
 * in 53 bits. Allocation-free: probes the section's start index (see SframeSection.funcStarts).
 */
export function findFdeIndex(section: SframeSection, pc: number): number {
  const i = searchFdes(section, pc);
  if (i < -1) section.funcStartAt(-2 - i); // throws the typed error for the unreadable start
  return i < 0 ? -1 : i;
}

/**
 * The binary search: the FDE index, -1 for none, or `-2 - i` when the probe of FDE i met a start
 * that does not fit in 53 bits (NaN in the index).
 */
function searchFdes(section: SframeSection, pc: number): number {
  const starts = section.funcStarts();
  const dv = section.view;
  const le = section.littleEndian;
  const sizeAt = section.sizeFieldOffset;
  const stride = section.layout.fdeEntrySize;
  let low = 0;
  let high = starts.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const start = starts[mid] as number;
    if (start <= pc) {
      const d = pc - start;
      if ((d < U32 ? d : u32(d)) < dv.getUint32(sizeAt + mid * stride, le)) return mid;
      if (start < pc) low = mid + 1;
      else high = mid - 1;
    } else if (start > pc) {
      high = mid - 1;
    } else {
      return -2 - mid; // NaN: compares neither way
    }
  }
  return -1;
}

/**
 * The FRE covering a SECTION-RELATIVE pc (`pc = address - section address`, what libsframe's
 * `sframe_find_fre(ctx, pc, &fre)` takes), with libsframe 2.46 semantics, written into `out`:
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
 * Returns true and fills `out` (row, FDE and FRE index) when found; false with `out.code` and
 * `out.message` set when not. Reads the FDE table and one function's FREs in place, allocating
 * nothing on success (the section's start index is built once, on the first lookup).
 */
export function findFreInto(section: SframeSection, pc: number, out: SframeFreHit): boolean {
  if (!section.sorted) return miss(out, "SFRAME_ERR_FDE_NOTSORTED", "FDE table is not flagged SFRAME_F_FDE_SORTED");
  if ((pc | 0) !== pc && !Number.isSafeInteger(pc))
    return miss(out, "SFRAME_ERR_FDE_NOTFOUND", `pc ${pc} is not an integer offset`);
  const starts = section.funcStarts();
  const dv = section.view;
  const le = section.littleEndian;
  const layout = section.layout;
  const stride = layout.fdeEntrySize;
  const sizeAt = section.sizeFieldOffset;
  // The binary search (see findFdeIndex), inline.
  let idx = -1;
  let funcStart = 0;
  let funcSize = 0;
  let low = 0;
  let high = starts.length - 1;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const start = starts[mid] as number;
    if (start <= pc) {
      const d = pc - start;
      const size = dv.getUint32(sizeAt + mid * stride, le);
      if ((d < U32 ? d : u32(d)) < size) {
        idx = mid;
        funcStart = start;
        funcSize = size;
        break;
      }
      if (start < pc) low = mid + 1;
      else high = mid - 1;
    } else if (start > pc) {
      high = mid - 1;
    } else {
      return miss(out, "SFRAME_ERR_FDE_INVAL", formatErrorOf(section, "start", mid));
    }
  }
  if (idx < 0) return miss(out, "SFRAME_ERR_FDE_NOTFOUND", `no FDE covers section offset ${pc}`);
  const fresEnd = layout.fresEnd;
  const entry = layout.fdesOffset + idx * stride;
  let numFres: number;
  let info: number;
  let repSize: number;
  let at: number;
  if (section.version === 3) {
    const attr = layout.fresOffset + dv.getUint32(entry + 12, le);
    if (attr + 5 > fresEnd) return miss(out, "bounds", formatErrorOf(section, "fde", idx));
    numFres = dv.getUint16(attr, le);
    info = dv.getUint8(attr + 2);
    repSize = dv.getUint8(attr + 4);
    at = attr + 5;
  } else {
    at = layout.fresOffset + dv.getUint32(entry + 8, le);
    if (at > fresEnd) return miss(out, "bounds", formatErrorOf(section, "fde", idx));
    numFres = dv.getUint32(entry + 12, le);
    info = dv.getUint8(entry + 16);
    repSize = section.version === 2 ? dv.getUint8(entry + 17) : 0;
  }
  const freType = info & 0xf;
  const addrSize = freType === 0 ? 1 : freType === 1 ? 2 : freType === 2 ? 4 : 0;
  if (addrSize === 0) return miss(out, "SFRAME_ERR_FRE_INVAL", `FDE ${idx} has invalid FRE type ${freType}`);
  const mask = (info & 0x10) !== 0 && section.version !== 1;
  if (mask && repSize === 0) return miss(out, "SFRAME_ERR_FDE_INVAL", `FDE ${idx} has PC type MASK with rep_size 0`);
  const d = pc - funcStart;
  const rawOff = d < U32 ? d : u32(d);
  const pcOffset = mask ? rawOff % repSize : rawOff;
  let start = -1; // the FRE's start, read ahead as the previous FRE's end
  for (let i = 0; i < numFres; i++) {
    if (at + addrSize + 1 > fresEnd)
      return miss(out, "bounds", `FRE ${i} of FDE ${idx} at 0x${at.toString(16)} lies outside the FRE sub-section`);
    if (start < 0)
      start = addrSize === 1 ? dv.getUint8(at) : addrSize === 2 ? dv.getUint16(at, le) : dv.getUint32(at, le);
    const freInfo = dv.getUint8(at + addrSize);
    const sizeCode = (freInfo >> 5) & 3;
    if (sizeCode === 3) return miss(out, "SFRAME_ERR_FRE_INVAL", `FRE ${i} of FDE ${idx} has data-word size code 3`);
    const count = (freInfo >> 1) & 0xf;
    const wordSize = 1 << sizeCode;
    const size = addrSize + 1 + count * wordSize;
    if (at + size > fresEnd)
      return miss(out, "bounds", `FRE ${i} of FDE ${idx} at 0x${at.toString(16)} extends past the FRE sub-section`);
    if (start > rawOff)
      return miss(
        out,
        "SFRAME_ERR_FRE_INVAL",
        `FRE ${i} of FDE ${idx} starts at +0x${start.toString(16)}, beyond the PC`,
      );
    let end: number;
    let nextStart = -1;
    const next = at + size;
    if (i < numFres - 1) {
      if (next + addrSize > fresEnd)
        return miss(out, "bounds", `FRE ${i + 1} of FDE ${idx} lies outside the FRE sub-section`);
      nextStart = addrSize === 1 ? dv.getUint8(next) : addrSize === 2 ? dv.getUint16(next, le) : dv.getUint32(next, le);
      end = nextStart === 0 ? U32 - 1 : nextStart - 1;
    } else {
      end = funcSize === 0 ? U32 - 1 : funcSize - 1;
    }
    if (start <= pcOffset && end >= pcOffset) {
      out.fdeIndex = idx;
      out.freIndex = i;
      out.freOffset = at;
      out.startOffset = start;
      out.info = freInfo;
      out.dataWordCount = count;
      out.dataWordSize = wordSize;
      out.pcOffset = pcOffset;
      const words = out.dataWords;
      let p = at + addrSize + 1;
      for (let k = 0; k < count; k++, p += wordSize) {
        words[k] = wordSize === 1 ? dv.getUint8(p) : wordSize === 2 ? dv.getUint16(p, le) : dv.getUint32(p, le);
      }
      out.code = undefined;
      out.message = "";
      return true;
    }
    at = next;
    start = nextStart;
  }
  return miss(out, "SFRAME_ERR_FDE_INVAL", `no FRE of FDE ${idx} covers offset +0x${pcOffset.toString(16)}`);
}

/**
 * The message of the SframeFormatError that `funcStartAt(i)` / `fde(i)` throws: the slow path of a
 * failed lookup (no closure in the lookup itself: a captured variable would cost a context per call).
 */
function formatErrorOf(section: SframeSection, what: "start" | "fde", i: number): string {
  try {
    if (what === "start") section.funcStartAt(i);
    else section.fde(i);
  } catch (e) {
    if (e instanceof SframeFormatError) return e.message;
    throw e;
  }
  return "inconsistent section";
}

function fail(code: SframeLookupErrorCode, message: string): SframeFreLookup {
  return { ok: false, code, message };
}

/** findFre's own record: findFre is synchronous, so one suffices. */
const scratch = new SframeFreHit();

/**
 * `findFreInto` answering with records: the FDE and FRE covering section-relative `pc` (same
 * semantics and failures). The FDE and FRE records are memoised on the section (built once, shared,
 * readonly), so a warm lookup allocates only the small result object.
 */
export function findFre(section: SframeSection, pc: number): SframeFreLookup {
  const hit = scratch;
  if (!findFreInto(section, pc, hit)) return fail(hit.code ?? "bounds", hit.message);
  // findFreInto made the same checks SframeSection.fde and freAt make: neither throws here.
  const fde = section.cachedFde(hit.fdeIndex);
  return { ok: true, fde, fre: section.cachedFre(fde, hit.freOffset, hit.freIndex), pcOffset: hit.pcOffset };
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
