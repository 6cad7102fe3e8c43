import { getHeapStatistics } from "node:v8";
import { errorKind, messageTemplate } from "./error-kind.ts";
import type { FuzzTarget, Outcome } from "./target.ts";

/** Per-input limits: time, and allocation relative to the input's size. */
export interface Limits {
  /** An input slower than this (best of up to four runs) is a finding. */
  readonly slowMs: number;
  /** An input whose heap growth exceeds `allocFactor × size + allocSlack` (twice in a row) is a finding. */
  readonly allocFactor: number;
  readonly allocSlack: number;
}

export const DEFAULT_LIMITS: Limits = { slowMs: 250, allocFactor: 16, allocSlack: 8 << 20 };

/** What one input did, and the property it broke, if any. */
export interface Verdict {
  readonly outcome: Outcome | undefined;
  /** min(wall, CPU) milliseconds of the best run. */
  readonly ms: number;
  /** Heap (JS + ArrayBuffer) growth across the run, bytes; a GC during the run can only lower it. */
  readonly allocated: number;
  /** Stable name of the broken property (the minimizer keeps inputs that break the same one). */
  readonly signature: string | undefined;
  readonly detail: string | undefined;
}

function heap(): number {
  const h = getHeapStatistics();
  return h.used_heap_size + h.external_memory;
}

function once(
  target: FuzzTarget,
  input: Uint8Array,
): { outcome?: Outcome; thrown?: unknown; ms: number; allocated: number } {
  const h0 = heap();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  // The smaller of wall and CPU time: on a loaded machine a preempted input is not slow, and a
  // truly slow input is slow by both clocks.
  const elapsed = () => {
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    return Math.min(wall, (c.user + c.system) / 1000);
  };
  try {
    const outcome = target.execute(input);
    return { outcome, ms: elapsed(), allocated: heap() - h0 };
  } catch (thrown) {
    return { thrown, ms: elapsed(), allocated: heap() - h0 };
  }
}

/** Run `input` through `target` and check every property: typed errors only, violations, time, allocation. */
export function judge(target: FuzzTarget, input: Uint8Array, limits: Limits = DEFAULT_LIMITS): Verdict {
  const r = once(target, input);
  if (r.thrown !== undefined || !r.outcome) {
    const e = r.thrown;
    return {
      outcome: undefined,
      ms: r.ms,
      allocated: r.allocated,
      signature: `exception ${errorKind(e)}`,
      detail: e instanceof Error ? (e.stack ?? e.message) : String(e),
    };
  }
  const outcome = r.outcome;
  if (outcome.violations.length > 0) {
    const v = outcome.violations[0] ?? "";
    return {
      outcome,
      ms: r.ms,
      allocated: r.allocated,
      signature: `violation ${messageTemplate(v)}`,
      detail: outcome.violations.join("\n"),
    };
  }
  let ms = r.ms;
  // A GC pause or a JIT tier-up can stretch one run; a slow input is slow every time.
  for (let retry = 0; ms > limits.slowMs / 2 && retry < 3; retry++) ms = Math.min(ms, once(target, input).ms);
  if (ms > limits.slowMs) {
    return {
      outcome,
      ms,
      allocated: r.allocated,
      signature: "slow",
      detail: `${ms.toFixed(1)} ms > ${limits.slowMs} ms`,
    };
  }
  let allocated = r.allocated;
  const bound = limits.allocFactor * input.length + limits.allocSlack;
  if (allocated > bound) allocated = Math.min(allocated, once(target, input).allocated);
  if (allocated > bound) {
    return {
      outcome,
      ms,
      allocated,
      signature: "allocation",
      detail: `heap grew ${allocated} bytes for a ${input.length}-byte input (bound ${bound})`,
    };
  }
  return { outcome, ms, allocated, signature: undefined, detail: undefined };
}
