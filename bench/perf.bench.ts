/**
 * perf.data replay throughput: samples per second replayed through the modelled kernel unwinder
 * (`ldsim perf script` without printing), next to the wall time of `perf script` on the same file in
 * the same run (perf's own DWARF unwinding, output to /dev/null). The file is recorded now when perf
 * can (the v3 fixture spinning for 4 s at 2 kHz, --call-graph dwarf,8192); otherwise the committed
 * test/fixtures/perf/spin.perf.data is used and perf script is timed only if perf is installed.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EhFrame } from "../formats/dwarf/eh-frame.ts";
import { ElfFile } from "../formats/elf/file.ts";
import { PerfData } from "../formats/perf/perf-data.ts";
import { sframeFromCfi } from "../formats/sframe/from-cfi.ts";
import { sampleLines } from "../kernel-shim/replay/perf-script-text.ts";
import { type ReplayOptions, replaySamples } from "../kernel-shim/replay/replay.ts";

const ROOT = join(import.meta.dirname, "..");
const MAIN = join(ROOT, "test", "fixtures", "sframe", "v3", "x86_64", "main");

function hasPerf(): boolean {
  const r = spawnSync("perf", ["--version"], { stdio: "ignore" });
  return !r.error && r.status === 0;
}

function replay(file: string, options: ReplayOptions): { samples: number; ms: number; frames: number } {
  const t0 = performance.now();

  const data = PerfData.openPath(file);
  let samples = 0;
  let frames = 0;
  let bytes = 0;
  for (const s of replaySamples(data, options)) {
    samples++;
    frames += s.frames.length;
    bytes += sampleLines(s).join("\n").length;
  }
  data.close();
  void bytes;
  return { samples, frames, ms: performance.now() - t0 };
}

export async function run(): Promise<void> {
  const perf = hasPerf();
  const dir = mkdtempSync(join(tmpdir(), "ldsim-perf-bench-"));
  try {
    let file = join(ROOT, "test", "fixtures", "perf", "spin.perf.data");
    if (perf) {
      const rec = join(dir, "bench.perf.data");
      const r = spawnSync(
        "perf",
        ["record", "-q", "-e", "cpu-clock", "-F", "2000", "--call-graph", "dwarf,8192", "-o", rec, MAIN],
        { stdio: "ignore", env: { ...process.env, FIXTURE_SPIN_SECONDS: "4" } },
      );
      if (r.status === 0 && existsSync(rec)) file = rec;
      else process.stdout.write("perf record failed: using the committed spin.perf.data\n");
    } else process.stdout.write("perf not installed: replaying the committed spin.perf.data, no perf script figure\n");
    const size = statSync(file).size;
    process.stdout.write(
      `file: ${file === join(dir, "bench.perf.data") ? "recorded now" : file} (${(size / 1e6).toFixed(1)} MB)\n`,
    );

    const configs: Array<[string, ReplayOptions]> = [
      ["default (kernel rules, libc without SFrame)", {}],
      [
        "--register-rules unwound-sp-fp --libc-sframe from-eh-frame",
        { registerRules: "unwound-sp-fp", libcSframe: "from-eh-frame" },
      ],
    ];
    // perf script timed like the replay: best of five after two warm-up runs (warm page cache for both).
    let perfMs: number | undefined;
    if (perf) {
      const times: number[] = [];
      for (let i = 0; i < 7; i++) {
        const t0 = performance.now();
        const r = spawnSync("perf", ["script", "-i", file], { stdio: ["ignore", "ignore", "ignore"] });
        if (r.status !== 0) break;
        if (i > 1) times.push(performance.now() - t0);
      }
      perfMs = times.length > 0 ? Math.min(...times) : undefined;
    }
    for (const [name, options] of configs) {
      // Two warm-up runs (JIT, page cache), then the best of five, as perf script is timed.
      replay(file, options);
      replay(file, options);
      const runs = [0, 1, 2, 3, 4].map(() => replay(file, options));
      const best = runs.sort((a, b) => a.ms - b.ms)[0] as ReturnType<typeof replay>;
      const rate = best.samples / (best.ms / 1000);
      let line = `ldsim perf script [${name}]: ${best.samples} samples, ${best.frames} frames in ${best.ms.toFixed(0)} ms = ${rate.toFixed(0)} samples/s`;
      if (perfMs !== undefined) {
        line += `; perf script (DWARF): ${perfMs.toFixed(0)} ms = ${(best.samples / (perfMs / 1000)).toFixed(0)} samples/s; ldsim ${(perfMs / best.ms).toFixed(1)}x faster`;
      }
      process.stdout.write(`${line}\n`);
    }
    // The fixed cost inside the second configuration: libc's .eh_frame converted to SFrame, once per process.
    const libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
    if (existsSync(libc)) {
      const elf = ElfFile.openPath(libc);
      const sec = elf.section(".eh_frame");
      if (sec) {
        const eh = new EhFrame(elf.sectionData(sec), sec.addr, elf.littleEndian, elf.is64, libc);
        sframeFromCfi(eh, 0n, 0n);
        const t0 = performance.now();
        const conv = sframeFromCfi(eh, 0n, 0n);
        const ms = performance.now() - t0;
        process.stdout.write(
          `  of which, once per process: libc .eh_frame -> SFrame (${conv.functions} functions) ${ms.toFixed(0)} ms\n`,
        );
      }
      elf.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
