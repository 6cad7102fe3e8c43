import { existsSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { runRfcExperiment } from "../../../examples/rfc-experiment-lib.ts";
import { SynthesisError, synthesizeStack } from "../../../kernel-shim/unwind/stack-synth.ts";
import { unwindUser } from "../../../kernel-shim/unwind/unwind-user.ts";
import { type MappedLib, registerSframe } from "../../../loader/map-object.ts";

const hasLibc = existsSync("/lib/x86_64-linux-gnu/libc.so.6");

describe.skipIf(!hasLibc)("stack synthesizer ↔ unwinder", () => {
  it("for random chains over the fixtures' functions, synthesize → unwind returns exactly the chain", () => {
    const r = runRfcExperiment();
    const proc = r.process;
    // The experiment ends with libb.so unregistered: register it again so all three objects have SFrame.
    expect(registerSframe(proc, r.libs[2] as MappedLib)).toEqual([0n]);
    const objs = r.objects;
    // Functions of main, liba.so and libb.so with their SFrame (all three are registered).
    const fns: Array<{ start: bigint; size: bigint }> = [];
    for (const o of objs.objects) {
      if (!/\/(main|liba\.so|libb\.so)$/.test(o.path)) continue;
      for (const f of o.functions) {
        if (f.size < 4n || f.name.startsWith("_") || f.name.includes("tm_clones") || f.name === "frame_dummy") continue;
        if (f.name.startsWith("fixture_")) continue;
        fns.push({ start: f.value + o.bias, size: f.size });
      }
    }
    expect(fns.length).toBeGreaterThanOrEqual(8);
    const ks = r.sframe;
    const memory = { readWord: (a: bigint) => proc.mm.readU64(Number(a)) };
    let checked = 0;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(fns.length - 1), fc.double({ min: 0, max: 0.999, noNaN: true })), {
          minLength: 1,
          maxLength: 12,
        }),
        (picks) => {
          const pcs = picks.map(([i, frac]) => {
            const f = fns[i] as { start: bigint; size: bigint };
            return f.start + BigInt(Math.floor(Number(f.size) * frac));
          });
          let regs: ReturnType<typeof synthesizeStack>["regs"];
          try {
            regs = synthesizeStack(proc.mm, objs, "x86_64", pcs).regs;
          } catch (e) {
            // Some PC combinations have no consistent stack (e.g. an FP-based frame under a frame that
            // never saved FP); the synthesizer refuses them with a typed error.
            if (e instanceof SynthesisError) return;
            throw e;
          }
          const t = unwindUser("x86_64", regs, memory, ks.finder(proc.mm), { registerRules: "unwound-sp-fp" });
          expect(t.frames.slice(0, pcs.length).map((f) => f.pc)).toEqual(pcs);
          checked++;
        },
      ),
      { numRuns: 300, seed: 42 },
    );
    expect(checked).toBeGreaterThan(100);
  });
});
