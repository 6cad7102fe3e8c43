import {
  PF_R,
  PF_W,
  PF_X,
  PT_DYNAMIC,
  PT_GNU_EH_FRAME,
  PT_GNU_RELRO,
  PT_GNU_SFRAME,
  PT_GNU_STACK,
  PT_INTERP,
  PT_LOAD,
  PT_NOTE,
  PT_PHDR,
  PT_TLS,
  SHT_NOBITS,
} from "../../formats/elf/constants.ts";
import { decodeLatin1, type ElfFile } from "../../formats/elf/file.ts";
import type { ProgramHeader, SectionHeader } from "../../formats/elf/types.ts";
import { fileTypeName } from "./header.ts";
import { altHex, fullHex, hexPad, padRight, prefixHex } from "./printf.ts";
import { printableSectionName, readelfStringTable } from "./sections.ts";

/** `readelf -l`: program headers and the section to segment mapping (binutils `process_program_headers`). */

const EM_ARM = 40;
const EM_S390 = 22;
const EM_AARCH64 = 183;
const ELFOSABI_GNU = 3;
const ELFOSABI_FREEBSD = 9;
const PT_GNU_MBIND_LO = 0x6474e555;
const PT_GNU_MBIND_HI = PT_GNU_MBIND_LO + 0xfff;

const BASE_TYPES: ReadonlyMap<number, string> = new Map([
  [0, "NULL"],
  [1, "LOAD"],
  [2, "DYNAMIC"],
  [3, "INTERP"],
  [4, "NOTE"],
  [5, "SHLIB"],
  [6, "PHDR"],
  [7, "TLS"],
]);
const GNU_TYPES: ReadonlyMap<number, string> = new Map([
  [PT_GNU_EH_FRAME, "GNU_EH_FRAME"],
  [PT_GNU_STACK, "GNU_STACK"],
  [PT_GNU_RELRO, "GNU_RELRO"],
  [0x6474e553, "GNU_PROPERTY"],
  [PT_GNU_SFRAME, "GNU_SFRAME"],
  [0x65a3dbe5, "OPENBSD_MUTABLE"],
  [0x65a3dbe6, "OPENBSD_RANDOMIZE"],
  [0x65a3dbe7, "OPENBSD_WXNEEDED"],
  [0x65a41be6, "OPENBSD_BOOTDATA"],
]);

/** readelf `get_segment_type`. */
export function segmentTypeName(elf: ElfFile, type: number): string {
  const base = BASE_TYPES.get(type);
  if (base !== undefined) return base;
  const machine = elf.header.machine;
  if (type >= 0x70000000 && type <= 0x7fffffff) {
    let r: string | undefined;
    if (machine === EM_AARCH64)
      r = ({ 1879048192: "AARCH64_ARCHEXT", 1879048194: "AARCH64_MEMTAG_MTE" } as Record<number, string>)[type];
    else if (machine === EM_ARM) r = type === 0x70000001 ? "EXIDX" : undefined;
    else if (machine === EM_S390) r = type === 0x70000000 ? "S390_PGSTE" : undefined;
    return r ?? `LOPROC+${altHex(type - 0x70000000)}`;
  }
  if (type >= 0x60000000 && type <= 0x6fffffff) {
    const osabi = elf.header.ident.osabi;
    if ((osabi === ELFOSABI_GNU || osabi === ELFOSABI_FREEBSD) && type >= PT_GNU_MBIND_LO && type <= PT_GNU_MBIND_HI) {
      return `GNU_MBIND+${altHex(type - PT_GNU_MBIND_LO)}`;
    }
    return GNU_TYPES.get(type) ?? `LOOS+${altHex(type - 0x60000000)}`;
  }
  return `<unknown>: ${type.toString(16)}`;
}

const M64 = (1n << 64n) - 1n;
const SHF_ALLOC = 0x2n;
const SHF_TLS = 0x400n;

/** binutils include/elf/internal.h `ELF_SECTION_SIZE`: a .tbss occupies no space outside PT_TLS. */
function sectionSize(s: SectionHeader, p: ProgramHeader): bigint {
  return (s.flags & SHF_TLS) === 0n || s.type !== SHT_NOBITS || p.type === PT_TLS ? s.size : 0n;
}

/**
 * binutils include/elf/internal.h `ELF_SECTION_IN_SEGMENT_STRICT` (check_vma = 1, strict = 1), with
 * its unsigned 64-bit arithmetic (differences wrap, `p_filesz - 1` of an empty segment is huge).
 */
export function sectionInSegment(s: SectionHeader, p: ProgramHeader): boolean {
  const tls = (s.flags & SHF_TLS) !== 0n;
  const alloc = (s.flags & SHF_ALLOC) !== 0n;
  const nobits = s.type === SHT_NOBITS;
  const typeOk =
    (tls && (p.type === PT_TLS || p.type === PT_GNU_RELRO || p.type === PT_LOAD)) ||
    (!tls && p.type !== PT_TLS && p.type !== PT_PHDR);
  if (!typeOk) return false;
  const allocOnly =
    p.type === PT_LOAD ||
    p.type === PT_DYNAMIC ||
    p.type === PT_GNU_EH_FRAME ||
    p.type === PT_GNU_STACK ||
    p.type === PT_GNU_RELRO ||
    p.type === PT_GNU_SFRAME ||
    (p.type >= PT_GNU_MBIND_LO && p.type <= PT_GNU_MBIND_HI);
  if (!alloc && allocOnly) return false;
  const size = sectionSize(s, p);
  if (!nobits) {
    const d = (s.offset - p.offset) & M64;
    if (!(s.offset >= p.offset && d <= ((p.filesz - 1n) & M64) && ((d + size) & M64) <= p.filesz)) return false;
  }
  if (alloc) {
    const d = (s.addr - p.vaddr) & M64;
    if (!(s.addr >= p.vaddr && d <= ((p.memsz - 1n) & M64) && ((d + size) & M64) <= p.memsz)) return false;
  }
  if ((p.type === PT_DYNAMIC || p.type === PT_NOTE) && s.size === 0n && p.memsz !== 0n) {
    const offOk = nobits || (s.offset > p.offset && ((s.offset - p.offset) & M64) < p.filesz);
    const addrOk = !alloc || (s.addr > p.vaddr && ((s.addr - p.vaddr) & M64) < p.memsz);
    if (!(offOk && addrOk)) return false;
  }
  return true;
}

/** binutils `ELF_TBSS_SPECIAL`: .tbss is listed only under PT_TLS. */
function tbssSpecial(s: SectionHeader, p: ProgramHeader): boolean {
  return (s.flags & SHF_TLS) !== 0n && s.type === SHT_NOBITS && p.type !== PT_TLS;
}

function interpreterName(elf: ElfFile, p: ProgramHeader): string | undefined {
  try {
    const off = elf.num(p.offset, "PT_INTERP p_offset");
    const avail = Math.max(0, Math.min(elf.source.size - off, Number(p.filesz)));
    const bytes = elf.readBytes(off, avail, "program interpreter");
    let end = bytes.indexOf(0);
    if (end < 0) end = bytes.length;
    return decodeLatin1(bytes, 0, end);
  } catch {
    return undefined;
  }
}

function phdrLine(elf: ElfFile, p: ProgramHeader, wide: boolean): string {
  const flg = `${p.flags & PF_R ? "R" : " "}${p.flags & PF_W ? "W" : " "}${p.flags & PF_X ? "E" : " "}`;
  let line = `  ${padRight(segmentTypeName(elf, p.type).slice(0, 14), 14)} `;
  if (elf.is64 && !wide) {
    // Two lines per segment (readelf's default layout for ELF64).
    line += `${fullHex(p.offset, true)} ${fullHex(p.vaddr, true)} ${fullHex(p.paddr, true)}\n`;
    line += `                 ${fullHex(p.filesz, true)} ${fullHex(p.memsz, true)}  ${flg}    ${prefixHex(p.align)}\n`;
    return line;
  }
  if (!elf.is64) {
    line += `0x${hexPad(p.offset, 6)} 0x${hexPad(p.vaddr, 8)} 0x${hexPad(p.paddr, 8)} 0x${hexPad(p.filesz, 5)} 0x${hexPad(p.memsz, 5)} ${flg} ${altHex(p.align)}\n`;
    return line;
  }
  line += `0x${hexPad(p.offset, 6)} ${fullHex(p.vaddr, true)} ${fullHex(p.paddr, true)} 0x${hexPad(p.filesz, 6)} 0x${hexPad(p.memsz, 6)} ${flg} ${altHex(p.align)}\n`;
  return line;
}

/** The program interpreter PT_INTERP names, if any (readelf prints the first). */
export function programInterpreter(elf: ElfFile): string | undefined {
  const p = elf.programHeaders.find((ph) => ph.type === PT_INTERP);
  return p ? interpreterName(elf, p) : undefined;
}

/** Section to segment mapping: for each program header, the names of the sections it holds. */
export function segmentSections(elf: ElfFile): readonly (readonly string[])[] | undefined {
  const secs = elf.header.shoff === 0n ? [] : elf.sections;
  const strtab = secs.length > 0 ? readelfStringTable(elf) : undefined;
  if (secs.length === 0 || !strtab) return undefined;
  return elf.programHeaders.map((p) =>
    secs
      .filter((s) => s.index !== 0 && !tbssSpecial(s, p) && sectionInSegment(s, p))
      .map((s) => printableSectionName(strtab, s)),
  );
}

export interface ProgramHeaderOptions {
  /** -h was given too: readelf then omits the "Elf file type is" introduction. */
  readonly header: boolean;
  /** -W: one line per segment (default true). */
  readonly wide?: boolean;
}

export function formatProgramHeaders(elf: ElfFile, opts: ProgramHeaderOptions): string {
  const h = elf.header;
  const phnum = elf.phnum;
  if (phnum === 0) return "\nThere are no program headers in this file.\n";
  let out = "";
  if (!opts.header) {
    out += `\nElf file type is ${fileTypeName(elf)}\n`;
    out += `Entry point 0x${h.entry.toString(16)}\n`;
    out += `There ${phnum === 1 ? "is" : "are"} ${phnum} program header${phnum === 1 ? "" : "s"}, starting at offset ${h.phoff}\n`;
  }
  const phdrs = elf.programHeaders;
  out += "\nProgram Headers:\n";
  const wide = opts.wide ?? true;
  if (!elf.is64) out += "  Type           Offset   VirtAddr   PhysAddr   FileSiz MemSiz  Flg Align\n";
  else if (wide) {
    out += "  Type           Offset   VirtAddr           PhysAddr           FileSiz  MemSiz   Flg Align\n";
  } else {
    out += "  Type           Offset             VirtAddr           PhysAddr\n";
    out += "                 FileSiz            MemSiz              Flags  Align\n";
  }
  let sawInterp = false;
  for (const p of phdrs) {
    out += phdrLine(elf, p, wide);
    if (p.type === PT_INTERP && !sawInterp) {
      sawInterp = true;
      const name = interpreterName(elf, p);
      if (name !== undefined) out += `      [Requesting program interpreter: ${name}]\n`;
    }
  }
  const secs = h.shoff === 0n ? [] : elf.sections;
  const strtab = secs.length > 0 ? readelfStringTable(elf) : undefined;
  if (secs.length > 0 && strtab) {
    out += "\n Section to Segment mapping:\n  Segment Sections...\n";
    for (const p of phdrs) {
      out += `   ${String(p.index).padStart(2, "0")}     `;
      for (const s of secs) {
        if (s.index === 0) continue;
        if (!tbssSpecial(s, p) && sectionInSegment(s, p)) out += `${printableSectionName(strtab, s)} `;
      }
      out += "\n";
    }
  }
  return out;
}
