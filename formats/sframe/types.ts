/**
 * The typed model of an SFrame section (binutils `include/sframe.h`, versions 1–3).
 *
 * Two layers:
 * - the RAW records (`SframeHeader`, `SframeFde`, `SframeFre`): every field as stored, plus the few
 *   derived positions a reader needs (section offsets, resolved function start). Enough to re-encode a
 *   section byte for byte: the FRE start-address width comes from the FDE's `freType`, the data-word
 *   width from the FRE's `dataWordSizeCode`, sub-section placement from `fdeOff`/`freOff`/`startFreOff`;
 *   bytes in gaps between structures are not modelled (GNU tools write none; libsframe requires
 *   trailing padding to be zero).
 * - the INTERPRETED row (`SframeRow`): the CFA/RA/FP recovery rules an unwinder applies at one PC,
 *   modelled on the kernel's `struct unwind_frame` (include/linux/unwind_types.h).
 *
 * All offsets named `...Offset` without further qualification are byte offsets from the start of
 * the section. Function starts are SECTION-RELATIVE numbers (what libsframe calls "secrel"); add the
 * section's load address to get a PC.
 */

/** SFrame version numbers this library decodes. */
export type SframeVersion = 1 | 2 | 3;

/** `sframe_preamble`: identical in every version. */
export interface SframePreamble {
  /** `sfp_magic` read in the section's own byte order: always SFRAME_MAGIC (0xdee2) once decoded. */
  readonly magic: number;
  readonly version: number;
  /** Raw `sfp_flags` (SFRAME_F_*), including bits the version does not define. */
  readonly flags: number;
}

/** `sframe_header` (28 bytes) plus its auxiliary header. */
export interface SframeHeader {
  readonly preamble: SframePreamble;
  /** Byte order of the section, deduced from how the magic reads (0xdee2 vs 0xe2de). */
  readonly littleEndian: boolean;
  /** `sfh_abi_arch` (SFRAME_ABI_*), raw: the kernel does not check it. */
  readonly abiArch: number;
  /** `sfh_cfa_fixed_fp_offset` (i8); 0 = SFRAME_CFA_FIXED_FP_INVALID (tracked per FRE). */
  readonly cfaFixedFpOffset: number;
  /** `sfh_cfa_fixed_ra_offset` (i8); 0 = SFRAME_CFA_FIXED_RA_INVALID (tracked per FRE). AMD64: -8. */
  readonly cfaFixedRaOffset: number;
  /** `sfh_auxhdr_len` (u8). */
  readonly auxHeaderLength: number;
  /** The auxiliary header bytes, verbatim (`auxHeaderLength` bytes following the 28-byte header). */
  readonly auxHeader: Uint8Array;
  /** `sfh_num_fdes` (u32). */
  readonly numFdes: number;
  /** `sfh_num_fres` (u32): FREs of all functions (V3: not counting the 5-byte attribute blocks). */
  readonly numFres: number;
  /** `sfh_fre_len` (u32): bytes in the FRE sub-section (V3: including attribute blocks). */
  readonly freLen: number;
  /** `sfh_fdeoff` (u32): FDE sub-section offset from the end of the header (incl. aux header). */
  readonly fdeOff: number;
  /** `sfh_freoff` (u32): FRE sub-section offset from the end of the header (incl. aux header). */
  readonly freOff: number;
}

/** Section offsets derived from the header (`header_end`, `fdes_start`, `fres_start` of the kernel). */
export interface SframeLayout {
  /** 28 + auxHeaderLength: where fdeOff / freOff count from. */
  readonly headerSize: number;
  /** Section offset of the first FDE (V3: of the first FDE index entry). */
  readonly fdesOffset: number;
  /** Bytes per FDE entry in the FDE sub-section: V1 17, V2 20, V3 16. */
  readonly fdeEntrySize: number;
  /** Section offset just past the last FDE entry. */
  readonly fdesEnd: number;
  /** Section offset of the FRE sub-section. */
  readonly fresOffset: number;
  /** Section offset just past the FRE sub-section (fresOffset + freLen). */
  readonly fresEnd: number;
}

/** PC type (V1/V2 "FDE type", bit 4 of the info byte): INC = offsets from function start; MASK = modulo rep_size. */
export type SframePcType = "inc" | "mask";

/** Fields shared by the FDEs of every version (V3: index entry and attribute block together). */
interface SframeFdeCommon {
  /** Position in the FDE sub-section (0-based). */
  readonly index: number;
  /** Section offset of the FDE entry (V3: of the 16-byte index entry). */
  readonly offset: number;
  /**
   * Raw function-start field: `sfde_func_start_address` (i32, V1/V2) or `sfdi_func_start_offset` (i64, V3).
   * bigint so a V3 value is exact.
   */
  readonly rawStart: bigint;
  /**
   * Section-relative start of the function: `offset + rawStart` when the header has
   * SFRAME_F_FDE_FUNC_START_PCREL, else `rawStart` (binutils ≤ 2.44: relative to the section start).
   * May be negative (text usually precedes .sframe).
   */
  readonly funcStart: number;
  /** `sfde_func_size` / `sfdi_func_size` (u32). */
  readonly funcSize: number;
  /**
   * Raw `sfde_func_start_fre_off`: offset from the FRE sub-section start of the function's first FRE
   * (V3: of its 5-byte attribute block).
   */
  readonly startFreOff: number;
  /** `sfde_func_num_fres` (u32, V1/V2) / `sfda_func_num_fres` (u16, V3). */
  readonly numFres: number;
  /** Raw info byte (`sfde_func_info` / `sfda_func_info`). */
  readonly info: number;
  /** Bits 0–3 of `info`: SFRAME_FRE_TYPE_ADDR1/2/4 (0/1/2) — width of each FRE's start address. Raw. */
  readonly freType: number;
  /** Bit 4 of `info`. */
  readonly pcType: SframePcType;
  /** Bit 5 of `info` (AArch64 only): SFRAME_AARCH64_PAUTH_KEY_A (0) / _B (1). */
  readonly pauthKey: 0 | 1;
  /** `sfde_func_rep_size` (V2) / `sfda_func_rep_size` (V3); 0 in V1 (no such field). */
  readonly repSize: number;
  /** Section offset of the function's first FRE (V3: just past the attribute block). */
  readonly fresOffset: number;
}

/** V1 FDE (17 bytes): start i32, size u32, start_fre_off u32, num_fres u32, info u8. */
export interface SframeFdeV1 extends SframeFdeCommon {
  readonly version: 1;
}

/** V2 FDE (20 bytes): V1 + rep_size u8 + padding2 u16. */
export interface SframeFdeV2 extends SframeFdeCommon {
  readonly version: 2;
  /** `sfde_func_padding2` (u16), verbatim (unused; GNU tools write 0). */
  readonly padding: number;
}

/** V3 FDE: 16-byte index entry + 5-byte attribute block at the start of the function's FRE data. */
export interface SframeFdeV3 extends SframeFdeCommon {
  readonly version: 3;
  /** Section offset of the attribute block (`fresOffset - 5`). */
  readonly attrOffset: number;
  /** Raw `sfda_func_info2`. */
  readonly info2: number;
  /** Bits 0–4 of `info2`: SFRAME_FDE_TYPE_DEFAULT (0) / SFRAME_FDE_TYPE_FLEX (1); other values raw. */
  readonly fdeType: number;
  /** Bit 7 of `info`: the function is a signal frame (`.cfi_signal_frame`). */
  readonly signal: boolean;
}

export type SframeFde = SframeFdeV1 | SframeFdeV2 | SframeFdeV3;

/** Width code of the FRE data words (SFRAME_FRE_OFFSET_1B/2B/4B). 3 is invalid and never decoded. */
export type SframeDataWordSizeCode = 0 | 1 | 2;

/** One Frame Row Entry as stored: start address (1/2/4 bytes), info byte, N data words of one width. */
export interface SframeFre {
  /** Position within its function (0-based). */
  readonly index: number;
  /** Section offset of the FRE. */
  readonly offset: number;
  /** Encoded size: addrSize + 1 + N × dataWordSize. */
  readonly size: number;
  /**
   * `sfre_start_address` (unsigned): offset of the first covered PC from the function start (PC type
   * INC) or within the repeated block (MASK).
   */
  readonly startOffset: number;
  /** Raw `sfre_info`. */
  readonly info: number;
  /** Bit 0 of `info`: SFRAME_BASE_REG_FP (0) / SFRAME_BASE_REG_SP (1). Meaningless in FLEX FDEs. */
  readonly cfaBaseReg: 0 | 1;
  /** Bits 1–4: number of data words, 0–15. 0 = RA undefined (outermost frame; V2 erratum 2, V3). */
  readonly dataWordCount: number;
  /** Bits 5–6. */
  readonly dataWordSizeCode: SframeDataWordSizeCode;
  /** 1, 2 or 4. */
  readonly dataWordSize: 1 | 2 | 4;
  /** Bit 7: AArch64 RA is PAC-signed at these PCs. */
  readonly mangledRa: boolean;
  /**
   * The data words as stored, read UNSIGNED at `dataWordSize` bytes (so re-encoding is exact);
   * interpretation sign-extends offsets/displacements and keeps FLEX control words unsigned.
   */
  readonly dataWords: readonly number[];
}

/** One function: its FDE and FREs, as a full decode returns them. */
export interface SframeFunction {
  readonly fde: SframeFde;
  readonly fres: readonly SframeFre[];
}

/** A fully decoded section: plain data, what a dumper or encoder consumes. */
export interface SframeSectionData {
  readonly header: SframeHeader;
  readonly layout: SframeLayout;
  /** FDEs in stored order, each with its FREs. */
  readonly functions: readonly SframeFunction[];
  /**
   * Bytes of the input after the FRE sub-section (section padding, or the rest of a PT_GNU_SFRAME
   * segment that is larger than the section). libsframe tolerates them only when all zero.
   */
  readonly trailing: Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// Interpreted rows

/**
 * CFA recovery: `cfa = base + offset`, then `cfa = *cfa` when `deref` (V3 FLEX only).
 * `base` is "sp"/"fp" when the register is the ABI's stack/frame pointer (DEFAULT FDEs always; FLEX
 * when the control word names that DWARF register — as the kernel's `sframe_init_cfa_rule_data`),
 * else "reg" (FLEX; only usable in the topmost frame).
 */
export interface SframeCfaRule {
  readonly base: "sp" | "fp" | "reg";
  /** DWARF register number of the base (the ABI's SP/FP number for "sp"/"fp"). */
  readonly regnum: number;
  /** Offset in bytes, already decoded (s390x: `stored * 8 + 160`). */
  readonly offset: number;
  readonly deref: boolean;
}

/**
 * How the caller's RA or FP is recovered (kernel `enum unwind_rule`):
 * - `undefined`: no value (RA of an outermost frame);
 * - `same`: not saved — the value is still in its register (RETAIN: FP untouched; AArch64/s390x RA
 *   still in the link register, usable only in the topmost frame);
 * - `cfa`: at CFA + offset (`deref` true: saved in memory there; false: the value IS CFA + offset);
 * - `reg`: register `regnum` + offset (then `*` if `deref`); s390x V2 "register number" words map to
 *   `{ reg, offset 0, deref false }`. Only usable in the topmost frame.
 */
export type SframeRegRule =
  | { readonly kind: "undefined" }
  | { readonly kind: "same" }
  | { readonly kind: "cfa"; readonly offset: number; readonly deref: boolean }
  | { readonly kind: "reg"; readonly regnum: number; readonly offset: number; readonly deref: boolean };

/**
 * Where an RA/FP rule came from: a data word of the FRE, the header's fixed offset (AMD64 RA), a FLEX
 * padding control word 0 (falls back to the fixed offset / "same"), or nothing at all (word absent).
 */
export type SframeRuleSource = "dataword" | "header" | "padding" | "absent";

/** The unwind row that applies at one PC: what `sframe_find_fre` + the getters (or the kernel) yield. */
export interface SframeRow {
  /** null for an outermost frame (RA undefined: N = 0), where there is nothing to recover. */
  readonly cfa: SframeCfaRule | null;
  readonly ra: SframeRegRule;
  readonly raSource: SframeRuleSource;
  readonly fp: SframeRegRule;
  readonly fpSource: SframeRuleSource;
  /** N = 0: RA undefined — stop unwinding here. */
  readonly outermost: boolean;
  /** V3 FDE signal-frame bit (always false for V1/V2). */
  readonly signal: boolean;
  /** FRE bit 7 (AArch64 PAC-signed RA). */
  readonly mangledRa: boolean;
  /** FDE pauth key (AArch64). */
  readonly pauthKey: 0 | 1;
  /** Caller's SP = CFA + spOffset: -160 on s390x (SFRAME_S390X_SP_VAL_OFFSET), else 0. */
  readonly spOffset: number;
}

// ---------------------------------------------------------------------------------------------
// Lookup and validation results

/**
 * libsframe error codes that `sframe_find_fre` and the decoder report (`include/sframe-api.h`), plus
 * "bounds" for a structure that lies outside the bytes (libsframe would read out of bounds there).
 */
export type SframeLookupErrorCode =
  | "SFRAME_ERR_FDE_NOTSORTED"
  | "SFRAME_ERR_FDE_NOTFOUND"
  | "SFRAME_ERR_FRE_NOTFOUND"
  | "SFRAME_ERR_FDE_INVAL"
  | "SFRAME_ERR_FRE_INVAL"
  | "bounds";

/** Result of `findFre`: the FDE and FRE covering a PC, or why there is none. */
export type SframeFreLookup =
  | {
      readonly ok: true;
      readonly fde: SframeFde;
      readonly fre: SframeFre;
      /** PC offset from the function start, reduced modulo rep_size for PC type MASK. */
      readonly pcOffset: number;
    }
  | { readonly ok: false; readonly code: SframeLookupErrorCode; readonly message: string };

/** Kernel errno names the SFrame checks produce. */
export type SframeErrnoName = "EINVAL" | "EFAULT";

/**
 * A failed kernel check: which check (named after the kernel code), the errno the kernel returns,
 * the section offset of the offending field, what was expected there, and a one-line message.
 */
export interface SframeCheckFailure {
  readonly ok: false;
  readonly errno: SframeErrnoName;
  readonly check: string;
  readonly offset: number;
  readonly expected: string;
  readonly message: string;
  /** The FDE (and FRE within it) being checked, for failures found while walking the section. */
  readonly fdeIndex?: number;
  readonly freIndex?: number;
}

/**
 * The kernel's `struct unwind_frame` for one PC (include/linux/unwind_types.h), in this model's rule
 * types: CFA SP_OFFSET/FP_OFFSET/REG_OFFSET(+DEREF) → `SframeCfaRule` base "sp"/"fp"/"reg";
 * RETAIN → "same"; CFA_OFFSET(+DEREF) → "cfa"; REG_OFFSET(+DEREF) → "reg".
 */
export interface SframeKernelFrame {
  readonly cfa: SframeCfaRule;
  readonly ra: SframeRegRule;
  readonly fp: SframeRegRule;
  /** FRE with no data words (RA undefined). */
  readonly outermost: boolean;
  /** Signal-frame RFC: the FDE's signal bit (set only when that behaviour is enabled). */
  readonly signal: boolean;
}
