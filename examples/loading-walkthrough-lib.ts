/**
 * Example 3, the teaching walk-through: how the kernel and glibc 2.36's ld.so load a program, one
 * stage at a time, with what each stage changed — the new lines of /proc/PID/maps, the system calls
 * (strace format), ld.so's LD_DEBUG output, the words relocation wrote, RELRO's protection change and
 * the constructor order. The stages are the loader's own (loader/startup.ts `startFromExec` and
 * `finishStartup`, loader/init-fini.ts); this file only looks between them.
 */
import { basename, join } from "node:path";
import { PF_W, PT_GNU_RELRO, PT_LOAD } from "../formats/elf/constants.ts";
import { ElfFile } from "../formats/elf/file.ts";
import { LdsimError } from "../formats/errors.ts";
import { errnoName, strerror } from "../kernel-shim/errno.ts";
import type { Process } from "../kernel-shim/process/process.ts";
import { KernelSframe } from "../kernel-shim/sframe/kernel-sframe.ts";
import { syscall } from "../kernel-shim/syscalls/dispatch.ts";
import { MappedObject } from "../kernel-shim/unwind/mapped-object.ts";
import { DebugLog } from "../loader/debug.ts";
import { runInitializers } from "../loader/init-fini.ts";
import type { LinkMap } from "../loader/link-map.ts";
import { relocateObject } from "../loader/relocate.ts";
import { spawnForRun } from "../loader/run.ts";
import { finishStartup, startFromExec } from "../loader/startup.ts";
import { checkAllVersions } from "../loader/version-check.ts";
import { mapsLines } from "./process-maps.ts";
import { FIXTURE_DIR } from "./rfc-experiment-lib.ts";

export const WALKTHROUGH_PROGRAM = join(FIXTURE_DIR, "main");

/** One 8-byte word relocation changed. */
export interface WordChange {
  readonly addr: bigint;
  readonly before: bigint;
  readonly after: bigint;
  /** The object the new value points into (its l_name), when it points into one. */
  readonly target: string | undefined;
  /** The function there, from the target's symbol table (read from its file, as a debugger would). */
  readonly symbol: string | undefined;
}

/** What relocating one object did to its writable memory. */
export interface RelocatedObject {
  readonly name: string;
  /** Every 8-byte word of its writable segments that relocation changed. */
  readonly changes: readonly WordChange[];
  /** Its PT_GNU_RELRO range, made read-only after relocation (`_dl_protect_relro`). */
  readonly relro: { readonly start: bigint; readonly end: bigint } | undefined;
}

export interface Stage {
  readonly title: string;
  /** Why this stage exists, in a sentence or two. */
  readonly why: string;
  readonly syscalls: readonly string[];
  readonly newMaps: readonly string[];
  readonly goneMaps: readonly string[];
  readonly debug: readonly string[];
  readonly relocated?: readonly RelocatedObject[];
  readonly initOrder?: readonly string[];
}

export interface Walkthrough {
  readonly program: string;
  readonly stages: readonly Stage[];
  readonly finalMaps: string;
}

/** The writable PT_LOAD ranges of an object in the process (what relocation may write). */
function writableRanges(l: LinkMap): { start: bigint; end: bigint }[] {
  return l.phdrs
    .filter((p) => p.type === PT_LOAD && (p.flags & PF_W) !== 0)
    .map((p) => ({ start: l.addr + p.vaddr, end: l.addr + p.vaddr + p.filesz }));
}

function snapshot(proc: Process, l: LinkMap): Map<bigint, bigint> {
  const words = new Map<bigint, bigint>();
  for (const r of writableRanges(l)) {
    const start = (r.start + 7n) & ~7n;
    const len = Number(r.end - start) & ~7;
    if (len <= 0) continue;
    const got = proc.mm.tryReadUser(Number(start), len);
    if (!got.ok) continue;
    const dv = new DataView(got.bytes.buffer, got.bytes.byteOffset, got.bytes.byteLength);
    for (let o = 0; o + 8 <= len; o += 8) words.set(start + BigInt(o), dv.getBigUint64(o, true));
  }
  return words;
}

/**
 * Load `program` (default: the bundled fixture `main`, which needs liba.so → libb.so through
 * `$ORIGIN` and libc.so.6) stage by stage, ASLR off, with LD_DEBUG=libs,files and SFrame
 * registration on, and describe each stage.
 */
export function walkThrough(program: string = WALKTHROUGH_PROGRAM): Walkthrough {
  const proc = spawnForRun({ sframeKernel: new KernelSframe() });
  const debug = new DebugLog(["libs", "files"]);
  const stages: Stage[] = [];
  let logPos = 0;
  let mapsBefore: string[] = [];
  let debugPos = 0;
  const stage = (title: string, why: string, extra: Partial<Stage> = {}) => {
    const now = mapsLines(proc);
    const lines = proc.log.lines();
    stages.push({
      title,
      why,
      syscalls: lines.slice(logPos),
      newMaps: now.filter((l) => !mapsBefore.includes(l)),
      goneMaps: mapsBefore.filter((l) => !now.includes(l)),
      debug: debug.lines.slice(debugPos).map((d) => d.text),
      ...extra,
    });
    logPos = lines.length;
    mapsBefore = now;
    debugPos = debug.lines.length;
  };

  const ex = syscall(proc, "execve", program, [program], []);
  if (ex !== 0n) {
    const e = Number(-ex);
    throw new LdsimError(`execve ${program}: ${errnoName(e)} (${strerror(e)})`);
  }
  stage(
    "1. execve: the kernel maps the program and its interpreter",
    "binfmt_elf maps the program's PT_LOAD segments and the PT_INTERP loader (ld.so), sets up the stack, the vDSO and the brk, and starts ld.so — the program's libraries are not the kernel's business.",
  );

  const start = startFromExec(proc, { registerSframe: true, debug });
  if (start.error) throw new LdsimError(start.error.message);
  stage(
    "2. ld.so finds and maps the libraries (DT_NEEDED, breadth first)",
    "For each needed name ld.so searches RPATH ($ORIGIN here), LD_LIBRARY_PATH, RUNPATH, /etc/ld.so.cache and the system directories; each file is checked (open_verify), mapped as one reservation with MAP_FIXED segments on top (_dl_map_segments), and its SFrame section registered with stacktrace_setup right after mapping.",
  );

  const relocated: RelocatedObject[] = [];
  const objects = new Map<string, MappedObject | null>();
  const symbolsOf = (path: string, bias: bigint): MappedObject | undefined => {
    let o = objects.get(path);
    if (o === undefined) {
      try {
        o = new MappedObject(path, ElfFile.openPath(path), bias);
      } catch {
        o = null;
      }
      objects.set(path, o);
    }
    return o ?? undefined;
  };
  const fin = finishStartup(start, {
    checkVersions: (rtld, main) => checkAllVersions(rtld, main),
    relocate: (rtld, map, scopes, options) => {
      const before = snapshot(proc, map);
      relocateObject(rtld, map, scopes, options);
      const after = snapshot(proc, map);
      const changes: WordChange[] = [];
      for (const [addr, v] of before) {
        const w = after.get(addr);
        if (w === undefined || w === v) continue;
        const target = rtld.ns.maps.find((m) => !m.isVdso && m.mapStart <= w && w < m.mapEnd);
        const name = target ? target.name || program : undefined;
        const sym = target && name ? symbolsOf(name, target.addr)?.symbolize(w) : undefined;
        changes.push({
          addr,
          before: v,
          after: w,
          target: name,
          symbol: sym ? (sym.offset === 0n ? sym.name : `${sym.name}+0x${sym.offset.toString(16)}`) : undefined,
        });
      }
      const relro = map.phdrs.find((p) => p.type === PT_GNU_RELRO);
      relocated.push({
        name: map.name || program,
        changes,
        relro: relro ? { start: map.addr + relro.vaddr, end: map.addr + relro.vaddr + relro.memsz } : undefined,
      });
    },
  });
  if (fin.error) throw new LdsimError(fin.error.message);
  stage(
    "3. versions, TLS, relocation and RELRO",
    "ld.so checks every needed symbol version, sets up the thread pointer (arch_prctl) and static TLS, then relocates each object, dependencies first: it looks up every symbol a relocation names and writes the address into the object's GOT and data; once an object is relocated its PT_GNU_RELRO part becomes read-only (mprotect).",
    { relocated },
  );

  const init = runInitializers(fin.rtld, fin.main, program);
  stage(
    "4. constructors, dependencies first",
    "_dl_init runs each object's DT_INIT and DT_INIT_ARRAY in dependency order (_dl_sort_maps), the program's own last (libc's startup code runs those); then ld.so jumps to the program's entry point and main is called. The model records the calls instead of running them.",
    { initOrder: init.map((c) => `${c.map.name || program} ${c.kind}[${c.index}]`) },
  );
  return { program, stages, finalMaps: mapsLines(proc).join("\n") };
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

/** The walk-through as text, as `npx tsx examples/loading-walkthrough.ts` prints it. */
export function formatWalkthrough(w: Walkthrough): string[] {
  const out: string[] = [`# Loading ${w.program}, stage by stage (ASLR off, as under setarch -R)`, ""];
  for (const s of w.stages) {
    out.push(`== ${s.title}`, `   ${s.why}`, "");
    if (s.syscalls.length > 0) out.push("   system calls (strace):", ...s.syscalls.map((l) => `     ${l}`), "");
    if (s.debug.length > 0) out.push("   LD_DEBUG=libs,files:", ...s.debug.map((l) => `     ${l}`), "");
    if (s.newMaps.length > 0) out.push("   new in /proc/PID/maps:", ...s.newMaps.map((l) => `   + ${l}`), "");
    if (s.goneMaps.length > 0) out.push("   changed or gone:", ...s.goneMaps.map((l) => `   - ${l}`), "");
    for (const r of s.relocated ?? []) {
      out.push(`   relocated ${basename(r.name)}: ${r.changes.length} words written, e.g.`);
      for (const c of r.changes.slice(0, 3)) {
        const into = c.target ? ` (${basename(c.target)}${c.symbol ? `: ${c.symbol}` : ""})` : "";
        out.push(`     ${hex(c.addr)}: ${hex(c.before)} -> ${hex(c.after)}${into}`);
      }
      if (r.relro) out.push(`     RELRO [${hex(r.relro.start)}, ${hex(r.relro.end)}) now read-only`);
    }
    if (s.initOrder) out.push("   constructor order:", ...s.initOrder.map((l) => `     ${l}`));
    out.push("");
  }
  return out;
}
