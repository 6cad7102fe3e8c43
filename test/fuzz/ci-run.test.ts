/**
 * A short fixed-seed fuzz run per target (the same engine as `npm run fuzz`, fuzz/README.md): any
 * finding — a non-ldsim exception, a broken property, an input over the time or allocation bound —
 * fails the test with the (seed, index) that replays it:
 *   npm run fuzz -- --target T --seed S --index I
 * Sizes keep the whole file well under a minute on a loaded two-core machine; the time bound is
 * generous for the same reason (the fuzzer's own default is 250 ms).
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../fuzz/engine/judge.ts";
import { formatReport, fuzz, seedsOf } from "../../fuzz/engine/run.ts";
import type { TargetName } from "../../fuzz/engine/target.ts";
import { loadTarget } from "../../fuzz/targets/index.ts";

const SEED = 20261125;
const RUNS: readonly (readonly [TargetName, number])[] = [
  ["elf", 1200],
  ["sframe", 3000],
  ["syscalls", 1500],
  ["unwind", 3000],
  ["loader", 1500],
  ["perf", 1500],
];

describe("fuzz: fixed-seed CI run", () => {
  for (const [name, iterations] of RUNS) {
    it(`${name}: ${iterations} inputs, no findings`, { timeout: 60_000 }, async () => {
      const target = await loadTarget(name);
      if (typeof target === "string") {
        console.log(target);
        return;
      }
      const report = fuzz(target, seedsOf(target, []), {
        iterations,
        seed: SEED,
        limits: { ...DEFAULT_LIMITS, slowMs: 1000 },
      });
      console.log(formatReport(report, 8));
      const findings = [...report.findings.values()].map(
        (f) => `${f.signature} (--target ${name} --seed ${SEED} --index ${f.index})\n${f.detail}`,
      );
      expect(findings).toEqual([]);
      expect(report.iterations).toBe(iterations);
      // The run must reach the code's error paths, not just bounce off the first header check.
      expect(report.errorKinds.size).toBeGreaterThan(5);
    });
  }
});
