/**
 * Dynamic section tags (glibc elf.h `DT_*`), flag bits of DT_FLAGS / DT_FLAGS_1 / DT_POSFLAG_1 /
 * DT_FEATURE_1 / DT_GNU_FLAGS_1, and the names GNU readelf 2.40 prints for each (binutils readelf.c
 * `get_dynamic_type`). Tags are bigint because d_tag is an Elf64_Sxword: a tag outside 32 bits is
 * still a tag, and readelf prints it.
 */

export const DT_NULL = 0n;
export const DT_NEEDED = 1n;
export const DT_PLTRELSZ = 2n;
export const DT_PLTGOT = 3n;
export const DT_HASH = 4n;
export const DT_STRTAB = 5n;
export const DT_SYMTAB = 6n;
export const DT_RELA = 7n;
export const DT_RELASZ = 8n;
export const DT_RELAENT = 9n;
export const DT_STRSZ = 10n;
export const DT_SYMENT = 11n;
export const DT_INIT = 12n;
export const DT_FINI = 13n;
export const DT_SONAME = 14n;
export const DT_RPATH = 15n;
export const DT_SYMBOLIC = 16n;
export const DT_REL = 17n;
export const DT_RELSZ = 18n;
export const DT_RELENT = 19n;
export const DT_PLTREL = 20n;
export const DT_DEBUG = 21n;
export const DT_TEXTREL = 22n;
export const DT_JMPREL = 23n;
export const DT_BIND_NOW = 24n;
export const DT_INIT_ARRAY = 25n;
export const DT_FINI_ARRAY = 26n;
export const DT_INIT_ARRAYSZ = 27n;
export const DT_FINI_ARRAYSZ = 28n;
export const DT_RUNPATH = 29n;
export const DT_FLAGS = 30n;
/** Values from DT_ENCODING on follow the d_un interpretation rule (even: d_ptr, odd: d_val). */
export const DT_ENCODING = 32n;
export const DT_PREINIT_ARRAY = 32n;
export const DT_PREINIT_ARRAYSZ = 33n;
export const DT_SYMTAB_SHNDX = 34n;
export const DT_RELRSZ = 35n;
export const DT_RELR = 36n;
export const DT_RELRENT = 37n;
/** Number of generic tags (glibc `DT_NUM`): the size of the directly indexed part of `l_info`. */
export const DT_NUM = 38n;

export const DT_LOOS = 0x6000000dn;
export const DT_HIOS = 0x6ffff000n;
export const DT_LOPROC = 0x70000000n;
export const DT_HIPROC = 0x7fffffffn;

// DT_VALRNGLO..DT_VALRNGHI: d_val entries.
export const DT_VALRNGLO = 0x6ffffd00n;
export const DT_GNU_FLAGS_1 = 0x6ffffdf4n;
export const DT_GNU_PRELINKED = 0x6ffffdf5n;
export const DT_GNU_CONFLICTSZ = 0x6ffffdf6n;
export const DT_GNU_LIBLISTSZ = 0x6ffffdf7n;
export const DT_CHECKSUM = 0x6ffffdf8n;
export const DT_PLTPADSZ = 0x6ffffdf9n;
export const DT_MOVEENT = 0x6ffffdfan;
export const DT_MOVESZ = 0x6ffffdfbn;
export const DT_FEATURE_1 = 0x6ffffdfcn;
export const DT_POSFLAG_1 = 0x6ffffdfdn;
export const DT_SYMINSZ = 0x6ffffdfen;
export const DT_SYMINENT = 0x6ffffdffn;
export const DT_VALRNGHI = 0x6ffffdffn;

// DT_ADDRRNGLO..DT_ADDRRNGHI: d_ptr entries.
export const DT_ADDRRNGLO = 0x6ffffe00n;
export const DT_GNU_HASH = 0x6ffffef5n;
export const DT_TLSDESC_PLT = 0x6ffffef6n;
export const DT_TLSDESC_GOT = 0x6ffffef7n;
export const DT_GNU_CONFLICT = 0x6ffffef8n;
export const DT_GNU_LIBLIST = 0x6ffffef9n;
export const DT_CONFIG = 0x6ffffefan;
export const DT_DEPAUDIT = 0x6ffffefbn;
export const DT_AUDIT = 0x6ffffefcn;
export const DT_PLTPAD = 0x6ffffefdn;
export const DT_MOVETAB = 0x6ffffefen;
export const DT_SYMINFO = 0x6ffffeffn;
export const DT_ADDRRNGHI = 0x6ffffeffn;

// Version tags (Sun/GNU extensions).
export const DT_VERSYM = 0x6ffffff0n;
export const DT_RELACOUNT = 0x6ffffff9n;
export const DT_RELCOUNT = 0x6ffffffan;
export const DT_FLAGS_1 = 0x6ffffffbn;
export const DT_VERDEF = 0x6ffffffcn;
export const DT_VERDEFNUM = 0x6ffffffdn;
export const DT_VERNEED = 0x6ffffffen;
export const DT_VERNEEDNUM = 0x6fffffffn;

// Sun extensions in the processor range, used by GNU ld for filters.
export const DT_AUXILIARY = 0x7ffffffdn;
export const DT_USED = 0x7ffffffen;
export const DT_FILTER = 0x7fffffffn;

// Processor-specific tags readelf names.
export const DT_AARCH64_BTI_PLT = 0x70000001n;
export const DT_AARCH64_PAC_PLT = 0x70000003n;
export const DT_AARCH64_VARIANT_PCS = 0x70000005n;

/** DT_FLAGS bits. */
export const DF_ORIGIN = 0x1n;
export const DF_SYMBOLIC = 0x2n;
export const DF_TEXTREL = 0x4n;
export const DF_BIND_NOW = 0x8n;
export const DF_STATIC_TLS = 0x10n;

/** DT_FLAGS_1 bits. */
export const DF_1_NOW = 0x1n;
export const DF_1_GLOBAL = 0x2n;
export const DF_1_GROUP = 0x4n;
export const DF_1_NODELETE = 0x8n;
export const DF_1_LOADFLTR = 0x10n;
export const DF_1_INITFIRST = 0x20n;
export const DF_1_NOOPEN = 0x40n;
export const DF_1_ORIGIN = 0x80n;
export const DF_1_DIRECT = 0x100n;
export const DF_1_TRANS = 0x200n;
export const DF_1_INTERPOSE = 0x400n;
export const DF_1_NODEFLIB = 0x800n;
export const DF_1_NODUMP = 0x1000n;
export const DF_1_CONFALT = 0x2000n;
export const DF_1_ENDFILTEE = 0x4000n;
export const DF_1_DISPRELDNE = 0x8000n;
export const DF_1_DISPRELPND = 0x10000n;
export const DF_1_NODIRECT = 0x20000n;
export const DF_1_IGNMULDEF = 0x40000n;
export const DF_1_NOKSYMS = 0x80000n;
export const DF_1_NOHDR = 0x100000n;
export const DF_1_EDITED = 0x200000n;
export const DF_1_NORELOC = 0x400000n;
export const DF_1_SYMINTPOSE = 0x800000n;
export const DF_1_GLOBAUDIT = 0x1000000n;
export const DF_1_SINGLETON = 0x2000000n;
export const DF_1_STUB = 0x4000000n;
export const DF_1_PIE = 0x8000000n;
export const DF_1_KMOD = 0x10000000n;
export const DF_1_WEAKFILTER = 0x20000000n;
export const DF_1_NOCOMMON = 0x40000000n;

/** DT_POSFLAG_1 bits. */
export const DF_P1_LAZYLOAD = 0x1n;
export const DF_P1_GROUPPERM = 0x2n;
/** DT_FEATURE_1 bits. */
export const DTF_1_PARINIT = 0x1n;
export const DTF_1_CONFEXP = 0x2n;
/** DT_GNU_FLAGS_1 bits. */
export const DF_GNU_1_UNIQUE = 0x1n;

/** DT_FLAGS bit names, one per bit (readelf `print_dynamic_flags`; other bits print "unknown"). */
export const DT_FLAGS_NAMES: ReadonlyMap<bigint, string> = new Map([
  [DF_ORIGIN, "ORIGIN"],
  [DF_SYMBOLIC, "SYMBOLIC"],
  [DF_TEXTREL, "TEXTREL"],
  [DF_BIND_NOW, "BIND_NOW"],
  [DF_STATIC_TLS, "STATIC_TLS"],
]);

/** DT_FLAGS_1 bit names in the order readelf tests them (leftover bits print as hex). */
export const DT_FLAGS_1_NAMES: readonly (readonly [bigint, string])[] = [
  [DF_1_NOW, "NOW"],
  [DF_1_GLOBAL, "GLOBAL"],
  [DF_1_GROUP, "GROUP"],
  [DF_1_NODELETE, "NODELETE"],
  [DF_1_LOADFLTR, "LOADFLTR"],
  [DF_1_INITFIRST, "INITFIRST"],
  [DF_1_NOOPEN, "NOOPEN"],
  [DF_1_ORIGIN, "ORIGIN"],
  [DF_1_DIRECT, "DIRECT"],
  [DF_1_TRANS, "TRANS"],
  [DF_1_INTERPOSE, "INTERPOSE"],
  [DF_1_NODEFLIB, "NODEFLIB"],
  [DF_1_NODUMP, "NODUMP"],
  [DF_1_CONFALT, "CONFALT"],
  [DF_1_ENDFILTEE, "ENDFILTEE"],
  [DF_1_DISPRELDNE, "DISPRELDNE"],
  [DF_1_DISPRELPND, "DISPRELPND"],
  [DF_1_NODIRECT, "NODIRECT"],
  [DF_1_IGNMULDEF, "IGNMULDEF"],
  [DF_1_NOKSYMS, "NOKSYMS"],
  [DF_1_NOHDR, "NOHDR"],
  [DF_1_EDITED, "EDITED"],
  [DF_1_NORELOC, "NORELOC"],
  [DF_1_SYMINTPOSE, "SYMINTPOSE"],
  [DF_1_GLOBAUDIT, "GLOBAUDIT"],
  [DF_1_SINGLETON, "SINGLETON"],
  [DF_1_STUB, "STUB"],
  [DF_1_PIE, "PIE"],
  [DF_1_KMOD, "KMOD"],
  [DF_1_WEAKFILTER, "WEAKFILTER"],
  [DF_1_NOCOMMON, "NOCOMMON"],
];
export const DT_POSFLAG_1_NAMES: readonly (readonly [bigint, string])[] = [
  [DF_P1_LAZYLOAD, "LAZYLOAD"],
  [DF_P1_GROUPPERM, "GROUPPERM"],
];
export const DT_FEATURE_1_NAMES: readonly (readonly [bigint, string])[] = [
  [DTF_1_PARINIT, "PARINIT"],
  [DTF_1_CONFEXP, "CONFEXP"],
];
export const DT_GNU_FLAGS_1_NAMES: readonly (readonly [bigint, string])[] = [[DF_GNU_1_UNIQUE, "UNIQUE"]];

/** Tag names readelf prints for the generic and GNU tags (`get_dynamic_type`). */
const GENERIC_NAMES: ReadonlyMap<bigint, string> = new Map([
  [DT_NULL, "NULL"],
  [DT_NEEDED, "NEEDED"],
  [DT_PLTRELSZ, "PLTRELSZ"],
  [DT_PLTGOT, "PLTGOT"],
  [DT_HASH, "HASH"],
  [DT_STRTAB, "STRTAB"],
  [DT_SYMTAB, "SYMTAB"],
  [DT_RELA, "RELA"],
  [DT_RELASZ, "RELASZ"],
  [DT_RELAENT, "RELAENT"],
  [DT_STRSZ, "STRSZ"],
  [DT_SYMENT, "SYMENT"],
  [DT_INIT, "INIT"],
  [DT_FINI, "FINI"],
  [DT_SONAME, "SONAME"],
  [DT_RPATH, "RPATH"],
  [DT_SYMBOLIC, "SYMBOLIC"],
  [DT_REL, "REL"],
  [DT_RELSZ, "RELSZ"],
  [DT_RELENT, "RELENT"],
  [DT_RELR, "RELR"],
  [DT_RELRSZ, "RELRSZ"],
  [DT_RELRENT, "RELRENT"],
  [DT_PLTREL, "PLTREL"],
  [DT_DEBUG, "DEBUG"],
  [DT_TEXTREL, "TEXTREL"],
  [DT_JMPREL, "JMPREL"],
  [DT_BIND_NOW, "BIND_NOW"],
  [DT_INIT_ARRAY, "INIT_ARRAY"],
  [DT_FINI_ARRAY, "FINI_ARRAY"],
  [DT_INIT_ARRAYSZ, "INIT_ARRAYSZ"],
  [DT_FINI_ARRAYSZ, "FINI_ARRAYSZ"],
  [DT_RUNPATH, "RUNPATH"],
  [DT_FLAGS, "FLAGS"],
  [DT_PREINIT_ARRAY, "PREINIT_ARRAY"],
  [DT_PREINIT_ARRAYSZ, "PREINIT_ARRAYSZ"],
  [DT_SYMTAB_SHNDX, "SYMTAB_SHNDX"],
  [DT_CHECKSUM, "CHECKSUM"],
  [DT_PLTPADSZ, "PLTPADSZ"],
  [DT_MOVEENT, "MOVEENT"],
  [DT_MOVESZ, "MOVESZ"],
  [DT_FEATURE_1, "FEATURE"],
  [DT_POSFLAG_1, "POSFLAG_1"],
  [DT_SYMINSZ, "SYMINSZ"],
  [DT_SYMINENT, "SYMINENT"],
  [DT_ADDRRNGLO, "ADDRRNGLO"],
  [DT_CONFIG, "CONFIG"],
  [DT_DEPAUDIT, "DEPAUDIT"],
  [DT_AUDIT, "AUDIT"],
  [DT_PLTPAD, "PLTPAD"],
  [DT_MOVETAB, "MOVETAB"],
  [DT_SYMINFO, "SYMINFO"],
  [DT_VERSYM, "VERSYM"],
  [DT_TLSDESC_GOT, "TLSDESC_GOT"],
  [DT_TLSDESC_PLT, "TLSDESC_PLT"],
  [DT_RELACOUNT, "RELACOUNT"],
  [DT_RELCOUNT, "RELCOUNT"],
  [DT_FLAGS_1, "FLAGS_1"],
  [DT_VERDEF, "VERDEF"],
  [DT_VERDEFNUM, "VERDEFNUM"],
  [DT_VERNEED, "VERNEED"],
  [DT_VERNEEDNUM, "VERNEEDNUM"],
  [DT_AUXILIARY, "AUXILIARY"],
  [DT_USED, "USED"],
  [DT_FILTER, "FILTER"],
  [DT_GNU_PRELINKED, "GNU_PRELINKED"],
  [DT_GNU_CONFLICT, "GNU_CONFLICT"],
  [DT_GNU_CONFLICTSZ, "GNU_CONFLICTSZ"],
  [DT_GNU_LIBLIST, "GNU_LIBLIST"],
  [DT_GNU_LIBLISTSZ, "GNU_LIBLISTSZ"],
  [DT_GNU_HASH, "GNU_HASH"],
  [DT_GNU_FLAGS_1, "GNU_FLAGS_1"],
]);

const EM_AARCH64 = 183;
const AARCH64_NAMES: ReadonlyMap<bigint, string> = new Map([
  [DT_AARCH64_BTI_PLT, "AARCH64_BTI_PLT"],
  [DT_AARCH64_PAC_PLT, "AARCH64_PAC_PLT"],
  [DT_AARCH64_VARIANT_PCS, "AARCH64_VARIANT_PCS"],
]);

/** The glibc elf.h name of a tag (`DT_NEEDED`), or undefined for a tag this table does not know. */
export function dynamicTagName(tag: bigint, machine?: number): string | undefined {
  const n = GENERIC_NAMES.get(tag) ?? (machine === EM_AARCH64 ? AARCH64_NAMES.get(tag) : undefined);
  if (n === undefined) return undefined;
  return n === "FEATURE" ? "DT_FEATURE_1" : `DT_${n}`;
}

/**
 * The name readelf prints between parentheses for a tag (binutils readelf.c `get_dynamic_type`):
 * the elf.h name without `DT_`, or a range description for a tag it does not know. readelf formats
 * the tag with `%lx` of an unsigned long, so a negative Sxword prints as its 64-bit pattern.
 */
export function readelfDynamicTypeName(tag: bigint, machine: number): string {
  const known = GENERIC_NAMES.get(tag);
  if (known !== undefined) return known;
  const u = BigInt.asUintN(64, tag);
  if (u >= DT_LOPROC && u <= DT_HIPROC) {
    const m = machine === EM_AARCH64 ? AARCH64_NAMES.get(u) : undefined;
    return m ?? `Processor Specific: ${u.toString(16)}`;
  }
  if (u >= DT_LOOS && u <= DT_HIOS) return `Operating System specific: ${u.toString(16)}`;
  return `<unknown>: ${u.toString(16)}`;
}
