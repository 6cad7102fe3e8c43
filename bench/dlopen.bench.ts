/**
 * 100,000 dlopen(RTLD_NOW)/dlclose cycles of an SFrame v3 library (test/fixtures/sframe/v3/x86_64/libb.so)
 * in the model — open, read, fstat, four mmaps, stacktrace_setup(REGISTER), RELRO mprotect, then
 * UNREGISTER and munmap — with cycles per second, the JS heap and the kernel's SFrame registry size
 * before and after (both must stay flat), next to the same cycles with the machine's glibc
 * (bench/native/dlopen-cycles.c, built with gcc) timed in the same run.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import v8 from "node:v8";
import { runInNewContext } from "node:vm";
import { execElf } from "../kernel-shim/exec/binfmt-elf.ts";
import { HostFs } from "../kernel-shim/fs/host-fs.ts";
import { Kernel } from "../kernel-shim/process/kernel.ts";
import { Process } from "../kernel-shim/process/process.ts";
import { KernelSframe, stacktraceSetupHandler } from "../kernel-shim/sframe/kernel-sframe.ts";
import { StraceLog } from "../kernel-shim/strace/log.ts";
import { dlState } from "../loader/dl-state.ts";
import { dlclose } from "../loader/dlclose.ts";
import { dlopen, RTLD_NOW } from "../loader/dlopen.ts";
import { hostRtldProfile } from "../loader/host-profile.ts";
import { startFromExec } from "../loader/startup.ts";
import { REPO_ROOT } from "../scenario/run.ts";

const LIB = join(REPO_ROOT, "test/fixtures/sframe/v3/x86_64/libb.so");

/** Live heap after a full collection (gc exposed at run time, so garbage is not counted as growth). */
function heapMiB(): number {
  v8.setFlagsFromString("--expose-gc");
  (runInNewContext("gc") as () => void)();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

function native(n: number): number | undefined {
  try {
    const dir = mkdtempSync(join(tmpdir(), "ldsim-bench-dlopen-"));
    const exe = join(dir, "dlopen-cycles");
    execFileSync("gcc", ["-O2", "-o", exe, join(REPO_ROOT, "bench/native/dlopen-cycles.c")], { stdio: "ignore" });
    return Number(execFileSync(exe, [LIB, String(n)], { encoding: "latin1" }).trim());
  } catch {
    return undefined;
  }
}

export async function run(n = Number(process.env["DLOPEN_BENCH_CYCLES"] ?? 100_000)): Promise<void> {
  const ks = new KernelSframe();
  const kernel = new Kernel(new HostFs(), { sframe: ks, stacktraceSetup: stacktraceSetupHandler(ks) });
  const proc = Process.spawn(kernel, { log: new StraceLog({ trace: new Set() }) });
  const ex = execElf(proc, "/usr/bin/true", { argv: ["/usr/bin/true"], envp: [] });
  if (!ex.ok) throw new Error("exec /usr/bin/true failed");
  const s = startFromExec(proc, { profile: hostRtldProfile(), registerSframe: true });
  s.rtld.unloadCache();
  dlState(s.rtld).recordEvents = false;
  const reg = ks.registryOf(proc.mm);
  const cycle = () => {
    const h = dlopen(s.rtld, LIB, RTLD_NOW);
    if (!h) throw new Error("dlopen failed");
    dlclose(s.rtld, h);
  };
  for (let i = 0; i < 1000; i++) cycle();
  ks.events.length = 0;
  const heap0 = heapMiB();
  const reg0 = reg.size;
  const maps0 = proc.mm.mapCount;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    cycle();
    // The kernel's event log is for timelines; a long run drops it (not kernel state).
    if (ks.events.length > 10_000) ks.events.length = 0;
  }
  const secs = (performance.now() - t0) / 1000;
  ks.events.length = 0;
  const heap1 = heapMiB();
  const nat = native(n);
  console.log(`dlopen/dlclose cycles (${n}, libb.so with SFrame v3, RTLD_NOW)`);
  console.log(`  ldsim   ${(n / secs).toFixed(0).padStart(10)} cycles/s  (${secs.toFixed(2)} s)`);
  console.log(
    `  native  ${nat === undefined ? "      n/a" : nat.toFixed(0).padStart(10)} cycles/s  (glibc, same library)`,
  );
  console.log(`  heap    ${heap0.toFixed(1)} MiB before, ${heap1.toFixed(1)} MiB after`);
  console.log(`  registry ${reg0} entries before, ${reg.size} after; VMAs ${maps0} before, ${proc.mm.mapCount} after`);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
