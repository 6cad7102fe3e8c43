/**
 * One run of one registration design on one workload: a fresh kernel configured by the design, a
 * process, and an observer that, after every system call, asks what a sample in each piece of live
 * code would get from the kernel (the design's side-effect-free `probe`) and what the registry holds.
 * That gives the windows of the comparison in units of "system-call boundaries": the points at which
 * another thread's sample could land.
 */

import { PF_X, PT_GNU_SFRAME, PT_LOAD } from "../formats/elf/constants.ts";
import { ElfFile } from "../formats/elf/file.ts";
import { errnoName } from "../kernel-shim/errno.ts";
import { execElf } from "../kernel-shim/exec/binfmt-elf.ts";
import { HostFs } from "../kernel-shim/fs/host-fs.ts";
import type { AddressSpace } from "../kernel-shim/mm/address-space.ts";
import { VM_EXEC } from "../kernel-shim/mm/prot-flags.ts";
import { Kernel } from "../kernel-shim/process/kernel.ts";
import { Process } from "../kernel-shim/process/process.ts";
import type { SyscallEvent } from "../kernel-shim/strace/event.ts";
import { StraceLog } from "../kernel-shim/strace/log.ts";
import { syscall } from "../kernel-shim/syscalls/dispatch.ts";
import { MappedObject, ObjectSet } from "../kernel-shim/unwind/mapped-object.ts";
import type { SframeFinder, UnwindOptions, UnwindTrace } from "../kernel-shim/unwind/types.ts";
import { unwindUser } from "../kernel-shim/unwind/unwind-user.ts";
import { type MappedLib, mapObject } from "../loader/map-object.ts";
import { CachedFs } from "./cached-fs.ts";
import type { Design, DesignRuntime, JitBlob } from "./designs/types.ts";
import { emptyMetrics, type RunMetrics, type Where } from "./metrics.ts";

/** Where code is in its life: being mapped by the loader, running, being unmapped, gone. */
export type Phase = "loading" | "live" | "unloading" | "gone";

/** A piece of code the lab follows (an ELF object or a JIT blob). */
export interface Tracked {
  readonly name: string;
  /** File the text maps (VMA identity); undefined for anonymous JIT code. */
  readonly path: string | undefined;
  /** Executable ranges [start, end). */
  readonly texts: ReadonlyArray<readonly [bigint, bigint]>;
  /** The section a correct kernel would use for this code; undefined when it has none usable. */
  readonly sframeStart: bigint | undefined;
  /** The section the code's own file (or JIT) carries, usable or not (a registered damaged one is not stale). */
  readonly ownSframe?: bigint;
  phase: Phase;
}

const MAP_CHANGING = new Set(["mmap", "munmap", "mprotect", "brk", "execve"]);

/** A StraceLog that calls back after each recorded call (the observer's clock). */
class ObservedLog extends StraceLog {
  constructor(private readonly onCall: (ev: SyscallEvent) => void) {
    super();
  }
  override record(ev: SyscallEvent): void {
    super.record(ev);
    this.onCall(ev);
  }
}

/** One cached view of the host's files for every run of the lab (see cached-fs.ts). */
const sharedFs = new CachedFs(new HostFs());

const elfCache = new Map<string, ElfFile>();
const objectCache = new Map<string, MappedObject>();
/** A MappedObject per (file, bias), shared across runs: its symbol table and call sites are parsed once. */
function mappedObject(path: string, truth: string, bias: bigint): MappedObject {
  const key = `${path}\0${truth}\0${bias}`;
  let o = objectCache.get(key);
  if (!o) {
    o = new MappedObject(path, elfOf(truth), bias, null);
    objectCache.set(key, o);
  }
  return o;
}
/** The ELF of a path, parsed once per lab process (the files do not change during a run). */
export function elfOf(path: string): ElfFile {
  let e = elfCache.get(path);
  if (!e) {
    e = ElfFile.openPath(path);
    elfCache.set(path, e);
  }
  return e;
}

export interface WorldOptions {
  readonly cwd?: string;
  /** Whether a file's SFrame is usable by the kernel (default: it has PT_GNU_SFRAME). */
  readonly usable?: (path: string) => boolean;
  /** The file whose symbols and frame layouts are the truth for `path` (a damaged copy → its original). */
  readonly truthFile?: (path: string) => string;
  /**
   * Unwinder options. Default `registerRules: "unwound-sp-fp"`: the fixture's libb_aligned is a
   * realigned (DRAP) frame that the kernel code as read cannot step through below the top frame, which
   * would end every fixture sample at depth 3 under every design and hide their differences.
   */
  readonly unwind?: UnwindOptions;
  /** Called at every system-call boundary: another thread's sampler (see workloads/sampler-race.ts). */
  readonly sampler?: (world: World) => void;
}

export class World {
  readonly rt: DesignRuntime;
  readonly kernel: Kernel;
  readonly proc: Process;
  readonly metrics: RunMetrics;
  readonly tracked: Tracked[] = [];
  private where: Where | undefined;
  private readonly usable: (path: string) => boolean;
  private readonly truthFile: (path: string) => string;
  sampler: ((world: World) => void) | undefined;
  private readonly unwindOptions: UnwindOptions;
  private finderCache:
    | { changes: number; mapChanges: number; mm: AddressSpace; finder: SframeFinder | null }
    | undefined;
  /** The object ld.so is mapping right now (tracked as soon as its text appears). */
  private loading: { readonly path: string; tracked: Tracked | undefined } | undefined;
  private sampling = false;
  /** Calls that may have changed what memory holds (a finder's cached section bytes then go stale). */
  private mapChanges = 0;

  constructor(
    readonly design: Design,
    options: WorldOptions = {},
  ) {
    this.rt = design.create();
    this.metrics = emptyMetrics(design.name);
    this.usable = options.usable ?? ((p) => elfOf(p).programHeaders.some((h) => h.type === PT_GNU_SFRAME));
    this.truthFile = options.truthFile ?? ((p) => p);
    this.sampler = options.sampler;
    this.unwindOptions = options.unwind ?? { registerRules: "unwound-sp-fp" };
    const log = new ObservedLog((ev) => this.afterCall(ev));
    this.kernel = new Kernel(sharedFs, { ...this.rt.kernelOptions, log });
    this.proc = Process.spawn(this.kernel, options.cwd !== undefined ? { cwd: options.cwd } : {});
  }

  get mm() {
    return this.proc.mm;
  }

  // ---- the observer ----

  private afterCall(ev: SyscallEvent): void {
    this.metrics.syscalls.total++;
    if (MAP_CHANGING.has(ev.name)) this.mapChanges++;
    if (ev.name === "stacktrace_setup" || ev.name === "prctl") {
      const where = this.where ?? "other";
      this.metrics.syscalls.added++;
      this.metrics.syscalls.where[where] = (this.metrics.syscalls.where[where] ?? 0) + 1;
      const ret = ev.ret ?? 0n;
      if (ret < 0n) {
        const name = errnoName(Number(ret));
        this.metrics.syscalls.failed[name] = (this.metrics.syscalls.failed[name] ?? 0) + 1;
      }
    }
    this.observe();
  }

  /** Is this code's first executable range mapped executable, by its own file (or anonymously)? */
  private mapped(t: Tracked): boolean {
    const first = t.texts[0];
    if (!first) return false;
    const vma = this.mm.findVma(Number(first[0]));
    if (!vma || (vma.flags & VM_EXEC) === 0) return false;
    return t.path === undefined ? vma.file === undefined : vma.file?.inode.path === t.path;
  }

  /** One boundary: classify what a sample in each mapped tracked text would get; count stale entries. */
  observe(): void {
    const w = this.metrics.windows;
    w.boundaries++;
    if (this.loading && !this.loading.tracked) this.loading.tracked = this.trackLoading(this.loading.path);
    const live: Tracked[] = [];
    for (const t of this.tracked) {
      if (t.phase === "gone" || !this.mapped(t)) continue;
      live.push(t);
      if (t.sframeStart === undefined) continue;
      const first = t.texts[0] as readonly [bigint, bigint];
      const p = this.rt.probe(this.mm, first[0]);
      if (p.kind === "resolve" || (p.kind === "section" && p.sframeStart === t.sframeStart)) continue;
      if (p.kind === "section") w.wrongSection++;
      else if (t.phase === "live") w.uncoveredLive++;
      else w.uncoveredLoader++;
    }
    for (const e of this.rt.ks.registryOf(this.mm).list()) {
      const ok = live.some(
        (t) =>
          (t.ownSframe ?? t.sframeStart) === e.sframeStart &&
          t.texts.some(([s, end]) => s <= e.textEnd && e.textStart < end),
      );
      if (!ok) w.staleEntries++;
    }
    const bytes = this.rt.kernelBytes(this.mm);
    if (bytes > this.metrics.memory.peak) this.metrics.memory.peak = bytes;
    if (this.sampler && !this.sampling) {
      this.sampling = true;
      try {
        this.sampler(this);
      } finally {
        this.sampling = false;
      }
    }
  }

  /** The object being mapped, once an executable VMA of its file is in place (its bias known from it). */
  private trackLoading(path: string): Tracked | undefined {
    const elf = elfOf(path);
    const texts = elf.programHeaders.filter((p) => p.type === PT_LOAD && (p.flags & PF_X) !== 0);
    const page = BigInt(this.mm.pageSize);
    for (const v of this.mm.vmas()) {
      if ((v.flags & VM_EXEC) === 0 || v.file?.inode.path !== path) continue;
      const off = BigInt(v.pgoff) * page;
      const seg = texts.find((p) => p.offset >= off && p.offset < off + BigInt(v.end - v.start));
      if (!seg) continue;
      const bias = BigInt(v.start) + (seg.offset - off) - seg.vaddr;
      if (this.tracked.some((t) => t.phase !== "gone" && t.path === path && t.texts[0]?.[0] === bias + seg.vaddr))
        continue;
      return this.trackElf(path, bias, "loading");
    }
    return undefined;
  }

  /** Run `f` with added system calls attributed to `where`. */
  as<T>(where: Where, f: () => T): T {
    const prev = this.where;
    this.where = where;
    try {
      return f();
    } finally {
      this.where = prev;
    }
  }

  // ---- code the lab follows ----

  track(t: Omit<Tracked, "phase">, phase: Phase = "live"): Tracked {
    const full: Tracked = { ...t, phase };
    this.tracked.push(full);
    return full;
  }

  /** Stop following code that is gone. */
  untrack(t: Tracked): void {
    t.phase = "gone";
    const i = this.tracked.indexOf(t);
    if (i >= 0) this.tracked.splice(i, 1);
    this.observe();
  }

  /** An ELF object mapped at load bias `bias`. */
  trackElf(path: string, bias: bigint, phase: Phase = "live"): Tracked {
    const elf = elfOf(path);
    const sf = elf.programHeaders.find((p) => p.type === PT_GNU_SFRAME);
    const texts = elf.programHeaders
      .filter((p) => p.type === PT_LOAD && (p.flags & PF_X) !== 0)
      .map((p) => [bias + p.vaddr, bias + p.vaddr + p.memsz] as const);
    const name = path.slice(path.lastIndexOf("/") + 1);
    return this.track(
      {
        name,
        path,
        texts,
        sframeStart: sf && this.usable(path) ? bias + sf.vaddr : undefined,
        ...(sf ? { ownSframe: bias + sf.vaddr } : {}),
      },
      phase,
    );
  }

  /** exec the program; tracks it and its interpreter (binfmt_elf registers both under most designs). */
  exec(path: string, argv: readonly string[] = [path], envp: readonly string[] = []): void {
    const ex = execElf(this.proc, path, { argv: [...argv], envp: [...envp] });
    if (!ex.ok) throw new Error(`exec ${path} failed: ${ex.errno} at ${ex.stage}`);
    // The old image is gone with its mm.
    this.tracked.length = 0;
    this.trackElf(path, BigInt(ex.image.loadBias));
    if (ex.image.interpPath) this.trackElf(ex.image.interpPath, BigInt(ex.image.interpBase));
    this.observe();
  }

  /** dlopen's mapping part as ld.so does it (`mapObject`), then the design's loader-side registration. */
  load(path: string): { lib: MappedLib; tracked: Tracked } {
    this.loading = { path, tracked: undefined };
    let lib: MappedLib;
    try {
      lib = this.as("ld.so map", () => mapObject(this.proc, path));
    } finally {
      this.loading = undefined;
    }
    const tracked =
      this.tracked.find((t) => t.phase === "loading" && t.path === path) ?? this.trackElf(path, lib.lAddr, "loading");
    this.as("ld.so map", () => this.rt.afterMap(this.proc, lib));
    tracked.phase = "live";
    this.observe();
    return { lib, tracked };
  }

  /**
   * dlclose's unmapping part (`_dl_unmap_segments`): the design's unregister, then one munmap of the
   * whole span. `order: "munmap-first"` is the other order issue #7 asks about (unregister after munmap).
   */
  unload(
    x: { lib: MappedLib; tracked: Tracked },
    order: "unregister-first" | "munmap-first" = "unregister-first",
  ): void {
    x.tracked.phase = "unloading";
    const unreg = () => this.as("ld.so unmap", () => this.rt.beforeUnmap(this.proc, x.lib));
    if (order === "unregister-first") unreg();
    this.as("ld.so unmap", () => this.syscallRaw("munmap", x.lib.mapStart, x.lib.mapEnd - x.lib.mapStart));
    if (order === "munmap-first") unreg();
    x.tracked.phase = "gone";
    this.observe();
    // Gone code is never looked at again; keep the list short for thousands of cycles.
    const i = this.tracked.indexOf(x.tracked);
    if (i >= 0) this.tracked.splice(i, 1);
  }

  /** Munmap of a whole object span without any loader call (half of an unload, or a foreign mapper). */
  unmapOnly(x: { lib: MappedLib; tracked: Tracked }, where: Where = "other"): void {
    x.tracked.phase = "unloading";
    this.as(where, () => this.syscallRaw("munmap", x.lib.mapStart, x.lib.mapEnd - x.lib.mapStart));
    x.tracked.phase = "gone";
    const i = this.tracked.indexOf(x.tracked);
    if (i >= 0) this.tracked.splice(i, 1);
    this.observe();
  }

  /** The design's loader-side unregister alone (the late half of a munmap-first unload). */
  unregisterOnly(lib: Pick<MappedLib, "lAddr" | "phdrs">): void {
    this.as("ld.so unmap", () => this.rt.beforeUnmap(this.proc, lib));
    this.observe();
  }

  /**
   * Code mapped by something that is not ld.so (a runtime with its own ELF loader): the same mmap
   * sequence, no registration call under any design.
   */
  mapForeign(path: string): { lib: MappedLib; tracked: Tracked } {
    this.loading = { path, tracked: undefined };
    let lib: MappedLib;
    try {
      lib = this.as("other", () => mapObject(this.proc, path));
    } finally {
      this.loading = undefined;
    }
    const tracked =
      this.tracked.find((t) => t.phase === "loading" && t.path === path) ?? this.trackElf(path, lib.lAddr, "loading");
    tracked.phase = "live";
    this.observe();
    return { lib, tracked };
  }

  registerJit(blob: JitBlob): boolean {
    return this.as("jit", () => this.rt.registerJit(this.proc, blob));
  }

  unregisterJit(blob: JitBlob): void {
    this.as("jit", () => this.rt.unregisterJit(this.proc, blob));
  }

  syscallRaw(name: string, ...args: (number | bigint | string | Uint8Array)[]): bigint {
    return syscall(this.proc, name, ...args);
  }

  // ---- samples ----

  /** The objects mapped now (for symbolization and stack synthesis). */
  objects(): ObjectSet {
    return new ObjectSet(
      this.tracked
        .filter((t) => t.phase !== "gone" && t.path !== undefined && this.mapped(t))
        .map((t) => {
          const path = t.path as string;
          const elf = elfOf(this.truthFile(path));
          const first = elf.programHeaders.find((p) => p.type === PT_LOAD && (p.flags & PF_X) !== 0);
          const bias = (t.texts[0] as readonly [bigint, bigint])[0] - (first?.vaddr ?? 0n);
          return mappedObject(path, this.truthFile(path), bias);
        }),
    );
  }

  /** Unwind from `regs` with the design's SFrame method and score it against the true chain `truth`. */
  unwind(regs: { pc: bigint; sp: bigint; fp: bigint }, truth: readonly bigint[]): UnwindTrace {
    const mm = this.mm;
    const memory = {
      readWord: (a: bigint) => (a > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : mm.readU64(Number(a))),
    };
    // A finder reads (and caches) section bytes when made: reuse it only while neither the kernel's
    // SFrame state nor the mappings changed (a new mapping under a stale entry must be read afresh).
    const changes = this.rt.ks.events.length;
    const c = this.finderCache;
    if (c?.changes !== changes || c.mapChanges !== this.mapChanges || c.mm !== mm) {
      this.finderCache = { changes, mapChanges: this.mapChanges, mm, finder: this.rt.finder(mm) };
    }
    const trace = unwindUser("x86_64", regs, memory, this.finderCache?.finder ?? null, this.unwindOptions);
    const s = this.metrics.samples;
    s.count++;
    s.truthFrames += truth.length;
    let good = 0;
    while (good < truth.length && trace.frames[good]?.pc === truth[good]) good++;
    s.correctFrames += good;
    const beyond = trace.frames.slice(good).filter((f) => f.pc !== 0n);
    if (good === truth.length) s.full++;
    else if (beyond.length > 0 && good < truth.length && trace.frames.length > good) {
      // A frame that is not the truth at its depth: the unwinder followed a wrong rule or pointer.
      const wrongFrame = trace.frames[good];
      if (wrongFrame && wrongFrame.pc !== 0n) s.wrong++;
      else s.truncated++;
    } else s.truncated++;
    const bytes = this.rt.kernelBytes(mm);
    if (bytes > this.metrics.memory.peak) this.metrics.memory.peak = bytes;
    return trace;
  }

  /** Close the run: final memory, registration errors, kernel work. */
  finish(): RunMetrics {
    this.metrics.memory.final = this.rt.kernelBytes(this.mm);
    for (const e of this.rt.ks.events) {
      if (e.kind === "register" && e.result !== 0) {
        const k = `${e.origin}:${errnoName(e.result)}`;
        this.metrics.registrationErrors[k] = (this.metrics.registrationErrors[k] ?? 0) + 1;
      }
      if (e.kind === "register" && e.result === 0)
        this.metrics.registrations[e.origin] = (this.metrics.registrations[e.origin] ?? 0) + 1;
      if (e.kind === "auto-remove") this.metrics.autoRemoved++;
    }
    this.metrics.kernelWork = { ...this.rt.kernelWork() };
    return this.metrics;
  }
}
