/**
 * Deterministic mutation fuzzing of the ELF readers. Seeds are the real files committed under
 * test/fixtures (plus two writer outputs that carry RELR and GNU versioning); every mutant goes
 * through every reader API (test/support/elf-probes.ts). Properties:
 *   - only LdsimError subclasses escape (no TypeError/RangeError, no hang);
 *   - no input takes longer than 50 ms (best of up to four runs, so a GC pause is not blamed on it);
 *   - no single read is larger than the input, and the heap does not grow with header counts.
 * FUZZ_ITERATIONS and FUZZ_SEED override the defaults (100,000 inputs, seed 0x1df). A failure
 * prints the seed file, iteration and mutations, which replay exactly. The run takes about 15 s of
 * CPU; the timeout is generous so a loaded CI machine slows it down rather than failing it.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EM_386, EM_AARCH64 } from "../../../formats/elf/constants.ts";
import { writeElf } from "../../../formats/elf/writer.ts";
import { buildSharedLibrary } from "../../../formats/elf/writer-library.ts";
import { makeSeed, mutate, type Seed } from "../../../fuzz/engine/mutate-elf.ts";
import { Rng } from "../../../fuzz/engine/rng.ts";
import { probeElf } from "../../support/elf-probes.ts";

const fixtures = join(import.meta.dirname, "../../fixtures");
const { FUZZ_ITERATIONS, FUZZ_SEED } = process.env;
const ITERATIONS = Number(FUZZ_ITERATIONS ?? 100_000);
const RNG_SEED = Number(FUZZ_SEED ?? 0x1df);
const SLOW_MS = 50;

function isElf(path: string): boolean {
  const b = readFileSync(path);
  return b.length > 4 && b[0] === 0x7f && b[1] === 0x45 && b[2] === 0x4c && b[3] === 0x46;
}

/** Real files, smallest first, capped at 20 KiB each so a mutant parses in microseconds. */
function realSeeds(): Seed[] {
  const dirs = [
    "elf/i386",
    "elf/x86_64",
    "sframe/v3/x86_64",
    "sframe/v3/aarch64",
    "sframe/v3/s390x",
    "sframe/v1/x86_64",
  ];
  const out: Seed[] = [];
  for (const d of dirs) {
    const dir = join(fixtures, d);
    for (const f of readdirSync(dir).sort()) {
      const p = join(dir, f);
      if (f.endsWith(".txt") || !statSync(p).isFile() || statSync(p).size > 20 * 1024 || !isElf(p)) continue;
      out.push(makeSeed(`${d}/${f}`, new Uint8Array(readFileSync(p))));
    }
  }
  return out;
}

/** Writer outputs: the only seeds with DT_RELR and with every dynamic table at once. */
function writerSeeds(): Seed[] {
  const lib = buildSharedLibrary({
    soname: "libfuzz.so.1",
    needed: ["libc.so.6"],
    runpath: "$ORIGIN",
    functions: [{ name: "f1", version: "V1" }, { name: "f2", version: "V2" }, { name: "f3" }],
    data: [{ name: "d1", bytes: new Uint8Array(8) }],
    imports: [{ name: "puts", version: "GLIBC_2.2.5" }],
    initArray: ["f1"],
    sframe: new Uint8Array(24),
    versions: {
      definitions: [{ name: "V1" }, { name: "V2", parent: "V1" }],
      needs: [{ file: "libc.so.6", versions: [{ name: "GLIBC_2.2.5" }] }],
    },
  });
  const relr = writeElf({
    class: 32,
    endian: "big",
    type: "dyn",
    machine: EM_386,
    sections: [{ name: ".data", flags: "wa", align: 4, data: new Uint8Array(256) }],
    dynamic: {
      soname: "librelr.so",
      symbols: [{ name: "d", section: ".data", size: 4, type: "object" }],
      relr: [0, 4, 8, 64, 200, 252].map((o) => ({ section: ".data", offset: o })),
    },
  });
  const aarch = buildSharedLibrary({
    machine: EM_AARCH64,
    soname: "liba64.so",
    functions: [{ name: "g" }],
    imports: ["h"],
  });
  return [
    makeSeed("writer/libfuzz.so.1", lib.bytes),
    makeSeed("writer/librelr.so", relr),
    makeSeed("writer/liba64.so", aarch.bytes),
  ];
}

describe("ELF reader fuzzing", () => {
  const seeds = [...realSeeds(), ...writerSeeds()];

  it("has seeds of both classes and byte orders", () => {
    const shapes = seeds.map((s) => s.shape).filter((s) => s !== undefined);
    expect(shapes.some((s) => s.is64 && s.littleEndian)).toBe(true);
    expect(shapes.some((s) => s.is64 && !s.littleEndian)).toBe(true);
    expect(shapes.some((s) => !s.is64)).toBe(true);
    expect(seeds.length).toBeGreaterThanOrEqual(10);
  });

  it("every seed reads cleanly before mutation", () => {
    for (const s of seeds) {
      const r = probeElf(s.bytes, s.name);
      expect(r.errors, s.name).toEqual([]);
    }
  });

  it(`${ITERATIONS} mutants raise only LdsimErrors, quickly, reading nothing beyond the input`, {
    timeout: 300_000,
  }, () => {
    const rng = new Rng(RNG_SEED);
    const heapStart = process.memoryUsage().heapUsed;
    let heapPeak = heapStart;
    let slowest = { ms: 0, what: "" };
    let withErrors = 0;
    let maxReadRatio = 0;
    const started = performance.now();
    const cpuStart = process.cpuUsage();
    for (let i = 0; i < ITERATIONS; i++) {
      const seed = seeds[i % seeds.length] as Seed;
      const m = mutate(seed, rng);
      const what = `${seed.name} #${i} [${m.kinds.join(", ")}]`;
      const t0 = performance.now();
      let report: ReturnType<typeof probeElf>;
      try {
        report = probeElf(m.bytes, seed.name);
      } catch (e) {
        throw new Error(`non-ldsim error on ${what}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
      let ms = performance.now() - t0;
      // A garbage-collection pause or a JIT tier-up can stretch one run; a slow input is slow every
      // time, so an input over the limit is re-run and judged on its best time.
      for (let retry = 0; ms > SLOW_MS / 2 && retry < 3; retry++) {
        const t1 = performance.now();
        probeElf(m.bytes, seed.name);
        ms = Math.min(ms, performance.now() - t1);
      }
      if (ms > slowest.ms) slowest = { ms, what };
      if (report.errors.length > 0) withErrors++;
      if (report.maxRead > report.size)
        throw new Error(`read of ${report.maxRead} bytes from a ${report.size}-byte input: ${what}`);
      if (report.size > 0) maxReadRatio = Math.max(maxReadRatio, report.maxRead / report.size);
      if (i % 2000 === 0) heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
    }
    const total = performance.now() - started;
    const cpu = process.cpuUsage(cpuStart);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const heapGrowthMb = (heapPeak - heapStart) / 2 ** 20;
    console.log(
      `ELF fuzz: ${ITERATIONS} inputs from ${seeds.length} seeds in ${(total / 1000).toFixed(1)} s ` +
        `(${((total * 1000) / ITERATIONS).toFixed(0)} µs/input, ${cpuSeconds.toFixed(1)} s CPU); ${withErrors} raised LdsimErrors; ` +
        `slowest ${slowest.ms.toFixed(2)} ms (${slowest.what}); largest read ${(maxReadRatio * 100).toFixed(0)}% of input; ` +
        `heap growth ${heapGrowthMb.toFixed(1)} MiB`,
    );
    expect(slowest.ms, slowest.what).toBeLessThan(SLOW_MS);
    expect(heapGrowthMb).toBeLessThan(256);
  });
});
