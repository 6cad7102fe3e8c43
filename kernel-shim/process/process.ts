import { AddressSpace } from "../mm/address-space.ts";
import type { SyscallEvent } from "../strace/event.ts";
import { StraceLog } from "../strace/log.ts";
import { FdTable } from "./fd-table.ts";
import type { Kernel } from "./kernel.ts";
import { type CharDescription, charStat } from "./open-file.ts";
import { copyRegisters, type Registers, zeroRegisters } from "./registers.ts";

/** What exec left behind for /proc and for tests: the kernel's mm->start_code etc. and the auxv. */
export interface ExecImage {
  /** bprm->filename: the path exec was asked to run (readlink /proc/self/exe gives `exePath`). */
  readonly filename: string;
  readonly argv: readonly string[];
  readonly envp: readonly string[];
  /** The executable's load bias (0 for ET_EXEC). */
  readonly loadBias: number;
  /** Entry point of the executable (AT_ENTRY). */
  readonly entry: number;
  /** Where execution starts: the interpreter's entry, or AT_ENTRY without one. */
  readonly startPc: number;
  /** AT_BASE: the interpreter's load address, 0 without one. */
  readonly interpBase: number;
  readonly interpPath: string | undefined;
  readonly phdrAddr: number;
  /** AT_SYSINFO_EHDR (0 when no vDSO was mapped). */
  readonly vdsoBase: number;
  /** mm->saved_auxv: [type, value] pairs without the terminating AT_NULL. */
  readonly auxv: readonly (readonly [number, bigint])[];
  /** bprm->p: the initial stack pointer. */
  readonly sp: number;
  readonly argStart: number;
  readonly envStart: number;
  readonly envEnd: number;
  readonly startCode: number;
  readonly endCode: number;
  readonly startData: number;
  readonly endData: number;
  readonly startBrk: number;
}

export type ProcessState = "running" | "zombie";

/**
 * A process (task + mm + files): pid, address space, file descriptor table, cwd, executable path,
 * registers, clear_child_tid address, TLS base, exit status. Created empty by `Process.spawn`, given
 * an image by exec (exec/binfmt-elf.ts), duplicated by `fork`, torn down by `exit`.
 */
export class Process {
  readonly kernel: Kernel;
  readonly pid: number;
  readonly ppid: number;
  mm: AddressSpace;
  fds: FdTable;
  cwd: string;
  /** d_path of the executable (/proc/self/exe) or how to resolve it; undefined before the first exec. */
  private exe: string | (() => string) | undefined;
  get exePath(): string | undefined {
    if (typeof this.exe === "function") this.exe = this.exe();
    return this.exe;
  }
  set exePath(path: string | undefined) {
    this.exe = path;
  }
  /** exec's d_path of the new image, resolved when first read (binfmt_elf). */
  setExePath(resolve: () => string): void {
    this.exe = resolve;
  }
  regs: Registers;
  /** set_tid_address / CLONE_CHILD_CLEARTID: cleared and futex-woken at exit. */
  tidAddress = 0n;
  /** x86_64 FS base (arch_prctl ARCH_SET_FS), the TLS pointer. */
  fsBase = 0n;
  gsBase = 0n;
  exitStatus: number | undefined;
  state: ProcessState = "running";
  image: ExecImage | undefined;
  /** This process's own log; the kernel-wide log (if any) receives the same events. */
  readonly log: StraceLog;
  /** Bytes written to fd 1 and 2 while they are the initial character devices. */
  readonly stdout: CharDescription;
  readonly stderr: CharDescription;

  private constructor(kernel: Kernel, pid: number, ppid: number, mm: AddressSpace, fds: FdTable, log: StraceLog) {
    this.kernel = kernel;
    this.pid = pid;
    this.ppid = ppid;
    this.mm = mm;
    this.fds = fds;
    this.cwd = "/";
    this.exePath = undefined;
    this.regs = zeroRegisters(kernel.arch);
    this.log = log;
    this.stdout = charSink("/dev/pts/0");
    this.stderr = charSink("/dev/pts/0");
    kernel.processes.set(pid, this);
  }

  /** A new process with an empty address space and fds 0-2 on character devices, ready for exec. */
  static spawn(kernel: Kernel, options: { readonly cwd?: string; readonly log?: StraceLog } = {}): Process {
    const mm = AddressSpace.forArch(kernel.arch, seedOption(kernel.aslrSeed));
    const p = new Process(kernel, kernel.allocPid(), 1, mm, new FdTable(), options.log ?? new StraceLog());
    p.fds.installAt(0, charSink("/dev/pts/0"));
    p.fds.installAt(1, p.stdout);
    p.fds.installAt(2, p.stderr);
    if (options.cwd) p.cwd = options.cwd;
    return p;
  }

  /** Record a syscall in this process's log and the kernel-wide one. */
  record(ev: SyscallEvent): void {
    const e = ev.pid === this.pid ? ev : { ...ev, pid: this.pid };
    this.log.record(e);
    this.kernel.log?.record(e);
  }

  /** Text written to fd 1 (while it is the initial stdout). */
  stdoutText(): string {
    return Buffer.concat(this.stdout.written).toString("latin1");
  }

  /**
   * fork(): a child with a copy of the address space (private pages copied, so parent and child
   * writes stay apart: the effect of copy-on-write), the same open descriptions, cwd, exe and
   * registers. clear_child_tid is not inherited (only CLONE_CHILD_CLEARTID sets it). SFrame
   * registrations follow `keepSframe` (default: the kernel's option, itself defaulting to none).
   */
  fork(options: { readonly keepSframe?: boolean } = {}): Process {
    const forkedMm = this.mm.fork();
    const child = new Process(
      this.kernel,
      this.kernel.allocPid(),
      this.pid,
      forkedMm,
      this.fds.clone(),
      new StraceLog(this.log.options),
    );
    child.cwd = this.cwd;
    child.exePath = this.exePath;
    child.regs = copyRegisters(this.regs);
    child.fsBase = this.fsBase;
    child.gsBase = this.gsBase;
    child.image = this.image;
    this.kernel.sframe.onFork?.(this, child, options.keepSframe ?? this.kernel.forkKeepsSframe);
    return child;
  }

  /**
   * exit_group(status): close every fd, drop the address space (every VMA and page freed; the SFrame
   * tree with it, `sframe_free_mm`), and become a zombie holding the status. Idempotent.
   */
  exit(status: number): void {
    if (this.state !== "running") return;
    this.exitStatus = status & 0xff;
    this.fds.closeAll();
    this.kernel.sframe.onMmRelease?.(this);
    this.mm = AddressSpace.forArch(this.kernel.arch);
    this.tidAddress = 0n;
    this.state = "zombie";
  }

  /** wait(): reap a zombie child, removing it from the process table. */
  reap(): number | undefined {
    if (this.state !== "zombie") return undefined;
    this.kernel.processes.delete(this.pid);
    return this.exitStatus;
  }
}

function seedOption(seed: number | undefined): { randomizeSeed?: number } {
  return seed === undefined ? {} : { randomizeSeed: seed };
}

function charSink(path: string): CharDescription {
  // /dev/pts/N: makedev(136, N), mode 0620 — what a terminal on fd 0-2 reports.
  return { kind: "char", path, flags: 2, pos: 0, refs: 0, stat: { ...charStat(0x8800n), mode: 0o020620 }, written: [] };
}
