/**
 * Replays every minimized fuzz finding committed under test/fixtures/fuzz-regressions/<target>/
 * (written by `npm run fuzz`, see fuzz/README.md): each must now pass every property the fuzzer
 * checks — only typed errors, no violation, bounded time and allocation. The .json beside each
 * .bin says what it once broke.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadRegressions } from "../../fuzz/engine/corpus.ts";
import { DEFAULT_LIMITS, judge } from "../../fuzz/engine/judge.ts";
import { TARGET_NAMES } from "../../fuzz/engine/target.ts";
import { loadTarget } from "../../fuzz/targets/index.ts";

describe("committed fuzz regressions", () => {
  for (const name of TARGET_NAMES) {
    const files = loadRegressions(name);
    if (files.length === 0) continue;
    describe(name, () => {
      for (const f of files) {
        const info = JSON.parse(readFileSync(f.path.replace(/\.bin$/, ".json"), "utf8")) as { signature: string };
        it(`${f.path.split("/").pop()} (once: ${info.signature})`, async () => {
          const target = await loadTarget(name);
          if (typeof target === "string") throw new Error(target);
          // Generous time limit: a loaded CI machine must not turn a fixed regression into a failure.
          const v = judge(target, f.bytes, { ...DEFAULT_LIMITS, slowMs: 2000 });
          expect(v.signature, v.detail).toBeUndefined();
        });
      }
    });
  }

  it("has a target for every regression folder", () => {
    expect(TARGET_NAMES.length).toBeGreaterThan(0);
  });
});
