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

/** One frame of perf's output: its address and every name perf printed for it (inline entries included). */
export interface PerfFrame {
  readonly addr: bigint;
  readonly names: readonly string[];
}

/** GCC clone suffixes (`.constprop.0`, `.isra.0`, `.part.0`, `.cold`): perf's inline names omit them. */
export function baseName(name: string): string {
  return name.replace(/(\.(constprop|isra|part|cold|lto_priv|localalias)(\.\d+)?)+$/, "");
}

/**
 * perf's user frames: kernel frames dropped, and the entries perf adds for inlined functions folded
 * into the frame they belong to: perf prints an inline chain as consecutive lines with the frame's
 * address (util/machine.c append_inlines), marked "(inlined)" — sometimes every line of the chain.
 */
export function perfUserFrames(p: PerfScriptSample): PerfFrame[] {
  const out: Array<{ addr: bigint; names: string[] }> = [];
  for (const f of p.frames) {
    if (f.dso === "kernel.kallsyms" || f.dso === "[kernel.kallsyms]" || f.dso.startsWith("[kernel.")) continue;
    const prev = out[out.length - 1];
    if (prev && prev.addr === f.addr) prev.names.push(f.sym);
    else out.push({ addr: f.addr, names: [f.sym] });
  }
  return out;
}

/**
 * Symbol-by-symbol agreement with perf's DWARF callchain. perf names a caller frame at return
 * address − 1, so each replayed caller frame is compared through the function containing pc − 1
 * (ReplayFrame.caller), with every alias at that function's address (perf may print
 * __libc_start_main_impl where the symbol table also has __libc_start_main) and without GCC clone
 * suffixes. Unresolved frames match when both are unresolved at the same call site (perf's address =
 * ours − 1).
 */
export function compareWithPerf(s: ReplayedSample, perf: PerfScriptSample | undefined): Comparison {
  if (!perf) return { verdict: "absent", ours: s.frames.length, theirs: 0 };
  const theirs = perfUserFrames(perf);
  return verdictOf(s.frames.length, theirs.length, (i) =>
    frameMatches(s.frames[i] as ReplayFrame, theirs[i] as PerfFrame, i),
  );
}

function frameMatches(ours: ReplayFrame, theirs: PerfFrame, i: number): boolean {
  // Unresolved on our side: perf may still name the address ([unknown], or a PLT stub perf
  // synthesizes as `name@plt`, which the object's symbol tables do not have): compare call sites.
  if (ours.caller === undefined) {
    const addressOnly = theirs.names.every((n) => n === "[unknown]" || n.endsWith("@plt"));
    return addressOnly && ours.rel - (i === 0 ? 0n : 1n) === theirs.addr;
  }
  const mine = new Set((ours.caller?.names ?? []).map(baseName));
  return theirs.names.some((n) => mine.has(baseName(n)));
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
