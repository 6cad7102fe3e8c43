import { injectedFault } from "../fault/fault-plan.ts";
import type { Process } from "../process/process.ts";
import type { SyscallEvent } from "../strace/event.ts";
import { sysFaccessat } from "./access.ts";
import { errno, type SyscallArg, SyscallContext } from "./context.ts";
import { sysClose, sysLseek, sysOpen, sysOpenat, sysPread64, sysRead, sysWrite } from "./file.ts";
import { sysBrk, sysMmap, sysMprotect, sysMunmap } from "./memory.ts";
import { syscallName, syscallNumber } from "./numbers.ts";
import { AT_FDCWD } from "./path-lookup.ts";
import { sysExecve, sysFork } from "./process.ts";
import { sysReadlinkat } from "./readlink.ts";
import { sysPrlimit64 } from "./resource.ts";
import { sysFstat, sysNewfstatat, sysStat } from "./stat.ts";
import { sysArchPrctl, sysExitGroup, sysGetpid, sysSetTidAddress } from "./thread.ts";
import { sysRseq, sysSetRobustList } from "./thread-setup.ts";

/** Number of argument registers each call uses (what the log records and strace prints). */
const ARITY: Readonly<Record<string, number>> = {
  read: 3,
  write: 3,
  open: 3,
  close: 1,
  stat: 2,
  fstat: 2,
  lstat: 2,
  lseek: 3,
  mmap: 6,
  mprotect: 3,
  munmap: 2,
  brk: 1,
  pread64: 4,
  access: 2,
  getpid: 0,
  gettid: 0,
  exit: 1,
  exit_group: 1,
  readlink: 3,
  readlinkat: 4,
  arch_prctl: 2,
  set_tid_address: 1,
  openat: 4,
  newfstatat: 4,
  faccessat: 3,
  faccessat2: 4,
  stacktrace_setup: 5,
  prctl: 5,
  execve: 3,
  fork: 0,
  clone: 5,
  set_robust_list: 2,
  rseq: 4,
  prlimit64: 4,
  getppid: 0,
};

/** arm64 open flags → the generic values the handlers use (O_DIRECTORY/O_NOFOLLOW/O_DIRECT/O_LARGEFILE). */
function aarch64OpenFlags(f: bigint): bigint {
  const swaps: [bigint, bigint][] = [
    [0o40000n, 0o200000n],
    [0o100000n, 0o400000n],
    [0o200000n, 0o40000n],
    [0o400000n, 0o100000n],
  ];
  let out = f & ~(0o40000n | 0o100000n | 0o200000n | 0o400000n);
  for (const [from, to] of swaps) if ((f & from) !== 0n) out |= to;
  return out;
}

/** s390x old_mmap: the six arguments are read from a user block of longs (big-endian). */
function s390OldMmapArgs(ctx: SyscallContext): bigint[] | undefined {
  const b = ctx.readBuffer(0, 48);
  // A host buffer shorter than the block faults like an unmapped tail would (copy_from_user fails).
  if (typeof b === "string" || b.length < 48) return undefined;
  const v = new DataView(b.buffer, b.byteOffset, 48);
  return [0, 1, 2, 3, 4, 5].map((i) => v.getBigUint64(i * 8, false));
}

function run(name: string, ctx: SyscallContext): bigint | undefined {
  const p = ctx.proc;
  switch (name) {
    case "openat":
      return sysOpenat(ctx, ctx.int(0), 1, 2);
    case "open":
      return sysOpen(ctx);
    case "close":
      return sysClose(ctx);
    case "read":
      return sysRead(ctx);
    case "pread64":
      return sysPread64(ctx);
    case "write":
      return sysWrite(ctx);
    case "lseek":
      return sysLseek(ctx);
    case "newfstatat":
      return sysNewfstatat(ctx, ctx.int(0), 1, 2, ctx.int(3));
    case "fstat":
      return sysFstat(ctx);
    case "stat":
      return sysStat(ctx, true);
    case "lstat":
      return sysStat(ctx, false);
    case "access":
      return sysFaccessat(ctx, AT_FDCWD, 0, ctx.int(1));
    case "faccessat":
      return sysFaccessat(ctx, ctx.int(0), 1, ctx.int(2));
    case "faccessat2":
      return sysFaccessat(ctx, ctx.int(0), 1, ctx.int(2), ctx.int(3));
    case "readlink":
      return sysReadlinkat(ctx, AT_FDCWD, 0, 1, 2);
    case "readlinkat":
      return sysReadlinkat(ctx, ctx.int(0), 1, 2, 3);
    case "mmap": {
      if (p.kernel.arch === "s390x") {
        const a = s390OldMmapArgs(ctx);
        return a ? sysMmap(ctx, a) : errno("EFAULT");
      }
      return sysMmap(
        ctx,
        [0, 1, 2, 3, 4, 5].map((i) => ctx.u64(i)),
      );
    }
    case "munmap":
      return sysMunmap(ctx);
    case "mprotect":
      return sysMprotect(ctx);
    case "brk":
      return sysBrk(ctx);
    case "arch_prctl":
      return sysArchPrctl(ctx);
    case "set_tid_address":
      return sysSetTidAddress(ctx);
    case "getpid":
    case "gettid":
      return sysGetpid(ctx);
    case "getppid":
      return BigInt(p.ppid);
    case "set_robust_list":
      return sysSetRobustList(ctx);
    case "rseq":
      return sysRseq(ctx);
    case "prlimit64":
      return sysPrlimit64(ctx);
    case "exit":
    case "exit_group":
      sysExitGroup(ctx);
      return undefined;
    case "execve":
      return sysExecve(ctx);
    case "fork":
      return sysFork(ctx);
    case "clone":
      // Only fork-like clones (SIGCHLD, no CLONE_VM/CLONE_THREAD) are modelled.
      return (ctx.u64(0) & ~0xffn) === 0n ? sysFork(ctx) : errno("EINVAL");
    case "stacktrace_setup": {
      const hook = p.kernel.stacktraceSetup;
      if (!hook) return errno("ENOSYS");
      return BigInt(
        hook(
          p,
          [0, 1, 2, 3, 4].map((i) => ctx.u64(i)),
        ),
      );
    }
    case "prctl": {
      // Only options a registration design adds (proposal lab); any other option is EINVAL as in sys_prctl.
      const r = p.kernel.prctl?.(
        p,
        [0, 1, 2, 3, 4].map((i) => ctx.u64(i)),
      );
      return r === undefined ? errno("EINVAL") : BigInt(r);
    }
    default:
      return errno("ENOSYS");
  }
}

/** Path arguments strace reads whatever the kernel did with them (it reads the tracee's memory itself). */
const PATH_ARGS: Readonly<Record<string, number>> = {
  openat: 1,
  open: 0,
  newfstatat: 1,
  stat: 0,
  lstat: 0,
  access: 0,
  faccessat: 1,
  faccessat2: 1,
  readlink: 0,
  readlinkat: 1,
  execve: 0,
};

export interface SyscallOutcome {
  /** The raw return (≥ 0 or -errno); 0 for a call that does not return (exit_group). */
  readonly ret: bigint;
  /** What was logged, with what strace would have read from memory (decoded stat, bytes read, ...). */
  readonly event: SyscallEvent;
}

/**
 * Run one system call of `proc` by name ("openat") or by number on the kernel's architecture (257 on
 * x86_64, 56 on aarch64, 288 on s390x), record it in the process's strace log and return the outcome.
 * Never throws for bad arguments: errors are `-errno` as the kernel returns them. A name the
 * architecture lacks (arch_prctl on aarch64, open on aarch64) or an unknown number is ENOSYS; a call
 * on an exited process is ESRCH.
 */
export function invokeSyscall(proc: Process, call: string | number, args: readonly SyscallArg[] = []): SyscallOutcome {
  const arch = proc.kernel.arch;
  let nr: number | undefined;
  let name: string | undefined;
  if (typeof call === "number") {
    nr = call;
    name = syscallName(arch, call);
  } else {
    nr = syscallNumber(arch, call);
    name = nr !== undefined ? call : undefined;
  }
  const ctx0 = new SyscallContext(proc, args);
  const arity = name !== undefined ? (ARITY[name] ?? 6) : 6;
  const rawArgs: bigint[] = new Array(arity);
  for (let i = 0; i < arity; i++) rawArgs[i] = ctx0.u64(i);
  let ctx = ctx0;
  if (arch === "aarch64" && name === "openat") {
    ctx = new SyscallContext(proc, [args[0] ?? 0, args[1] ?? 0, aarch64OpenFlags(ctx0.u64(2)), args[3] ?? 0]);
  }
  let ret: bigint | undefined;
  if (proc.state !== "running") ret = errno("ESRCH");
  else if (name === undefined) ret = errno("ENOSYS");
  else ret = injectedFault(proc, name, rawArgs) ?? run(name, ctx);
  // A call that failed before reading its path still shows the path in strace's line.
  const pathArg = name !== undefined ? PATH_ARGS[name] : undefined;
  if (pathArg !== undefined && ctx.peeks[pathArg] === undefined) ctx.path(pathArg);
  // The context is dropped here: its peeks are the event's own (no copy needed).
  const event: SyscallEvent =
    nr !== undefined
      ? ctx.peekCount > 0
        ? { name: name ?? `syscall_${nr}`, nr, args: rawArgs, ret, peeks: ctx.peeks, pid: proc.pid }
        : { name: name ?? `syscall_${nr}`, nr, args: rawArgs, ret, pid: proc.pid }
      : ctx.peekCount > 0
        ? { name: name ?? `syscall_${call}`, args: rawArgs, ret, peeks: ctx.peeks, pid: proc.pid }
        : { name: name ?? `syscall_${call}`, args: rawArgs, ret, pid: proc.pid };
  proc.record(event);
  return { ret: ret ?? 0n, event };
}

/** `syscall(proc, "openat", AT_FDCWD, "/etc/ld.so.cache", O_RDONLY | O_CLOEXEC)` → raw return. */
export function syscall(proc: Process, call: string | number, ...args: SyscallArg[]): bigint {
  return invokeSyscall(proc, call, args).ret;
}
