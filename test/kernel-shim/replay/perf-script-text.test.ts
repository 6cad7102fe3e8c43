/**
 * The perf script text writer: sample times in perf's "%5lu.%06lu" (builtin-script.c), now formatted
 * with number arithmetic below 2^53, must equal the plain bigint quotient and remainder for every
 * time; and the UTF-8 chunks of writeScriptBytes must be exactly what writing writeScriptText's
 * strings as UTF-8 gives, names beyond ASCII included.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { sampleHeader, writeScriptBytes, writeScriptText } from "../../../kernel-shim/replay/perf-script-text.ts";
import type { ReplayedSample, ReplayFrame } from "../../../kernel-shim/replay/replay.ts";

function sample(time: bigint | undefined, frames: readonly ReplayFrame[] = [], comm = "main"): ReplayedSample {
  return {
    index: 0,
    offset: 0,
    pid: 7,
    tid: 7,
    comm,
    time,
    period: 500000n,
    event: "cpu-clock",
    cpumode: 2,
    kernelChain: [0xffffffff81000130n],
    storedUser: undefined,
    frames,
    stop: undefined,
  };
}

/** printf("%5lu.%06lu: ", secs, usecs) with bigint division. */
function reference(t: bigint): string {
  const secs = (t / 1_000_000_000n).toString().padStart(5, " ");
  const usecs = ((t % 1_000_000_000n) / 1000n).toString().padStart(6, "0");
  return `${secs}.${usecs}: `;
}

describe("perf script text", () => {
  it("formats every sample time as the bigint quotient and remainder", () => {
    const edges = [0n, 999n, 1000n, 999_999_999n, 1_000_000_000n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n];
    for (const t of edges) expect(sampleHeader(sample(t))).toContain(` ${reference(t)}`);
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (t) => {
        expect(sampleHeader(sample(t))).toBe(`main     7 ${reference(t)}    500000 cpu-clock: `);
      }),
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 53n + 10n }), (t) => {
        expect(sampleHeader(sample(t))).toBe(`main     7 ${reference(t)}    500000 cpu-clock: `);
      }),
    );
  });

  it("writes the same bytes as the text encoded as UTF-8", () => {
    const frame = (pc: bigint, name: string, dso: string): ReplayFrame => ({
      pc,
      rel: pc - 0x1000n,
      dso,
      sym: { name, offset: 4n },
      caller: { names: [name], offset: 3n, name },
    });
    const shared = [frame(0x1234n, "main_callback", "/bin/main"), frame(0x2345n, "fonction_été", "/lib/libé.so")];
    const samples = [
      sample(1_000_000n, shared),
      sample(2_000_000n, shared, "prögram"),
      sample(3_000_000n, []),
      sample(undefined, [frame(0x99n, "x".repeat(300_000), "/big")]),
      sample(4_000_000n, shared),
    ];
    for (const convention of ["ra", "ra-1"] as const) {
      const texts: string[] = [];
      writeScriptText(samples, convention, (t) => texts.push(t));
      const chunks: Buffer[] = [];
      writeScriptBytes(samples, convention, (b) => chunks.push(Buffer.from(b)));
      expect(Buffer.concat(chunks).equals(Buffer.from(texts.join(""), "utf8"))).toBe(true);
      expect(texts.join("")).toContain("fonction_été+0x");
      expect(texts.join("").split("\n\n").length).toBe(samples.length + 1);
    }
  });
});
