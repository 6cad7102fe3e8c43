/**
 * perf.data replay throughput: samples per second replayed through the modelled kernel unwinder by
 * `ldsim perf script`'s own path (read, replay, format the perf-script text as UTF-8, write it to /dev/null),
 * next to `perf script` on the same file in the same run (perf's own DWARF unwinding, its text written
 * to /dev/null). The file is recorded now when perf can (the v3 fixture spinning for 4 s at 2 kHz,
 * --call-graph dwarf,8192); otherwise the committed test/fixtures/perf/spin.perf.data is used and
 * perf script is timed only if perf is installed.
 *
 * Timing: the machine is shared, so after two warm-up runs of each (and more replays, for the JIT)
 * the runs are interleaved (perf script, then each ldsim configuration, ROUNDS times) and medians
 * are reported, with the median of the per-round ratios. ldsim is timed inside this process (JIT warm, Node's start-up excluded), perf
 * script as a whole process (its start-up and symbol loading included), as each is used. CPU time
 * (user + system, GNU time for perf script) is printed beside wall time: it is less disturbed by
 * other work on a shared machine, as is the load average printed before and after the runs.
 *
 * With --libc-sframe from-eh-frame, libc's .eh_frame is converted to SFrame once per process (the
 * conversion stands in for building glibc with --gsframe, which would put the section in the file)
 * and kept for later replays: the steady-state rows exclude it; the first replay in the process,
 * which includes it, is reported on its own line, as is the conversion alone.
 */
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { EhFrame } from "../formats/dwarf/eh-frame.ts";
import { ElfFile } from "../formats/elf/file.ts";
import { PerfData } from "../formats/perf/perf-data.ts";
import { sframeFromCfi } from "../formats/sframe/from-cfi.ts";
import { writeScriptBytes } from "../kernel-shim/replay/perf-script-text.ts";
import { type ReplayOptions, replaySamples } from "../kernel-shim/replay/replay.ts";

const ROOT = join(import.meta.dirname, "..");
const MAIN = join(ROOT, "test", "fixtures", "sframe", "v3", "x86_64", "main");
const ROUNDS = 9;
/** Extra replays of each configuration before timing (measured: CPU time settles after about ten). */
const JIT_WARMUP = 12;

function hasPerf(): boolean {
  const r = spawnSync("perf", ["--version"], { stdio: "ignore" });
  return !r.error && r.status === 0;
}

interface Run {
  readonly samples: number;
  readonly frames: number;
  readonly bytes: number;
  /** Wall time. */
  readonly ms: number;
  /** CPU time (user + system, every thread of the process): less disturbed by other work on the machine. */
  readonly cpuMs: number;
}

/** `ldsim perf script -i file` minus Node's start-up: the CLI's replay and text, written to /dev/null. */
function replay(file: string, options: ReplayOptions, devNull: number): Run {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const data = PerfData.openPath(file);
  let samples = 0;
  let frames = 0;
  let bytes = 0;
  const counted = (function* () {
    for (const s of replaySamples(data, options)) {
      samples++;
      frames += s.frames.length;
      yield s;
    }
  })();
  writeScriptBytes(counted, "ra", (chunk) => {
    bytes += chunk.length;
    writeSync(devNull, chunk);
  });
  data.close();
  const c = process.cpuUsage(c0);
  return { samples, frames, bytes, ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
}

/**
 * `perf script -i file > /dev/null`: wall time of the whole process, and its CPU time as GNU time
 * reports it (user + system) when /usr/bin/time is there.
 */
function perfScript(file: string, dir: string): { ms: number; cpuMs: number | undefined } | undefined {
  const timeOut = join(dir, "time.txt");
  const time = existsSync("/usr/bin/time");
  const t0 = performance.now();
  const r = time
    ? spawnSync("/usr/bin/time", ["-f", "%U %S", "-o", timeOut, "perf", "script", "-i", file], { stdio: "ignore" })
    : spawnSync("perf", ["script", "-i", file], { stdio: "ignore" });
  const ms = performance.now() - t0;
  if (r.status !== 0) return undefined;
  if (!time) return { ms, cpuMs: undefined };
  const [u, sys] = readFileSync(timeOut, "latin1").trim().split(/\s+/).slice(-2).map(Number);
  return { ms, cpuMs: u !== undefined && sys !== undefined ? (u + sys) * 1000 : undefined };
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

export async function run(): Promise<void> {
  const perf = hasPerf();
  const dir = mkdtempSync(join(tmpdir(), "ldsim-perf-bench-"));
  const devNull = openSync("/dev/null", "w");
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
    const load = () =>
      loadavg()
        .map((l) => l.toFixed(2))
        .join(" ");
    process.stdout.write(`load average before the runs: ${load()}\n`);
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
    // The first replay in this process of the from-eh-frame configuration: JIT cold, libc converted.
    const first = replay(file, configs[1]?.[1] ?? {}, devNull);
    // Warm-up: two of each (page cache for both), then more replays until the JIT has settled: with
    // fewer, V8's background compiler threads still run during the timed rounds (CPU time above wall).
    for (let i = 0; i < 2; i++) {
      if (perf) perfScript(file, dir);
      for (const [, options] of configs) replay(file, options, devNull);
    }
    for (let i = 0; i < JIT_WARMUP; i++) for (const [, options] of configs) replay(file, options, devNull);
    const perfRuns: Array<{ ms: number; cpuMs: number | undefined }> = [];
    const ours: Run[][] = configs.map(() => []);
    const ratios: number[][] = configs.map(() => []);
    const cpuRatios: number[][] = configs.map(() => []);
    for (let round = 0; round < ROUNDS; round++) {
      const p = perf ? perfScript(file, dir) : undefined;
      if (p !== undefined) perfRuns.push(p);
      configs.forEach(([, options], k) => {
        const r = replay(file, options, devNull);
        (ours[k] as Run[]).push(r);
        if (p !== undefined) (ratios[k] as number[]).push(p.ms / r.ms);
        if (p?.cpuMs !== undefined) (cpuRatios[k] as number[]).push(p.cpuMs / r.cpuMs);
      });
    }
    const perfMs = perfRuns.length > 0 ? median(perfRuns.map((p) => p.ms)) : undefined;
    const perfCpus = perfRuns.flatMap((p) => (p.cpuMs === undefined ? [] : [p.cpuMs]));
    const perfCpu = perfCpus.length > 0 ? median(perfCpus) : undefined;
    const x = (v: number) => `${v.toFixed(1)}x`;
    configs.forEach(([name, _], k) => {
      const runs = ours[k] as Run[];
      const ms = median(runs.map((r) => r.ms));
      const cpu = median(runs.map((r) => r.cpuMs));
      const r0 = runs[0] as Run;
      let line = `ldsim perf script [${name}]: ${r0.samples} samples, ${r0.frames} frames, ${(r0.bytes / 1e6).toFixed(2)} MB of text; median of ${runs.length}: ${ms.toFixed(0)} ms wall (${cpu.toFixed(0)} ms CPU) = ${(r0.samples / (ms / 1000)).toFixed(0)} samples/s`;
      if (perfMs !== undefined) {
        const rs = ratios[k] as number[];
        line += `\n  perf script (DWARF): median ${perfMs.toFixed(0)} ms wall${perfCpu === undefined ? "" : ` (${perfCpu.toFixed(0)} ms CPU)`} = ${(r0.samples / (perfMs / 1000)).toFixed(0)} samples/s`;
        line += `\n  ldsim faster by (median of per-round ratios): ${x(median(rs))} wall (min ${x(Math.min(...rs))})`;
        const cr = cpuRatios[k] as number[];
        if (cr.length > 0) line += `, ${x(median(cr))} CPU (min ${x(Math.min(...cr))})`;
      }
      process.stdout.write(`${line}\n`);
    });
    process.stdout.write(`load average after the runs: ${load()}\n`);
    let firstLine = `first from-eh-frame replay in this process (JIT cold, libc converted): ${first.ms.toFixed(0)} ms wall (${first.cpuMs.toFixed(0)} ms CPU)`;
    if (perfMs !== undefined) firstLine += `: ${x(perfMs / first.ms)} perf script's median wall`;
    process.stdout.write(`${firstLine}\n`);
    // The conversion alone: libc's .eh_frame to SFrame, done once per process and placement.
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
          `  of which, once per process: libc .eh_frame -> SFrame (${conv.functions} functions) ${ms.toFixed(0)} ms (JIT warm)\n`,
        );
      }
      elf.close();
    }
  } finally {
    closeSync(devNull);
    rmSync(dir, { recursive: true, force: true });
  }
}
