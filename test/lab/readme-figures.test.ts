/**
 * The README's "Key figures" table is written by hand from the generated docs/proposals-table.md: each
 * pinned figure it quotes must still be the committed one (which table.test.ts checks against a fresh
 * run), so the README cannot drift from the lab's results.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DESIGN_NAMES } from "../../lab/designs/index.ts";
import { committed } from "./table-check.ts";

const README = readFileSync(join(import.meta.dirname, "..", "..", "README.md"), "utf8");

/** The README row starting with `label`, as its cells per design (in the table's column order). */
function row(label: string): Map<string, string> {
  const line = README.split("\n").find((l) => l.startsWith(`| ${label}`));
  if (!line) throw new Error(`README has no key-figures row "${label}"`);
  const cells = line.split("|").slice(2, -1);
  return new Map(DESIGN_NAMES.map((d, i) => [d, cells[i] ?? ""]));
}

/** Every number in a cell, in order ("4000: 2000 after mmap" → [4000, 2000]). */
const numbers = (cell: string) =>
  [...cell.replace(/,(\d{3})/g, "$1").matchAll(/\d+(?:\.\d+)?/g)].map((m) => Number(m[0]));

/** `want` appears in `have` as a subsequence. */
function subsequence(want: readonly number[], have: readonly number[]): boolean {
  let i = 0;
  for (const h of have) if (i < want.length && h === want[i]) i++;
  return i === want.length;
}

type Field = "syscallsAdded" | "uncoveredLive" | "staleEntries" | "wrongSection" | "samplesWrong" | "coveragePercent";

const ROWS: readonly [string, string, readonly Field[], readonly string[]][] = [
  ["added syscalls, plugin host", "plugin-host", ["syscallsAdded"], DESIGN_NAMES],
  [
    "uncovered live code / stale / wrong-section, plugin host",
    "plugin-host",
    ["uncoveredLive", "staleEntries", "wrongSection"],
    DESIGN_NAMES,
  ],
  ["race, dlclose unregisters before munmap", "sampler-race", ["staleEntries", "wrongSection"], DESIGN_NAMES],
  ["race, dlclose munmaps first", "sampler-race-late-unregister", ["staleEntries", "wrongSection"], DESIGN_NAMES],
  ["fixture program", "fixtures", ["coveragePercent"], DESIGN_NAMES],
  ["JIT code", "jit", ["syscallsAdded", "coveragePercent"], DESIGN_NAMES],
  ["damaged SFrame: samples", "sframe-quality", ["samplesWrong"], ["syscall", "prctl", "mmap-detect", "lazy"]],
];

describe("README key figures = docs/proposals-table.md", () => {
  for (const [label, workload, fields, designs] of ROWS) {
    it(label, () => {
      const cells = row(label);
      for (const d of designs) {
        const figures = committed?.[workload]?.[d as (typeof DESIGN_NAMES)[number]];
        expect(figures, `${workload}/${d}`).toBeDefined();
        const want = fields.map((f) => (figures as Record<Field, number>)[f]);
        expect(
          subsequence(want, numbers(cells.get(d) ?? "")),
          `${label} / ${d}: ${want.join(", ")} in "${cells.get(d)}"`,
        ).toBe(true);
      }
    });
  }
});
