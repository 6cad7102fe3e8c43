/**
 * The description the ELF writer turns into bytes. It says what a file contains (sections, symbols,
 * dynamic entries, relocations) and leaves the layout to the writer: section order, file offsets,
 * addresses, program headers, string and hash tables are derived, deterministically.
 */

/** An address in the output: absolute, or an offset into a named section (resolved after layout). */
export type Location = bigint | { readonly section: string; readonly offset?: number | bigint };

/** Neutral relocation kinds, mapped to each machine's number (musl `arch/<arch>/reloc.h` does the same). */
export type RelocationKind = "relative" | "jump-slot" | "glob-dat" | "abs";

export interface RelocationSpec {
  /** Where to relocate: an address (ET_DYN/ET_EXEC) or, in ET_REL, an offset in the target section. */
  readonly at: Location;
  readonly type: number | RelocationKind;
  /** Symbol name (resolved in .dynsym for dynamic relocations, in .symtab for ET_REL sections). */
  readonly symbol?: string;
  /** RELA: r_addend. REL: written into the relocated word as the implicit addend. */
  readonly addend?: bigint;
}

export type SymbolTypeName = "notype" | "object" | "func" | "section" | "file" | "common" | "tls" | "ifunc";
export type SymbolBindName = "local" | "global" | "weak" | "unique";
export type SymbolVisibilityName = "default" | "internal" | "hidden" | "protected";

export interface SymbolSpec {
  readonly name: string;
  /** Section the symbol is defined in; absent means undefined (SHN_UNDEF) unless `shndx` says otherwise. */
  readonly section?: string;
  /** Offset of the symbol in `section` (default 0). */
  readonly offset?: number | bigint;
  /** Explicit st_value (overrides section + offset; with no section the symbol is SHN_ABS). */
  readonly value?: bigint;
  readonly size?: number | bigint;
  readonly type?: SymbolTypeName | number;
  readonly bind?: SymbolBindName | number;
  readonly visibility?: SymbolVisibilityName;
  /** Special section index: "abs", "common", or a raw number. */
  readonly shndx?: "abs" | "common" | number;
}

export interface DynamicSymbolSpec extends SymbolSpec {
  /** Symbol version: a definition name (defined symbols) or a needed version (undefined symbols). */
  readonly version?: string;
  /** Non-default version (`name@VER` rather than `name@@VER`): sets the versym hidden bit. */
  readonly hidden?: boolean;
}

export interface VersionSpec {
  /** Version definitions; the base definition (the soname) is added first automatically. */
  readonly definitions?: readonly { readonly name: string; readonly parent?: string; readonly weak?: boolean }[];
  readonly needs?: readonly {
    readonly file: string;
    readonly versions: readonly { readonly name: string; readonly weak?: boolean }[];
  }[];
}

export interface DynamicSpec {
  readonly needed?: readonly string[];
  readonly soname?: string;
  readonly runpath?: string;
  readonly rpath?: string;
  readonly symbols?: readonly DynamicSymbolSpec[];
  /** Which symbol hash tables to build (default "both"). */
  readonly hashStyle?: "gnu" | "sysv" | "both";
  /** REL or RELA for .rel(a).dyn and .rel(a).plt (default: REL on i386, ARM and MIPS as their psABIs use; RELA elsewhere). */
  readonly relocationForm?: "rela" | "rel";
  readonly relocations?: readonly RelocationSpec[];
  /** PLT relocations (DT_JMPREL); usually jump-slot relocations of .got.plt slots. */
  readonly pltRelocations?: readonly RelocationSpec[];
  /** Section DT_PLTGOT points at (typically ".got.plt"; its first three words are reserved for ld.so). */
  readonly pltGot?: string;
  /** Addresses of word-sized relative relocations, packed into .relr.dyn (DT_RELR). */
  readonly relr?: readonly Location[];
  /** Constructors: symbol names or addresses. ET_DYN gets a relative relocation per entry. */
  readonly initArray?: readonly (string | bigint)[];
  readonly finiArray?: readonly (string | bigint)[];
  readonly flags?: number;
  readonly flags1?: number;
  readonly versions?: VersionSpec;
  /** Add DT_DEBUG (default: when the file has an interpreter, as GNU ld does for executables). */
  readonly debug?: boolean;
  /** Extra entries, appended before DT_NULL. */
  readonly extra?: readonly { readonly tag: number; readonly value: bigint | Location }[];
}

export interface SectionSpec {
  readonly name: string;
  /** sh_type (default SHT_PROGBITS). */
  readonly type?: number;
  /** gas-style letters (`a` alloc, `w` write, `x` exec, `m` merge, `s` strings, `i` info-link, `T` TLS) or raw bits. */
  readonly flags?: string | bigint;
  /** Contents (omitted for SHT_NOBITS, or an empty section). */
  readonly data?: Uint8Array;
  /** Size of a SHT_NOBITS section. */
  readonly size?: number;
  readonly align?: number;
  readonly entsize?: number;
  /** sh_link: a section name or raw index. */
  readonly link?: string | number;
  /** sh_info: a section name or raw value. */
  readonly info?: string | number;
  /** Writable section that belongs to the RELRO region (read-only after relocation, PT_GNU_RELRO). */
  readonly relro?: boolean;
}

/** A relocation section of a relocatable object (`.rela.text` for `.text`). */
export interface RelocationSectionSpec {
  readonly target: string;
  readonly form?: "rela" | "rel";
  readonly relocations: readonly RelocationSpec[];
}

export interface SegmentOptions {
  /** PT_PHDR (default: when there is an interpreter). */
  readonly phdr?: boolean;
  /** PT_GNU_STACK (default true; "rwx" asks for an executable stack). */
  readonly gnuStack?: boolean | "rwx";
  /** PT_GNU_RELRO over the RELRO sections (default true when there are any). */
  readonly relro?: boolean;
  /** PT_GNU_SFRAME over an allocated `.sframe` (default true when there is one). */
  readonly sframe?: boolean;
  /** PT_NOTE per allocated SHT_NOTE section (default true). */
  readonly notes?: boolean;
}

export interface ElfDescription {
  readonly class?: 32 | 64;
  readonly endian?: "little" | "big";
  readonly type: "rel" | "exec" | "dyn";
  /** e_machine (default EM_X86_64). */
  readonly machine?: number;
  readonly flags?: number;
  readonly osabi?: number;
  /** e_entry: an address or a symbol name. */
  readonly entry?: bigint | string;
  /** Page size used for PT_LOAD alignment (default 0x1000). */
  readonly pageSize?: number;
  /** Address of the first byte of the file in memory (default 0 for ET_DYN, 0x400000/0x8048000 for ET_EXEC). */
  readonly baseAddress?: bigint;
  /** Program interpreter (PT_INTERP + .interp). */
  readonly interp?: string;
  readonly sections?: readonly SectionSpec[];
  /** .symtab contents (locals are moved before globals, as the gABI requires). */
  readonly symbols?: readonly SymbolSpec[];
  readonly relocationSections?: readonly RelocationSectionSpec[];
  readonly dynamic?: DynamicSpec;
  readonly segments?: SegmentOptions;
}

/** Where a section ended up. */
export interface PlacedSection {
  readonly index: number;
  readonly name: string;
  readonly type: number;
  readonly offset: number;
  readonly addr: bigint;
  readonly size: number;
}

export interface ElfImage {
  readonly bytes: Uint8Array;
  readonly sections: readonly PlacedSection[];
  /** Address (st_value) of a symbol by name, from .dynsym or .symtab. */
  symbolValue(name: string): bigint | undefined;
}
