import { Errno, type ErrnoName } from "../errno.ts";
import type { Kernel } from "../process/kernel.ts";
import type { Process } from "../process/process.ts";

/** One injected failure: the `nth` call (1-based, counted from when the plan was armed) of `syscall` returns -errno. */
export interface FaultRule {
  readonly syscall: string;
  readonly nth: number;
  readonly errno: ErrnoName;
  /** Consecutive calls to fail starting at the nth (strace's `when=N..M` range); default 1. */
  readonly count?: number;
  /** Only calls of this pid (default: any process of the kernel). */
  readonly pid?: number;
  /**
   * stacktrace_setup only: which operation the count applies to (1 = REGISTER, 2 = UNREGISTER);
   * default both. Lets a test fail the 2nd registration without counting unregistrations.
   */
  readonly op?: number;
}

/** A failure that was injected, for timelines and assertions. */
export interface InjectedFault {
  readonly pid: number;
  readonly syscall: string;
  readonly call: number;
  readonly errno: ErrnoName;
}

/**
 * Fault injection in the model kernel, like `strace -e inject=SYSCALL:error=ERRNO:when=N`: the call
 * fails before the kernel does anything (no side effect), with the chosen errno, and strace shows
 * it like any other failed call. Counting is per syscall name over the processes the rule selects.
 */
export class FaultPlan {
  private readonly counts = new Map<string, number>();
  readonly injected: InjectedFault[] = [];

  constructor(readonly rules: readonly FaultRule[]) {}

  /** The raw return to inject for this call (-errno), or undefined to let the kernel run it. */
  check(proc: Process, name: string, args: readonly bigint[]): bigint | undefined {
    let result: bigint | undefined;
    for (const [i, r] of this.rules.entries()) {
      if (r.syscall !== name) continue;
      if (r.pid !== undefined && r.pid !== proc.pid) continue;
      if (r.op !== undefined && Number(BigInt.asIntN(32, args[0] ?? 0n)) !== r.op) continue;
      const key = `${i}`;
      const n = (this.counts.get(key) ?? 0) + 1;
      this.counts.set(key, n);
      if (result === undefined && n >= r.nth && n < r.nth + (r.count ?? 1)) {
        result = -BigInt(Errno[r.errno]);
        this.injected.push({ pid: proc.pid, syscall: name, call: n, errno: r.errno });
      }
    }
    return result;
  }
}

const plans = new WeakMap<Kernel, FaultPlan>();

/** Arm a plan on a kernel (replacing any previous one); returns it. */
export function armFaults(kernel: Kernel, rules: readonly FaultRule[]): FaultPlan {
  const p = new FaultPlan(rules);
  plans.set(kernel, p);
  return p;
}

/** Disarm the kernel's plan. */
export function disarmFaults(kernel: Kernel): void {
  plans.delete(kernel);
}

/** The dispatcher's hook: -errno when a rule fires for this call, else undefined. */
export function injectedFault(proc: Process, name: string, args: readonly bigint[]): bigint | undefined {
  const p = plans.get(proc.kernel);
  return p === undefined ? undefined : p.check(proc, name, args);
}
