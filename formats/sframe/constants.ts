/**
 * SFrame constants, named and valued as in binutils `include/sframe.h` (2.40 for V1, 2.41–2.45 for V2,
 * 2.46 for V3) and the Linux SFrame unwinder (`kernel/unwind/sframe.c`, `include/linux/sframe.h`).
 */

export const SFRAME_MAGIC = 0xdee2;
/** The magic as read with the wrong byte order: the section is in the other endianness. */
export const SFRAME_MAGIC_SWAPPED = 0xe2de;

export const SFRAME_VERSION_1 = 1;
export const SFRAME_VERSION_2 = 2;
export const SFRAME_VERSION_3 = 3;

// Preamble flags.
export const SFRAME_F_FDE_SORTED = 0x1;
/** V1/V2 only: every function preserves the frame pointer. Not valid in V3. */
export const SFRAME_F_FRAME_POINTER = 0x2;
/** V2 erratum 1 and V3: the FDE function-start field is relative to the field's own address. */
export const SFRAME_F_FDE_FUNC_START_PCREL = 0x4;
/** binutils 2.40 (V1): SORTED | FRAME_POINTER. */
export const SFRAME_V1_F_ALL_FLAGS = 0x3;
export const SFRAME_V2_F_ALL_FLAGS = 0x7;
export const SFRAME_V3_F_ALL_FLAGS = 0x5;

// ABI / arch identifiers (sfh_abi_arch).
export const SFRAME_ABI_AARCH64_ENDIAN_BIG = 1;
export const SFRAME_ABI_AARCH64_ENDIAN_LITTLE = 2;
export const SFRAME_ABI_AMD64_ENDIAN_LITTLE = 3;
export const SFRAME_ABI_S390X_ENDIAN_BIG = 4;

export const SFRAME_CFA_FIXED_FP_INVALID = 0;
export const SFRAME_CFA_FIXED_RA_INVALID = 0;
/** s390x: an RA data word of 0 means "RA not saved" (padding before an FP word). */
export const SFRAME_FRE_RA_OFFSET_INVALID = 0;

// Sizes of the on-disk structures (all packed).
export const SFRAME_HEADER_SIZE = 28;
export const SFRAME_PREAMBLE_SIZE = 4;
export const SFRAME_V1_FDE_SIZE = 17;
export const SFRAME_V2_FDE_SIZE = 20;
/** V3 FDE index entry in the FDE sub-section (`sframe_func_desc_idx_v3`). */
export const SFRAME_V3_FDE_INDEX_SIZE = 16;
/** V3 FDE attribute block at the start of each function's FRE data (`sframe_func_desc_attr_v3`). */
export const SFRAME_V3_FDE_ATTR_SIZE = 5;

// FDE info byte (sfde_func_info / sfda_func_info).
export const SFRAME_FRE_TYPE_ADDR1 = 0;
export const SFRAME_FRE_TYPE_ADDR2 = 1;
export const SFRAME_FRE_TYPE_ADDR4 = 2;
export const SFRAME_FRE_TYPE_ADDR1_LIMIT = 0x100;
export const SFRAME_FRE_TYPE_ADDR2_LIMIT = 0x10000;
export const SFRAME_FRE_TYPE_ADDR4_LIMIT = 0x100000000;
/** Bit 4: V1/V2 "FDE type", V3 "PC type". */
export const SFRAME_FDE_TYPE_PCINC = 0;
export const SFRAME_FDE_TYPE_PCMASK = 1;
export const SFRAME_V3_FDE_PCTYPE_INC = 0;
export const SFRAME_V3_FDE_PCTYPE_MASK = 1;
export const SFRAME_AARCH64_PAUTH_KEY_A = 0;
export const SFRAME_AARCH64_PAUTH_KEY_B = 1;
/** V3 sfda_func_info bit 7. */
export const SFRAME_V3_FDE_SIGNAL_BIT = 0x80;

// V3 sfda_func_info2: bits 0-4 are the FDE type.
export const SFRAME_V3_FDE_TYPE_MASK = 0x1f;
export const SFRAME_FDE_TYPE_DEFAULT = 0;
export const SFRAME_FDE_TYPE_FLEX = 1;

// FRE info byte.
export const SFRAME_BASE_REG_FP = 0;
export const SFRAME_BASE_REG_SP = 1;
export const SFRAME_FRE_OFFSET_1B = 0;
export const SFRAME_FRE_OFFSET_2B = 1;
export const SFRAME_FRE_OFFSET_4B = 2;
/** Largest data-word count the 4-bit field can hold. */
export const SFRAME_FRE_MAX_DATAWORDS_FIELD = 15;
/** libsframe 2.46 `MAX_NUM_DATAWORDS` (sframe-api.h): larger counts are rejected by its sanity check. */
export const SFRAME_MAX_NUM_DATAWORDS = 6;
/** libsframe ≤ 2.45 / glibc `MAX_NUM_STACK_OFFSETS`. */
export const SFRAME_V2_MAX_NUM_STACK_OFFSETS = 3;

export const SFRAME_FRE_CFA_OFFSET_IDX = 0;
export const SFRAME_FRE_RA_OFFSET_IDX = 1;
export const SFRAME_FRE_FP_OFFSET_IDX = 2;

// V3 flexible FDE control word bits (SFRAME_V3_FLEX_FDE_CTRLWORD_*).
export const SFRAME_V3_FLEX_CTRL_REG_P = 0x1;
export const SFRAME_V3_FLEX_CTRL_DEREF_P = 0x2;
export const SFRAME_V3_FLEX_CTRL_REGNUM_SHIFT = 3;

// s390x (SFRAME_S390X_* / SFRAME_V2_S390X_*).
/** Caller's SP = CFA + SFRAME_S390X_SP_VAL_OFFSET. */
export const SFRAME_S390X_SP_VAL_OFFSET = -160;
export const SFRAME_S390X_CFA_OFFSET_ADJUSTMENT = SFRAME_S390X_SP_VAL_OFFSET;
export const SFRAME_S390X_CFA_OFFSET_ALIGNMENT_FACTOR = 8;

/** DWARF numbers of the stack and frame pointer per ABI (kernel SFRAME_REG_SP / SFRAME_REG_FP). */
export const DWARF_REG_SP_FP: Readonly<Record<number, { readonly sp: number; readonly fp: number }>> = {
  [SFRAME_ABI_AARCH64_ENDIAN_BIG]: { sp: 31, fp: 29 },
  [SFRAME_ABI_AARCH64_ENDIAN_LITTLE]: { sp: 31, fp: 29 },
  [SFRAME_ABI_AMD64_ENDIAN_LITTLE]: { sp: 7, fp: 6 },
  [SFRAME_ABI_S390X_ENDIAN_BIG]: { sp: 15, fp: 11 },
};

// ELF glue.
export const PT_GNU_SFRAME = 0x6474e554;
export const SHT_GNU_SFRAME = 0x6ffffff4;

// Linux errnos the kernel's SFrame code returns (asm-generic/errno-base.h). Names are what results carry;
// the numbers are here so a caller can print `-22` without depending on the kernel shim.
export const SFRAME_KERNEL_ERRNO = { EFAULT: 14, EINVAL: 22 } as const;
export type SframeKernelErrno = keyof typeof SFRAME_KERNEL_ERRNO;
