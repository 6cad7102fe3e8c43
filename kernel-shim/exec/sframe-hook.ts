import type { Process } from "../process/process.ts";

/**
 * Where the kernel series' binfmt_elf registers SFrame sections at exec, and the mm lifecycle points
 * that touch the per-mm registry. The exec loader calls `registerAtExec` once per program header with
 * PF_X of the executable (then of the interpreter) when that object has a PT_GNU_SFRAME, with the
 * load bias applied and p_memsz lengths (not page-rounded), and ignores the result, as the series
 * does. Another work item implements the registry behind it; the default does nothing.
 */
export interface SframeExecRange {
  /** bias + PT_GNU_SFRAME p_vaddr. */
  readonly sframeAddr: number;
  /** PT_GNU_SFRAME p_memsz. */
  readonly sframeLen: number;
  /** bias + p_vaddr of the PF_X program header. */
  readonly textStart: number;
  /** p_memsz of the PF_X program header. */
  readonly textLen: number;
  /** Which object of the exec: the program itself or its PT_INTERP. */
  readonly object: "executable" | "interpreter";
  /** The object's path (bprm->filename or the PT_INTERP string). */
  readonly path: string;
}

export interface ExecSframeRegistrar {
  /** `sframe_add_section` at exec: 0 or -errno (the caller ignores it, as binfmt_elf does). */
  registerAtExec(proc: Process, range: SframeExecRange): number;
  /**
   * fork: the child's mm starts with an empty tree in the series (`mm_init` → `mt_init`); `keep`
   * carries the simulator's option to copy the parent's registrations instead.
   */
  onFork?(parent: Process, child: Process, keep: boolean): void;
  /** exec (before the new image registers) and exit: the old mm's tree is freed (`sframe_free_mm`). */
  onMmRelease?(proc: Process): void;
}

/** The default: no SFrame support in the kernel being modelled. */
export const NO_SFRAME_REGISTRAR: ExecSframeRegistrar = {
  registerAtExec: () => 0,
};
