import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ElfFile } from "../formats/elf/file.ts";
import { LdsimError } from "../formats/errors.ts";
import { armFaults } from "../kernel-shim/fault/fault-plan.ts";
import { HostFs } from "../kernel-shim/fs/host-fs.ts";
import { Kernel } from "../kernel-shim/process/kernel.ts";
import { Process } from "../kernel-shim/process/process.ts";
import { KernelSframe, type SframeEvent, stacktraceSetupHandler } from "../kernel-shim/sframe/kernel-sframe.ts";
import type { SyscallEvent } from "../kernel-shim/strace/event.ts";
import { formatEvent } from "../kernel-shim/strace/format.ts";
import { StraceLog } from "../kernel-shim/strace/log.ts";
import { returnAddressInto } from "../kernel-shim/unwind/call-sites.ts";
import { MappedObject, ObjectSet } from "../kernel-shim/unwind/mapped-object.ts";
import { formatCallchain } from "../kernel-shim/unwind/perf-script.ts";
import { synthesizeStack } from "../kernel-shim/unwind/stack-synth.ts";
import type { UnwindTrace } from "../kernel-shim/unwind/types.ts";
import { unwindUser } from "../kernel-shim/unwind/unwind-user.ts";
import { type DlEvent, type DlHookPoint, dlState } from "../loader/dl-state.ts";
import { dlclose } from "../loader/dlclose.ts";
import { dlerror } from "../loader/dlerror.ts";
import { dlopen, parseDlopenMode } from "../loader/dlopen.ts";
import { type DlHandle, dlvsym } from "../loader/dlsym.ts";
import { hostRtldProfile } from "../loader/host-profile.ts";
import type { LinkMap } from "../loader/link-map.ts";
import type { Rtld } from "../loader/rtld.ts";
import { hostVdsoImage, runToMain } from "../loader/run.ts";
import type { Assertion, Interleave, Scenario, Step } from "./format.ts";

/** The repository root ($ROOT in scenario paths). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** One line of the timeline: what happened, in order, on which thread. */
export interface TimelineEntry {
  readonly thread: number;
  readonly kind: "step" | "syscall" | "kernel" | "loader" | "unwind" | "assert" | "note";
  readonly text: string;
}

export class ScenarioError extends LdsimError {
  override name = "ScenarioError";
}

export interface ScenarioResult {
  readonly timeline: readonly TimelineEntry[];
  /** Failed assertions (empty: the scenario passed). */
  readonly failures: readonly string[];
  readonly process: Process;
  readonly rtld: Rtld;
  readonly sframe: KernelSframe;
  readonly lastSample: UnwindTrace | undefined;
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

function kernelEventText(e: SframeEvent): string {
  switch (e.kind) {
    case "register":
      return `sframe register [${hex(e.textStart)}, ${hex(e.textEnd)}] sframe ${hex(e.sframeStart)}: ${e.result === 0 ? "ok" : `${e.result} (${e.check ?? ""}${e.message ? `: ${e.message}` : ""})`}`;
    case "unregister":
      return `sframe unregister ${hex(e.sframeStart)}: removed ${e.removed}${e.result === 0 ? "" : ` (${e.result})`}`;
    case "auto-remove":
      return `sframe auto-remove ${hex(e.sframeStart)} (${e.removed} entries) at pc ${hex(e.pc)}: ${e.reason}`;
    case "mm-release":
      return `sframe mm released (${e.removed} entries)`;
  }
}

function dlEventText(e: DlEvent): string | undefined {
  switch (e.kind) {
    case "mapped":
      return `mapped ${e.name} [${hex(e.start)}, ${hex(e.end)})`;
    case "unmapped":
      return `unmapped ${e.name}`;
    case "init":
      return `init ${e.name} (${e.calls.length} calls)`;
    case "fini":
      return `fini ${e.name} (${e.calls.length} calls)`;
    case "nodelete":
      return `NODELETE ${e.name} (${e.why})`;
    case "error":
      return `error: ${e.message}`;
    default:
      return undefined;
  }
}

/**
 * Run a scenario (see scenario/format.ts): boot the process, run the steps, collect the timeline.
 * `baseDir` resolves relative paths (the scenario file's directory).
 */
export function runScenario(sc: Scenario, baseDir: string = process.cwd()): ScenarioResult {
  const path = (p: string) => {
    const q = p.replace(/^\$ROOT/, REPO_ROOT);
    return isAbsolute(q) ? q : join(baseDir, q);
  };
  const ks = new KernelSframe({
    ...(sc.kernel?.acceptedVersions ? { acceptedVersions: sc.kernel.acceptedVersions } : {}),
    ...(sc.kernel?.requirePcrel !== undefined ? { requirePcrel: sc.kernel.requirePcrel } : {}),
  });
  const vdsoImage = hostVdsoImage();
  const kernel = new Kernel(new HostFs(), {
    sframe: ks,
    stacktraceSetup: stacktraceSetupHandler(ks),
    forkKeepsSframe: sc.kernel?.forkKeepsSframe ?? false,
    ...(vdsoImage ? { exec: { vdsoImage } } : {}),
  });
  const log = new StraceLog({
    trace: new Set(["openat", "mmap", "munmap", "mprotect", "close", "stacktrace_setup", "fork", "exit_group"]),
  });
  let proc = Process.spawn(kernel, { cwd: sc.cwd ? path(sc.cwd) : baseDir, log });
  const exe = path(sc.exec);
  // The whole startup (STARTUP's runToMain): mapping, SFrame registration, relocation, TLS, init.
  const s = runToMain(proc, exe, {
    argv: sc.argv ? [...sc.argv] : [exe],
    profile: hostRtldProfile(),
    registerSframe: sc.loader?.registerSframe ?? true,
    fatalSframeRegistration: sc.loader?.fatalRegistration ?? false,
    ...(sc.loader?.libraryPath !== undefined ? { env: { LD_LIBRARY_PATH: sc.loader.libraryPath } } : {}),
  });
  if (s.error) throw new ScenarioError(s.error.message);
  const loadBias = BigInt(proc.image?.loadBias ?? 0);
  const rtld = s.rtld;
  const st = dlState(rtld);
  st.options = { unregisterAfterMunmap: sc.loader?.unregisterAfterMunmap ?? false };
  if (sc.faults) armFaults(kernel, sc.faults);

  const timeline: TimelineEntry[] = [];
  const failures: string[] = [];
  const handles = new Map<string, LinkMap>();
  // Every object ever mapped, at its bias: a sample may reference one that was unmapped since.
  const seen = new Map<string, MappedObject>();
  let thread = 1;
  let logPos = log.events.length;
  let ksPos = ks.events.length;
  let dlPos = st.events.length;
  let lastSample: UnwindTrace | undefined;

  const remember = () => {
    const list: [string, bigint][] = [[exe, loadBias]];
    for (const m of rtld.ns.maps) if (m.name.startsWith("/") || m.name.startsWith(".")) list.push([m.name, m.addr]);
    for (const [name, bias] of list) {
      const key = `${name}@${bias}`;
      if (seen.has(key)) continue;
      try {
        seen.set(key, new MappedObject(path(name), ElfFile.openPath(path(name)), bias, null));
      } catch {
        // Not an ELF file we can read: not usable for samples.
      }
    }
  };
  remember();

  const drain = () => {
    for (; logPos < log.events.length; logPos++) {
      const e = log.events[logPos] as SyscallEvent;
      const { pid: _pid, ...rest } = e;
      timeline.push({ thread, kind: "syscall", text: formatEvent(rest) });
      if (e.name === "stacktrace_setup") {
        const k = ks.events[ksPos];
        if (k && (k.kind === "register" || k.kind === "unregister")) {
          timeline.push({ thread, kind: "kernel", text: kernelEventText(k) });
          ksPos++;
        }
      }
    }
    for (; ksPos < ks.events.length; ksPos++)
      timeline.push({ thread, kind: "kernel", text: kernelEventText(ks.events[ksPos] as SframeEvent) });
    for (; dlPos < st.events.length; dlPos++) {
      const t = dlEventText(st.events[dlPos] as DlEvent);
      if (t) timeline.push({ thread, kind: "loader", text: t });
    }
  };

  const handleOf = (h: string): DlHandle => {
    if (h === "RTLD_DEFAULT" || h === "RTLD_NEXT") return h;
    const m = handles.get(h);
    if (!m) throw new ScenarioError(`no handle named ${h}`);
    return m;
  };

  const deferred: { thread: number; steps: readonly Step[] }[] = [];

  const withInterleave = (il: Interleave | undefined, body: () => void) => {
    if (!il) {
      body();
      return;
    }
    let fired = false;
    st.hook = (point: DlHookPoint, map: LinkMap) => {
      if (fired || point !== il.at || (il.object !== undefined && !map.name.endsWith(il.object))) return;
      fired = true;
      drain();
      const outer = thread;
      thread = il.thread ?? 2;
      timeline.push({ thread, kind: "note", text: `thread ${thread} runs at ${point} of ${map.name}` });
      runSteps(il.steps, true);
      drain();
      thread = outer;
    };
    st.loadLock = true;
    try {
      body();
    } finally {
      st.loadLock = false;
      st.hook = undefined;
    }
    drain();
    while (deferred.length > 0) {
      const d = deferred.shift() as { thread: number; steps: readonly Step[] };
      const outer = thread;
      thread = d.thread;
      timeline.push({ thread, kind: "note", text: "dl_load_lock released: the waiting call runs" });
      runSteps(d.steps, false);
      drain();
      thread = outer;
    }
  };

  const sample = (chain: readonly string[], offset: number) => {
    remember();
    const objects = new ObjectSet([...seen.values()]);
    const first = chain[0];
    if (first === undefined) throw new ScenarioError("sample: empty chain");
    const pcs = [objects.symbol(first) + BigInt(offset)];
    for (let i = 1; i < chain.length; i++)
      pcs.push(returnAddressInto(objects, chain[i] as string, chain[i - 1] as string));
    const stack = synthesizeStack(proc.mm, objects, "x86_64", pcs);
    const mm = proc.mm;
    const memory = {
      readWord: (a: bigint) => (a > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : mm.readU64(Number(a))),
    };
    const trace = unwindUser("x86_64", stack.regs, memory, ks.finder(mm));
    lastSample = trace;
    drain();
    formatCallchain(trace, objects).forEach((line, i) => {
      const f = trace.frames[i];
      const how = f?.method ? ` [${f.method}${f.sframeMiss ? `; sframe: ${f.sframeMiss}` : ""}]` : "";
      timeline.push({ thread, kind: "unwind", text: `${line.trim()}${how}` });
    });
    timeline.push({ thread, kind: "unwind", text: `stop: ${trace.stop.kind} (${trace.stop.detail})` });
  };

  const check = (a: Assertion, label: string) => {
    const fail = (m: string) => {
      failures.push(`${label}: ${m}`);
      timeline.push({ thread, kind: "assert", text: `FAILED ${m}` });
    };
    const reg = ks.registryOf(proc.mm).list();
    const covers = (suffix: string) =>
      reg.some((e) => {
        const m = rtld.ns.maps.find((l) => l.name.endsWith(suffix));
        return m !== undefined && e.textStart >= m.mapStart && e.textStart < m.mapEnd;
      }) || reg.some((e) => e.label?.endsWith(suffix));
    if (a.registry?.size !== undefined && reg.length !== a.registry.size)
      fail(`registry size ${reg.length}, expected ${a.registry.size}`);
    for (const n of a.registry?.contains ?? []) if (!covers(n)) fail(`registry has no entry for ${n}`);
    for (const n of a.registry?.absent ?? []) if (covers(n)) fail(`registry still has an entry for ${n}`);
    const maps = proc.mm.renderMaps();
    for (const n of a.maps?.contains ?? []) if (!maps.includes(n)) fail(`maps lack ${n}`);
    for (const n of a.maps?.absent ?? []) if (maps.includes(n)) fail(`maps still show ${n}`);
    for (const n of a.loaded?.contains ?? [])
      if (!rtld.ns.maps.some((m) => m.name.endsWith(n))) fail(`${n} is not loaded`);
    for (const n of a.loaded?.absent ?? [])
      if (rtld.ns.maps.some((m) => m.name.endsWith(n))) fail(`${n} is still loaded`);
    if (a.dlerror !== undefined) {
      const got = dlerror(rtld);
      if (got !== a.dlerror) fail(`dlerror() = ${JSON.stringify(got)}, expected ${JSON.stringify(a.dlerror)}`);
    }
    if (a.lastSyscall) {
      const ev = [...log.events].reverse().find((e) => e.name === a.lastSyscall?.name);
      const r = ev?.ret ?? 0n;
      const got = r < 0n ? errnoNameOf(Number(-r)) : "ok";
      if (got !== a.lastSyscall.errno) fail(`last ${a.lastSyscall.name} = ${got}, expected ${a.lastSyscall.errno}`);
    }
    if (a.sample) {
      if (!lastSample) fail("no sample taken");
      else {
        if (a.sample.frames !== undefined && lastSample.frames.length !== a.sample.frames)
          fail(`sample has ${lastSample.frames.length} frames, expected ${a.sample.frames}`);
        if (a.sample.stop !== undefined && lastSample.stop.kind !== a.sample.stop)
          fail(`sample stopped by ${lastSample.stop.kind}, expected ${a.sample.stop}`);
      }
    }
    if (!failures.some((f) => f.startsWith(`${label}:`)))
      timeline.push({ thread, kind: "assert", text: `ok ${label}` });
  };

  let stepNo = 0;
  function runSteps(steps: readonly Step[], nested: boolean): void {
    for (const step of steps) {
      stepNo++;
      drain();
      const locking = sc.loader?.loadLock ?? true;
      if (nested && locking && st.loadLock && (step.op === "dlopen" || step.op === "dlclose")) {
        timeline.push({ thread, kind: "note", text: `${step.op} waits for dl_load_lock (held by thread 1)` });
        deferred.push({ thread, steps: [step] });
        continue;
      }
      switch (step.op) {
        case "dlopen": {
          const mode = typeof step.mode === "number" ? step.mode : parseDlopenMode(step.mode ?? "RTLD_NOW");
          const file = step.file === null ? null : step.file.includes("/") ? path(step.file) : step.file;
          timeline.push({ thread, kind: "step", text: `dlopen(${JSON.stringify(file)}, ${step.mode ?? "RTLD_NOW"})` });
          let h: LinkMap | null = null;
          withInterleave(step.interleave, () => {
            h = dlopen(rtld, file, mode);
          });
          const got = h as LinkMap | null;
          if (got && step.as) handles.set(step.as, got);
          remember();
          drain();
          timeline.push({ thread, kind: "step", text: `= ${got ? got.name : "NULL"}` });
          break;
        }
        case "dlclose": {
          const h = handleOf(step.handle);
          if (typeof h === "string") throw new ScenarioError(`dlclose(${h})`);
          timeline.push({ thread, kind: "step", text: `dlclose(${step.handle})` });
          let r = 0;
          withInterleave(step.interleave, () => {
            r = dlclose(rtld, h);
          });
          drain();
          timeline.push({ thread, kind: "step", text: `= ${r}` });
          break;
        }
        case "dlsym": {
          const v = dlvsym(rtld, handleOf(step.handle), step.symbol, step.version);
          drain();
          timeline.push({
            thread,
            kind: "step",
            text: `dlsym(${step.handle}, "${step.symbol}") = ${v === null ? "NULL" : hex(v)}`,
          });
          break;
        }
        case "sample":
          timeline.push({ thread, kind: "step", text: `sample ${step.chain.join(" <- ")}` });
          sample(step.chain, step.offset ?? 1);
          break;
        case "fork": {
          timeline.push({ thread, kind: "step", text: "fork()" });
          const child = proc.fork();
          timeline.push({
            thread,
            kind: "kernel",
            text: `child ${child.pid}: registry ${ks.registryOf(child.mm).size} entries (parent ${ks.registryOf(proc.mm).size})`,
          });
          break;
        }
        case "exit":
          timeline.push({ thread, kind: "step", text: `exit(${step.status ?? 0})` });
          proc.exit(step.status ?? 0);
          drain();
          proc = proc as Process;
          break;
        case "assert":
          check(step, step.label ?? `step ${stepNo}`);
          break;
      }
    }
  }

  log.clear();
  logPos = 0;
  runSteps(sc.steps, false);
  drain();
  return { timeline, failures, process: proc, rtld, sframe: ks, lastSample };
}

function errnoNameOf(n: number): string {
  const names: Record<number, string> = {
    1: "EPERM",
    2: "ENOENT",
    12: "ENOMEM",
    14: "EFAULT",
    17: "EEXIST",
    22: "EINVAL",
    38: "ENOSYS",
  };
  return names[n] ?? `E${n}`;
}

/** Load a scenario file (JSON) and run it relative to its directory. */
export function runScenarioFile(file: string): ScenarioResult {
  const sc = JSON.parse(readFileSync(file, "utf8")) as Scenario;
  return runScenario(sc, dirname(resolve(file)));
}

/** The timeline as text: one line per entry, thread-tagged. */
export function renderTimeline(r: ScenarioResult): string[] {
  return r.timeline.map((e) => `[T${e.thread}] ${e.kind.padEnd(7)} ${e.text}`);
}
