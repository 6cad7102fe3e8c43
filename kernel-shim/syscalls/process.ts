import { execElf } from "../exec/binfmt-elf.ts";
import { errno, type SyscallContext } from "./context.ts";

/**
 * execve(path, argv, envp): binfmt_elf with the kernel's exec options. 0 on success (the caller's
 * registers now point at the new entry and stack), -errno when exec failed before the point of no
 * return; after it the process is dead (SIGSEGV) and the call reports the errno it died of.
 */
export function sysExecve(ctx: SyscallContext): bigint {
  const path = ctx.path(0);
  if (typeof path !== "string") return errno(path.errno);
  const argv = ctx.stringArray(1);
  if (!Array.isArray(argv)) return errno(argv.errno);
  const envp = ctx.stringArray(2);
  if (!Array.isArray(envp)) return errno(envp.errno);
  const r = execElf(ctx.proc, path, { ...ctx.proc.kernel.execOptions, argv, envp });
  return r.ok ? 0n : errno(r.errno);
}

/** fork() / clone(SIGCHLD): the child's pid in the parent (the child is in kernel.processes). */
export function sysFork(ctx: SyscallContext): bigint {
  return BigInt(ctx.proc.fork().pid);
}
