import { errorKind } from "./error-kind.ts";
import { DEFAULT_LIMITS, judge, type Limits } from "./judge.ts";
import { inputRng } from "./rng.ts";
import type { FuzzSeed, FuzzTarget } from "./target.ts";

export interface RunOptions {
  readonly iterations: number;
  readonly seed: number;
  /** First input index (a run of N from index K replays inputs K..K+N-1 of the same seed). */
  readonly start?: number;
  readonly limits?: Limits;
  /** Called every `progressEvery` inputs (for long runs). */
  readonly onProgress?: (done: number, report: RunReport) => void;
  readonly progressEvery?: number;
  /** Called the first time an error kind is seen (the corpus keeps such inputs). */
  readonly onNewKind?: (kind: string, input: Uint8Array, index: number) => void;
  /** Stop after this many distinct findings (default: never stop early). */
  readonly maxFindings?: number;
}

export interface Finding {
  readonly signature: string;
  readonly detail: string;
  readonly index: number;
  readonly input: Uint8Array;
  /** How many inputs broke the same property. */
  count: number;
}

export interface RunReport {
  readonly target: string;
  readonly seed: number;
  iterations: number;
  seconds: number;
  /** Inputs the code answered with at least one typed error. */
  inputsWithErrors: number;
  /** Distinct error kinds (class + message template) → how often, and the first input index. */
  readonly errorKinds: Map<string, { count: number; first: number }>;
  slowest: { ms: number; index: number; size: number };
  largestAlloc: { bytes: number; index: number; size: number };
  readonly findings: Map<string, Finding>;
}

/** The seeds a target starts from (fixtures first, then the corpus). */
export function seedsOf(target: FuzzTarget, corpus: readonly FuzzSeed[]): FuzzSeed[] {
  return [...target.seeds(), ...corpus];
}

/** Input `index` of a run seeded with `seed`. */
export function inputAt(target: FuzzTarget, seeds: readonly FuzzSeed[], seed: number, index: number): Uint8Array {
  return target.generate(inputRng(seed, index), seeds);
}

/** Generate and judge `iterations` inputs; every input is reproducible from (seed, index). */
export function fuzz(target: FuzzTarget, seeds: readonly FuzzSeed[], options: RunOptions): RunReport {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const start = options.start ?? 0;
  const report: RunReport = {
    target: target.name,
    seed: options.seed,
    iterations: 0,
    seconds: 0,
    inputsWithErrors: 0,
    errorKinds: new Map(),
    slowest: { ms: 0, index: -1, size: 0 },
    largestAlloc: { bytes: 0, index: -1, size: 0 },
    findings: new Map(),
  };
  const t0 = performance.now();
  const every = options.progressEvery ?? 10_000;
  for (let i = start; i < start + options.iterations; i++) {
    const input = inputAt(target, seeds, options.seed, i);
    const v = judge(target, input, limits);
    report.iterations++;
    if (v.ms > report.slowest.ms) report.slowest = { ms: v.ms, index: i, size: input.length };
    if (v.allocated > report.largestAlloc.bytes)
      report.largestAlloc = { bytes: v.allocated, index: i, size: input.length };
    const errors = v.outcome?.errors ?? [];
    if (errors.length > 0) report.inputsWithErrors++;
    for (const e of errors) {
      const kind = errorKind(e);
      const k = report.errorKinds.get(kind);
      if (k) k.count++;
      else {
        report.errorKinds.set(kind, { count: 1, first: i });
        options.onNewKind?.(kind, input, i);
      }
    }
    if (v.signature !== undefined) {
      const f = report.findings.get(v.signature);
      if (f) f.count++;
      else
        report.findings.set(v.signature, { signature: v.signature, detail: v.detail ?? "", index: i, input, count: 1 });
      if (options.maxFindings !== undefined && report.findings.size >= options.maxFindings) break;
    }
    if (options.onProgress && (i - start + 1) % every === 0) {
      report.seconds = (performance.now() - t0) / 1000;
      options.onProgress(i - start + 1, report);
    }
  }
  report.seconds = (performance.now() - t0) / 1000;
  return report;
}

/** The summary `npm run fuzz` prints for one target. */
export function formatReport(r: RunReport, maxKinds = 40): string {
  const lines: string[] = [];
  const rate = r.seconds > 0 ? Math.round(r.iterations / r.seconds) : 0;
  lines.push(`target ${r.target}: ${r.iterations} inputs, seed ${r.seed}, ${r.seconds.toFixed(1)} s (${rate}/s)`);
  lines.push(`  inputs answered with typed errors: ${r.inputsWithErrors}`);
  lines.push(`  distinct error kinds: ${r.errorKinds.size}`);
  const kinds = [...r.errorKinds.entries()].sort((a, b) => b[1].count - a[1].count);
  for (const [kind, k] of kinds.slice(0, maxKinds)) lines.push(`    ${String(k.count).padStart(9)}  ${kind}`);
  if (kinds.length > maxKinds) lines.push(`    … ${kinds.length - maxKinds} more`);
  lines.push(
    `  slowest input: #${r.slowest.index} (${r.slowest.size} bytes) ${r.slowest.ms.toFixed(2)} ms` +
      ` — replay: --seed ${r.seed} --index ${r.slowest.index}`,
  );
  lines.push(
    `  largest heap growth: ${(r.largestAlloc.bytes / 1024).toFixed(0)} KiB for #${r.largestAlloc.index} (${r.largestAlloc.size} bytes)`,
  );
  lines.push(`  findings: ${r.findings.size}`);
  for (const f of r.findings.values()) {
    lines.push(`    [${f.count}×] ${f.signature} — first #${f.index} (--seed ${r.seed} --index ${f.index})`);
    lines.push(`      ${f.detail.split("\n").slice(0, 6).join("\n      ")}`);
  }
  return lines.join("\n");
}
