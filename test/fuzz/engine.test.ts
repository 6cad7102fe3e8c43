/**
 * The fuzz engine itself: each property is caught (non-ldsim exception, violation, slow input,
 * allocation beyond the bound), typed errors are not findings, the minimizer shrinks to the bytes
 * that matter, and input i of a seed is the same bytes however it is reached.
 */
import { describe, expect, it } from "vitest";
import { FormatError, LdsimError } from "../../formats/errors.ts";
import { DEFAULT_LIMITS, judge } from "../../fuzz/engine/judge.ts";
import { minimize } from "../../fuzz/engine/minimize.ts";
import { fuzz, inputAt } from "../../fuzz/engine/run.ts";
import { type FuzzTarget, Steps } from "../../fuzz/engine/target.ts";
import { loadTarget } from "../../fuzz/targets/index.ts";

function target(execute: (input: Uint8Array) => void): FuzzTarget {
  return {
    name: "elf",
    describe: "test",
    seeds: () => [{ name: "s", bytes: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) }],
    generate: (rng, seeds) => {
      const b = (seeds[0]?.bytes ?? new Uint8Array(0)).slice();
      b[rng.below(b.length)] = rng.below(256);
      return b;
    },
    execute(input) {
      const steps = new Steps((e) => e instanceof LdsimError);
      steps.run(() => execute(input));
      return steps.outcome();
    },
  };
}

const input = new Uint8Array([9, 9, 0x42, 9, 9, 9, 0x17, 9, 9, 9]);

describe("fuzz engine", () => {
  it("a typed error is an answer, anything else thrown is a finding", () => {
    const typed = judge(
      target(() => {
        throw new FormatError("bad");
      }),
      input,
    );
    expect(typed.signature).toBeUndefined();
    expect(typed.outcome?.errors).toHaveLength(1);
    const untyped = judge(
      target((b) => {
        if (b[2] === 0x42) throw new TypeError(`x at ${b.length}`);
      }),
      input,
    );
    expect(untyped.signature).toBe("exception TypeError: x at <n>");
  });

  it("flags a slow input and an allocation far beyond the input's size", () => {
    const slow = judge(
      target(() => {
        // Burn 30 ms of CPU (not wall time: the judge does not blame an input for being preempted).
        const c0 = process.cpuUsage();
        while (process.cpuUsage(c0).user < 30_000) {
          // spin
        }
      }),
      input,
      { ...DEFAULT_LIMITS, slowMs: 10 },
    );
    expect(slow.signature).toBe("slow");
    const keep: Uint8Array[] = [];
    const alloc = judge(
      target(() => {
        keep.push(new Uint8Array(32 << 20).fill(1));
      }),
      input,
    );
    expect(alloc.signature).toBe("allocation");
    keep.length = 0;
  });

  it("minimizes to the bytes the failure needs", () => {
    const t = target((b) => {
      if (b.includes(0x42) && b.includes(0x17)) throw new RangeError("both");
    });
    const v = judge(t, input);
    const m = minimize(t, input, v.signature ?? "", DEFAULT_LIMITS);
    expect([...m.bytes]).toEqual([0x42, 0x17]);
  });

  it("input i of a seed is the same bytes alone or within a run", async () => {
    const t = await loadTarget("sframe");
    if (typeof t === "string") throw new Error(t);
    const seeds = t.seeds();
    const seen: Uint8Array[] = [];
    const wrapped: FuzzTarget = {
      ...t,
      execute: (b) => {
        seen.push(b);
        return t.execute(b);
      },
    };
    // Limits no input reaches, so judge runs each input exactly once.
    fuzz(wrapped, seeds, {
      iterations: 5,
      seed: 77,
      start: 10,
      limits: { slowMs: 1e9, allocFactor: 1, allocSlack: 2 ** 50 },
    });
    for (let i = 0; i < 5; i++) expect(inputAt(t, seeds, 77, 10 + i)).toEqual(seen[i]);
  });
});
