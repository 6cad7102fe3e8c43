import { errno, type SyscallContext } from "./context.ts";

/** RLIM64_INFINITY. */
export const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;
export const RLIMIT_STACK = 3;
const RLIM_NLIMITS = 16;

/**
 * The limits a process starts with: the kernel's INIT_RLIMITS for what a login session normally
 * leaves untouched (RLIMIT_STACK = _STK_LIM 8 MiB soft, unlimited hard: what glibc's
 * `__pthread_initialize_minimal` reads on this machine); every other limit unlimited.
 */
function defaultLimits(): [bigint, bigint][] {
  const l: [bigint, bigint][] = Array.from({ length: RLIM_NLIMITS }, () => [RLIM_INFINITY, RLIM_INFINITY]);
  l[RLIMIT_STACK] = [8n * 1024n * 1024n, RLIM_INFINITY];
  return l;
}

const limits = new WeakMap<object, [bigint, bigint][]>();

/** The process's limits (kept with its pid-level identity: they survive exec, as signal->rlim does). */
export function processLimits(proc: object): [bigint, bigint][] {
  let l = limits.get(proc);
  if (!l) {
    l = defaultLimits();
    limits.set(proc, l);
  }
  return l;
}

/**
 * prlimit64(pid, resource, new, old) for the calling process (pid 0 or its own): EINVAL for an unknown
 * resource or soft > hard, ESRCH for another pid (not modelled), EFAULT for an unwritable `old`;
 * raising the hard limit needs CAP_SYS_RESOURCE (EPERM: the model runs unprivileged).
 */
export function sysPrlimit64(ctx: SyscallContext): bigint {
  const pid = ctx.int(0);
  const resource = ctx.uint(1);
  if (pid !== 0 && pid !== ctx.proc.pid) return errno("ESRCH");
  if (resource >= RLIM_NLIMITS) return errno("EINVAL");
  const all = processLimits(ctx.proc);
  const cur = all[resource] as [bigint, bigint];
  let next: [bigint, bigint] | undefined;
  if (ctx.u64(2) !== 0n) {
    const b = ctx.readBuffer(2, 16);
    if (typeof b === "string" || b.length < 16) return errno("EFAULT");
    const v = new DataView(b.buffer, b.byteOffset, 16);
    next = [v.getBigUint64(0, true), v.getBigUint64(8, true)];
    if (next[0] > next[1]) return errno("EINVAL");
    if (next[1] > cur[1]) return errno("EPERM");
  }
  if (ctx.u64(3) !== 0n) {
    const out = new Uint8Array(16);
    const v = new DataView(out.buffer);
    v.setBigUint64(0, cur[0], true);
    v.setBigUint64(8, cur[1], true);
    if (ctx.writeBuffer(3, out) !== true) return errno("EFAULT");
    ctx.peek(3, { kind: "rlimit", cur: cur[0], max: cur[1] });
  }
  if (next) all[resource] = next;
  return 0n;
}
