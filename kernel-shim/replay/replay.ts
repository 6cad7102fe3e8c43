import { LdsimError } from "../../formats/errors.ts";
import { PERF_CONTEXT, PERF_RECORD_MISC, PERF_REG_ARM64, PERF_REG_X86 } from "../../formats/perf/constants.ts";
import type { PerfData } from "../../formats/perf/perf-data.ts";
import type { SampleRecord, SampleRegs, StackUser } from "../../formats/perf/records.ts";
import type { AddressSpace } from "../mm/address-space.ts";
import type { MmArch } from "../mm/layout-constants.ts";
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "../mm/prot-flags.ts";
import { KernelSframe } from "../sframe/kernel-sframe.ts";
import type { UnwindMemory, UnwindOptions, UnwindStop, UserRegs } from "../unwind/types.ts";
import { unwindUser } from "../unwind/unwind-user.ts";
import { ObjectFiles, type PathOptions } from "./object-files.ts";
import { type RegistrationOptions, type ReplayObject, ReplayProcess } from "./replay-process.ts";

export interface ReplayOptions extends PathOptions, Partial<RegistrationOptions> {
  /** SFrame versions the modelled kernel accepts at registration (default [3], the sframe/core tree). */
  readonly acceptedVersions?: readonly number[];
  /** Frame-pointer fallback when no SFrame row covers a PC (default true). */
  readonly fpFallback?: boolean;
  /** Register-based rules below the topmost frame: "kernel" (refused, default) or "unwound-sp-fp". */
  readonly registerRules?: UnwindOptions["registerRules"];
  /** Separate debug files for symbols (default /usr/lib/debug under the sysroot). null: none. */
  readonly debugRoot?: string | null;
}

/** One frame of a replayed trace. */
export interface ReplayFrame {
  /** The address the kernel unwinder recorded: the sample IP, then return addresses. */
  readonly pc: bigint;
  /** perf's map-relative address of `pc` (ip - map start + pgoff), as `perf script` prints it. */
  readonly rel: bigint;
  /** The recorded mapping's name ("[unknown]" outside any). */
  readonly dso: string;
  /** The function containing `pc`, with the offset (perf script's sym+off). */
  readonly sym: { readonly name: string; readonly offset: bigint } | undefined;
  /**
   * The function containing the call instruction (pc - 1 for return addresses, pc for the first
   * frame), with every name at that address: what a comparison with perf's DWARF output uses.
   */
  readonly caller:
    | {
        readonly names: readonly string[];
        readonly offset: bigint;
        /** The alias perf would print (choose_best_symbol). */
        readonly name: string;
      }
    | undefined;
  readonly method?: "sframe" | "fp";
  readonly sframeMiss?: string;
}

export interface ReplayedSample {
  /** Index among the samples in perf script order. */
  readonly index: number;
  readonly offset: number;
  readonly pid: number;
  readonly tid: number;
  readonly comm: string;
  readonly time: bigint | undefined;
  readonly period: bigint | undefined;
  readonly event: string;
  readonly cpumode: number;
  /** Kernel part of the stored callchain (addresses only). */
  readonly kernelChain: readonly bigint[];
  /** User part of the stored callchain (after PERF_CONTEXT_USER), undefined when perf stored none. */
  readonly storedUser: readonly bigint[] | undefined;
  readonly frames: readonly ReplayFrame[];
  readonly stop: UnwindStop | undefined;
  /** Why the sample was not unwound (no user registers: a kernel thread; an unknown process). */
  readonly skipped?: string;
}

export interface ReplayContext {
  readonly arch: MmArch;
  readonly kernel: KernelSframe;
  /** The processes seen, by pid (the last generation of each). */
  readonly processes: ReadonlyMap<number, ReplayProcess>;
  readonly warnings: string[];
}

const PERF_ARCH: Readonly<Record<string, MmArch>> = { x86_64: "x86_64", aarch64: "aarch64", arm64: "aarch64" };

const regIndexMemo = new Map<bigint, ReadonlyMap<number, number>>();

let lastMask: bigint | undefined;
let lastIndex: ReadonlyMap<number, number> | undefined;

/** Position of register `reg` among the sampled registers (the set bits of `mask`, in order). */
function regIndex(mask: bigint, reg: number): number | undefined {
  // Every sample of a recording has the same mask: skip the map lookup (a bigint hash) per call.
  if (mask === lastMask && lastIndex) return lastIndex.get(reg);
  let m = regIndexMemo.get(mask);
  if (!m) {
    const built = new Map<number, number>();
    let n = 0;
    for (let b = 0; b < 64; b++) if ((mask >> BigInt(b)) & 1n) built.set(b, n++);
    m = built;
    regIndexMemo.set(mask, m);
  }
  lastMask = mask;
  lastIndex = m;
  return m.get(reg);
}

/** The value of register `reg` in a REGS_USER sample, or undefined when it was not sampled. */
function regValue(regs: SampleRegs, reg: number): bigint | undefined {
  const k = regIndex(regs.mask, reg);
  return k === undefined ? undefined : regs.value(k);
}

// perf_regs.h numbers, as module locals (read per sample).
const X86_IP = PERF_REG_X86.IP;
const X86_SP = PERF_REG_X86.SP;
const X86_BP = PERF_REG_X86.BP;
const ARM64_PC = PERF_REG_ARM64.PC;
const ARM64_SP = PERF_REG_ARM64.SP;
const ARM64_X29 = PERF_REG_ARM64.X29;
const ARM64_LR = PERF_REG_ARM64.LR;

/** The unwinder's starting registers from a REGS_USER sample (perf_regs.h order). */
export function userRegs(arch: MmArch, s: SampleRecord): UserRegs | string {
  const regs = s.regsUser;
  if (!regs || regs.abi === 0n) return "no user registers (kernel thread, or REGS_USER not sampled)";
  const x86 = arch === "x86_64";
  const pc = regValue(regs, x86 ? X86_IP : ARM64_PC);
  const sp = regValue(regs, x86 ? X86_SP : ARM64_SP);
  const fp = regValue(regs, x86 ? X86_BP : ARM64_X29);
  const ra = x86 ? undefined : regValue(regs, ARM64_LR);
  if (pc === undefined || sp === undefined || fp === undefined) return "sample_regs_user lacks IP, SP or FP";
  return ra === undefined ? { pc, sp, fp } : { pc, sp, fp, ra };
}

/** An empty stored callchain, split (shared: the replayed samples' chains are read-only). */
const NO_CHAIN: { readonly kernel: readonly bigint[]; readonly user: undefined } = Object.freeze({
  kernel: Object.freeze([]) as readonly bigint[],
  user: undefined,
});

const CONTEXT_MAX = PERF_CONTEXT.MAX;
const CONTEXT_USER = PERF_CONTEXT.USER;
const CONTEXT_KERNEL = PERF_CONTEXT.KERNEL;

/** Split a stored callchain at its context markers (PERF_CONTEXT_KERNEL / PERF_CONTEXT_USER). */
export function splitCallchain(chain: readonly bigint[] | undefined): { kernel: bigint[]; user: bigint[] | undefined } {
  const kernel: bigint[] = [];
  let user: bigint[] | undefined;
  let ctx: bigint | undefined;
  if (chain === undefined) return { kernel, user };
  for (let i = 0; i < chain.length; i++) {
    const ip = chain[i] as bigint;
    if (ip >= CONTEXT_MAX) {
      ctx = ip;
      if (ip === CONTEXT_USER) user = user ?? [];
      continue;
    }
    if (ctx === CONTEXT_USER) (user as bigint[]).push(ip);
    else if (ctx === CONTEXT_KERNEL) kernel.push(ip);
  }
  return { kernel, user };
}

/**
 * Replay a recording through the modelled kernel unwinder: rebuild each process from its COMM / FORK /
 * EXIT / MMAP2 records, and unwind every sample from its user registers and stack copy with
 * `unwindUser` and the per-mm `sframe_find_user` — as the SFrame series' kernel would have at that
 * moment. Samples come in `perf script` order (PerfData.ordered).
 */
export function* replaySamples(
  data: PerfData,
  options: ReplayOptions = {},
  context?: { out?: ReplayContext },
): Generator<ReplayedSample> {
  const archName = data.features.arch ?? "x86_64";
  const found = PERF_ARCH[archName];
  if (!found) throw new LdsimError(`perf replay: recordings of ${archName} are not supported (x86_64, aarch64)`);
  const arch: MmArch = found;
  const kernel = new KernelSframe({ acceptedVersions: options.acceptedVersions ?? [3] });
  const ids = new Map<string, string>();
  for (const b of data.features.buildIds ?? [])
    if (b.cpumode !== PERF_RECORD_MISC.KERNEL) ids.set(b.filename, b.buildId);
  const files = new ObjectFiles(options, ids);
  const reg: RegistrationOptions = {
    register: options.register ?? "all",
    libcSframe: options.libcSframe ?? "none",
    vdsoSframe: options.vdsoSframe ?? "none",
  };
  const debugRoot = options.debugRoot === undefined ? `${options.sysroot ?? ""}/usr/lib/debug` : options.debugRoot;
  const processes = new Map<number, ReplayProcess>();
  const comms = new Map<number, string>();
  const warnings: string[] = [...data.warnings];
  const ctx: ReplayContext = { arch, kernel, processes, warnings };
  if (context) context.out = ctx;
  const unwindOptions: UnwindOptions = {
    fpFallback: options.fpFallback ?? true,
    ...(options.registerRules ? { registerRules: options.registerRules } : {}),
  };
  const proc = (pid: number) => {
    let p = processes.get(pid);
    if (!p) {
      p = new ReplayProcess(arch, files, kernel, reg, debugRoot);
      processes.set(pid, p);
    }
    return p;
  };
  const eventNames = data.attrs.map((_, k) => data.eventName(k));
  let index = 0;
  // Transient records: each is done with before the next is read (nothing below keeps a byte view).
  for (const r of data.ordered({ transient: true })) {
    switch (r.kind) {
      case "comm":
        comms.set(r.tid, r.comm);
        // exec: a new mm (the old tree is freed, sframe_free_mm); the exec'd image maps next.
        if (r.exec) processes.set(r.pid, new ReplayProcess(arch, files, kernel, reg, debugRoot));
        break;
      case "fork":
        if (r.pid !== r.ppid) {
          const parent = processes.get(r.ppid);
          processes.set(r.pid, parent ? parent.fork() : proc(r.pid));
        }
        if (!comms.has(r.tid) && comms.has(r.ptid)) comms.set(r.tid, comms.get(r.ptid) as string);
        break;
      case "mmap":
        if (r.pid !== 0xffffffff) proc(r.pid).addMmap(r);
        break;
      case "sample":
        yield replayOne(r, index++);
        break;
      default:
        break;
    }
  }
  for (const p of processes.values()) for (const w of p.problems) if (!warnings.includes(w)) warnings.push(w);

  function replayOne(s: SampleRecord, i: number): ReplayedSample {
    const pid = s.pid ?? 0;
    const tid = s.tid ?? pid;
    const chain = s.callchain;
    const { kernel: kernelChain, user: storedUser } =
      chain === undefined || chain.length === 0 ? NO_CHAIN : splitCallchain(chain);
    const comm = comms.get(tid) ?? comms.get(pid) ?? ":-1";
    const event = eventNames[s.attrIndex] ?? "unknown";
    const p = processes.get(pid);
    const regs = userRegs(arch, s);
    if (!p || typeof regs === "string") {
      const skipped = p ? (regs as string) : `no mappings recorded for pid ${pid}`;
      return sampleOf(s, i, pid, tid, comm, event, kernelChain, storedUser, [], undefined, skipped);
    }
    p.settle();
    const memory = stackMemory(p, regs.sp, s.stackUser ?? NO_STACK);
    const memo = p.traceMemo as Map<bigint, MemoTrace[]>;
    const seen = memo.get(regs.pc);
    if (seen) {
      for (const t of seen) {
        if (sameTrace(t, regs, memory))
          return sampleOf(s, i, pid, tid, comm, event, kernelChain, storedUser, t.frames, t.stop, undefined);
      }
    }
    const changes = p.registryChanges;
    const reads = new RecordingMemory(memory, arch !== "s390x");
    const trace = unwindUser(arch, regs, reads, p.finder(), unwindOptions);
    const frames: ReplayFrame[] = new Array(trace.frames.length);
    for (let k = 0; k < trace.frames.length; k++) {
      const f = trace.frames[k] as (typeof trace.frames)[number];
      frames[k] = frameOf(p, f.pc, k === 0, f.method, f.sframeMiss);
    }
    if (p.registryChanges === changes) {
      // Bounded memory: a recording of many distinct deep stacks starts the memo afresh when full.
      const words = reads.addrs.length + frames.length + 8;
      if (p.traceMemoWords + words > TRACE_MEMO_WORDS) p.dropTraces();
      p.traceMemoWords += words;
      const t: MemoTrace = {
        sp: regs.sp,
        fp: regs.fp,
        ra: regs.ra,
        addrs: reads.addrs,
        offsets: reads.offsets,
        values: reads.values,
        halves: reads.halves,
        copyEnd: reads.copyEnd,
        frames,
        stop: trace.stop,
      };
      const list = memo.get(regs.pc);
      if (!list) memo.set(regs.pc, [t]);
      else if (list.length < TRACES_PER_PC) list.push(t);
      else {
        list.shift();
        list.push(t);
      }
    }
    return sampleOf(s, i, pid, tid, comm, event, kernelChain, storedUser, frames, trace.stop, undefined);
  }
}

/**
 * A replayed trace kept for reuse. The unwinder is a pure function of the starting registers, the
 * words it reads and the SFrame lookups' answers; the answers are fixed while the process's
 * mappings and registry are (the memo is dropped when they change), so a later sample starting from
 * the same registers whose reads give the same words unwinds to the same frames. A spinning thread's
 * samples hit a few such traces again and again; checking one costs its reads only.
 */
interface MemoTrace {
  readonly sp: bigint;
  readonly fp: bigint;
  readonly ra: bigint | undefined;
  /** Every word the unwinder read, in order, and what it got (undefined: a fault). */
  readonly addrs: readonly bigint[];
  readonly offsets: readonly number[];
  readonly values: readonly (bigint | undefined)[];
  readonly halves: readonly number[];
  /** The end of the reads above SP when every read was a word of the copy (all defined), else -1. */
  readonly copyEnd: number;
  readonly frames: readonly ReplayFrame[];
  readonly stop: UnwindStop;
}

/** Traces kept per starting PC (a PC reached from several call paths has several). */
const TRACES_PER_PC = 8;
/** Words (reads and frames) the memo of one process may hold: some tens of MB at most. */
const TRACE_MEMO_WORDS = 1 << 19;

function sameTrace(t: MemoTrace, regs: UserRegs, memory: StackMemory): boolean {
  if (t.sp !== regs.sp || t.fp !== regs.fp || t.ra !== regs.ra) return false;
  const { addrs, offsets, values, halves } = t;
  // Every read inside this sample's copy (the usual case): two u32 compares per word, no calls.
  if (t.copyEnd >= 0 && t.copyEnd <= memory.length) {
    const view = memory.view;
    const base = memory.base;
    const le = memory.littleEndian;
    for (let k = 0; k < offsets.length; k++) {
      const at = base + (offsets[k] as number);
      if (view.getUint32(at, le) !== halves[2 * k] || view.getUint32(at + 4, le) !== halves[2 * k + 1]) return false;
    }
    return true;
  }
  for (let k = 0; k < addrs.length; k++) {
    if (
      !memory.sameWord(
        addrs[k] as bigint,
        offsets[k] as number,
        values[k],
        halves[2 * k] as number,
        halves[2 * k + 1] as number,
      )
    )
      return false;
  }
  return true;
}

/** User memory that notes every read (for MemoTrace). */
class RecordingMemory implements UnwindMemory {
  readonly addrs: bigint[] = [];
  /** Offsets above SP (StackMemory.offsetOf). */
  readonly offsets: number[] = [];
  readonly values: (bigint | undefined)[] = [];
  /** Each value's 32-bit halves in memory order (0, 0 for a fault). */
  readonly halves: number[] = [];
  constructor(
    private readonly inner: StackMemory,
    private readonly littleEndian: boolean,
  ) {}
  /** As MemoTrace.copyEnd. */
  copyEnd = 0;
  readWord(addr: bigint): bigint | undefined {
    const v = this.inner.readWord(addr);
    const off = this.inner.offsetOf(addr);
    this.addrs.push(addr);
    this.offsets.push(off);
    this.values.push(v);
    if (this.copyEnd >= 0)
      this.copyEnd = off >= 0 && off + 8 <= this.inner.length ? Math.max(this.copyEnd, off + 8) : -1;
    if (v === undefined) this.halves.push(0, 0);
    else {
      const lo = Number(v & 0xffffffffn);
      const hi = Number(v >> 32n);
      if (this.littleEndian) this.halves.push(lo, hi);
      else this.halves.push(hi, lo);
    }
    return v;
  }
}

const NO_STACK: StackUser = {
  bytes: new Uint8Array(0),
  size: 0,
  dynSize: 0,
  view: new DataView(new ArrayBuffer(0)),
  viewOffset: 0,
};
/** The highest address read as a number (hoisted: a bigint built per call is garbage per word read). */
const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);

/** A replayed sample, built field by field (no object spread: this runs once per sample). */
function sampleOf(
  s: SampleRecord,
  index: number,
  pid: number,
  tid: number,
  comm: string,
  event: string,
  kernelChain: readonly bigint[],
  storedUser: readonly bigint[] | undefined,
  frames: readonly ReplayFrame[],
  stop: UnwindStop | undefined,
  skipped: string | undefined,
): ReplayedSample {
  const out: ReplayedSample = {
    index,
    offset: s.offset,
    pid,
    tid,
    comm,
    time: s.time,
    period: s.period,
    event,
    cpumode: s.cpumode,
    kernelChain,
    storedUser,
    frames,
    stop,
  };
  return skipped === undefined ? out : { ...out, skipped };
}

/**
 * The sample's stack copy as the unwinder's user memory at its SP. The replayed address space holds
 * an anonymous mapping (as the user stack is) around the copy, so that nothing else is placed there;
 * words inside that mapping but outside the copy are unknown and read as a fault, as perf cannot
 * know them either; words elsewhere are read through the mm (the mapped ELF files). The copy's
 * bytes are served from the record itself and not written into the mm: no reader of the mm ever
 * sees that range (every read of it is answered here), and writing 8 KiB per sample was a third of
 * the replay's time. The anonymous range is reused while the next copy fits in it (a thread's SP
 * moves little), and remapped otherwise.
 */
function stackMemory(p: ReplayProcess, sp: bigint, stack: StackUser): StackMemory {
  const mm = p.mm;
  const length = stack.dynSize;
  const end = sp + BigInt(length);
  if (length > 0 && end <= MAX_EXACT) {
    const cur = p.stackRange;
    if (!cur || sp < cur.start || end > cur.end) {
      if (cur) mm.munmap(cur.start, cur.end - cur.start);
      p.stackRange = undefined;
      // A little slack around the copy so that nearby SPs of later samples reuse the mapping.
      const start = (sp & ~4095n) - 0x4000n;
      const stop = ((end + 4095n) & ~4095n) + 0x4000n;
      const clash = mm.findVmaFrom(Number(start));
      if (start > 0n && (clash === undefined || BigInt(clash.start) >= stop)) {
        const r = mm.mmap(start, stop - start, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
        if (r >= 0) p.stackRange = { start, end: stop };
      }
    }
  }
  return new StackMemory(p, sp, end, stack);
}

/** A sample's user memory: its stack copy at SP, the anonymous range around it, the mm elsewhere. */
class StackMemory implements UnwindMemory {
  private readonly mm: AddressSpace;
  readonly littleEndian: boolean;
  private readonly range: { start: bigint; end: bigint } | undefined;
  readonly view: DataView;
  readonly base: number;
  readonly length: number;
  constructor(
    p: ReplayProcess,
    private readonly sp: bigint,
    private readonly end: bigint,
    stack: StackUser,
  ) {
    this.mm = p.mm;
    this.littleEndian = p.arch !== "s390x";
    this.range = p.stackRange;
    this.view = stack.view;
    this.base = stack.viewOffset;
    this.length = stack.dynSize;
  }

  readWord(addr: bigint): bigint | undefined {
    // The copy's words, straight from the record (the replay's hot path: no page-table walk).
    if (addr >= this.sp && addr + 8n <= this.end)
      return this.view.getBigUint64(this.base + Number(addr - this.sp), this.littleEndian);
    const range = this.range;
    if (range && addr >= range.start && addr < range.end) return undefined;
    return addr <= MAX_EXACT ? this.mm.readU64(Number(addr)) : undefined;
  }

  /**
   * Whether the word at `addr` (`off` bytes above SP, or -1) reads as `value`, whose 32-bit halves in
   * memory order are `w0`, `w1`: inside the copy compared as two u32 (no bigint made per check).
   */
  sameWord(addr: bigint, off: number, value: bigint | undefined, w0: number, w1: number): boolean {
    if (off >= 0 && off + 8 <= this.length) {
      if (value === undefined) return false;
      const at = this.base + off;
      return this.view.getUint32(at, this.littleEndian) === w0 && this.view.getUint32(at + 4, this.littleEndian) === w1;
    }
    return this.readWord(addr) === value;
  }

  /** `addr`'s offset above SP when it is a small non-negative number, else -1. */
  offsetOf(addr: bigint): number {
    if (addr < this.sp) return -1;
    const d = addr - this.sp;
    return d < 0x7fffffffn ? Number(d) : -1;
  }
}

function frameOf(
  p: ReplayProcess,
  pc: bigint,
  first: boolean,
  method: ReplayFrame["method"],
  sframeMiss: string | undefined,
): ReplayFrame {
  // Symbolization is memoized per address (bigint keys: no string building per frame), and so is
  // the frame with each method (frames are read-only: one object per address and method, not per frame).
  const memo = (first ? p.frameMemo.first : p.frameMemo.caller) as Map<bigint, MemoFrame>;
  let e = memo.get(pc);
  if (!e) {
    e = { base: symbolizeFrame(p, pc, first, undefined, undefined), sframe: undefined, fp: undefined };
    memo.set(pc, e);
  }
  const f = e.base;
  // The memoized frame with this step's method (literals, not spreads).
  if (method) {
    if (sframeMiss) return { pc: f.pc, rel: f.rel, dso: f.dso, sym: f.sym, caller: f.caller, method, sframeMiss };
    if (method === "sframe") {
      if (!e.sframe) e.sframe = { pc: f.pc, rel: f.rel, dso: f.dso, sym: f.sym, caller: f.caller, method };
      return e.sframe;
    }
    if (!e.fp) e.fp = { pc: f.pc, rel: f.rel, dso: f.dso, sym: f.sym, caller: f.caller, method };
    return e.fp;
  }
  if (sframeMiss) return { pc: f.pc, rel: f.rel, dso: f.dso, sym: f.sym, caller: f.caller, sframeMiss };
  return f;
}

/** A memoized address: its symbolized frame, and that frame with each unwind method once seen. */
interface MemoFrame {
  readonly base: ReplayFrame;
  sframe: ReplayFrame | undefined;
  fp: ReplayFrame | undefined;
}

function symbolizeFrame(
  p: ReplayProcess,
  pc: bigint,
  first: boolean,
  method: ReplayFrame["method"],
  sframeMiss: string | undefined,
): ReplayFrame {
  const map = p.mapAt(pc);
  const rel = map ? pc - map.start + map.pgoff : pc;
  const obj: ReplayObject | undefined = p.objectAt(pc);
  const found = obj?.symbols.symbolize(pc);
  const sym =
    obj && found
      ? { name: obj.best.nameAt(pc - obj.object.bias - found.offset) ?? found.name, offset: found.offset }
      : undefined;
  const at = first ? pc : pc - 1n;
  const callerObj = first ? obj : p.objectAt(at);
  const cs = callerObj?.symbols.symbolize(at);
  let caller: ReplayFrame["caller"];
  if (callerObj && cs) {
    const start = at - callerObj.object.bias - cs.offset;
    const names = callerObj.symbols.namesAt(start);
    const best = callerObj.best.nameAt(start) ?? cs.name;
    caller = { names: names.length > 0 ? names : [cs.name], offset: cs.offset, name: best };
  }
  return {
    pc,
    rel,
    dso: map ? map.filename : "[unknown]",
    sym,
    caller,
    ...(method ? { method } : {}),
    ...(sframeMiss ? { sframeMiss } : {}),
  };
}
