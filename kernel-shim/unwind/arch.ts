/**
 * What the user-stack unwinder needs to know about an architecture (kernel `arch/x86/include/asm/
 * unwind_user.h`, the arm64 and s390 equivalents in the SFrame series): word size, which registers
 * the SFrame rules name, whether a link register holds the return address in the topmost frame, and
 * the frame-pointer frame layout the FP fallback assumes.
 */
export type UnwindArch = "x86_64" | "aarch64" | "s390x";

export interface UnwindArchInfo {
  readonly name: UnwindArch;
  /** Bytes per stack word (`state->ws`). */
  readonly wordSize: 8;
  readonly littleEndian: boolean;
  /** DWARF numbers of SP and FP: the registers SFrame's SP/FP bases mean. */
  readonly dwarfSp: number;
  readonly dwarfFp: number;
  /** DWARF number of the link register holding RA in the topmost frame; null when RA is on the stack (x86). */
  readonly dwarfRa: number | null;
  /**
   * Frame-pointer fallback layout (`ARCH_INIT_USER_FP_FRAME`): CFA = FP + cfaOffset,
   * RA = *(CFA + raOffset), caller's FP = *(CFA + fpOffset). null: no FP fallback modelled.
   */
  readonly fpFrame: { readonly cfaOffset: number; readonly raOffset: number; readonly fpOffset: number } | null;
  /** Register names for display, keyed by DWARF number. */
  readonly regNames: Readonly<Record<number, string>>;
}

export const UNWIND_ARCHES: Readonly<Record<UnwindArch, UnwindArchInfo>> = {
  // x86_64: push %rbp; mov %rsp,%rbp → [rbp] = caller's rbp, [rbp+8] = RA, CFA = rbp + 16.
  x86_64: {
    name: "x86_64",
    wordSize: 8,
    littleEndian: true,
    dwarfSp: 7,
    dwarfFp: 6,
    dwarfRa: null,
    fpFrame: { cfaOffset: 16, raOffset: -8, fpOffset: -16 },
    regNames: { 6: "rbp", 7: "rsp", 16: "rip" },
  },
  // AArch64 frame record: x29 points at {caller x29, x30}; CFA = x29 + 16 (AAPCS64 §6.2.3).
  aarch64: {
    name: "aarch64",
    wordSize: 8,
    littleEndian: true,
    dwarfSp: 31,
    dwarfFp: 29,
    dwarfRa: 30,
    fpFrame: { cfaOffset: 16, raOffset: -8, fpOffset: -16 },
    regNames: { 29: "x29", 30: "x30", 31: "sp" },
  },
  // s390x keeps a back chain, not an x86-style frame record; the series unwinds s390x with SFrame
  // (and its own back-chain code, not modelled here), so there is no FP fallback in this model.
  s390x: {
    name: "s390x",
    wordSize: 8,
    littleEndian: false,
    dwarfSp: 15,
    dwarfFp: 11,
    dwarfRa: 14,
    fpFrame: null,
    regNames: { 11: "r11", 14: "r14", 15: "r15" },
  },
};
