/**
 * Example 2: a dlopen/dlclose lifecycle with the address space and the kernel's SFrame registry shown
 * after every step. A program with no SFrame of its own (/usr/bin/true) dlopens the fixture liba.so
 * (which needs libb.so, both with SFrame v3), opens libb.so again by name, looks a symbol up, closes
 * liba.so (libb.so stays: its own handle still holds it) and then libb.so, and finally asks for
 * liba.so with RTLD_NOLOAD. The loader is glibc 2.36's (loader/dlopen.ts, loader/dlclose.ts) with the
 * RFC's calls: stacktrace_setup(REGISTER) right after an object is mapped, (UNREGISTER) right before
 * it is unmapped — and never for an object that is only re-opened.
 */
import { join } from "node:path";
import { LdsimError } from "../formats/errors.ts";
import { KernelSframe } from "../kernel-shim/sframe/kernel-sframe.ts";
import { dlclose } from "../loader/dlclose.ts";
import { dlerror } from "../loader/dlerror.ts";
import { dlopen, RTLD_LAZY, RTLD_NOLOAD, RTLD_NOW } from "../loader/dlopen.ts";
import { dlsym } from "../loader/dlsym.ts";
import type { LinkMap } from "../loader/link-map.ts";
import { runToMain, spawnForRun } from "../loader/run.ts";
import { mapsLines } from "./process-maps.ts";
import { FIXTURE_DIR } from "./rfc-experiment-lib.ts";

export const LIFECYCLE_DIR = FIXTURE_DIR;
export const LIFECYCLE_HOST = "/usr/bin/true";

export interface RegistryLine {
  readonly text: string;
  readonly textStart: bigint;
  /** Inclusive last byte of the text range, as the kernel's maple tree keys it. */
  readonly textEnd: bigint;
  readonly sframeStart: bigint;
  readonly origin: string;
  /** The file whose text the entry covers, from /proc/PID/maps. */
  readonly file: string | undefined;
}

export interface LifecycleStep {
  /** The call as C would write it, e.g. `dlopen("…/liba.so", RTLD_NOW)`. */
  readonly call: string;
  /** Its result as C would see it (a handle, NULL and dlerror(), an address, 0/-1). */
  readonly result: string;
  /** The system calls it made (strace format). */
  readonly syscalls: readonly string[];
  /** /proc/PID/maps lines of the fixture libraries after the call. */
  readonly maps: readonly string[];
  /** The kernel's SFrame registry for the process after the call. */
  readonly registry: readonly RegistryLine[];
}

export interface Lifecycle {
  readonly host: string;
  readonly steps: readonly LifecycleStep[];
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

/** Run the lifecycle (ASLR off) and record every step. */
export function runLifecycle(dir: string = LIFECYCLE_DIR, host: string = LIFECYCLE_HOST): Lifecycle {
  const ks = new KernelSframe();
  const proc = spawnForRun({ sframeKernel: ks });
  const started = runToMain(proc, host, { registerSframe: true });
  if (started.error) throw new LdsimError(started.error.message);
  const rtld = started.rtld;
  const steps: LifecycleStep[] = [];
  let logPos = 0;
  const mapsNow = () => mapsLines(proc);
  const record = (call: string, result: string) => {
    const lines = proc.log.lines();
    const maps = mapsNow();
    const fileAt = (addr: bigint) => {
      for (const l of maps) {
        const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+ +(.*)$/.exec(l);
        if (m && BigInt(`0x${m[1]}`) <= addr && addr < BigInt(`0x${m[2]}`)) return m[3] || undefined;
      }
      return undefined;
    };
    steps.push({
      call,
      result,
      syscalls: lines.slice(logPos),
      maps: maps.filter((l) => l.includes(dir)),
      registry: ks
        .registryOf(proc.mm)
        .list()
        .map((e) => ({
          text: `[${hex(e.textStart)}, ${hex(e.textEnd)}]`,
          textStart: e.textStart,
          textEnd: e.textEnd,
          sframeStart: e.sframeStart,
          origin: e.origin,
          file: fileAt(e.textStart),
        })),
    });
    logPos = lines.length;
  };
  record(`exec ${host}`, "main would be called now");

  const handle = (h: LinkMap | null) =>
    h ? `handle of ${h.name}` : `NULL, dlerror() = ${JSON.stringify(dlerror(rtld))}`;
  const liba = join(dir, "liba.so");
  const a = dlopen(rtld, liba, RTLD_NOW);
  record(`dlopen("${liba}", RTLD_NOW)`, handle(a));
  // libb.so is loaded already (liba's DT_NEEDED): found by its soname, nothing mapped or registered.
  const b = dlopen(rtld, "libb.so", RTLD_LAZY);
  record('dlopen("libb.so", RTLD_LAZY)', handle(b));
  if (a) {
    const addr = dlsym(rtld, a, "liba_entry");
    record(
      'dlsym(handle_a, "liba_entry")',
      addr === null ? `NULL, dlerror() = ${JSON.stringify(dlerror(rtld))}` : hex(addr),
    );
    record("dlclose(handle_a)", String(dlclose(rtld, a)));
  }
  if (b) record("dlclose(handle_b)", String(dlclose(rtld, b)));
  const again = dlopen(rtld, liba, RTLD_LAZY | RTLD_NOLOAD);
  record(`dlopen("${liba}", RTLD_LAZY | RTLD_NOLOAD)`, again ? handle(again) : "NULL (not loaded; no error)");
  return { host, steps };
}

/** The lifecycle as text, as `npx tsx examples/dlopen-lifecycle.ts` prints it. */
export function formatLifecycle(l: Lifecycle): string[] {
  const out = [`# ${l.host} opens and closes the fixture libraries (ASLR off); after each call:`, ""];
  let prev: LifecycleStep | undefined;
  for (const s of l.steps) {
    const first = prev === undefined;
    out.push(`== ${s.call}  →  ${s.result}`);
    if (!first) {
      if (s.syscalls.length > 0) out.push("   system calls:", ...s.syscalls.map((x) => `     ${x}`));
      else out.push("   system calls: none");
    }
    if (!first && prev && prev.maps.join("\n") === s.maps.join("\n")) out.push("   fixture mappings: unchanged");
    else
      out.push(
        s.maps.length > 0 ? "   fixture mappings:" : "   fixture mappings: none",
        ...s.maps.map((x) => `     ${x}`),
      );
    const reg = s.registry.map(
      (r) =>
        `     text ${r.text} sframe ${hex(r.sframeStart)} (${r.origin}${r.file ? `, ${r.file.split("/").at(-1)}` : ""})`,
    );
    const prevReg = prev?.registry.map((r) => `${r.text} ${r.sframeStart}`).join() ?? null;
    if (!first && prevReg === s.registry.map((r) => `${r.text} ${r.sframeStart}`).join())
      out.push("   SFrame registry (kernel): unchanged");
    else
      out.push(s.registry.length > 0 ? "   SFrame registry (kernel):" : "   SFrame registry (kernel): empty", ...reg);
    out.push("");
    prev = s;
  }
  return out;
}
