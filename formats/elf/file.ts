import { EndianReader, toSafeNumber } from "../bytes/endian.ts";
import { BufferSource, type ByteSource, FileSource } from "../bytes/source.ts";
import { FormatError, hex } from "../errors.ts";
import { EI_NIDENT, ELFMAG, PN_XNUM, SHN_XINDEX, SHT_NOBITS } from "./constants.ts";
import { ElfClass, ElfData, type ElfHeader, type ElfIdent, type ProgramHeader, type SectionHeader } from "./types.ts";

/**
 * An ELF file read through positional reads: the header at open, the program and section header
 * tables on first use, section contents on request. Nothing is read twice and nothing beyond what is
 * asked for, the way ld.so reads a library with `pread` (glibc `open_verify` reads the first 832 bytes,
 * then the phdrs if they lie beyond them).
 *
 * Every structural problem raises a FormatError naming the file and the offending offset; no header
 * count drives an allocation larger than the file.
 */
export class ElfFile {
  readonly header: ElfHeader;
  readonly is64: boolean;
  readonly littleEndian: boolean;
  private phdrCache: readonly ProgramHeader[] | undefined;
  private shdrCache: readonly SectionHeader[] | undefined;
  private section0: { size: bigint; link: number; info: number } | null | undefined;

  private constructor(readonly source: ByteSource) {
    this.header = readHeader(source);
    this.is64 = this.header.ident.class === ElfClass.Elf64;
    this.littleEndian = this.header.ident.data === ElfData.Lsb;
  }

  /** Parse the ELF header of `source`. Tables are read lazily. */
  static open(source: ByteSource): ElfFile {
    return new ElfFile(source);
  }
  static fromBytes(bytes: Uint8Array, name?: string): ElfFile {
    return new ElfFile(new BufferSource(bytes, name));
  }
  /** Open a file on disk for positional reads. The caller closes it with `close()`. */
  static openPath(path: string, name?: string): ElfFile {
    const src = new FileSource(path, name);
    try {
      return new ElfFile(src);
    } catch (e) {
      src.close();
      throw e;
    }
  }
  close(): void {
    if (this.source instanceof FileSource) this.source.close();
  }

  get name(): string {
    return this.source.name;
  }

  /** A reader over `length` bytes at file offset `offset`, in the file's byte order. */
  reader(offset: number, length: number, what?: string): EndianReader {
    return new EndianReader(this.readBytes(offset, length, what), this.littleEndian, offset, this.name);
  }

  /** Read raw bytes; a range outside the file raises a FormatError naming `what`. */
  readBytes(offset: number, length: number, what = "read"): Uint8Array {
    if (offset < 0 || length < 0 || offset + length > this.source.size) {
      throw new FormatError(
        `${what} (offset ${hex(offset)}, ${length} bytes) extends past end of file (size ${hex(this.source.size)})`,
        { source: this.name, offset },
      );
    }
    return this.source.read(offset, length);
  }

  /** Section 0, which carries the real counts under extended numbering; null when there is none. */
  private get firstSection(): { size: bigint; link: number; info: number } | null {
    if (this.section0 !== undefined) return this.section0;
    const h = this.header;
    this.section0 = null;
    if (h.shoff !== 0n && h.shentsize >= (this.is64 ? 64 : 40)) {
      const off = this.num(h.shoff, "e_shoff");
      if (off + h.shentsize <= this.source.size) {
        const r = this.reader(off, this.is64 ? 64 : 40, "section header 0");
        this.section0 = this.is64
          ? { size: r.u64(32), link: r.u32(40), info: r.u32(44) }
          : { size: BigInt(r.u32(20)), link: r.u32(24), info: r.u32(28) };
      }
    }
    return this.section0;
  }

  /** Number of program headers, resolving PN_XNUM through section 0's sh_info. */
  get phnum(): number {
    const n = this.header.phnum;
    if (n === PN_XNUM) return this.firstSection?.info ?? n;
    return n;
  }
  /** Number of section headers, resolving e_shnum == 0 through section 0's sh_size. */
  get shnum(): number {
    const h = this.header;
    if (h.shnum === 0 && h.shoff !== 0n) {
      const size = this.firstSection?.size ?? 0n;
      return toSafeNumber(size, "section 0 sh_size (extended section count)", undefined, this.name);
    }
    return h.shnum;
  }
  /** Index of the section name string table, resolving SHN_XINDEX through section 0's sh_link. */
  get shstrndx(): number {
    const i = this.header.shstrndx;
    if (i === SHN_XINDEX) return this.firstSection?.link ?? i;
    return i;
  }

  /** Convert a file-level 64-bit quantity to a number, or throw a typed error naming it. */
  num(value: bigint, what: string): number {
    return toSafeNumber(value, what, undefined, this.name);
  }

  get programHeaders(): readonly ProgramHeader[] {
    this.phdrCache ??= readProgramHeaders(this);
    return this.phdrCache;
  }

  get sections(): readonly SectionHeader[] {
    this.shdrCache ??= readSectionHeaders(this);
    return this.shdrCache;
  }

  /** First section with this name, or undefined. */
  section(name: string): SectionHeader | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** The bytes of a section (empty for SHT_NOBITS). Bounds-checked against the file. */
  sectionData(sec: SectionHeader): Uint8Array {
    if (sec.type === SHT_NOBITS || sec.size === 0n) return new Uint8Array(0);
    return this.readBytes(
      this.num(sec.offset, `section ${sec.index} sh_offset`),
      this.num(sec.size, `section ${sec.index} sh_size`),
      `section [${sec.index}] ${sec.name || "<no-name>"}`,
    );
  }
  /** A reader over a section's contents in the file's byte order. */
  sectionReader(sec: SectionHeader): EndianReader {
    const bytes = this.sectionData(sec);
    return new EndianReader(bytes, this.littleEndian, Number(sec.offset), this.name);
  }
  /** The bytes a program header covers in the file (p_offset, p_filesz). */
  segmentData(ph: ProgramHeader): Uint8Array {
    return this.readBytes(
      this.num(ph.offset, `program header ${ph.index} p_offset`),
      this.num(ph.filesz, `program header ${ph.index} p_filesz`),
      `segment ${ph.index}`,
    );
  }

  /** The NUL-terminated string at `offset` of string table `table`; throws when unterminated. */
  stringAt(table: Uint8Array, offset: number, tableOffset = 0): string {
    if (offset < 0 || offset >= table.length) {
      throw new FormatError(`string offset ${hex(offset)} outside string table of ${table.length} bytes`, {
        source: this.name,
        offset: tableOffset + offset,
      });
    }
    const end = table.indexOf(0, offset);
    if (end < 0) {
      throw new FormatError(`string at offset ${hex(offset)} is not NUL-terminated`, {
        source: this.name,
        offset: tableOffset + offset,
      });
    }
    return decodeLatin1(table, offset, end);
  }
}

const textDecoder = new TextDecoder("latin1");
/** Names are bytes; latin1 keeps every byte (readelf prints them raw). */
export function decodeLatin1(bytes: Uint8Array, start: number, end: number): string {
  // Short names (most symbol and library names) are cheaper built directly; each byte is its code
  // point either way (Node's "latin1" decoder maps 0x80-0x9f to U+0080-U+009F too).
  if (end - start <= 48) {
    let s = "";
    for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i] as number);
    return s;
  }
  return textDecoder.decode(bytes.subarray(start, end));
}

function readHeader(src: ByteSource): ElfHeader {
  if (src.size < EI_NIDENT) {
    throw new FormatError(`file too short for an ELF header (size ${hex(src.size)})`, { source: src.name, offset: 0 });
  }
  const ident = src.read(0, EI_NIDENT);
  if (ELFMAG.some((b, i) => ident[i] !== b)) {
    throw new FormatError("not an ELF file: bad magic (expected 7f 45 4c 46)", { source: src.name, offset: 0 });
  }
  const cls = ident[4] as number;
  const data = ident[5] as number;
  if (cls !== ElfClass.Elf32 && cls !== ElfClass.Elf64) {
    throw new FormatError(`bad EI_CLASS ${cls} (expected 1 or 2)`, { source: src.name, offset: 4 });
  }
  if (data !== ElfData.Lsb && data !== ElfData.Msb) {
    throw new FormatError(`bad EI_DATA ${data} (expected 1 or 2)`, { source: src.name, offset: 5 });
  }
  const is64 = cls === ElfClass.Elf64;
  const size = is64 ? 64 : 52;
  if (src.size < size) {
    throw new FormatError(`ELF header (${size} bytes) extends past end of file (size ${hex(src.size)})`, {
      source: src.name,
      offset: 0,
    });
  }
  const r = new EndianReader(src.read(0, size), data === ElfData.Lsb, 0, src.name);
  const id: ElfIdent = {
    class: cls,
    data,
    version: ident[6] as number,
    osabi: ident[7] as number,
    abiversion: ident[8] as number,
    bytes: ident.slice(),
  };
  if (is64) {
    return {
      ident: id,
      type: r.u16(16),
      machine: r.u16(18),
      version: r.u32(20),
      entry: r.u64(24),
      phoff: r.u64(32),
      shoff: r.u64(40),
      flags: r.u32(48),
      ehsize: r.u16(52),
      phentsize: r.u16(54),
      phnum: r.u16(56),
      shentsize: r.u16(58),
      shnum: r.u16(60),
      shstrndx: r.u16(62),
    };
  }
  return {
    ident: id,
    type: r.u16(16),
    machine: r.u16(18),
    version: r.u32(20),
    entry: BigInt(r.u32(24)),
    phoff: BigInt(r.u32(28)),
    shoff: BigInt(r.u32(32)),
    flags: r.u32(36),
    ehsize: r.u16(40),
    phentsize: r.u16(42),
    phnum: r.u16(44),
    shentsize: r.u16(46),
    shnum: r.u16(48),
    shstrndx: r.u16(50),
  };
}

/** Locate a header table and check it lies inside the file before reading any of it. */
function tableReader(elf: ElfFile, what: string, off: bigint, count: number, entsize: number, minEnt: number) {
  if (count === 0) return undefined;
  if (entsize < minEnt) {
    throw new FormatError(`${what}: entry size ${entsize} is smaller than ${minEnt} bytes`, {
      source: elf.name,
      offset: off,
    });
  }
  const total = BigInt(count) * BigInt(entsize);
  const size = elf.source.size;
  if (off + total > BigInt(size)) {
    throw new FormatError(
      `${what} (offset ${hex(off)}, ${count} entries of ${entsize} bytes) extends past end of file (size ${hex(size)})`,
      { source: elf.name, offset: off },
    );
  }
  return elf.reader(Number(off), Number(total), what);
}

function readProgramHeaders(elf: ElfFile): ProgramHeader[] {
  const h = elf.header;
  const count = elf.phnum;
  if (h.phoff === 0n) return [];
  const r = tableReader(elf, "program header table", h.phoff, count, h.phentsize, elf.is64 ? 56 : 32);
  if (!r) return [];
  const out: ProgramHeader[] = [];
  for (let i = 0; i < count; i++) {
    const o = i * h.phentsize;
    out.push(
      elf.is64
        ? {
            index: i,
            type: r.u32(o),
            flags: r.u32(o + 4),
            offset: r.u64(o + 8),
            vaddr: r.u64(o + 16),
            paddr: r.u64(o + 24),
            filesz: r.u64(o + 32),
            memsz: r.u64(o + 40),
            align: r.u64(o + 48),
          }
        : {
            index: i,
            type: r.u32(o),
            offset: BigInt(r.u32(o + 4)),
            vaddr: BigInt(r.u32(o + 8)),
            paddr: BigInt(r.u32(o + 12)),
            filesz: BigInt(r.u32(o + 16)),
            memsz: BigInt(r.u32(o + 20)),
            flags: r.u32(o + 24),
            align: BigInt(r.u32(o + 28)),
          },
    );
  }
  return out;
}

function readSectionHeaders(elf: ElfFile): SectionHeader[] {
  const h = elf.header;
  if (h.shoff === 0n) return [];
  const count = elf.shnum;
  const r = tableReader(elf, "section header table", h.shoff, count, h.shentsize, elf.is64 ? 64 : 40);
  if (!r) return [];
  const raw: Omit<SectionHeader, "name">[] = [];
  for (let i = 0; i < count; i++) {
    const o = i * h.shentsize;
    raw.push(
      elf.is64
        ? {
            index: i,
            nameOffset: r.u32(o),
            type: r.u32(o + 4),
            flags: r.u64(o + 8),
            addr: r.u64(o + 16),
            offset: r.u64(o + 24),
            size: r.u64(o + 32),
            link: r.u32(o + 40),
            info: r.u32(o + 44),
            addralign: r.u64(o + 48),
            entsize: r.u64(o + 56),
          }
        : {
            index: i,
            nameOffset: r.u32(o),
            type: r.u32(o + 4),
            flags: BigInt(r.u32(o + 8)),
            addr: BigInt(r.u32(o + 12)),
            offset: BigInt(r.u32(o + 16)),
            size: BigInt(r.u32(o + 20)),
            link: r.u32(o + 24),
            info: r.u32(o + 28),
            addralign: BigInt(r.u32(o + 32)),
            entsize: BigInt(r.u32(o + 36)),
          },
    );
  }
  // Names: a missing or broken string table gives "<corrupt>" names rather than failing the whole
  // table, as readelf does; the table itself is still usable.
  let strtab: Uint8Array | undefined;
  const si = elf.shstrndx;
  const strSec = si < raw.length ? raw[si] : undefined;
  if (strSec && strSec.type !== SHT_NOBITS) {
    try {
      strtab = elf.readBytes(Number(strSec.offset), elf.num(strSec.size, "shstrtab sh_size"), "section name table");
    } catch {
      strtab = undefined;
    }
  }
  return raw.map((s) => {
    let name = "";
    if (strtab) {
      const end = s.nameOffset < strtab.length ? strtab.indexOf(0, s.nameOffset) : -1;
      name = end < 0 ? "<corrupt>" : decodeLatin1(strtab, s.nameOffset, end);
    }
    return { ...s, name };
  });
}
