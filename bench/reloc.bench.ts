/**
 * Relocation and symbol lookup throughput of the loader model (loader/relocate.ts,
 * loader/symbol-lookup.ts) on this machine's programs, next to the real ld.so in the same run:
 *
 * - relocate: a program's whole relocation phase (every object, LD_BIND_NOW so every symbol is
 *   looked up, ld.so last), after a startup in the kernel shim that is not timed and a full garbage
 *   collection (so a round does not pay for the previous rounds' garbage); relocations/s
 *   counts RELR + RELA + JMPREL entries, lookups/s the `_dl_lookup_symbol_x` calls;
 * - lookup: every defined dynamic symbol of libc.so.6 looked up by name through the program's scope
 *   (each round through a fresh copy of the scope, so its bloom index is built anew);
 * - native: the real ld.so's `LD_DEBUG=statistics` "time needed for relocation" (TSC cycles, as glibc
 *   prints them) of `PROG --version` with LD_BIND_NOW=1, and the wall time of `ld.so --list PROG`
 *   (a whole process: exec, mapping, no relocation).
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { loadavg } from "node:os";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { execElf } from "../kernel-shim/exec/binfmt-elf.ts";
import { HostFs } from "../kernel-shim/fs/host-fs.ts";
import { Kernel } from "../kernel-shim/process/kernel.ts";
import { Process } from "../kernel-shim/process/process.ts";
import { dynamicInfo } from "../loader/dynamic-info.ts";
import { hostRtldProfile } from "../loader/host-profile.ts";
import type { LinkMap } from "../loader/link-map.ts";
import { relocateObject } from "../loader/relocate.ts";
import type { Rtld } from "../loader/rtld.ts";
import { sortMaps } from "../loader/sort-maps.ts";
import { startFromExec } from "../loader/startup.ts";
import { lookupState, lookupSymbol } from "../loader/symbol-lookup.ts";

const LDSO = "/lib64/ld-linux-x86-64.so.2";

/** A full collection before each timed round: its figure is that round's own work, not earlier rounds' garbage. */
function collector(): () => void {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as (() => void) | undefined;
  return typeof gc === "function" ? gc : () => {};
}

function startup(exe: string): { rtld: Rtld; main: LinkMap } {
  const proc = Process.spawn(new Kernel(new HostFs()), { cwd: "/" });
  if (!execElf(proc, exe, { argv: [exe], envp: [] }).ok) throw new Error(`exec ${exe}`);
  const s = startFromExec(proc, { profile: hostRtldProfile() });
  if (s.error) throw new Error(s.error.message);
  const sl = s.main.searchlist ?? [s.main];
  for (const m of s.rtld.ns.maps) if (m.scope.length === 0) m.scope = [sl];
  return { rtld: s.rtld, main: s.main };
}

function relocateAll(rtld: Rtld, main: LinkMap): number {
  const order = sortMaps(main.searchlist ?? [main], false);
  let n = 0;
  const count = (m: LinkMap) => {
    const d = dynamicInfo(rtld, m);
    const r = d.relaRange;
    const j = d.jmprelRange;
    n += Number((r?.size ?? 0n) / 24n) + Number((j?.size ?? 0n) / 24n) + d.relr().length;
  };
  for (let i = order.length - 1; i >= 0; i--) {
    const m = order[i] as LinkMap;
    if (m.isRtld) continue;
    relocateObject(rtld, m, m.scope, { lazy: false });
    count(m);
  }
  relocateObject(rtld, rtld.rtldMap, main.scope, { lazy: false });
  count(rtld.rtldMap);
  return n;
}

function nativeStats(exe: string): { relocCycles: string; totalCycles: string; listMs: number } {
  // `PROG --version` runs the whole startup (ld.so --list stops before relocation: trace mode).
  const r = spawnSync("setarch", ["-R", "env", "LD_BIND_NOW=1", "LD_DEBUG=statistics", exe, "--version"], {
    encoding: "latin1",
  });
  const text = `${r.stdout}${r.stderr}`;
  const reloc = /time needed for relocation: (\d+) cycles/.exec(text)?.[1] ?? "?";
  const total = /total startup time in dynamic loader: (\d+) cycles/.exec(text)?.[1] ?? "?";
  const runs = 20;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) spawnSync(LDSO, ["--list", exe], { stdio: "ignore" });
  return { relocCycles: reloc, totalCycles: total, listMs: (performance.now() - t0) / runs };
}

/** Median and best of a list of samples. */
function stats(xs: readonly number[]): { med: number; best: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { med: s[Math.floor(s.length / 2)] ?? Number.NaN, best: s[0] ?? Number.NaN };
}

export async function run(): Promise<void> {
  // ls and python3 (few objects); gdb and gtk-launch (60 and 71 objects: most of the startup bench's time).
  const programs = ["/bin/ls", "/usr/bin/python3", "/usr/bin/gdb", "/usr/bin/gtk-launch"].filter((p) => existsSync(p));
  if (!existsSync(LDSO) || programs.length === 0) {
    console.log("reloc bench skipped: no x86_64 ld.so or programs on this machine");
    return;
  }
  console.log(
    `load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}`,
  );
  const gc = collector();
  let allRelocs = 0;
  let allLookups = 0;
  let allMs = 0;
  // V8 compiles the relocation code over the first rounds: three untimed rounds of every program
  // first, so the timed rounds are the steady state (with warm-up per program only, the first
  // programs' medians still held compilation).
  for (let i = 0; i < 3; i++) {
    for (const exe of programs) {
      const { rtld, main } = startup(exe);
      relocateAll(rtld, main);
    }
  }
  for (const exe of programs) {
    // Fresh process per round (relocation is once per process); median and best round after warm-up.
    const rounds = 12;
    const samples: { ms: number; relocs: number; lookups: number }[] = [];
    for (let i = 0; i < rounds; i++) {
      const { rtld, main } = startup(exe);
      const before = lookupState(rtld).lookups;
      gc();
      const t0 = performance.now();
      const relocs = relocateAll(rtld, main);
      samples.push({ ms: performance.now() - t0, relocs, lookups: lookupState(rtld).lookups - before });
    }
    const warm = samples.slice(4);
    const { med, best } = stats(warm.map((s) => s.ms));
    const { relocs, lookups } = warm[0] as { relocs: number; lookups: number };
    allRelocs += relocs;
    allLookups += lookups;
    allMs += med;
    const nat = nativeStats(exe);
    console.log(
      `relocate ${exe}: ${relocs} relocations, ${lookups} lookups in ${med.toFixed(2)} ms (median of ${warm.length}, best ${best.toFixed(2)})` +
        ` → ${((relocs / med) * 1000).toFixed(0)} relocations/s, ${((lookups / med) * 1000).toFixed(0)} lookups/s`,
    );
    console.log(
      `  native ld.so (BIND_NOW): relocation ${nat.relocCycles} cycles of ${nat.totalCycles} in the loader; ` +
        `ld.so --list wall ${nat.listMs.toFixed(2)} ms/run`,
    );
  }
  console.log(
    `all ${programs.length}: ${allRelocs} relocations, ${allLookups} lookups in ${allMs.toFixed(1)} ms (sum of medians)` +
      ` → ${((allRelocs / allMs) * 1000).toFixed(0)} relocations/s, ${((allLookups / allMs) * 1000).toFixed(0)} lookups/s`,
  );
  // Lookups of every defined libc symbol through a program's scope (no LD_DEBUG), each round through a
  // fresh copy of the scope (its own bloom index), after one warm-up round.
  const { rtld, main } = startup(programs[0] as string);
  const libc = rtld.ns.maps.find((m) => m.name.endsWith("/libc.so.6"));
  if (!libc) return;
  const d = dynamicInfo(rtld, libc);
  const names: string[] = [];
  for (let i = 1; i < d.symbolCount(); i++) {
    const s = d.symbol(i);
    if (s.shndx !== 0) names.push(d.string(s.nameOffset));
  }
  const times: number[] = [];
  let found = 0;
  for (let r = 0; r < 6; r++) {
    const scope = main.scope.map((l) => [...l]);
    found = 0;
    gc();
    const t0 = performance.now();
    for (const n of names) if (lookupSymbol(rtld, main, n, scope, undefined, { dlsym: true })) found++;
    if (r > 0) times.push(performance.now() - t0);
  }
  const { med, best } = stats(times);
  console.log(
    `lookup: ${names.length} libc.so.6 symbols through ${main.scope[0]?.length ?? 0} objects: ` +
      `${((names.length / med) * 1000).toFixed(0)} lookups/s (median of ${times.length}; best ${((names.length / best) * 1000).toFixed(0)}; ${found} found)`,
  );
}
