import { existsSync } from "node:fs";
import { EhFrame } from "../../formats/dwarf/eh-frame.ts";
import { PF_X, PT_LOAD } from "../../formats/elf/constants.ts";
import { ElfFile } from "../../formats/elf/file.ts";
import { buildIdHex, fileNotes, NT_GNU_BUILD_ID } from "../../formats/elf/notes.ts";
import { dynamicSymbols, type SymbolTable, staticSymbols } from "../../formats/elf/symbols.ts";
import { LdsimError } from "../../formats/errors.ts";
import { decodeSframe, type SframeSection } from "../../formats/sframe/decode.ts";
import { findFreByAddress } from "../../formats/sframe/find-fre.ts";
import { interpretFre } from "../../formats/sframe/interpret.ts";
import { locateSframe } from "../../formats/sframe/locate.ts";
import type { SframeRow } from "../../formats/sframe/types.ts";

const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;

/** A function symbol of a mapped object, at its link-time address. */
export interface FunctionSymbol {
  readonly name: string;
  readonly value: bigint;
  readonly size: bigint;
}

/**
 * An ELF file mapped into a process at load bias `bias`, as a profiler or a test sees it: the file's
 * own symbols, its own SFrame section and its `.eh_frame` — what the object really contains,
 * independent of what the kernel has been told. Used to symbolize traces and to lay out synthesized
 * stacks the way the object's code really builds its frames.
 */
/**
 * The function containing link-time address `link` in `fns` (sorted by value): a binary search for the
 * last start ≤ link, then back over equal starts for one whose size covers it (size 0 covers its
 * first byte only).
 */
export function functionAt(
  fns: readonly FunctionSymbol[],
  link: bigint,
): { readonly name: string; readonly offset: bigint } | undefined {
  let lo = 0;
  let hi = fns.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((fns[mid] as FunctionSymbol).value <= link) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo - 1; i >= 0; i--) {
    const f = fns[i] as FunctionSymbol;
    if (link < f.value + (f.size === 0n ? 1n : f.size)) return { name: f.name, offset: link - f.value };
    if (f.value < link && i < lo - 1) break;
  }
  return undefined;
}

export class MappedObject {
  private symbolsCache: FunctionSymbol[] | undefined;
  private sframeCache: SframeSection | null | undefined;
  private ehCache: EhFrame | null | undefined;
  /** Executable ranges [start, end) at run time (PT_LOAD with PF_X, plus bias). */
  readonly textRanges: ReadonlyArray<readonly [bigint, bigint]>;

  constructor(
    readonly path: string,
    readonly elf: ElfFile,
    /** Load bias: run-time address minus link-time address (0 for ET_EXEC). */
    readonly bias: bigint,
    /** Where separate debug files live (null: do not look). */
    readonly debugRoot: string | null = "/usr/lib/debug",
  ) {
    this.textRanges = elf.programHeaders
      .filter((p) => p.type === PT_LOAD && (p.flags & PF_X) !== 0)
      .map((p) => [bias + p.vaddr, bias + p.vaddr + p.memsz] as const);
  }

  containsText(addr: bigint): boolean {
    return this.textRanges.some(([s, e]) => addr >= s && addr < e);
  }

  /** FUNC symbols from .symtab (else .dynsym), sorted by address, for symbolization. */
  get functions(): readonly FunctionSymbol[] {
    if (this.symbolsCache) return this.symbolsCache;
    const out: FunctionSymbol[] = [];
    const seen = new Set<string>();
    // Like perf: the separate debug file found by build-id (Debian's *-dbg packages) has the full
    // .symtab (e.g. libc's local __libc_start_call_main); then the file's own .symtab and .dynsym.
    const debug = this.debugFile();
    const tables = [debug ? staticSymbols(debug) : undefined, staticSymbols(this.elf), dynamicSymbols(this.elf)];
    for (const table of tables) {
      if (!table) continue;
      collectFunctions(table, out, seen);
    }
    out.sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
    this.symbolsCache = out;
    return out;
  }

  /** The object's NT_GNU_BUILD_ID as hex, or undefined. */
  get buildId(): string | undefined {
    for (const g of fileNotes(this.elf)) {
      for (const n of g.notes) if (n.type === NT_GNU_BUILD_ID && n.name === "GNU") return buildIdHex(n);
    }
    return undefined;
  }

  private debugFile(): ElfFile | undefined {
    return buildIdDebugFile(this.debugRoot, this.buildId);
  }

  /** The function containing run-time address `addr`, with the offset into it. */
  symbolize(addr: bigint): { readonly name: string; readonly offset: bigint } | undefined {
    return functionAt(this.functions, addr - this.bias);
  }

  /** Run-time address of a function symbol by name. */
  addressOf(name: string): FunctionSymbol | undefined {
    const f = this.functions.find((s) => s.name === name);
    return f ? { ...f, value: f.value + this.bias } : undefined;
  }

  /** The object's own SFrame section (from the file), decoded at its run-time address; null when none. */
  get sframe(): SframeSection | null {
    if (this.sframeCache !== undefined) return this.sframeCache;
    const loc = locateSframe(this.elf);
    this.sframeCache = loc ? decodeSframe(loc.bytes, { vaddr: loc.vaddr + this.bias, source: this.path }) : null;
    return this.sframeCache;
  }

  get ehFrame(): EhFrame | null {
    if (this.ehCache !== undefined) return this.ehCache;
    const sec = this.elf.section(".eh_frame");
    this.ehCache = sec
      ? new EhFrame(this.elf.sectionData(sec), sec.addr, this.elf.littleEndian, this.elf.is64, this.path)
      : null;
    return this.ehCache;
  }

  /** The SFrame row of the object's own section at run-time `pc`, or undefined. */
  sframeRowAt(pc: bigint): SframeRow | undefined {
    const s = this.sframe;
    if (!s) return undefined;
    const r = findFreByAddress(s, pc);
    if (!r.ok) return undefined;
    return interpretFre({ header: s.header, version: s.version, source: this.path }, r.fde, r.fre);
  }
}

function collectFunctions(table: SymbolTable, out: FunctionSymbol[], seen: Set<string>): void {
  for (let i = 1; i < table.count; i++) {
    const s = table.symbol(i);
    if ((s.type !== STT_FUNC && s.type !== STT_GNU_IFUNC) || s.shndx === 0 || s.value === 0n) continue;
    const name = table.name(i);
    const key = `${name}@${s.value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ name, value: s.value, size: s.size });
  }
}

/** The objects mapped in one process, for lookups by address. */
export class ObjectSet {
  constructor(readonly objects: readonly MappedObject[]) {}
  at(addr: bigint): MappedObject | undefined {
    return this.objects.find((o) => o.containsText(addr));
  }
  byName(suffix: string): MappedObject {
    const o = this.objects.find((x) => x.path === suffix || x.path.endsWith(`/${suffix}`));
    if (!o) throw new LdsimError(`no mapped object named ${suffix}`);
    return o;
  }
  /** Run-time address of `symbol` (searched in every object, first match). */
  symbol(name: string): bigint {
    for (const o of this.objects) {
      const f = o.addressOf(name);
      if (f) return f.value;
    }
    throw new LdsimError(`no function named ${name} in the mapped objects`);
  }
}

/**
 * The separate debug file of a build ID, `ROOT/.build-id/xx/yyyy.debug`, as perf and gdb look it up
 * (Debian's -dbg packages install there); undefined when there is no root, no usable ID, no file,
 * or the file is not a readable ELF file.
 */
export function buildIdDebugFile(debugRoot: string | null, buildId: string | undefined): ElfFile | undefined {
  if (debugRoot === null || !buildId || buildId.length < 3) return undefined;
  const p = `${debugRoot}/.build-id/${buildId.slice(0, 2)}/${buildId.slice(2)}.debug`;
  if (!existsSync(p)) return undefined;
  try {
    return ElfFile.openPath(p);
  } catch {
    return undefined;
  }
}
