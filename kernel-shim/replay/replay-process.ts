import { basename } from "node:path";
import { EhFrame } from "../../formats/dwarf/eh-frame.ts";
import { PF_R, PF_W, PF_X, PT_INTERP, PT_LOAD } from "../../formats/elf/constants.ts";
import { decodeLatin1 } from "../../formats/elf/file.ts";
import type { MmapRecord } from "../../formats/perf/records.ts";
import { type CfiConversion, sframeFromCfi } from "../../formats/sframe/from-cfi.ts";
import { locateSframe } from "../../formats/sframe/locate.ts";
import { AddressSpace } from "../mm/address-space.ts";
import type { MmArch } from "../mm/layout-constants.ts";
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE } from "../mm/prot-flags.ts";
import type { OpenFile } from "../mm/vma.ts";
import type { KernelSframe } from "../sframe/kernel-sframe.ts";
import { MappedObject } from "../unwind/mapped-object.ts";
import type { SframeFinder, SframeFindResult } from "../unwind/types.ts";
import { BestSymbols } from "./best-symbol.ts";
import { FunctionIndex } from "./function-index.ts";
import type { LoadedFile, ObjectFiles } from "./object-files.ts";

/** Which SFrame sections the modelled kernel is told about. */
export type RegisterPolicy = "all" | "exec" | "none";

export interface RegistrationOptions {
  /** all: exec registers the program and its interpreter, ld.so each library; exec: only exec's; none. */
  readonly register: RegisterPolicy;
  /**
   * The machine's glibc has no SFrame. "from-eh-frame": model a glibc built with --gsframe: its
   * .eh_frame converted to SFrame (formats/sframe/from-cfi.ts), placed in anonymous memory and
   * registered by the loader for libc's text (only when libraries are registered: --register all).
   */
  readonly libcSframe: "none" | "from-eh-frame";
  /**
   * This kernel's vDSO has no SFrame. "from-eh-frame": model a vDSO built with SFrame (its .eh_frame
   * converted), registered by the kernel when it maps the vDSO at exec (the vDSO image comes from
   * perf's build-id cache, ~/.debug/[vdso]/ID/vdso, where perf saved it while recording).
   */
  readonly vdsoSframe?: "none" | "from-eh-frame";
}

/** A recorded mapping, as perf's maps hold it: the range and the file offset of its start. */
export interface RecordedMap {
  readonly start: bigint;
  readonly end: bigint;
  readonly pgoff: bigint;
  readonly filename: string;
  readonly exec: boolean;
}

/** One ELF object placed in the replayed address space. */
export interface ReplayObject {
  readonly recordedPath: string;
  readonly object: MappedObject;
  /** The names perf would print (its choice among aliases). */
  readonly best: BestSymbols;
  /** Its function symbols, for symbolizing frames. */
  readonly symbols: FunctionIndex;
  readonly role: "executable" | "interpreter" | "vdso" | "library";
  /** How its SFrame got registered (or why not), one line per PF_X segment. */
  readonly registration: readonly string[];
}

/**
 * SFrame sections converted from .eh_frame, by build-id (or path and size), load bias and placement:
 * the conversion stands in for a build step (glibc or the vDSO built with --gsframe would carry the
 * section in the file), so it is done once per object and placement in a process rather than again
 * for every replay of the same recording. The bytes are a pure function of the key.
 */
const converted = new Map<string, CfiConversion>();
const CONVERTED_MAX = 16;

const PAGE = 4096n;
const down = (v: bigint) => v & ~(PAGE - 1n);
const up = (v: bigint) => (v + PAGE - 1n) & ~(PAGE - 1n);

function protOf(flags: number): number {
  return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) | (flags & PF_X ? PROT_EXEC : 0);
}

function interpName(file: LoadedFile): string | undefined {
  const ph = file.elf.programHeaders.find((p) => p.type === PT_INTERP);
  if (!ph) return undefined;
  const b = file.elf.segmentData(ph);
  const nul = b.indexOf(0);
  return decodeLatin1(b, 0, nul < 0 ? b.length : nul);
}

/**
 * One process of the recording, rebuilt in the kernel model: its recorded mappings (perf's view), an
 * AddressSpace holding the ELF files mapped as exec and ld.so mapped them (every PT_LOAD at the load
 * bias the recorded executable mapping implies), and the per-mm SFrame registry filled as exec
 * (binfmt_elf: the program and its interpreter) and the loader (`stacktrace_setup` per library) would.
 */
export class ReplayProcess {
  readonly mm: AddressSpace;
  readonly maps: RecordedMap[] = [];
  readonly objects: ReplayObject[] = [];
  /** Objects that could not be used, with why (reported once). */
  readonly problems: string[] = [];
  private readonly placed = new Set<string>();
  private pending: MmapRecord[] = [];
  private finderCache: SframeFinder | null | undefined;
  /**
   * Per-PC memo of the finder's answers while the registry is unchanged. sframe_find_user is a pure
   * function of (registry, section bytes, pc); only lookups that changed nothing are memoized (an
   * EFAULT removes the section, so it is never cached).
   */
  private findMemo = new Map<bigint, SframeFindResult>();
  /** Per-address memo for symbolization, dropped whenever the mappings change. */
  readonly frameMemo = { first: new Map<bigint, unknown>(), caller: new Map<bigint, unknown>() };
  /**
   * Per-PC memo of whole replayed traces (replay.ts), valid while the mappings and the SFrame
   * registry are unchanged: dropped with the frame memo, and when a lookup changed the registry.
   */
  readonly traceMemo = new Map<bigint, unknown>();
  /** Words held by the trace memo (reads and frames), bounded by the replay (a deep, varied profile). */
  traceMemoWords = 0;
  /** Lookups that changed the registry (an EFAULT removes the section): a trace unwound across one is not memoized. */
  registryChanges = 0;
  /** The anonymous range currently holding a stack copy: [start, end). */
  stackRange: { start: bigint; end: bigint } | undefined;
  private interp: string | undefined;

  constructor(
    readonly arch: MmArch,
    private readonly files: ObjectFiles,
    private readonly kernel: KernelSframe,
    private readonly options: RegistrationOptions,
    private readonly debugRoot: string | null,
  ) {
    this.mm = AddressSpace.forArch(arch);
  }

  /** A copy for a fork()ed child: same mappings; the SFrame tree starts empty as in the series (mm_init). */
  fork(): ReplayProcess {
    const child = new ReplayProcess(this.arch, this.files, this.kernel, this.options, this.debugRoot);
    child.maps.push(...this.maps);
    child.pending = [...this.pending];
    for (const o of this.objects) child.place(o.recordedPath, o.object.bias, o.role, false);
    child.interp = this.interp;
    return child;
  }

  /** A PERF_RECORD_MMAP/MMAP2: replace what it overlaps in perf's maps; queue ELF placement. */
  addMmap(r: MmapRecord): void {
    const start = r.addr;
    const end = r.addr + r.len;
    for (let i = this.maps.length - 1; i >= 0; i--) {
      const m = this.maps[i] as RecordedMap;
      if (m.end <= start || m.start >= end) continue;
      this.maps.splice(i, 1);
      if (m.start < start) this.maps.push({ ...m, end: start });
      if (m.end > end) this.maps.push({ ...m, start: end, pgoff: m.pgoff + (end - m.start) });
    }
    const exec = r.prot === undefined ? (r.misc & (1 << 13)) === 0 : (r.prot & PROT_EXEC) !== 0;
    this.maps.push({ start, end, pgoff: r.pgoff, filename: r.filename, exec });
    this.maps.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    this.frameMemo.first.clear();
    this.frameMemo.caller.clear();
    this.dropTraces();
    if (exec) this.pending.push(r);
  }

  mapAt(addr: bigint): RecordedMap | undefined {
    return this.maps.find((m) => addr >= m.start && addr < m.end);
  }

  objectAt(addr: bigint): ReplayObject | undefined {
    return this.objects.find((o) => o.object.containsText(addr));
  }

  /** Forget the memoized traces. */
  dropTraces(): void {
    this.traceMemo.clear();
    this.traceMemoWords = 0;
  }

  /** Place queued objects (the kernel and ld.so did this before any sample that could see them). */
  settle(): void {
    if (this.pending.length === 0) return;
    const queue = this.pending;
    this.pending = [];
    for (const r of queue) {
      const found = this.files.lookup(r.filename);
      if (!found.ok) {
        if (r.filename.startsWith("/") && !this.problems.includes(found.reason)) this.problems.push(found.reason);
        continue;
      }
      const f = found.file;
      // The PT_LOAD holding file offset pgoff gives the bias: start maps p_vaddr + (pgoff - p_offset).
      const ph = f.elf.programHeaders.find(
        (p) =>
          p.type === PT_LOAD && (p.flags & PF_X) !== 0 && down(p.offset) <= r.pgoff && r.pgoff < p.offset + p.filesz,
      );
      if (!ph) continue;
      const bias = BigInt.asUintN(64, r.addr - (ph.vaddr - ph.offset + r.pgoff));
      const key = `${r.filename}@${bias}`;
      if (this.placed.has(key)) continue;
      let role: ReplayObject["role"] = "library";
      if (r.filename === "[vdso]") role = "vdso";
      else if (!this.objects.some((o) => o.role === "executable")) {
        role = "executable";
        this.interp = interpName(f);
      } else if (this.interp !== undefined && basename(this.interp) === basename(r.filename)) role = "interpreter";
      this.place(r.filename, bias, role, true);
    }
    this.finderCache = undefined;
    this.findMemo = new Map();
    this.frameMemo.first.clear();
    this.frameMemo.caller.clear();
    this.dropTraces();
  }

  private place(recorded: string, bias: bigint, role: ReplayObject["role"], register: boolean): void {
    const found = this.files.lookup(recorded);
    if (!found.ok) return;
    const f = found.file;
    this.placed.add(`${recorded}@${bias}`);
    const file: OpenFile = { inode: f.inode, readable: true, writable: false };
    for (const p of f.elf.programHeaders) {
      if (p.type !== PT_LOAD || p.filesz === 0n) continue;
      const start = down(bias + p.vaddr);
      const len = up(bias + p.vaddr + p.filesz) - start;
      const off = down(p.offset);
      this.mm.mmap(start, len, protOf(p.flags), MAP_PRIVATE | MAP_FIXED, file, off);
    }
    const object = new MappedObject(f.hostPath, f.elf, bias, this.debugRoot);
    const registration = register
      ? this.register(f, bias, role)
      : ["fork: the child's SFrame tree starts empty (mm_init)"];
    const symbols = new FunctionIndex(object, f.buildId, this.debugRoot);
    this.objects.push({ recordedPath: recorded, object, best: new BestSymbols(f.elf), symbols, role, registration });
  }

  private register(f: LoadedFile, bias: bigint, role: ReplayObject["role"]): string[] {
    const policy = this.options.register;
    const atExec = role !== "library";
    if (policy === "none" || (policy === "exec" && !atExec)) return [`not registered (--register ${policy})`];
    const origin = atExec ? "exec" : "syscall";
    const text = f.elf.programHeaders.filter((p) => p.type === PT_LOAD && (p.flags & PF_X) !== 0);
    const loc = locateSframe(f.elf);
    let sframeStart: bigint;
    let sframeLen: bigint;
    let how: string;
    if (loc && loc.from === "segment") {
      sframeStart = bias + loc.vaddr;
      sframeLen = loc.memSize;
      how = "PT_GNU_SFRAME";
    } else {
      const libc = !atExec && this.options.libcSframe === "from-eh-frame" && /^libc\.so/.test(basename(f.recordedPath));
      const vdso = role === "vdso" && this.options.vdsoSframe === "from-eh-frame";
      if (!libc && !vdso) return ["no PT_GNU_SFRAME: nothing to register"];
      const made = this.synthesize(f, bias);
      if (typeof made === "string") return [made];
      ({ sframeStart, sframeLen, how } = made);
    }
    return text.map((p) => {
      const r = this.kernel.addSection(
        this.mm,
        sframeStart,
        sframeStart + sframeLen,
        bias + p.vaddr,
        bias + p.vaddr + p.memsz,
        origin,
        f.recordedPath,
      );
      const call =
        role === "vdso"
          ? "vDSO mapping sframe_add_section"
          : origin === "exec"
            ? "binfmt_elf sframe_add_section"
            : "stacktrace_setup(REGISTER)";
      return `${call} ${how} text [0x${(bias + p.vaddr).toString(16)}, +0x${p.memsz.toString(16)}) = ${r.result}${r.check ? ` (${r.errno}: ${r.check}: ${r.message})` : ""}`;
    });
  }

  /** An SFrame section converted from the object's .eh_frame, placed in anonymous memory of this mm. */
  private synthesize(f: LoadedFile, bias: bigint): { sframeStart: bigint; sframeLen: bigint; how: string } | string {
    const sec = f.elf.section(".eh_frame");
    if (!sec) return "no PT_GNU_SFRAME and no .eh_frame";
    let eh: EhFrame | undefined;
    const convert = (at: number): CfiConversion => {
      const key = `${f.buildId ?? `${f.hostPath}:${f.inode.size}`}|${bias}|${at}`;
      const hit = converted.get(key);
      if (hit) return hit;
      eh ??= new EhFrame(f.elf.sectionData(sec), sec.addr, f.elf.littleEndian, f.elf.is64, f.hostPath);
      const conv = sframeFromCfi(eh, bias, BigInt(at));
      if (converted.size >= CONVERTED_MAX) converted.delete(converted.keys().next().value as string);
      converted.set(key, conv);
      return conv;
    };
    // Place first, convert once: reserve room for a section twice the .eh_frame's size (SFrame is
    // smaller in practice); only when the result is larger is it converted again for a new place.
    let room = up(sec.size * 2n + 0x10000n);
    let at = this.mm.getUnmappedArea(Number(room));
    if (at < 0) return `no room for a synthesized SFrame section (${at})`;
    let conv = convert(at);
    if (BigInt(conv.bytes.length) > room) {
      room = up(BigInt(conv.bytes.length));
      at = this.mm.getUnmappedArea(Number(room));
      if (at < 0) return `no room for a synthesized SFrame section (${at})`;
      conv = convert(at);
    }
    const len = up(BigInt(conv.bytes.length));
    this.mm.mmap(at, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
    this.mm.writeUser(at, conv.bytes);
    this.mm.mprotect(at, len, PROT_READ);
    return {
      sframeStart: BigInt(at),
      sframeLen: BigInt(conv.bytes.length),
      how: `SFrame synthesized from .eh_frame (${conv.functions} functions, ${conv.skipped.length} FDEs not expressible)`,
    };
  }

  /** `sframe_find_user` for this mm, or null when nothing is registered (cached until the objects change). */
  finder(): SframeFinder | null {
    if (this.finderCache === undefined) {
      const inner = this.kernel.finder(this.mm);
      const memo = this.findMemo;
      const self = this;
      this.finderCache = inner && {
        find(pc: bigint): SframeFindResult {
          const hit = memo.get(pc);
          if (hit) return hit;
          const r = inner.find(pc);
          if (r.ok || r.errno !== "EFAULT") memo.set(pc, r);
          // EFAULT removed the section: traces replayed before may no longer be what an unwind gives.
          else {
            self.dropTraces();
            self.registryChanges++;
          }
          return r;
        },
      };
    }
    return this.finderCache;
  }
}
