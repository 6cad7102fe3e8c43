/**
 * Symbol-table constants (elf.h) and the names GNU readelf 2.40 prints for them (binutils readelf.c
 * `get_symbol_binding`, `get_symbol_type`, `get_symbol_visibility`, `get_symbol_index_type`).
 * Names that depend on the machine or OS/ABI take them as arguments, as readelf does.
 */
import { EM_AARCH64, EM_X86_64, SHN_ABS, SHN_COMMON, SHN_LORESERVE, SHN_UNDEF } from "./constants.ts";

export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;
export const STB_GNU_UNIQUE = 10;
export const STB_LOOS = 10;
export const STB_HIOS = 12;
export const STB_LOPROC = 13;
export const STB_HIPROC = 15;

export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;
export const STT_COMMON = 5;
export const STT_TLS = 6;
export const STT_RELC = 8;
export const STT_SRELC = 9;
export const STT_GNU_IFUNC = 10;
export const STT_LOOS = 10;
export const STT_HIOS = 12;
export const STT_LOPROC = 13;
export const STT_HIPROC = 15;

export const STV_DEFAULT = 0;
export const STV_INTERNAL = 1;
export const STV_HIDDEN = 2;
export const STV_PROTECTED = 3;

/** AArch64 st_other bit: the function follows a variant procedure call standard. */
export const STO_AARCH64_VARIANT_PCS = 0x80;
/** RISC-V st_other bit: the function uses a variant calling convention. */
export const STO_RISCV_VARIANT_CC = 0x80;

export const STN_UNDEF = 0;

/** Special section indices (16-bit st_shndx values); the core ones live in constants.ts. */
export { SHN_ABS, SHN_COMMON, SHN_LORESERVE, SHN_UNDEF, SHN_XINDEX } from "./constants.ts";
export const SHN_LOPROC = 0xff00;
export const SHN_HIPROC = 0xff1f;
export const SHN_LOOS = 0xff20;
export const SHN_HIOS = 0xff3f;
/** x86-64 large common (SHN_LOPROC + 2). */
export const SHN_X86_64_LCOMMON = 0xff02;

export const ELFOSABI_NONE = 0;
export const ELFOSABI_GNU = 3;
export const ELFOSABI_SOLARIS = 6;
export const ELFOSABI_FREEBSD = 9;

const EM_L1OM = 180;
const EM_K1OM = 181;
const EM_RISCV = 243;

export function stBind(info: number): number {
  return info >> 4;
}
export function stType(info: number): number {
  return info & 0xf;
}
export function stVisibility(other: number): number {
  return other & 0x3;
}

/** readelf `get_symbol_binding`. STB_GNU_UNIQUE is only named for ELFOSABI_GNU files. */
export function symbolBindingName(bind: number, osabi: number): string {
  switch (bind) {
    case STB_LOCAL:
      return "LOCAL";
    case STB_GLOBAL:
      return "GLOBAL";
    case STB_WEAK:
      return "WEAK";
  }
  if (bind >= STB_LOPROC && bind <= STB_HIPROC) return `<processor specific>: ${bind}`;
  if (bind >= STB_LOOS && bind <= STB_HIOS) {
    if (bind === STB_GNU_UNIQUE && osabi === ELFOSABI_GNU) return "UNIQUE";
    return `<OS specific>: ${bind}`;
  }
  return `<unknown>: ${bind}`;
}

/** readelf `get_symbol_type` (the machine-specific names that can occur on Linux targets). */
export function symbolTypeName(type: number, machine: number, osabi: number): string {
  switch (type) {
    case STT_NOTYPE:
      return "NOTYPE";
    case STT_OBJECT:
      return "OBJECT";
    case STT_FUNC:
      return "FUNC";
    case STT_SECTION:
      return "SECTION";
    case STT_FILE:
      return "FILE";
    case STT_COMMON:
      return "COMMON";
    case STT_TLS:
      return "TLS";
    case STT_RELC:
      return "RELC";
    case STT_SRELC:
      return "SRELC";
  }
  if (type >= STT_LOPROC && type <= STT_HIPROC) {
    if (machine === 40 /* EM_ARM */ && type === 13 /* STT_ARM_TFUNC */) return "THUMB_FUNC";
    if ((machine === 2 || machine === 18 || machine === 43) /* SPARC */ && type === 13) return "REGISTER";
    if (machine === 15 /* EM_PARISC */ && type === 13) return "PARISC_MILLI";
    return `<processor specific>: ${type}`;
  }
  if (type >= STT_LOOS && type <= STT_HIOS) {
    if (machine === 15) {
      if (type === 11) return "HP_OPAQUE";
      if (type === 12) return "HP_STUB";
    }
    if (type === STT_GNU_IFUNC && (osabi === ELFOSABI_GNU || osabi === ELFOSABI_FREEBSD)) return "IFUNC";
    return `<OS specific>: ${type}`;
  }
  return `<unknown>: ${type}`;
}

/** readelf `get_symbol_visibility`. */
export function symbolVisibilityName(vis: number): string {
  switch (vis) {
    case STV_DEFAULT:
      return "DEFAULT";
    case STV_INTERNAL:
      return "INTERNAL";
    case STV_HIDDEN:
      return "HIDDEN";
    default:
      return "PROTECTED";
  }
}

/**
 * readelf `get_symbol_other`: the st_other bits beyond visibility (`other` has them already
 * masked off). Only the Linux targets ldsim models name theirs; anything else is `<other>: %x`.
 */
export function symbolOtherName(other: number, machine: number): string {
  if (other === 0) return "";
  // get_aarch64_symbol_other
  if (machine === EM_AARCH64 && other & STO_AARCH64_VARIANT_PCS) {
    const rest = other & ~STO_AARCH64_VARIANT_PCS;
    return rest === 0 ? "VARIANT_PCS" : `VARIANT_PCS | ${rest.toString(16)}`;
  }
  // get_riscv_symbol_other: the leftover bits replace the flag name rather than joining it.
  if (machine === EM_RISCV) {
    const rest = other & ~STO_RISCV_VARIANT_CC;
    if (rest !== 0) return rest.toString(16);
    return "VARIANT_CC";
  }
  return `<other>: ${other.toString(16)}`;
}

/**
 * readelf `get_symbol_index_type`. `shndx` is the 16-bit st_shndx, or the SHT_SYMTAB_SHNDX value
 * when `extended` (then it is a real section index and never special). `shnum` is the resolved
 * section count, 0 when the file has no section headers.
 */
export function symbolIndexName(shndx: number, machine: number, shnum: number, extended = false): string {
  if (!extended) {
    if (shndx === SHN_UNDEF) return "UND";
    if (shndx === SHN_ABS) return "ABS";
    if (shndx === SHN_COMMON) return "COM";
    if ((machine === EM_X86_64 || machine === EM_L1OM || machine === EM_K1OM) && shndx === SHN_X86_64_LCOMMON) {
      return "LARGE_COM";
    }
    const h = shndx.toString(16).padStart(4, "0");
    if (shndx >= SHN_LOPROC && shndx <= SHN_HIPROC) return `PRC[0x${h}]`;
    if (shndx >= SHN_LOOS && shndx <= SHN_HIOS) return `OS [0x${h}]`;
    if (shndx >= SHN_LORESERVE) return `RSV[0x${h}]`;
  } else if (shndx === SHN_UNDEF) {
    return "UND";
  }
  if (shnum !== 0 && shndx >= shnum) return `bad section index[${String(shndx).padStart(3)}]`;
  return String(shndx).padStart(3);
}
