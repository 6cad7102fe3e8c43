/**
 * ELF records as read from a file. Field names follow the ELF specification (and Go's `debug/elf`):
 * what the file says, nothing derived. 64-bit quantities (addresses, offsets, sizes, flags of ELF64)
 * are bigint so no value is silently rounded; 16/32-bit fields are numbers.
 */

export enum ElfClass {
  None = 0,
  Elf32 = 1,
  Elf64 = 2,
}

export enum ElfData {
  None = 0,
  Lsb = 1,
  Msb = 2,
}

export interface ElfIdent {
  readonly class: ElfClass;
  readonly data: ElfData;
  /** EI_VERSION */
  readonly version: number;
  readonly osabi: number;
  readonly abiversion: number;
  /** All 16 bytes of e_ident, for `readelf -h`'s "Magic:" line. */
  readonly bytes: Uint8Array;
}

export interface ElfHeader {
  readonly ident: ElfIdent;
  readonly type: number;
  readonly machine: number;
  readonly version: number;
  readonly entry: bigint;
  readonly phoff: bigint;
  readonly shoff: bigint;
  readonly flags: number;
  readonly ehsize: number;
  readonly phentsize: number;
  /** Raw e_phnum (may be PN_XNUM = 0xffff; see ElfFile.phnum for the resolved count). */
  readonly phnum: number;
  readonly shentsize: number;
  /** Raw e_shnum (0 with extended numbering; see ElfFile.shnum). */
  readonly shnum: number;
  /** Raw e_shstrndx (may be SHN_XINDEX = 0xffff; see ElfFile.shstrndx). */
  readonly shstrndx: number;
}

export interface ProgramHeader {
  /** Index in the program header table. */
  readonly index: number;
  readonly type: number;
  readonly flags: number;
  readonly offset: bigint;
  readonly vaddr: bigint;
  readonly paddr: bigint;
  readonly filesz: bigint;
  readonly memsz: bigint;
  readonly align: bigint;
}

export interface SectionHeader {
  readonly index: number;
  /** sh_name: offset of the name in the section header string table. */
  readonly nameOffset: number;
  /** Resolved name ("" when there is no string table; `<corrupt>` when the offset is out of range). */
  readonly name: string;
  readonly type: number;
  readonly flags: bigint;
  readonly addr: bigint;
  readonly offset: bigint;
  readonly size: bigint;
  readonly link: number;
  readonly info: number;
  readonly addralign: bigint;
  readonly entsize: bigint;
}
