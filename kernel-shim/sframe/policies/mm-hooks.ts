import type { OpenFile } from "../../mm/vma.ts";
import type { Process } from "../../process/process.ts";

/**
 * Points in the memory syscalls where a registration design that lives in the kernel (not in ld.so)
 * hooks in: after a successful `mmap` (the new range is in place) and before `munmap` (the old range
 * is still there). The series itself has neither hook (sframe-and-kernel.md §2.6: "munmap / mprotect
 * / mremap: no hook"); they exist so the proposal lab can model designs that would add them.
 */
export interface SframeMmHooks {
  /** After `mmap` returned `addr` (page-aligned start) for `len` bytes. */
  afterMmap?(
    proc: Process,
    addr: bigint,
    len: bigint,
    prot: number,
    flags: number,
    file: OpenFile | undefined,
    offset: bigint,
  ): void;
  /** Before `munmap(addr, len)` runs (whatever it will return). */
  beforeMunmap?(proc: Process, addr: bigint, len: bigint): void;
}

/**
 * `prctl(option, arg2, arg3, arg4, arg5)` for the options a design adds; undefined when the option is
 * not one of them (the dispatcher then answers -EINVAL, as `sys_prctl` does for an unknown option).
 */
export type PrctlHandler = (proc: Process, args: readonly bigint[]) => number | undefined;
