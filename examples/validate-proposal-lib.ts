/**
 * Example 4, "Validating the proposal": the edge cases of `stacktrace_setup` run on the bundled
 * fixtures (test/fixtures/sframe/…/libb.so etc.) through the modelled syscalls, each reporting the
 * call, what it returned, and — on failure — which of the kernel's checks refused it.
 *
 * Every case starts a fresh kernel and an empty process (no exec: the libraries are mapped with
 * ld.so's own syscall sequence, `mapObject`), so nothing here depends on the machine's libc.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PF_X, PT_GNU_SFRAME, PT_LOAD } from "../formats/elf/constants.ts";
import { ElfFile } from "../formats/elf/file.ts";
import type { ProgramHeader } from "../formats/elf/types.ts";
import { errnoName } from "../kernel-shim/errno.ts";
import { HostFs } from "../kernel-shim/fs/host-fs.ts";
import { Kernel } from "../kernel-shim/process/kernel.ts";
import { Process } from "../kernel-shim/process/process.ts";
import { KernelSframe, type KernelSframeOptions, stacktraceSetupHandler } from "../kernel-shim/sframe/kernel-sframe.ts";
import type { SframeSection } from "../kernel-shim/sframe/registry.ts";
import { StraceLog } from "../kernel-shim/strace/log.ts";
import { syscall } from "../kernel-shim/syscalls/dispatch.ts";
import { MappedObject, ObjectSet } from "../kernel-shim/unwind/mapped-object.ts";
import { formatCallchain } from "../kernel-shim/unwind/perf-script.ts";
import type { UnwindTrace } from "../kernel-shim/unwind/types.ts";
import { unwindUser } from "../kernel-shim/unwind/unwind-user.ts";
import { type MappedLib, mapObject } from "../loader/map-object.ts";
import { regionsOf, sframeRangesOf } from "../report/from-process.ts";
import type { ReportData } from "../report/model.ts";
import { syscallEntry, TimelineRecorder } from "../report/timeline.ts";

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "test", "fixtures", "sframe");
export const V3_DIR = join(FIXTURES, "v3", "x86_64");
export const V1_DIR = join(FIXTURES, "v1", "x86_64");

const REGISTER = 1;
const UNREGISTER = 2;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_PRIVATE = 0x02;
const MAP_ANONYMOUS = 0x20;

const hex = (v: bigint) => `0x${v.toString(16)}`;

/** One syscall as the case made it: strace's line, the raw return, and the kernel's failed check. */
export interface CaseCall {
  readonly kind: "call";
  readonly line: string;
  readonly ret: bigint;
  /** `EEXIST`, `EINVAL`… when ret is -errno. */
  readonly errno?: string;
  /** The check in `sframe_add_section` that refused it, and the kernel's reason. */
  readonly check?: string;
  readonly message?: string;
}

/** Something the case looked at (registry content, an unwind) rather than a call. */
export interface CaseObservation {
  readonly kind: "observe";
  readonly text: string;
}

export type CaseStep = CaseCall | CaseObservation;

export interface EdgeCase {
  readonly id: string;
  readonly title: string;
  /** What the proposal's kernel does, in one sentence. */
  readonly summary: string;
  readonly steps: readonly CaseStep[];
  /** Registry contents (text ranges) at the end, per process label. */
  readonly registries: Readonly<Record<string, readonly string[]>>;
  readonly traces: readonly {
    readonly title: string;
    readonly trace: UnwindTrace;
    readonly lines: readonly string[];
  }[];
  /** The case as report data (maps, registrations, timeline). */
  readonly report: () => ReportData;
}

/** A fresh kernel with a logging process in the fixture directory, and the step list of one case. */
class World {
  readonly ks: KernelSframe;
  readonly log = new StraceLog();
  readonly kernel: Kernel;
  readonly proc: Process;
  readonly steps: CaseStep[] = [];
  readonly recorder: TimelineRecorder;
  readonly traces: { title: string; trace: UnwindTrace; lines: string[] }[] = [];
  /** The libraries mapped now, for symbolizing traces as perf would. */
  private readonly mapped = new Map<bigint, MappedObject>();

  constructor(kernelOptions: KernelSframeOptions = {}, cwd = V3_DIR) {
    this.ks = new KernelSframe(kernelOptions);
    this.kernel = new Kernel(new HostFs(), {
      sframe: this.ks,
      stacktraceSetup: stacktraceSetupHandler(this.ks),
      log: this.log,
    });
    this.proc = Process.spawn(this.kernel, { cwd });
    this.recorder = new TimelineRecorder(this.log, this.ks, { showPid: true });
  }

  /** ld.so's mapping of one library (its syscalls go to the timeline, not to the case's steps). */
  map(path: string, proc: Process = this.proc): MappedLib {
    const lib = mapObject(proc, path);
    if (proc === this.proc) this.mapped.set(lib.mapStart, new MappedObject(path, ElfFile.openPath(path), lib.lAddr));
    this.recorder.note(`ld.so mapped ${path.slice(path.lastIndexOf("/") + 1)} at ${hex(lib.mapStart)}`);
    return lib;
  }

  /** A syscall whose line and result are part of the case. */
  call(name: string, args: readonly (number | bigint)[], proc: Process = this.proc): CaseCall {
    const sframeBefore = this.ks.events.length;
    const logBefore = this.log.events.length;
    const ret = syscall(proc, name, ...args);
    const ev = this.log.events[logBefore];
    const line = ev ? syscallEntry(ev).text : `${name}(…) = ${ret}`;
    const kev = this.ks.events[sframeBefore];
    const failed = ret < 0n && ret >= -4095n;
    const call: CaseCall = {
      kind: "call",
      line: proc === this.proc ? line : `[pid ${proc.pid}] ${line}`,
      ret,
      ...(failed ? { errno: errnoName(Number(ret)) } : {}),
      ...(failed && kev?.kind === "register" && kev.check !== undefined ? { check: kev.check } : {}),
      ...(failed && kev?.kind === "register" && kev.message !== undefined ? { message: kev.message } : {}),
      ...(failed && kev?.kind === "unregister"
        ? { check: "sframe_remove_section", message: "no entry starts there" }
        : {}),
    };
    this.steps.push(call);
    return call;
  }

  /** ld.so's munmap of a whole library (a step of the case). */
  unmap(lib: MappedLib): CaseCall {
    this.mapped.delete(lib.mapStart);
    return this.call("munmap", [lib.mapStart, lib.mapEnd - lib.mapStart]);
  }

  observe(text: string): void {
    this.steps.push({ kind: "observe", text });
    this.recorder.note(text);
  }

  registry(proc: Process = this.proc): readonly SframeSection[] {
    return this.ks.registryOf(proc.mm).list();
  }

  registryText(proc: Process = this.proc): string[] {
    return this.registry(proc).map(
      (s) =>
        `text [${hex(s.textStart)}, ${hex(s.textEnd)}] sframe ${hex(s.sframeStart)}${s.label ? ` ${s.label}` : ""}`,
    );
  }

  /** An anonymous page to hold a (tiny) user stack for an unwind, as the thread's stack would. */
  stackPage(proc: Process = this.proc): bigint {
    return syscall(proc, "mmap", 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }

  /** The kernel's unwind of a sample at `pc` (SP in `stack`, no frame pointer) through the mm's registry. */
  unwindAt(title: string, pc: bigint, stack: bigint, proc: Process = this.proc): UnwindTrace {
    const mm = proc.mm;
    const memory = {
      readWord: (a: bigint) => (a > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : mm.readU64(Number(a))),
    };
    const trace = unwindUser("x86_64", { pc, sp: stack + 0x800n, fp: 0n }, memory, this.ks.finder(mm));
    const lines = formatCallchain(trace, new ObjectSet([...this.mapped.values()]));
    this.traces.push({ title, trace, lines });
    const miss = trace.frames.find((f) => f.sframeMiss !== undefined)?.sframeMiss;
    this.observe(
      `${title}: ${trace.frames.length} frame(s), stop ${trace.stop.kind} (${trace.stop.detail})${miss ? `; SFrame: ${miss}` : ""}`,
    );
    return trace;
  }

  report(title: string, summary: string): ReportData {
    // strace shows `[pid N]` only once there is more than one process.
    const many = this.kernel.processes.size > 1;
    const timeline = this.recorder.timeline.map((e) => {
      if (many || e.pid === undefined) return e;
      const { pid: _pid, ...rest } = e;
      return rest;
    });
    return {
      title: `ldsim report — ${title}`,
      subtitle: summary,
      regions: regionsOf(this.proc.mm),
      sframe: sframeRangesOf(this.ks.events, this.proc.mm, this.registry()),
      timeline,
      traces: this.traces.map(({ title: t, trace, lines }) => ({
        title: t,
        lines,
        stop: `${trace.stop.kind}: ${trace.stop.detail}`,
        methods: trace.frames.map((f) => f.method),
      })),
      maps: this.proc.mm.renderMaps(),
    };
  }
}

interface Layout {
  /** The PT_GNU_SFRAME segment at run time. */
  readonly sframe: bigint;
  readonly sframeLen: bigint;
  /** The (single) executable PT_LOAD at run time. */
  readonly text: bigint;
  readonly textLen: bigint;
}

function layoutOf(lib: MappedLib): Layout {
  const sf = lib.phdrs.find((p) => p.type === PT_GNU_SFRAME) as ProgramHeader;
  const tx = lib.phdrs.find((p) => p.type === PT_LOAD && (p.flags & PF_X) !== 0) as ProgramHeader;
  return { sframe: lib.lAddr + sf.vaddr, sframeLen: sf.memsz, text: lib.lAddr + tx.vaddr, textLen: tx.memsz };
}

const registerArgs = (l: Layout, text = l.text, textLen = l.textLen, sframeLen = l.sframeLen) =>
  [REGISTER, l.sframe, sframeLen, text, textLen] as const;

function finish(w: World, id: string, title: string, summary: string): EdgeCase {
  const registries: Record<string, string[]> = { [`pid ${w.proc.pid}`]: w.registryText() };
  for (const p of w.kernel.processes.values()) {
    if (p !== w.proc) registries[`pid ${p.pid}`] = w.registryText(p);
  }
  return {
    id,
    title,
    summary,
    steps: w.steps,
    registries,
    traces: w.traces,
    report: () => w.report(title, summary),
  };
}

/** Two text ranges that touch: the second starts at the first's text_end. */
export function touchingRanges(): EdgeCase {
  const w = new World();
  const lib = w.map(join(V3_DIR, "libb.so"));
  const l = layoutOf(lib);
  w.call("stacktrace_setup", registerArgs(l));
  const end = l.text + l.textLen;
  w.call("stacktrace_setup", registerArgs(l, end, 0x10n));
  w.call("stacktrace_setup", registerArgs(l, end + 1n, 0x10n));
  w.observe(`registry: ${w.registryText().join("; ")}`);
  return finish(
    w,
    "touching",
    "Touching text ranges (EEXIST)",
    "text_end is exclusive in the syscall but inserted into the maple tree as an inclusive end, so a range starting exactly at another's text_end overlaps it: -EEXIST; one byte later it is accepted (kernel sframe_add_section check 11, mtree_insert_range). Real objects hit this when one PT_LOAD's p_memsz ends exactly where another registered text starts.",
  );
}

/** A text range that runs past the end of its executable VMA into the next one. */
export function textSpansTwoVmas(): EdgeCase {
  const w = new World();
  const lib = w.map(join(V3_DIR, "libb.so"));
  const l = layoutOf(lib);
  const vma = w.proc.mm.findVma(Number(l.text));
  const vmaEnd = BigInt(vma?.end ?? 0);
  w.call("stacktrace_setup", registerArgs(l, l.text, vmaEnd - l.text + 0x10n));
  w.call("stacktrace_setup", registerArgs(l));
  return finish(
    w,
    "text-two-vmas",
    "Text spanning two VMAs (EINVAL)",
    "The text range must lie inside one executable VMA; one that runs 16 bytes into the next (read-only) VMA is refused with -EINVAL by the text-VMA check. The real segment then registers.",
  );
}

/** An SFrame section (as described by its length) that runs past the end of its VMA. */
export function sectionSpansTwoVmas(): EdgeCase {
  const w = new World();
  const lib = w.map(join(V3_DIR, "libb.so"));
  const l = layoutOf(lib);
  const vma = w.proc.mm.findVma(Number(l.sframe));
  const vmaEnd = BigInt(vma?.end ?? 0);
  w.call("stacktrace_setup", registerArgs(l, l.text, l.textLen, vmaEnd - l.sframe + 0x10n));
  return finish(
    w,
    "section-two-vmas",
    "SFrame section spanning two VMAs (EINVAL)",
    "[sframe_start, sframe_start + len) must lie inside one VMA (any permissions); a length running into the next VMA is refused with -EINVAL by the sframe-VMA check, before the header is read.",
  );
}

/** ld.so unmaps a library without unregistering it; the stale entry lives until an unwind faults on it. */
export function unregisterAfterMunmap(): EdgeCase {
  const w = new World();
  const stack = w.stackPage();
  const lib = w.map(join(V3_DIR, "libb.so"));
  const l = layoutOf(lib);
  w.call("stacktrace_setup", registerArgs(l));
  w.unmap(lib);
  w.observe(`after munmap, still registered (stale): ${w.registryText().join("; ")}`);
  w.unwindAt("sample with a return address into the unmapped text", l.text + 0x85n, stack);
  w.observe(`after the unwind: ${w.registry().length} entries registered`);
  w.call("stacktrace_setup", [UNREGISTER, l.sframe, 0, 0, 0]);
  return finish(
    w,
    "unregister-after-munmap",
    "Unregister after munmap (stale entry, then removal at the first fault)",
    "munmap does not touch the SFrame tree: the entry stays until an unwind looks up a PC in its text and reading the section faults (EFAULT), when the kernel removes the whole section; ld.so's late unregister then finds nothing (-EINVAL).",
  );
}

/** A new library mapped where an unmapped-but-still-registered one was. */
export function addressReuse(): EdgeCase {
  const w = new World();
  const stack = w.stackPage();
  const libb = w.map(join(V3_DIR, "libb.so"));
  const lb = layoutOf(libb);
  w.call("stacktrace_setup", registerArgs(lb));
  w.unmap(libb);
  const liba = w.map(join(V3_DIR, "liba.so"));
  const la = layoutOf(liba);
  w.observe(
    `liba.so mapped at ${hex(liba.mapStart)} (libb.so was at ${hex(libb.mapStart)}); liba text [${hex(la.text)}, ${hex(la.text + la.textLen)}), stale libb entry text [${hex(lb.text)}, ${hex(lb.text + lb.textLen)}]`,
  );
  w.call("stacktrace_setup", registerArgs(la));
  const under = w.proc.mm.findVma(Number(lb.sframe));
  w.observe(
    `registry: ${w.registryText().join("; ")} — its section address now lies in ${under ? `${under.file?.inode.path.slice(under.file.inode.path.lastIndexOf("/") + 1) ?? "anonymous memory"} (offset ${hex(BigInt(under.pgoff * 4096) + lb.sframe - BigInt(under.start))})` : "no mapping"}`,
  );
  // A sample in liba_mid (liba.so's text): the lookup finds libb's stale entry and reads "its"
  // section — now liba.so's bytes at libb's .sframe address — with the header fields cached at
  // libb's registration.
  const path = join(V3_DIR, "liba.so");
  const mid = new MappedObject(path, ElfFile.openPath(path), liba.lAddr).addressOf("liba_mid");
  w.unwindAt("sample in liba_mid (liba.so)", (mid?.value ?? la.text) + 0x1cn, stack);
  w.observe(`after the unwind: ${w.registry().length} entr${w.registry().length === 1 ? "y" : "ies"} registered`);
  // Only ld.so's (late) unregister of the old library clears the way.
  w.call("stacktrace_setup", [UNREGISTER, lb.sframe, 0, 0, 0]);
  w.call("stacktrace_setup", registerArgs(la));
  return finish(
    w,
    "address-reuse",
    "Address reuse before unregister",
    "A library mapped into a just-freed range while the old entry is still registered cannot register its own SFrame (-EEXIST: the stale text range overlaps), and unwinds of its PCs use the old library's entry, which now reads the new library's bytes as an SFrame section (here: no FDE, so the FP fallback). Only the old library's late unregister lets the new one register.",
  );
}

/** fork(): the child's mm starts with an empty SFrame tree. */
export function forkLosesRegistrations(): EdgeCase {
  const w = new World();
  const lib = w.map(join(V3_DIR, "libb.so"));
  const l = layoutOf(lib);
  w.call("stacktrace_setup", registerArgs(l));
  const pid = w.call("fork", []).ret;
  const child = w.kernel.processes.get(Number(pid)) as Process;
  w.observe(
    `parent pid ${w.proc.pid}: ${w.registry().length} entr${w.registry().length === 1 ? "y" : "ies"}; child pid ${child.pid}: ${w.registry(child).length} entries`,
  );
  // The child has the same mappings; only a new registration gives it SFrame again.
  w.call("stacktrace_setup", [UNREGISTER, l.sframe, 0, 0, 0], child);
  w.call("stacktrace_setup", registerArgs(l), child);
  return finish(
    w,
    "fork",
    "fork() loses registrations",
    "The child's mm gets a fresh, empty tree (dup_mm → mm_init → mt_init; no code copies sframe_mt, as read): its copy of the library has no SFrame until someone registers it again in the child (its unregister finds nothing: -EINVAL).",
  );
}

/** A v1 section (binutils 2.40's `as --gsframe`) offered to the default (v3-only) kernel. */
export function versionMismatch(): EdgeCase {
  const w = new World({}, V1_DIR);
  const lib = w.map(join(V1_DIR, "libb.so"));
  const l = layoutOf(lib);
  w.call("stacktrace_setup", registerArgs(l));
  const w2 = new World({ acceptedVersions: [1, 2, 3], requirePcrel: false }, V1_DIR);
  const lib2 = w2.map(join(V1_DIR, "libb.so"));
  const l2 = layoutOf(lib2);
  const accepted = w2.call("stacktrace_setup", registerArgs(l2));
  w.steps.push(
    { kind: "observe", text: "a kernel configured to accept versions 1–3 without the PCREL flag:" },
    accepted,
  );
  return finish(
    w,
    "version",
    "Version mismatch (v1 section → EINVAL)",
    "The sframe/core kernel accepts SFRAME_VERSION_3 only: a section from binutils 2.40 (version 1) fails the header check with -EINVAL; a kernel built to accept older versions takes it.",
  );
}

/** A kernel built without CONFIG_HAVE_UNWIND_USER_SFRAME. */
export function enosys(): EdgeCase {
  const w = new World({ enabled: false });
  const lib = w.map(join(V3_DIR, "libb.so"));
  const l = layoutOf(lib);
  w.call("stacktrace_setup", registerArgs(l));
  w.call("stacktrace_setup", [UNREGISTER, l.sframe, 0, 0, 0]);
  return finish(
    w,
    "enosys",
    "ENOSYS on a kernel without SFrame",
    "Without CONFIG_HAVE_UNWIND_USER_SFRAME the syscall is sys_ni_syscall (kernel/sys_ni.c, as the series touches it): every op returns -ENOSYS, and ld.so must treat that as 'no kernel support', not as an error in the library.",
  );
}

export const EDGE_CASES: readonly (() => EdgeCase)[] = [
  touchingRanges,
  textSpansTwoVmas,
  sectionSpansTwoVmas,
  unregisterAfterMunmap,
  addressReuse,
  forkLosesRegistrations,
  versionMismatch,
  enosys,
];

/** The cases by id (`touching`, `address-reuse`, …), for `ldsim report --case ID`. */
export const EDGE_CASE_BY_ID: Readonly<Record<string, () => EdgeCase>> = {
  touching: touchingRanges,
  "text-two-vmas": textSpansTwoVmas,
  "section-two-vmas": sectionSpansTwoVmas,
  "unregister-after-munmap": unregisterAfterMunmap,
  "address-reuse": addressReuse,
  fork: forkLosesRegistrations,
  version: versionMismatch,
  enosys,
};

/** A case as text: the calls with their results and failed checks, the observations, the registries. */
export function formatCase(c: EdgeCase, index: number): string[] {
  const out = [`=== ${index + 1}. ${c.title}`, c.summary, ""];
  for (const s of c.steps) {
    if (s.kind === "observe") {
      out.push(`# ${s.text}`);
      continue;
    }
    out.push(s.line);
    if (s.check !== undefined) {
      const why = s.message?.startsWith(s.check) ? s.message : `${s.check}: ${s.message ?? ""}`;
      out.push(`    ↳ kernel check failed: ${why}`);
    }
  }
  for (const [who, list] of Object.entries(c.registries)) {
    out.push(`# registry of ${who} at the end: ${list.length === 0 ? "(empty)" : list.join("; ")}`);
  }
  out.push("");
  return out;
}
