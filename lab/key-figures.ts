import type { Comparison } from "./compare.ts";
import { coverage } from "./metrics.ts";

/**
 * The figures that define each design's behaviour on a workload. docs/proposals-table.md carries them
 * (generated with the tables); test/lab/table.test.ts recomputes them and fails when they differ, so
 * the README's table cannot silently go out of date.
 */
export interface KeyFigures {
  readonly syscallsAdded: number;
  readonly uncoveredLive: number;
  readonly staleEntries: number;
  readonly wrongSection: number;
  readonly samplesFull: number;
  readonly samplesWrong: number;
  readonly coveragePercent: number;
  readonly kernelBytesPeak: number;
  readonly refused: number;
}

export function keyFigures(c: Comparison): Record<string, KeyFigures> {
  const out: Record<string, KeyFigures> = {};
  for (const r of c.runs) {
    out[r.design] = {
      syscallsAdded: r.syscalls.added,
      uncoveredLive: r.windows.uncoveredLive,
      staleEntries: r.windows.staleEntries,
      wrongSection: r.windows.wrongSection,
      samplesFull: r.samples.full,
      samplesWrong: r.samples.wrong,
      coveragePercent: coverage(r),
      kernelBytesPeak: r.memory.peak,
      refused: Object.values(r.registrationErrors).reduce((a, b) => a + b, 0),
    };
  }
  return out;
}

/** Workloads whose figures depend on the machine (its programs and libraries): tables shown, not pinned. */
export const MACHINE_DEPENDENT = new Set(["startup"]);

const BEGIN = "<!-- key-figures";
const END = "-->";

/** The key-figures block embedded in the generated Markdown. */
export function keyFiguresBlock(all: Readonly<Record<string, Record<string, KeyFigures>>>): string {
  return `${BEGIN}\n${JSON.stringify(all, null, 1)}\n${END}\n`;
}

/** Read the block back from a generated file; undefined when there is none. */
export function parseKeyFiguresBlock(text: string): Record<string, Record<string, KeyFigures>> | undefined {
  const i = text.indexOf(BEGIN);
  if (i < 0) return undefined;
  const j = text.indexOf(END, i);
  if (j < 0) return undefined;
  return JSON.parse(text.slice(i + BEGIN.length, j)) as Record<string, Record<string, KeyFigures>>;
}
