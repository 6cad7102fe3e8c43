import type { UnwindTrace } from "./types.ts";

/**
 * Deferred user-stack unwinding as upstream `kernel/unwind/deferred.c` does it: a tracer (perf with
 * `--call-graph fp,defer`) asks for a user stack from interrupt context and gets a cookie; the unwind
 * itself happens once, when the task returns to user space (a faultable context where SFrame data can
 * be read), and the one trace is handed to every tracer that asked during that kernel entry.
 *
 * Return values follow `unwind_deferred_request`: 0 = queued now, 1 = already queued (or already
 * delivered) in this kernel entry, negative errno otherwise.
 */

/** Bits 0 and 1 of a task's unwind mask are reserved (UNWIND_PENDING, UNWIND_USED). */
const RESERVED_BITS = 2;
const MASK_BITS = 32;

export type DeferredCallback = (work: DeferredWork, trace: UnwindTrace, cookie: bigint) => void;

export interface DeferredWork {
  /** Bit assigned by `unwind_deferred_init`; -1 once cancelled. */
  bit: number;
  readonly callback: DeferredCallback;
  readonly name: string;
}

/** Per-task state (`struct unwind_task_info`). */
export interface DeferredTaskInfo {
  /** Kernel thread or exiting task: requests are refused with -EINVAL. */
  readonly isUserTask: boolean;
  /** Which works asked during the current kernel entry. */
  mask: number;
  /** Which works have been called back in this entry (so a repeat request returns 1). */
  delivered: number;
  /** Cookie of the current entry; 0n = none assigned yet. */
  cookie: bigint;
  /** The trace computed at return to user, cached for every callback of that entry. */
  cache: UnwindTrace | undefined;
}

export function newDeferredTaskInfo(isUserTask = true): DeferredTaskInfo {
  return { isUserTask, mask: 0, delivered: 0, cookie: 0n, cache: undefined };
}

export class DeferredUnwinder {
  private usedBits = 0;
  /** Per-CPU context counters (`unwind_ctx_ctr`), indexed by CPU number. */
  private readonly cpuCounters: number[];
  private readonly works = new Set<DeferredWork>();

  constructor(
    /** Computes the user stack of a task; called at most once per kernel entry. */
    private readonly unwind: (task: DeferredTaskInfo) => UnwindTrace,
    cpus = 1,
  ) {
    this.cpuCounters = new Array(cpus).fill(0);
  }

  /** `unwind_deferred_init`: reserve a bit; -EBUSY (-16) when all are taken. */
  init(name: string, callback: DeferredCallback): DeferredWork | -16 {
    for (let bit = RESERVED_BITS; bit < MASK_BITS; bit++) {
      if ((this.usedBits & (1 << bit)) === 0) {
        this.usedBits |= 1 << bit;
        const work: DeferredWork = { bit, callback, name };
        this.works.add(work);
        return work;
      }
    }
    return -16;
  }

  /** `unwind_deferred_cancel`: release the bit; pending requests for it are dropped. */
  cancel(work: DeferredWork, tasks: readonly DeferredTaskInfo[] = []): void {
    if (work.bit < 0) return;
    const m = 1 << work.bit;
    this.usedBits &= ~m;
    for (const t of tasks) {
      t.mask &= ~m;
      t.delivered &= ~m;
    }
    this.works.delete(work);
    work.bit = -1;
  }

  /**
   * `get_cookie`: one id per kernel entry, never 0 — low 32 bits the CPU number + 1, high 32 bits the
   * per-CPU counter advanced by 2 with the low bit forced on (x86 little-endian union {cpu, cnt}).
   */
  private cookieFor(task: DeferredTaskInfo, cpu: number): bigint {
    if (task.cookie !== 0n) return task.cookie;
    const cnt = ((this.cpuCounters[cpu] ?? 0) + 2) | 1;
    this.cpuCounters[cpu] = cnt >>> 0;
    task.cookie = (BigInt(cnt >>> 0) << 32n) | BigInt(cpu + 1);
    return task.cookie;
  }

  /** `unwind_deferred_request(work, &cookie)`. */
  request(task: DeferredTaskInfo, work: DeferredWork, cpu = 0): { readonly ret: 0 | 1 | -22; readonly cookie: bigint } {
    if (!task.isUserTask || work.bit < 0) return { ret: -22, cookie: 0n };
    const cookie = this.cookieFor(task, cpu);
    const m = 1 << work.bit;
    if ((task.mask & m) !== 0 || (task.delivered & m) !== 0) return { ret: 1, cookie };
    task.mask |= m;
    return { ret: 0, cookie };
  }

  /**
   * Return to user space (`unwind_deferred_task_work`): unwind once, call every requesting work once,
   * then start a new entry (cookie and cache reset). Returns the trace, or undefined if nothing was asked.
   */
  returnToUser(task: DeferredTaskInfo): UnwindTrace | undefined {
    if (task.mask === 0) {
      task.cookie = 0n;
      task.cache = undefined;
      task.delivered = 0;
      return undefined;
    }
    task.cache ??= this.unwind(task);
    const trace = task.cache;
    const cookie = task.cookie;
    for (const work of [...this.works].sort((a, b) => a.bit - b.bit)) {
      const m = 1 << work.bit;
      if ((task.mask & m) === 0 || (task.delivered & m) !== 0) continue;
      task.delivered |= m;
      work.callback(work, trace, cookie);
    }
    task.mask = 0;
    task.delivered = 0;
    task.cookie = 0n;
    task.cache = undefined;
    return trace;
  }

  /** `unwind_deferred_task_exit`: pending work still runs when the task exits. */
  taskExit(task: DeferredTaskInfo): UnwindTrace | undefined {
    return this.returnToUser(task);
  }
}
