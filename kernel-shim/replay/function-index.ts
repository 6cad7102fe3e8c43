import { existsSync } from "node:fs";
import { ElfFile } from "../../formats/elf/file.ts";
import { dynamicSymbols, type SymbolTable, staticSymbols } from "../../formats/elf/symbols.ts";
import { type FunctionSymbol, functionAt, type MappedObject } from "../unwind/mapped-object.ts";

const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const SHN_XINDEX = 0xffff;
const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const MAX_EXACT = BigInt(Number.MAX_SAFE_INTEGER);
/** Packed sort keys: positions below 2^21 and addresses below 2^32 keep address · 2^21 + position < 2^53. */
const PACK_INDEX = 1 << 21;
const PACK_LIMIT = 1n << 32n;

/**
 * The function symbols of a mapped object for symbolizing replayed frames: the same list as
 * `MappedObject.functions` (the build-id debug file's .symtab, then the file's .symtab and .dynsym;
 * FUNC and IFUNC symbols that are defined and non-zero; one entry per name and address; sorted by
 * address, table order kept among equal addresses), read straight from the 64-bit little-endian
 * entries rather than through an ElfSymbol object per entry — a libc with its debug file has 13,000
 * symbols, and building them was a third of a replay that reaches libc. Other layouts use
 * `MappedObject.functions` itself.
 */
export class FunctionIndex {
  private list: readonly FunctionSymbol[] | undefined;

  constructor(
    readonly object: MappedObject,
    /** The object's build-id (hex), for the debug file perf and gdb would use. */
    private readonly buildId: string | undefined,
    private readonly debugRoot: string | null,
  ) {}

  get functions(): readonly FunctionSymbol[] {
    if (!this.list) this.list = this.build() ?? this.object.functions;
    return this.list;
  }

  /** The function containing run-time address `addr` and the offset into it (MappedObject.symbolize). */
  symbolize(addr: bigint): { readonly name: string; readonly offset: bigint } | undefined {
    return functionAt(this.functions, addr - this.object.bias);
  }

  /** Every function name at link address `value`, in list order. */
  namesAt(value: bigint): string[] {
    const fns = this.functions;
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

  /** The list read directly, or undefined when a table is not 64-bit little-endian with 24-byte entries. */
  private build(): FunctionSymbol[] | undefined {
    const elf = this.object.elf;
    const debug = this.debugFile();
    const all: FunctionSymbol[] = [];
    const tables: Array<[ElfFile | undefined, number]> = [
      [debug, SHT_SYMTAB],
      [elf, SHT_SYMTAB],
      [elf, SHT_DYNSYM],
    ];
    for (const [file, type] of tables) if (file && !collect(file, type, all)) return undefined;
    // Stable: among equal addresses the table order stays, and with it which duplicate is first.
    // Sorted by number keys when every address is exact as a double (bigint compares are slow).
    let sorted: FunctionSymbol[];
    if (all.length < PACK_INDEX && all.every((f) => f.value < PACK_LIMIT)) {
      // Address and table position packed into one exact double (address · 2^21 + position): the
      // typed array's native numeric sort is then the stable sort, without a comparator call per step.
      const packed = new Float64Array(all.length);
      for (let i = 0; i < all.length; i++) packed[i] = Number((all[i] as FunctionSymbol).value) * PACK_INDEX + i;
      packed.sort();
      sorted = new Array<FunctionSymbol>(all.length);
      for (let i = 0; i < all.length; i++) sorted[i] = all[(packed[i] as number) % PACK_INDEX] as FunctionSymbol;
    } else if (all.every((f) => f.value <= MAX_EXACT)) {
      const keys = new Float64Array(all.length);
      for (let i = 0; i < all.length; i++) keys[i] = Number((all[i] as FunctionSymbol).value);
      const order = Array.from(all.keys()).sort((a, b) => (keys[a] as number) - (keys[b] as number) || a - b);
      sorted = order.map((i) => all[i] as FunctionSymbol);
    } else sorted = all.sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
    const out: FunctionSymbol[] = [];
    for (let i = 0; i < sorted.length; ) {
      let j = i + 1;
      while (j < sorted.length && (sorted[j] as FunctionSymbol).value === (sorted[i] as FunctionSymbol).value) j++;
      for (let k = i; k < j; k++) {
        const f = sorted[k] as FunctionSymbol;
        let dup = false;
        for (let m = i; m < k && !dup; m++) dup = (sorted[m] as FunctionSymbol).name === f.name;
        if (!dup) out.push(f);
      }
      i = j;
    }
    return out;
  }

  /** `/usr/lib/debug/.build-id/xx/yyyy.debug` when installed (as MappedObject looks it up). */
  private debugFile(): ElfFile | undefined {
    const id = this.buildId;
    if (this.debugRoot === null || !id || id.length < 3) return undefined;
    const p = `${this.debugRoot}/.build-id/${id.slice(0, 2)}/${id.slice(2)}.debug`;
    if (!existsSync(p)) return undefined;
    try {
      return ElfFile.openPath(p);
    } catch {
      return undefined;
    }
  }
}

/**
 * Append the defined, non-zero FUNC/IFUNC symbols of `elf`'s first table of `type` (the one
 * staticSymbols / dynamicSymbols open) in table order; false for a layout other than ELF64 LE.
 */
function collect(elf: ElfFile, type: number, out: FunctionSymbol[]): boolean {
  const table: SymbolTable | undefined = type === SHT_SYMTAB ? staticSymbols(elf) : dynamicSymbols(elf);
  if (!table) return true;
  const sec = elf.sections.find((s) => s.type === type);
  if (!sec || !table.is64 || table.entsize !== 24 || !elf.littleEndian) return false;
  const bytes = elf.sectionData(sec);
  if (bytes.length < table.count * 24) return false;
  const strtab = table.strtab;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 1; i < table.count; i++) {
    const o = i * 24;
    const st = (bytes[o + 4] as number) & 0xf;
    if (st !== STT_FUNC && st !== STT_GNU_IFUNC) continue;
    const raw = dv.getUint16(o + 6, true);
    if (raw === 0 || (raw === SHN_XINDEX && table.symbol(i).shndx === 0)) continue;
    const value = dv.getBigUint64(o + 8, true);
    if (value === 0n) continue;
    out.push({
      name: asciiName(strtab, dv.getUint32(o, true)) ?? table.name(i),
      value,
      size: dv.getBigUint64(o + 16, true),
    });
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
