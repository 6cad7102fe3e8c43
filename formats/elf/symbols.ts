/**
 * ELF symbol tables (.symtab, .dynsym, or a DT_SYMTAB read from memory), decoded on demand.
 *
 * A table keeps its raw bytes and decodes entry `i` only when asked, so libc's ~3000-entry .dynsym
 * or a large executable's .symtab costs one read and no per-symbol allocation until used (the way
 * glibc's do_lookup_x touches only the entries a hash chain names). Every index and string offset
 * is bounds-checked; a broken entry raises a FormatError naming the file offset.
 */
import { EndianReader } from "../bytes/endian.ts";
import { FormatError, hex } from "../errors.ts";
import { SHT_DYNSYM, SHT_SYMTAB, SHT_SYMTAB_SHNDX } from "./constants.ts";
import { decodeLatin1, type ElfFile } from "./file.ts";
import { SHN_XINDEX, stBind, stType, stVisibility } from "./symbol-constants.ts";
import type { SectionHeader } from "./types.ts";

/** One Elf32_Sym / Elf64_Sym, as the file says plus the resolved section index. */
export interface ElfSymbol {
  /** Index in its table. */
  readonly index: number;
  /** st_name: offset in the linked string table. */
  readonly nameOffset: number;
  readonly value: bigint;
  readonly size: bigint;
  /** st_info (bind << 4 | type). */
  readonly info: number;
  readonly bind: number;
  readonly type: number;
  /** st_other (visibility in the low two bits, machine flags above). */
  readonly other: number;
  readonly visibility: number;
  /** The raw 16-bit st_shndx. */
  readonly rawShndx: number;
  /**
   * The section index: the SHT_SYMTAB_SHNDX entry when st_shndx is SHN_XINDEX and the table has
   * one, otherwise the raw st_shndx (which may be a special index such as SHN_ABS).
   */
  readonly shndx: number;
  /** True when `shndx` came from SHT_SYMTAB_SHNDX. */
  readonly extendedShndx: boolean;
}

/** Entry sizes of Elf32_Sym and Elf64_Sym. */
export const SYM32_SIZE = 16;
export const SYM64_SIZE = 24;

export interface SymbolTableLayout {
  readonly is64: boolean;
  readonly littleEndian: boolean;
  /** Entry stride (sh_entsize); defaults to the natural size. */
  readonly entsize?: number;
  /** Absolute offset/address of bytes[0], for error messages. */
  readonly base?: number;
  readonly sourceName?: string;
}

/**
 * A symbol table over raw bytes. `strtab` resolves names; `shndxTable` holds the
 * SHT_SYMTAB_SHNDX words (one Elf32_Word per symbol) when the table has extended indices.
 */
export class SymbolTable {
  readonly count: number;
  readonly entsize: number;
  readonly is64: boolean;
  private readonly r: EndianReader;
  private readonly strReader: Uint8Array;
  private readonly shndxReader: EndianReader | undefined;

  constructor(
    bytes: Uint8Array,
    readonly strtab: Uint8Array,
    layout: SymbolTableLayout,
    shndxTable?: Uint8Array,
    /** The section this table came from, when it came from one. */
    readonly section?: SectionHeader,
  ) {
    this.is64 = layout.is64;
    const natural = layout.is64 ? SYM64_SIZE : SYM32_SIZE;
    this.entsize = layout.entsize ?? natural;
    if (this.entsize < natural) {
      throw new FormatError(`symbol table entry size ${this.entsize} is smaller than ${natural} bytes`, {
        source: layout.sourceName,
        offset: layout.base,
      });
    }
    // A trailing partial entry is not a symbol: count whole entries only (readelf and glibc agree).
    this.count = Math.floor(bytes.length / this.entsize);
    this.r = new EndianReader(bytes, layout.littleEndian, layout.base ?? 0, layout.sourceName);
    this.strReader = strtab;
    this.shndxReader = shndxTable ? new EndianReader(shndxTable, layout.littleEndian, 0, layout.sourceName) : undefined;
  }

  /** Decode entry `index`; throws a FormatError when it is out of range. */
  symbol(index: number): ElfSymbol {
    this.checkIndex(index);
    const r = this.r;
    const o = index * this.entsize;
    let nameOffset: number;
    let value: bigint;
    let size: bigint;
    let info: number;
    let other: number;
    let rawShndx: number;
    if (this.is64) {
      nameOffset = r.u32(o, "st_name");
      info = r.u8(o + 4, "st_info");
      other = r.u8(o + 5, "st_other");
      rawShndx = r.u16(o + 6, "st_shndx");
      value = r.u64(o + 8, "st_value");
      size = r.u64(o + 16, "st_size");
    } else {
      nameOffset = r.u32(o, "st_name");
      value = BigInt(r.u32(o + 4, "st_value"));
      size = BigInt(r.u32(o + 8, "st_size"));
      info = r.u8(o + 12, "st_info");
      other = r.u8(o + 13, "st_other");
      rawShndx = r.u16(o + 14, "st_shndx");
    }
    let shndx = rawShndx;
    let extendedShndx = false;
    if (rawShndx === SHN_XINDEX && this.shndxReader) {
      shndx = this.shndxReader.u32(index * 4, "SHT_SYMTAB_SHNDX entry");
      extendedShndx = true;
    }
    return {
      index,
      nameOffset,
      value,
      size,
      info,
      bind: stBind(info),
      type: stType(info),
      other,
      visibility: stVisibility(other),
      rawShndx,
      shndx,
      extendedShndx,
    };
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.count) {
      throw new FormatError(`symbol index ${index} out of range (table has ${this.count} entries)`, {
        source: this.r.sourceName,
        offset: this.r.base,
      });
    }
  }

  /** The st_name of entry `index` without decoding the rest. */
  nameOffsetOf(index: number): number {
    this.checkIndex(index);
    return this.r.u32(index * this.entsize, "st_name");
  }

  /** The name of entry `index`. Throws a FormatError when st_name is outside the string table or unterminated. */
  name(index: number): string {
    return stringAt(this.strReader, this.nameOffsetOf(index), this.r.sourceName);
  }

  /** The name of entry `index` as raw bytes (what the hash functions take). */
  nameBytes(index: number): Uint8Array {
    const off = this.nameOffsetOf(index);
    const end = checkedStringEnd(this.strReader, off, this.r.sourceName);
    return this.strReader.subarray(off, end);
  }

  /** True when entry `index` is named exactly `name` (bytes compared, no string allocated). */
  nameEquals(index: number, name: Uint8Array): boolean {
    const off = this.nameOffsetOf(index);
    const t = this.strReader;
    if (off >= t.length) return false;
    for (let i = 0; i < name.length; i++) {
      if (off + i >= t.length || t[off + i] !== name[i]) return false;
    }
    return off + name.length < t.length && t[off + name.length] === 0;
  }

  *[Symbol.iterator](): IterableIterator<ElfSymbol> {
    for (let i = 0; i < this.count; i++) yield this.symbol(i);
  }
}

/** Where a NUL-terminated string at `offset` ends; throws a typed error when it does not. */
function checkedStringEnd(table: Uint8Array, offset: number, source: string | undefined): number {
  if (offset >= table.length) {
    throw new FormatError(`symbol name offset ${hex(offset)} outside string table of ${table.length} bytes`, {
      source,
      offset,
    });
  }
  const end = table.indexOf(0, offset);
  if (end < 0) {
    throw new FormatError(`symbol name at string table offset ${hex(offset)} is not NUL-terminated`, {
      source,
      offset,
    });
  }
  return end;
}

function stringAt(table: Uint8Array, offset: number, source: string | undefined): string {
  return decodeLatin1(table, offset, checkedStringEnd(table, offset, source));
}

/**
 * The symbol table held by section `sec` (SHT_SYMTAB or SHT_DYNSYM), with its sh_link string table
 * and, if one links to it, its SHT_SYMTAB_SHNDX section.
 */
export function symbolTableFromSection(elf: ElfFile, sec: SectionHeader): SymbolTable {
  if (sec.type !== SHT_SYMTAB && sec.type !== SHT_DYNSYM) {
    throw new FormatError(`section [${sec.index}] ${sec.name} is not a symbol table (type ${hex(sec.type)})`, {
      source: elf.name,
      offset: sec.offset,
    });
  }
  const sections = elf.sections;
  const bytes = elf.sectionData(sec);
  const strSec = sec.link < sections.length ? sections[sec.link] : undefined;
  if (!strSec) {
    throw new FormatError(`symbol table [${sec.index}] ${sec.name}: sh_link ${sec.link} is not a section`, {
      source: elf.name,
      offset: sec.offset,
    });
  }
  const strtab = elf.sectionData(strSec);
  const shndxSec = sections.find((s) => s.type === SHT_SYMTAB_SHNDX && s.link === sec.index);
  const shndx = shndxSec ? elf.sectionData(shndxSec) : undefined;
  const entsize = sec.entsize === 0n ? undefined : elf.num(sec.entsize, `section ${sec.index} sh_entsize`);
  return new SymbolTable(
    bytes,
    strtab,
    {
      is64: elf.is64,
      littleEndian: elf.littleEndian,
      ...(entsize !== undefined ? { entsize } : {}),
      base: elf.num(sec.offset, "sh_offset"),
      sourceName: elf.name,
    },
    shndx,
    sec,
  );
}

/** The first SHT_DYNSYM section's table, or undefined when there is none. */
export function dynamicSymbols(elf: ElfFile): SymbolTable | undefined {
  const sec = elf.sections.find((s) => s.type === SHT_DYNSYM);
  return sec ? symbolTableFromSection(elf, sec) : undefined;
}

/** The first SHT_SYMTAB section's table, or undefined when there is none. */
export function staticSymbols(elf: ElfFile): SymbolTable | undefined {
  const sec = elf.sections.find((s) => s.type === SHT_SYMTAB);
  return sec ? symbolTableFromSection(elf, sec) : undefined;
}
