/**
 * The in-process `ldsim ldd` sweep of /usr/bin next to the real `ld.so --list` loop, in the same run
 * and over the same list of files (issue #6, target: the simulation at least 5× faster).
 *
 * - simulated: `ldd(FILE)` of loader/ldd.ts, exactly the call `npm run parity:ldd` compares with the
 *   real ldd (trace mode, a fresh simulated process and kernel per file, ASLR off);
 * - real: `spawnSync("/lib64/ld-linux-x86-64.so.2", ["--list", FILE])` per file, WITHOUT setarch -R
 *   (setarch would add the exec and dynamic startup of a second program to every real run).
 *
 * The files: every dynamic executable (PT_INTERP) of /usr/bin in name order, or a fixed evenly
 * spaced sample of LDSIM_BENCH_LDD_N of them (e.g. 200 for a quicker run). The two
 * sides run interleaved in chunks of 20 files so a change in machine load hits both alike. The sweep's
 * outputs are also checked against the real ones with the load addresses masked (ASLR is on for the
 * real side); `npm run parity:ldd` is the exact, address-included check.
 *
 * Warm and cold: three timed sweeps (the median ratio is reported, with all three) follow a first
 * pass of each side, after which the real loop finds every program and library in the host's page
 * cache, and the simulation finds them in its own (fs/page-cache.ts) with its code compiled by V8's
 * optimizing tiers. That first, cold pass is timed too and printed on its own line: on the
 * simulated side it is mostly JIT warm-up (the same files in a fresh process's second pass take a
 * third of the time even with the page cache emptied in between).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { DEFAULT_RTLD, ldd } from "../loader/ldd.ts";
import { dynamicExecutables } from "../scripts/parity-ldd.ts";

const CHUNK = 20;
/** Warm sweeps timed (the median is reported). */
const PASSES = 3;

function sample(all: readonly string[], n: number): string[] {
  if (n >= all.length) return [...all];
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(all[Math.floor((i * all.length) / n)] as string);
  return out;
}

const maskAddresses = (s: string) => s.replace(/\(0x[0-9a-f]+\)/g, "(0x…)");

function simulated(file: string): string {
  try {
    const r = ldd(file);
    return r.stdout + r.stderr;
  } catch (e) {
    return `ldsim error: ${(e as Error).message}\n`;
  }
}

function real(file: string): string {
  const r = spawnSync(DEFAULT_RTLD, ["--list", file], { encoding: "latin1", stdio: ["ignore", "pipe", "pipe"] });
  return `${r.stdout ?? ""}${r.stderr ?? ""}`;
}

export async function run(): Promise<void> {
  if (!existsSync(DEFAULT_RTLD)) {
    console.log(`skipped: ${DEFAULT_RTLD} not present`);
    return;
  }
  const all = dynamicExecutables(["/usr/bin"]);
  const want = process.env["LDSIM_BENCH_LDD_N"];
  const files = sample(all, want === undefined || want === "all" ? all.length : Number(want) || all.length);
  // The cold pass (module loading, JIT, both page caches), timed on its own.
  let t0 = performance.now();
  for (const f of files) simulated(f);
  const coldSimMs = performance.now() - t0;
  t0 = performance.now();
  for (const f of files) real(f);
  const coldRealMs = performance.now() - t0;

  // PASSES warm sweeps, each interleaved in chunks; the outputs of the first are checked.
  const passes: { simMs: number; realMs: number }[] = [];
  let same = 0;
  let missing = 0;
  const differ: string[] = [];
  for (let pass = 0; pass < PASSES; pass++) {
    let simMs = 0;
    let realMs = 0;
    for (let at = 0; at < files.length; at += CHUNK) {
      const chunk = files.slice(at, at + CHUNK);
      const mine: string[] = [];
      let t = performance.now();
      for (const f of chunk) mine.push(simulated(f));
      simMs += performance.now() - t;
      const theirs: string[] = [];
      t = performance.now();
      for (const f of chunk) theirs.push(real(f));
      realMs += performance.now() - t;
      if (pass > 0) continue;
      chunk.forEach((f, i) => {
        if (maskAddresses(mine[i] ?? "") === maskAddresses(theirs[i] ?? "")) same++;
        // ldd's trace mode prints `=> not found` where ld.so --list stops with "error while loading".
        else if (mine[i]?.includes(" => not found") && theirs[i]?.includes("error while loading shared libraries"))
          missing++;
        else differ.push(f);
      });
    }
    passes.push({ simMs, realMs });
  }
  // The passes by ratio; the middle one is reported.
  passes.sort((a, b) => a.realMs / a.simMs - b.realMs / b.simMs);
  const ratios = passes.map((p) => p.realMs / p.simMs);
  const { simMs, realMs } = passes[Math.floor(PASSES / 2)] as { simMs: number; realMs: number };
  const simRate = (files.length * 1000) / simMs;
  const realRate = (files.length * 1000) / realMs;
  const load = (await import("node:os")).loadavg()[0]?.toFixed(1);
  console.log(`${files.length} of the ${all.length} dynamic executables in /usr/bin (load average ${load})`);
  console.log(
    `ldsim ldd (in process)        ${simMs.toFixed(0).padStart(7)} ms  ${simRate.toFixed(1).padStart(7)} files/s`,
  );
  console.log(`${DEFAULT_RTLD} --list ${realMs.toFixed(0).padStart(7)} ms  ${realRate.toFixed(1).padStart(7)} files/s`);
  console.log(
    `ratio: ldsim is ${(simRate / realRate).toFixed(2)}× the real loop's rate (target ≥ 5×; the median of ${PASSES} warm ` +
      `passes, all: ${ratios.map((r) => `${r.toFixed(2)}×`).join(" ")})`,
  );
  console.log(
    `cold first pass (JIT warm-up, empty caches): ldsim ${coldSimMs.toFixed(0)} ms, ld.so --list ${coldRealMs.toFixed(0)} ms: ` +
      `${(coldRealMs / coldSimMs).toFixed(2)}×`,
  );
  console.log(
    `outputs equal to ld.so --list with addresses masked: ${same}/${files.length}` +
      (missing > 0 ? ` (+${missing} with a missing library: ldd prints "not found", --list fails)` : ""),
  );
  for (const f of differ.slice(0, Number(process.env["LDSIM_BENCH_LDD_SHOW"] ?? 3))) console.log(`  differs: ${f}`);
}
