import { errno, type SyscallContext } from "./context.ts";

/** sizeof(struct robust_list_head) on 64-bit (kernel/futex/syscalls.c checks it exactly). */
const ROBUST_LIST_HEAD_SIZE = 24n;
/** ORIG_RSEQ_SIZE: the 32-byte struct rseq every kernel accepts (kernel/rseq.c). */
const ORIG_RSEQ_SIZE = 32n;
const RSEQ_FLAG_UNREGISTER = 1;

/** Per-process state of the two registrations glibc makes in `__tls_init_tp`. */
export interface ThreadRegistrations {
  robustList: bigint;
  rseq: { readonly addr: bigint; readonly len: bigint; readonly sig: number } | undefined;
}

const state = new WeakMap<object, ThreadRegistrations>();

/** The robust-list head and rseq area registered by `proc` (fresh after exec, since exec replaces mm). */
export function threadRegistrations(proc: { readonly mm: object }): ThreadRegistrations {
  let s = state.get(proc.mm);
  if (!s) {
    s = { robustList: 0n, rseq: undefined };
    state.set(proc.mm, s);
  }
  return s;
}

/** set_robust_list(head, len): EINVAL unless len is the head's size; the pointer is only stored. */
export function sysSetRobustList(ctx: SyscallContext): bigint {
  if (ctx.u64(1) !== ROBUST_LIST_HEAD_SIZE) return errno("EINVAL");
  threadRegistrations(ctx.proc).robustList = ctx.u64(0);
  return 0n;
}

/**
 * rseq(rseq, rseq_len, flags, sig) — kernel/rseq.c: unregister with RSEQ_FLAG_UNREGISTER (EINVAL
 * on a mismatch), EINVAL for other flags, EBUSY/EPERM for a second registration (same area and
 * signature: EBUSY; different: EINVAL/EPERM), EINVAL for a short or misaligned area, EFAULT when
 * it is not writable. Registration writes cpu_id_start/cpu_id (RSEQ_CPU_ID_UNINITIALIZED until the
 * task next returns to user space, which this model does not schedule).
 */
export function sysRseq(ctx: SyscallContext): bigint {
  const addr = ctx.u64(0);
  const len = BigInt(ctx.uint(1));
  const flags = ctx.int(2);
  const sig = ctx.uint(3);
  const regs = threadRegistrations(ctx.proc);
  if (flags & RSEQ_FLAG_UNREGISTER) {
    if (flags & ~RSEQ_FLAG_UNREGISTER) return errno("EINVAL");
    if (regs.rseq?.addr !== addr) return errno("EINVAL");
    if (regs.rseq.len !== len) return errno("EINVAL");
    if (regs.rseq.sig !== sig) return errno("EPERM");
    regs.rseq = undefined;
    return 0n;
  }
  if (flags !== 0) return errno("EINVAL");
  if (regs.rseq) {
    if (regs.rseq.addr !== addr || regs.rseq.len !== len) return errno("EINVAL");
    if (regs.rseq.sig !== sig) return errno("EPERM");
    return errno("EBUSY");
  }
  if (addr % ORIG_RSEQ_SIZE !== 0n || len < ORIG_RSEQ_SIZE) return errno("EINVAL");
  // cpu_id_start = 0, cpu_id = RSEQ_CPU_ID_UNINITIALIZED (-1) as rseq_reset_rseq_cpu_node_id leaves them.
  const init = new Uint8Array(8);
  new DataView(init.buffer).setInt32(4, -1, true);
  if (ctx.writeBuffer(0, init) !== true) return errno("EFAULT");
  regs.rseq = { addr, len, sig };
  return 0n;
}
