/**
 * The perf script text writer: sample times in perf's "%5lu.%06lu" (builtin-script.c), now formatted
 * with number arithmetic below 2^53, must equal the plain bigint quotient and remainder for every
 * time; and the UTF-8 chunks of writeScriptBytes (headers written from cached parts and digits)
 * must be exactly each sample's `sampleLines` joined and encoded, names beyond ASCII included.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  sampleHeader,
  sampleLines,
  writeScriptBytes,
  writeScriptText,
} from "../../../kernel-shim/replay/perf-script-text.ts";
import type { ReplayedSample, ReplayFrame } from "../../../kernel-shim/replay/replay.ts";

function sample(
  time: bigint | undefined,
  frames: readonly ReplayFrame[] = [],
  comm = "main",
  more: { tid?: number; period?: bigint | undefined; kernel?: readonly bigint[] } = {},
): ReplayedSample {
  return {
    index: 0,
    offset: 0,
    pid: 7,
    tid: more.tid ?? 7,
    comm,
    time,
    period: "period" in more ? more.period : 500000n,
    event: "cpu-clock",
    cpumode: 2,
    kernelChain: more.kernel ?? [0xffffffff81000130n],
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
    const expected = (list: readonly ReplayedSample[], convention: "ra" | "ra-1") =>
      Buffer.from(list.map((x) => `${sampleLines(x, convention).join("\n")}\n\n`).join(""), "utf8");
    const bytesOf = (list: readonly ReplayedSample[], convention: "ra" | "ra-1") => {
      const chunks: Buffer[] = [];
      writeScriptBytes(list, convention, (b) => chunks.push(Buffer.from(b)));
      return Buffer.concat(chunks);
    };
    for (const convention of ["ra", "ra-1"] as const) {
      expect(bytesOf(samples, convention).equals(expected(samples, convention))).toBe(true);
      const texts: string[] = [];
      writeScriptText(samples, convention, (t) => texts.push(t));
      expect(texts.join("")).toBe(expected(samples, convention).toString("utf8"));
      expect(texts.join("")).toContain("fonction_été+0x");
    }
    // Many samples: several chunks, a chunk boundary inside a sample.
    const many = Array.from({ length: 20_000 }, (_, i) =>
      sample(
        BigInt(i) * 123_456_789n + (i % 7 === 0 ? 2n ** 60n : 0n),
        i % 3 === 0 ? [] : shared,
        i % 5 ? "main" : "prögram",
        {
          tid: 7 + (i % 2),
        },
      ),
    );
    const big = bytesOf(many, "ra");
    expect(big.length).toBeGreaterThan(4 << 18);
    expect(big.equals(expected(many, "ra"))).toBe(true);
    // Times across seconds and beyond 2^53, changing comm, tid, period.
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            time: fc.option(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { nil: undefined }),
            comm: fc.constantFrom("main", "prögram", "a b"),
            tid: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
            period: fc.option(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { nil: undefined }),
            frames: fc.constantFrom(shared, [] as ReplayFrame[]),
            kernel: fc.array(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { maxLength: 3 }),
          }),
          { maxLength: 4000 },
        ),
        (rows) => {
          const list = rows.map((r) =>
            sample(
              r.time,
              r.frames,
              r.comm,
              r.tid === 0 ? { period: r.period, kernel: r.kernel } : { tid: r.tid, period: r.period, kernel: r.kernel },
            ),
          );
          expect(bytesOf(list, "ra").equals(expected(list, "ra"))).toBe(true);
        },
      ),
      { numRuns: 20 },
    );
  });
});
