import type { PerfScriptSample } from "./perf-script-text.ts";
import type { ReplayedSample, ReplayFrame } from "./replay.ts";

/**
 * How a replayed trace relates to a reference trace: the same frames; the reference's frames and
 * more (deeper); a prefix of the reference (shallower); or a frame that differs. "absent": no
 * reference for this sample.
 */
export type Agreement = "equal" | "deeper" | "shallower" | "different" | "absent";

export interface Comparison {
  readonly verdict: Agreement;
  readonly ours: number;
  readonly theirs: number;
  /** Index of the first frame that differs (for "different"). */
  readonly firstDifference?: number;
}

function verdictOf(ours: number, theirs: number, same: (i: number) => boolean): Comparison {
  const n = Math.min(ours, theirs);
  for (let i = 0; i < n; i++) if (!same(i)) return { verdict: "different", ours, theirs, firstDifference: i };
  const verdict = ours === theirs ? "equal" : ours > theirs ? "deeper" : "shallower";
  return { verdict, ours, theirs };
}

/** perf's user frames: kernel frames dropped, and the inline entries perf adds for one address folded into one frame. */
export function perfUserFrames(p: PerfScriptSample): PerfScriptSample["frames"] {
  const out: PerfScriptSample["frames"][number][] = [];
  for (const f of p.frames) {
    if (f.dso === "kernel.kallsyms" || f.dso === "[kernel.kallsyms]" || f.dso.startsWith("[kernel.")) continue;
    const prev = out[out.length - 1];
    if (prev && prev.addr === f.addr) continue;
    out.push(f);
  }
  return out;
}

/**
 * Symbol-by-symbol agreement with perf's DWARF callchain. perf names a caller frame at return
 * address − 1, so each replayed caller frame is compared through the function containing pc − 1
 * (ReplayFrame.caller), with every alias at that function's address (perf may print
 * __libc_start_main_impl where the symbol table also has __libc_start_main). Unresolved frames
 * match when both are unresolved at the same call site (perf's address = ours − 1).
 */
export function compareWithPerf(s: ReplayedSample, perf: PerfScriptSample | undefined): Comparison {
  if (!perf) return { verdict: "absent", ours: s.frames.length, theirs: 0 };
  const theirs = perfUserFrames(perf);
  return verdictOf(s.frames.length, theirs.length, (i) =>
    frameMatches(s.frames[i] as ReplayFrame, theirs[i] as PerfScriptSample["frames"][number], i),
  );
}

function frameMatches(ours: ReplayFrame, theirs: PerfScriptSample["frames"][number], i: number): boolean {
  if (theirs.sym === "[unknown]") return ours.caller === undefined && ours.rel - (i === 0 ? 0n : 1n) === theirs.addr;
  return ours.caller?.names.includes(theirs.sym) ?? false;
}

/** Agreement with the callchain perf stored (the kernel's own user unwind): exact return addresses. */
export function compareWithStored(s: ReplayedSample): Comparison {
  const stored = s.storedUser;
  if (stored === undefined) return { verdict: "absent", ours: s.frames.length, theirs: 0 };
  return verdictOf(s.frames.length, stored.length, (i) => s.frames[i]?.pc === stored[i]);
}

/** Counts per verdict. */
export type Tally = Record<Agreement, number>;

export function emptyTally(): Tally {
  return { equal: 0, deeper: 0, shallower: 0, different: 0, absent: 0 };
}
