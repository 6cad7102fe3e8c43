import type { SframeRow } from "../../formats/sframe/types.ts";
import type { UnwindArch } from "./arch.ts";

/** A thread's user registers as the unwinder starts from them (`task_pt_regs`). */
export interface UserRegs {
  /** x86_64 rip, aarch64 pc, s390x PSW address. */
  readonly pc: bigint;
  /** rsp / sp / r15. */
  readonly sp: bigint;
  /** rbp / x29 / r11. */
  readonly fp: bigint;
  /** aarch64 x30 / s390x r14: the return address while the topmost function has not saved it. */
  readonly ra?: bigint;
}

/** User memory as the unwinder reads it (`get_user`): a word, or undefined on a fault. */
export interface UnwindMemory {
  readWord(addr: bigint): bigint | undefined;
}

/** What an SFrame lookup for one PC yields (`sframe_find_user`): a row, or the kernel's errno. */
export type SframeFindResult =
  | { readonly ok: true; readonly row: SframeRow; readonly section: bigint }
  | { readonly ok: false; readonly errno: "EINVAL" | "EFAULT" | "ENOENT"; readonly reason: string };

/** The per-mm SFrame lookup the unwinder calls; null when the mm has no registered section. */
export interface SframeFinder {
  find(pc: bigint): SframeFindResult;
}

/** Which method produced a frame's caller. */
export type UnwindMethod = "sframe" | "fp";

export interface UnwindFrame {
  readonly pc: bigint;
  /** How this frame's caller was found; undefined for the last recorded frame. */
  readonly method?: UnwindMethod;
  /** Set when SFrame did not apply to this PC and the FP method was tried instead. */
  readonly sframeMiss?: string;
}

/** Why a trace ended: always recorded, so a corrupt stack never ends silently or hangs. */
export type UnwindStop =
  | { readonly kind: "outermost"; readonly detail: string }
  | { readonly kind: "max-depth"; readonly detail: string }
  | { readonly kind: "no-method"; readonly detail: string }
  | { readonly kind: "sframe-step-failed"; readonly detail: string }
  | { readonly kind: "fp-step-failed"; readonly detail: string };

export interface UnwindTrace {
  readonly arch: UnwindArch;
  readonly frames: readonly UnwindFrame[];
  readonly stop: UnwindStop;
}

/**
 * How to treat an SFrame row with RA undefined (N = 0). The kernel code as read (sframe/core, V3 with
 * FLEX) rejects it with EINVAL before setting `outermost`, so the FP method is tried next
 * ("kernel-v3-einval", the newest code, default); the spec and earlier series versions stop the
 * trace cleanly ("spec-stop"). See sframe-and-kernel.md §2.7 quirk / Q2.
 */
export type OutermostPolicy = "kernel-v3-einval" | "spec-stop";

export interface UnwindOptions {
  /** UNWIND_MAX_ENTRIES: a 4 KiB page of u64 entries less the header (511 on 64-bit). */
  readonly maxEntries?: number;
  /** Try frame pointers when SFrame does not cover a PC (CONFIG_HAVE_UNWIND_USER_FP). Default true. */
  readonly fpFallback?: boolean;
  readonly outermost?: OutermostPolicy;
  /**
   * Register-based RA/FP/CFA rules below the topmost frame. "kernel" (default): refused, as
   * `unwind_user_next_common` only reads registers from pt_regs in the topmost frame — so a realigned
   * (DRAP) frame, whose caller's FP is at *(FP + 0), ends the trace when it is not topmost.
   * "unwound-sp-fp": a proposed relaxation — SP and FP (and the link register while topmost) come
   * from the unwind state in every frame, which is what those rules mean.
   */
  readonly registerRules?: "kernel" | "unwound-sp-fp";
}
