import type { ElfFile } from "../../formats/elf/file.ts";
import { dynamicSymbols, type SymbolTable, staticSymbols } from "../../formats/elf/symbols.ts";

const STB_LOCAL = 0;
const STB_GLOBAL = 1;
const STB_WEAK = 2;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;

interface Candidate {
  readonly name: string;
  readonly bind: number;
  readonly size: bigint;
}

function underscores(name: string): number {
  let n = 0;
  while (name[n] === "_") n++;
  return n;
}

/**
 * perf's choice among symbols at one address (tools/perf/util/symbol.c choose_best_symbol): a sized
 * symbol over a zero-sized one, non-weak over weak, global over local, fewer leading underscores,
 * then the longer name. So `perf script` prints `__vdso_time`, not its weak alias `time`.
 */
function better(a: Candidate, b: Candidate): Candidate {
  if ((a.size === 0n) !== (b.size === 0n)) return a.size !== 0n ? a : b;
  if ((a.bind === STB_WEAK) !== (b.bind === STB_WEAK)) return a.bind !== STB_WEAK ? a : b;
  if ((a.bind === STB_GLOBAL) !== (b.bind === STB_GLOBAL)) return a.bind === STB_GLOBAL ? a : b;
  const ua = underscores(a.name);
  const ub = underscores(b.name);
  if (ua !== ub) return ua < ub ? a : b;
  return b.name.length > a.name.length ? b : a;
}

/** A candidate read from the raw table: its name decoded only when a comparison or a lookup needs it. */
interface RawCandidate {
  readonly table: SymbolTable;
  readonly entry: number;
  readonly bind: number;
  readonly size: bigint;
  name: string | undefined;
}

const SHN_XINDEX = 0xffff;
const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);
/** A u64's high word below this: the value is below 2^53, exact as a double. */
const EXACT_HIGH = 1 << 21;

/** perf strips symbol versions (`__libc_start_main@@GLIBC_2.34` prints without the version). */
function unversioned(raw: string): string {
  const at = raw.indexOf("@");
  return at > 0 ? raw.slice(0, at) : raw;
}

function nameOf(c: RawCandidate): string {
  if (c.name === undefined) c.name = unversioned(c.table.name(c.entry));
  return c.name;
}

/** The name perf prints for each function address of an object (link-time addresses). */
export class BestSymbols {
  private map: Map<bigint, Candidate> | undefined;
  /** The same choice from ELF64 little-endian tables read raw, by address as a number. */
  private raw: Map<number, RawCandidate> | null | undefined;
  constructor(
    private readonly elf: ElfFile,
    /** Build through SymbolTable.symbol for every layout (what the raw reader is tested against). */
    private readonly generic = false,
  ) {}

  nameAt(linkAddr: bigint): string | undefined {
    if (this.raw === undefined) this.raw = this.generic ? null : this.buildRaw();
    if (this.raw !== null) {
      if (linkAddr <= 0n || linkAddr > MAX_EXACT) return undefined;
      const c = this.raw.get(Number(linkAddr));
      return c === undefined ? undefined : nameOf(c);
    }
    if (!this.map) this.map = this.build();
    return this.map.get(linkAddr)?.name;
  }

  /**
   * `build` without an ElfSymbol per entry or a name per function: the entries' fields read from the
   * bytes, names decoded only where two candidates share an address (to compare them) or when looked
   * up. null when a table is not ELF64 little-endian or an address is not exact as a double.
   */
  private buildRaw(): Map<number, RawCandidate> | null {
    const out = new Map<number, RawCandidate>();
    for (const t of [staticSymbols(this.elf), dynamicSymbols(this.elf)]) {
      if (!t) continue;
      if (!t.is64 || t.entsize !== 24 || !this.elf.littleEndian || !t.section) return null;
      const bytes = this.elf.sectionData(t.section);
      if (bytes.length < t.count * 24) return null;
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 1; i < t.count; i++) {
        const o = i * 24;
        const info = bytes[o + 4] as number;
        const type = info & 0xf;
        const bind = info >> 4;
        if (type !== STT_FUNC && type !== STT_GNU_IFUNC) continue;
        const rawShndx = dv.getUint16(o + 6, true);
        if (rawShndx === 0 || (rawShndx === SHN_XINDEX && t.symbol(i).shndx === 0)) continue;
        const hi = dv.getUint32(o + 12, true);
        const lo = dv.getUint32(o + 8, true);
        if (hi === 0 && lo === 0) continue;
        if (bind !== STB_LOCAL && bind !== STB_GLOBAL && bind !== STB_WEAK) continue;
        if (hi >= EXACT_HIGH) return null;
        const value = hi * 2 ** 32 + lo;
        // Only zero or not matters to the choice.
        const size = dv.getUint32(o + 16, true) === 0 && dv.getUint32(o + 20, true) === 0 ? 0n : 1n;
        const c: RawCandidate = { table: t, entry: i, bind, size, name: undefined };
        const prev = out.get(value);
        if (prev === undefined) out.set(value, c);
        else {
          // Both named now, so both are Candidates as `better` compares them.
          nameOf(c);
          nameOf(prev);
          out.set(value, better(prev as Candidate, c as Candidate) as RawCandidate);
        }
      }
    }
    return out;
  }

  private build(): Map<bigint, Candidate> {
    const out = new Map<bigint, Candidate>();
    const add = (t: SymbolTable | undefined) => {
      if (!t) return;
      for (let i = 1; i < t.count; i++) {
        const s = t.symbol(i);
        if ((s.type !== STT_FUNC && s.type !== STT_GNU_IFUNC) || s.shndx === 0 || s.value === 0n) continue;
        if (s.bind !== STB_LOCAL && s.bind !== STB_GLOBAL && s.bind !== STB_WEAK) continue;
        const c = { name: unversioned(t.name(i)), bind: s.bind, size: s.size };
        const prev = out.get(s.value);
        out.set(s.value, prev ? better(prev, c) : c);
      }
    };
    add(staticSymbols(this.elf));
    add(dynamicSymbols(this.elf));
    return out;
  }
}
