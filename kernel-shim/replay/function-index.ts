import type { ElfFile } from "../../formats/elf/file.ts";
import { dynamicSymbols, type SymbolTable, staticSymbols } from "../../formats/elf/symbols.ts";
import { buildIdDebugFile, type FunctionSymbol, functionAt, type MappedObject } from "../unwind/mapped-object.ts";

const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const SHN_XINDEX = 0xffff;
const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);
/** A u64's high word below this: the value is below 2^53, exact as a double. */
const EXACT_HIGH = 1 << 21;
const U32_LIMIT = 2 ** 32;
/** Radix digits of the stable sort: three passes of 11 bits cover a 32-bit address. */
const RADIX_BITS = 11;
const RADIX = 1 << RADIX_BITS;

/** Functions read from the tables: numbers, names decoded only when asked for. */
interface Collected {
  /** Link-time address and size of each function (exact doubles: checked when collected). */
  readonly values: number[];
  readonly sizes: number[];
  /** Where each name is: its table and entry index. */
  readonly tables: SymbolTable[];
  readonly tableOf: number[];
  readonly entryOf: number[];
  readonly nameAt: number[];
}

/** The deduplicated functions in address order: start, end (size 0 counts as 1) and collected position. */
interface Sorted {
  readonly values: Float64Array;
  readonly ends: Float64Array;
  readonly order: Int32Array;
}

/**
 * The function symbols of a mapped object for symbolizing replayed frames: the same list as
 * `MappedObject.functions` (the build-id debug file's .symtab, then the file's .symtab and .dynsym;
 * FUNC and IFUNC symbols that are defined and non-zero; one entry per name and address; sorted by
 * address, table order kept among equal addresses), read straight from the 64-bit little-endian
 * entries into number arrays — a libc with its debug file has 13,000 symbols, and an object (two
 * bigints and a name) per symbol was most of a replay that reaches libc, which looks up a handful.
 * Names are decoded when a lookup returns them. Other layouts, or addresses beyond 2^53, use
 * `MappedObject.functions` itself.
 */
export class FunctionIndex {
  private list: readonly FunctionSymbol[] | undefined;
  /** The sorted, deduplicated functions as numbers (undefined: not built; null: use `list`). */
  private sorted: Sorted | null | undefined;
  /** The functions as read, and their names once decoded (by collected position). */
  private collected: Collected | undefined;
  private readonly names: (string | undefined)[] = [];

  constructor(
    readonly object: MappedObject,
    /** The object's build-id (hex), for the debug file perf and gdb would use. */
    private readonly buildId: string | undefined,
    private readonly debugRoot: string | null,
  ) {}

  get functions(): readonly FunctionSymbol[] {
    if (!this.list) {
      const t = this.table();
      if (t === null) this.list = this.object.functions;
      else {
        const out = new Array<FunctionSymbol>(t.order.length);
        for (let k = 0; k < t.order.length; k++) {
          const i = t.order[k] as number;
          const c = this.collected as Collected;
          out[k] = { name: this.name(i), value: BigInt(c.values[i] as number), size: BigInt(c.sizes[i] as number) };
        }
        this.list = out;
      }
    }
    return this.list;
  }

  /** The function containing run-time address `addr` and the offset into it (MappedObject.symbolize). */
  symbolize(addr: bigint): { readonly name: string; readonly offset: bigint } | undefined {
    const t = this.table();
    if (t === null) return functionAt(this.functions, addr - this.object.bias);
    // functionAt over numbers: every start and end is below 2^53, so a link address beyond that, or
    // below every start, is in no function.
    const link = addr - this.object.bias;
    if (link < 0n || link > MAX_EXACT) return undefined;
    const x = Number(link);
    const { values, ends, order } = t;
    let lo = 0;
    let hi = values.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((values[mid] as number) <= x) lo = mid + 1;
      else hi = mid;
    }
    for (let k = lo - 1; k >= 0; k--) {
      const v = values[k] as number;
      if (x < (ends[k] as number)) return { name: this.name(order[k] as number), offset: BigInt(x - v) };
      if (v < x && k < lo - 1) break;
    }
    return undefined;
  }

  /** Every function name at link address `value`, in list order. */
  namesAt(value: bigint): string[] {
    const t = this.table();
    if (t === null) return namesIn(this.functions, value);
    const out: string[] = [];
    if (value < 0n || value > MAX_EXACT) return out;
    const x = Number(value);
    const { values, order } = t;
    let lo = 0;
    let hi = values.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((values[mid] as number) < x) lo = mid + 1;
      else hi = mid;
    }
    for (let k = lo; k < values.length && values[k] === x; k++) out.push(this.name(order[k] as number));
    return out;
  }

  /** Name of collected function `i` (the ASCII fast path, else SymbolTable.name). */
  private name(i: number): string {
    let n = this.names[i];
    if (n === undefined) {
      const c = this.collected as Collected;
      const table = c.tables[c.tableOf[i] as number] as SymbolTable;
      n = asciiName(table.strtab, c.nameAt[i] as number) ?? table.name(c.entryOf[i] as number);
      this.names[i] = n;
    }
    return n;
  }

  /**
   * Whether collected functions `i` and `j` have the same name: their bytes compared (the same bytes
   * decode to the same name; different ASCII bytes to different names), decoded only otherwise.
   */
  private sameName(i: number, j: number): boolean {
    const c = this.collected as Collected;
    if (c.tableOf[i] === c.tableOf[j] && c.nameAt[i] === c.nameAt[j]) return true;
    const a = (c.tables[c.tableOf[i] as number] as SymbolTable).strtab;
    const b = (c.tables[c.tableOf[j] as number] as SymbolTable).strtab;
    let x = c.nameAt[i] as number;
    let y = c.nameAt[j] as number;
    for (; x < a.length && y < b.length; x++, y++) {
      const u = a[x] as number;
      const v = b[y] as number;
      if (u >= 0x80 || v >= 0x80) break;
      if (u !== v) return false;
      if (u === 0) return true;
    }
    return this.name(i) === this.name(j);
  }

  private table(): Sorted | null {
    if (this.sorted === undefined) this.sorted = this.build();
    return this.sorted;
  }

  /** The sorted list as numbers, or null when a table is not 64-bit little-endian or an address not exact. */
  private build(): Sorted | null {
    const elf = this.object.elf;
    const debug = this.debugFile();
    const c: Collected = { values: [], sizes: [], tables: [], tableOf: [], entryOf: [], nameAt: [] };
    const tables: Array<[ElfFile | undefined, number]> = [
      [debug, SHT_SYMTAB],
      [elf, SHT_SYMTAB],
      [elf, SHT_DYNSYM],
    ];
    for (const [file, type] of tables) if (file && !collect(file, type, c)) return null;
    this.collected = c;
    const n = c.values.length;
    // Stable: among equal addresses the table order stays, and with it which duplicate is first.
    let order: Int32Array;
    if (c.values.every((v) => v < U32_LIMIT)) order = stableOrderU32(c.values);
    else {
      const v = c.values;
      order = Int32Array.from(Array.from(v.keys()).sort((a, b) => (v[a] as number) - (v[b] as number) || a - b));
    }
    // One entry per name and address: names compared only among functions at the same address.
    const kept: number[] = [];
    for (let k = 0; k < n; ) {
      const at = c.values[order[k] as number] as number;
      let j = k + 1;
      while (j < n && c.values[order[j] as number] === at) j++;
      if (j === k + 1) kept.push(order[k] as number);
      else {
        for (let m = k; m < j; m++) {
          const f = order[m] as number;
          let dup = false;
          for (let q = k; q < m && !dup; q++) dup = this.sameName(order[q] as number, f);
          if (!dup) kept.push(f);
        }
      }
      k = j;
    }
    const values = new Float64Array(kept.length);
    const ends = new Float64Array(kept.length);
    for (let k = 0; k < kept.length; k++) {
      const i = kept[k] as number;
      const v = c.values[i] as number;
      const size = c.sizes[i] as number;
      values[k] = v;
      ends[k] = v + (size === 0 ? 1 : size);
    }
    return { values, ends, order: Int32Array.from(kept) };
  }

  private debugFile(): ElfFile | undefined {
    return buildIdDebugFile(this.debugRoot, this.buildId);
  }
}

/**
 * Positions 0..n-1 ordered by `values[i]` (each below 2^32), equal values in position order: an LSD
 * radix sort (counting passes are stable), linear in n where a comparison sort of a libc's 13,000
 * functions was most of building the index.
 */
function stableOrderU32(values: readonly number[]): Int32Array {
  const n = values.length;
  let from = new Int32Array(n);
  let to = new Int32Array(n);
  for (let i = 0; i < n; i++) from[i] = i;
  const count = new Int32Array(RADIX);
  for (let shift = 0; shift < 32; shift += RADIX_BITS) {
    count.fill(0);
    // Every value is below 2^32, so >>> (which works on the value as a u32) reads its digit exactly.
    for (let i = 0; i < n; i++) {
      const d = ((values[from[i] as number] as number) >>> shift) & (RADIX - 1);
      count[d] = (count[d] as number) + 1;
    }
    let sum = 0;
    for (let d = 0; d < RADIX; d++) {
      const c = count[d] as number;
      count[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const k = from[i] as number;
      const d = ((values[k] as number) >>> shift) & (RADIX - 1);
      const at = count[d] as number;
      to[at] = k;
      count[d] = at + 1;
    }
    const t = from;
    from = to;
    to = t;
  }
  return from;
}

/** Every name at `value` in a sorted list (FunctionIndex.namesAt for the MappedObject list). */
function namesIn(fns: readonly FunctionSymbol[], value: bigint): string[] {
  let lo = 0;
  let hi = fns.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((fns[mid] as FunctionSymbol).value < value) lo = mid + 1;
    else hi = mid;
  }
  const out: string[] = [];
  for (let i = lo; i < fns.length && (fns[i] as FunctionSymbol).value === value; i++) {
    out.push((fns[i] as FunctionSymbol).name);
  }
  return out;
}

/**
 * Append the defined, non-zero FUNC/IFUNC symbols of `elf`'s first table of `type` (the one
 * staticSymbols / dynamicSymbols open) in table order; false for a layout other than ELF64 LE, or a
 * function whose end is not exact as a double.
 */
function collect(elf: ElfFile, type: number, out: Collected): boolean {
  const table: SymbolTable | undefined = type === SHT_SYMTAB ? staticSymbols(elf) : dynamicSymbols(elf);
  if (!table) return true;
  const sec = elf.sections.find((s) => s.type === type);
  if (!sec || !table.is64 || table.entsize !== 24 || !elf.littleEndian) return false;
  const bytes = elf.sectionData(sec);
  if (bytes.length < table.count * 24) return false;
  const t = out.tables.length;
  out.tables.push(table);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 1; i < table.count; i++) {
    const o = i * 24;
    const st = (bytes[o + 4] as number) & 0xf;
    if (st !== STT_FUNC && st !== STT_GNU_IFUNC) continue;
    const raw = dv.getUint16(o + 6, true);
    if (raw === 0 || (raw === SHN_XINDEX && table.symbol(i).shndx === 0)) continue;
    // u64 halves: value and size exact when below 2^53 (high word below 2^21), the end as well.
    const vHi = dv.getUint32(o + 12, true);
    const vLo = dv.getUint32(o + 8, true);
    if (vHi === 0 && vLo === 0) continue;
    const sHi = dv.getUint32(o + 20, true);
    if (vHi >= EXACT_HIGH || sHi >= EXACT_HIGH) return false;
    const value = vHi * 2 ** 32 + vLo;
    const size = sHi * 2 ** 32 + dv.getUint32(o + 16, true);
    if (value + (size === 0 ? 1 : size) > Number.MAX_SAFE_INTEGER) return false;
    out.values.push(value);
    out.sizes.push(size);
    out.tableOf.push(t);
    out.entryOf.push(i);
    out.nameAt.push(dv.getUint32(o, true));
  }
  return true;
}

/**
 * The NUL-terminated name at `offset` when it is plain ASCII (what `SymbolTable.name` decodes it to),
 * built without a TextDecoder call per name; undefined otherwise (a bad offset, a byte ≥ 0x80), for
 * `SymbolTable.name` to decode or report.
 */
function asciiName(strtab: Uint8Array, offset: number): string | undefined {
  if (offset >= strtab.length) return undefined;
  let end = offset;
  while (end < strtab.length) {
    const b = strtab[end] as number;
    if (b === 0) break;
    if (b >= 0x80) return undefined;
    end++;
  }
  if (end >= strtab.length) return undefined;
  return String.fromCharCode.apply(null, strtab.subarray(offset, end) as unknown as number[]);
}
