import type { ExecOptions } from "../exec/binfmt-elf.ts";
import { type ExecSframeRegistrar, NO_SFRAME_REGISTRAR } from "../exec/sframe-hook.ts";
import type { KernelFs } from "../fs/types.ts";
import type { MmArch } from "../mm/layout-constants.ts";
import type { PrctlHandler, SframeMmHooks } from "../sframe/policies/mm-hooks.ts";
import type { StraceLog } from "../strace/log.ts";
import { InodeCache } from "./inode-cache.ts";
import type { Process } from "./process.ts";

export interface KernelOptions {
  readonly arch?: MmArch;
  /** First pid handed out (the real system's next pid is arbitrary; tests pick one). */
  readonly firstPid?: number;
  /** ASLR: undefined = `setarch -R` (ADDR_NO_RANDOMIZE); a seed randomizes over the kernel's ranges. */
  readonly aslrSeed?: number;
  /** The SFrame hook binfmt_elf calls at exec. */
  readonly sframe?: ExecSframeRegistrar;
  /** fork keeps the parent's SFrame registrations (default false: the series' empty tree). */
  readonly forkKeepsSframe?: boolean;
  /** A log every process records its syscalls into (each process may also have its own). */
  readonly log?: StraceLog;
  /** Handler of syscall 472 (`stacktrace_setup`, the RFC); without one the call is ENOSYS. */
  readonly stacktraceSetup?: StacktraceSetupHandler;
  /** Registration-design hooks in mmap/munmap (the proposal lab's mmap-detect design); none by default. */
  readonly sframeMmHooks?: SframeMmHooks;
  /** Handler of prctl(2) options a design adds (PR_ADD_SFRAME / PR_REMOVE_SFRAME); without one prctl is EINVAL. */
  readonly prctl?: PrctlHandler;
  /** What execve(2) through the dispatcher passes to binfmt_elf (vDSO image, arch profile, AT_RANDOM seed). */
  readonly exec?: Omit<ExecOptions, "argv" | "envp">;
}

/** The reserved hook for `stacktrace_setup(op, sframe, sframe_len, text, text_len)`: 0 or -errno. */
export type StacktraceSetupHandler = (proc: Process, args: readonly bigint[]) => number;

/**
 * The machine-wide state processes share: the file system, the inode cache (one inode per file,
 * as the page cache), the pid allocator, the process table and the SFrame hook.
 */
export class Kernel {
  readonly fs: KernelFs;
  readonly arch: MmArch;
  readonly inodes = new InodeCache();
  readonly processes = new Map<number, Process>();
  readonly sframe: ExecSframeRegistrar;
  readonly forkKeepsSframe: boolean;
  readonly aslrSeed: number | undefined;
  readonly log: StraceLog | undefined;
  readonly execOptions: Omit<ExecOptions, "argv" | "envp">;
  /** Set by the SFrame work item to implement syscall 472. */
  stacktraceSetup: StacktraceSetupHandler | undefined;
  /** mmap/munmap hooks of a registration design (proposal lab). */
  readonly sframeMmHooks: SframeMmHooks | undefined;
  /** prctl options of a registration design (proposal lab). */
  readonly prctl: PrctlHandler | undefined;
  private nextPid: number;

  constructor(fs: KernelFs, options: KernelOptions = {}) {
    this.fs = fs;
    this.arch = options.arch ?? "x86_64";
    this.nextPid = options.firstPid ?? 1000;
    this.sframe = options.sframe ?? NO_SFRAME_REGISTRAR;
    this.forkKeepsSframe = options.forkKeepsSframe ?? false;
    this.aslrSeed = options.aslrSeed;
    this.log = options.log;
    this.stacktraceSetup = options.stacktraceSetup;
    this.sframeMmHooks = options.sframeMmHooks;
    this.prctl = options.prctl;
    this.execOptions = options.exec ?? {};
  }

  /** alloc_pid: the next free pid. */
  allocPid(): number {
    while (this.processes.has(this.nextPid)) this.nextPid++;
    return this.nextPid++;
  }
}
