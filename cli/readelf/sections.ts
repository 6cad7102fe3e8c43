import { SHT_DYNSYM, SHT_GROUP, SHT_REL, SHT_RELA, SHT_RELR, SHT_SYMTAB } from "../../formats/elf/constants.ts";
import { decodeLatin1, type ElfFile } from "../../formats/elf/file.ts";
import type { SectionHeader } from "../../formats/elf/types.ts";
import { altHex, hexPad, longHex, padLeft, padRight } from "./printf.ts";

/** `readelf -S`: section headers, as binutils readelf.c `process_section_headers` prints them. */

const EM_ARM = 40;
const EM_PPC = 20;
const EM_X86_64 = 62;
const EM_AARCH64 = 183;
const EM_RISCV = 243;
const ELFOSABI_GNU = 3;
const ELFOSABI_FREEBSD = 9;
const ELFOSABI_SOLARIS = 6;

/**
 * The section name string table as readelf loads it: section e_shstrndx when that index is in range
 * and the section is not empty (its type is not checked). Undefined when there is none.
 */
export function readelfStringTable(elf: ElfFile): Uint8Array | undefined {
  const idx = elf.shstrndx;
  const secs = elf.sections;
  if (idx === 0 || idx >= secs.length) return undefined;
  const s = secs[idx];
  if (!s || s.size === 0n) return undefined;
  try {
    return elf.readBytes(elf.num(s.offset, "shstrtab offset"), elf.num(s.size, "shstrtab size"), "string table");
  } catch {
    return undefined;
  }
}

/** readelf `section_name_print` followed by `printable_section_name`'s escaping. */
export function printableSectionName(strtab: Uint8Array | undefined, sec: SectionHeader): string {
  if (!strtab) return "<no-strings>";
  if (sec.nameOffset >= strtab.length) return "<corrupt>";
  let end = strtab.indexOf(0, sec.nameOffset);
  if (end < 0) end = strtab.length;
  let out = "";
  let remaining = 256;
  for (let i = sec.nameOffset; i < end; i++) {
    const c = strtab[i] as number;
    if (c < 0x20 || c === 0x7f) {
      if (remaining < 2) break;
      out += `^${String.fromCharCode((c + 0x40) & 0xff)}`;
      remaining -= 2;
    } else if (c < 0x7f) {
      out += String.fromCharCode(c);
      remaining -= 1;
    } else {
      if (remaining < 4) break;
      out += `<${c.toString(16).toUpperCase().padStart(2, "0")}>`;
      remaining -= 4;
    }
    if (remaining === 0) break;
  }
  return out;
}

/** The raw name readelf compares (`find_section`), or undefined when it has none. */
export function rawSectionName(strtab: Uint8Array | undefined, sec: SectionHeader): string | undefined {
  if (!strtab || sec.nameOffset >= strtab.length) return undefined;
  let end = strtab.indexOf(0, sec.nameOffset);
  if (end < 0) end = strtab.length;
  return decodeLatin1(strtab, sec.nameOffset, end);
}

const TYPE_NAMES: ReadonlyMap<number, string> = new Map([
  [0, "NULL"],
  [1, "PROGBITS"],
  [2, "SYMTAB"],
  [3, "STRTAB"],
  [4, "RELA"],
  [19, "RELR"],
  [5, "HASH"],
  [6, "DYNAMIC"],
  [7, "NOTE"],
  [8, "NOBITS"],
  [9, "REL"],
  [10, "SHLIB"],
  [11, "DYNSYM"],
  [14, "INIT_ARRAY"],
  [15, "FINI_ARRAY"],
  [16, "PREINIT_ARRAY"],
  [0x6ffffff6, "GNU_HASH"],
  [17, "GROUP"],
  [18, "SYMTAB SECTION INDICES"],
  [0x6ffffffd, "VERDEF"],
  [0x6ffffffe, "VERNEED"],
  [0x6fffffff, "VERSYM"],
  [0x6ffffff0, "VERSYM"],
  [0x6ffffffc, "VERDEF"],
  [0x7ffffffd, "AUXILIARY"],
  [0x7fffffff, "FILTER"],
  [0x6ffffff7, "GNU_LIBLIST"],
]);

/** readelf `get_solaris_section_type`, from 0x6fffffee (the GNU names above take precedence). */
const SOLARIS_TYPES: readonly string[] = [
  "SUNW_ancillary",
  "SUNW_capchain",
  "SUNW_capinfo",
  "SUNW_symsort",
  "SUNW_tlssort",
  "SUNW_LDYNSYM",
  "SUNW_dof",
  "SUNW_cap",
  "SUNW_SIGNATURE",
  "SUNW_ANNOTATE",
  "SUNW_DEBUGSTR",
  "SUNW_DEBUG",
  "SUNW_move",
  "SUNW_COMDAT",
  "SUNW_syminfo",
  "SUNW_verdef",
  "SUNW_verneed",
  "SUNW_versym",
];

function procSectionType(machine: number, type: number): string | undefined {
  switch (machine) {
    case EM_X86_64:
      return type === 0x70000001 ? "X86_64_UNWIND" : undefined;
    case EM_AARCH64:
      return type === 0x70000003 ? "AARCH64_ATTRIBUTES" : undefined;
    case EM_RISCV:
      return type === 0x70000003 ? "RISCV_ATTRIBUTES" : undefined;
    case EM_ARM:
      return (
        {
          1879048193: "ARM_EXIDX",
          1879048194: "ARM_PREEMPTMAP",
          1879048195: "ARM_ATTRIBUTES",
          1879048196: "ARM_DEBUGOVERLAY",
          1879048197: "ARM_OVERLAYSECTION",
        } as Record<number, string>
      )[type];
    default:
      return undefined;
  }
}

/** readelf `get_section_type_name`. */
export function sectionTypeName(elf: ElfFile, type: number): string {
  const known = TYPE_NAMES.get(type);
  if (known !== undefined) return known;
  if (type >= 0x70000000 && type <= 0x7fffffff) {
    return procSectionType(elf.header.machine, type) ?? `LOPROC+${altHex(type - 0x70000000)}`;
  }
  if (type >= 0x60000000 && type <= 0x6fffffff) {
    if (elf.header.ident.osabi === ELFOSABI_SOLARIS) {
      const sun = SOLARIS_TYPES[type - 0x6fffffee];
      if (sun !== undefined) return sun;
    } else {
      if (type === 0x6fff4700) return "GNU_INCREMENTAL_INPUTS";
      if (type === 0x6ffffff5) return "GNU_ATTRIBUTES";
    }
    return `LOOS+${altHex(type - 0x60000000)}`;
  }
  if (type >= 0x80000000 && type <= 0xffffffff) {
    return `LOUSER+${altHex(type - 0x80000000)}`;
  }
  return `${hexPad(type, 8)}: <unknown>`;
}

const FLAG_LETTERS: ReadonlyMap<bigint, string> = new Map([
  [0x1n, "W"],
  [0x2n, "A"],
  [0x4n, "X"],
  [0x10n, "M"],
  [0x20n, "S"],
  [0x40n, "I"],
  [0x80n, "L"],
  [0x100n, "O"],
  [0x200n, "G"],
  [0x400n, "T"],
  [0x80000000n, "E"],
  [0x800n, "C"],
]);
const SHF_MASKOS = 0x0ff00000n;
const SHF_MASKPROC = 0xf0000000n;
// readelf clears with `sh_flags &= ~SHF_MASKxx`. In C, 0x0FF00000 is an int, so its complement
// sign-extends and keeps the upper 32 flag bits; 0xF0000000 is an unsigned int, so its complement
// zero-extends and clears them.
const NOT_MASKOS = ~SHF_MASKOS;
const NOT_MASKPROC = ~SHF_MASKPROC & 0xffffffffn;

/** readelf `get_elf_section_flags` (the letters of the "Flg" column). */
export function sectionFlagLetters(elf: ElfFile, flags: bigint): string {
  const machine = elf.header.machine;
  const osabi = elf.header.ident.osabi;
  let rest = flags;
  let out = "";
  while (rest !== 0n) {
    const flag = rest & -rest;
    rest &= ~flag;
    const letter = FLAG_LETTERS.get(flag);
    if (letter !== undefined) out += letter;
    else if (machine === EM_X86_64 && flag === 0x10000000n) out += "l";
    else if (machine === EM_ARM && flag === 0x20000000n) out += "y";
    else if (machine === EM_PPC && flag === 0x10000000n) out += "v";
    else if ((flag & SHF_MASKOS) !== 0n) {
      if ((osabi === ELFOSABI_GNU || osabi === ELFOSABI_FREEBSD) && flag === 0x200000n) out += "R";
      else if ((osabi === ELFOSABI_GNU || osabi === ELFOSABI_FREEBSD || osabi === 0) && flag === 0x1000000n) out += "D";
      else {
        out += "o";
        rest &= NOT_MASKOS;
      }
    } else if ((flag & SHF_MASKPROC) !== 0n) {
      out += "p";
      rest &= NOT_MASKPROC;
    } else out += "x";
  }
  return out;
}

function keyToFlags(elf: ElfFile): string {
  const m = elf.header.machine;
  const osabi = elf.header.ident.osabi;
  let last = "  ";
  if (osabi === ELFOSABI_GNU || osabi === ELFOSABI_FREEBSD) last += "R (retain), ";
  if (osabi === ELFOSABI_GNU || osabi === ELFOSABI_FREEBSD || osabi === 0) last += "D (mbind), ";
  if (m === EM_X86_64) last += "l (large), ";
  else if (m === EM_ARM) last += "y (purecode), ";
  else if (m === EM_PPC) last += "v (VLE), ";
  last += "p (processor specific)\n";
  return (
    "Key to Flags:\n" +
    "  W (write), A (alloc), X (execute), M (merge), S (strings), I (info),\n" +
    "  L (link order), O (extra OS processing required), G (group), T (TLS),\n" +
    "  C (compressed), x (unknown), o (OS specific), E (exclude),\n" +
    last
  );
}

/**
 * readelf `process_section_headers` replaces a wrong sh_entsize of symbol, relocation and group
 * sections with the expected size before printing (`CHECK_ENTSIZE`, with an error on stderr).
 * Only the first SHT_DYNSYM is checked; a second one is skipped as "multiple dynamic symbol tables".
 */
function expectedEntsizes(elf: ElfFile, secs: readonly SectionHeader[]): Map<number, bigint> {
  const out = new Map<number, bigint>();
  const w = elf.is64;
  let sawDynsym = false;
  for (const s of secs) {
    let want: bigint | undefined;
    switch (s.type) {
      case SHT_DYNSYM:
        if (sawDynsym) continue;
        sawDynsym = true;
        want = w ? 24n : 16n;
        break;
      case SHT_SYMTAB:
        want = w ? 24n : 16n;
        break;
      case SHT_GROUP:
        want = 4n;
        break;
      case SHT_REL:
        want = w ? 16n : 8n;
        break;
      case SHT_RELA:
        want = w ? 24n : 12n;
        break;
      case SHT_RELR:
        want = w ? 8n : 4n;
        break;
      default:
        continue;
    }
    if (s.entsize !== want) out.set(s.index, want);
  }
  return out;
}

/** readelf `print_symbol (-17, name)` without -W: a longer name keeps 12 characters and "[...]". */
function narrowName(name: string, width: number): string {
  return name.length > width ? `${name.slice(0, width - 5)}[...]` : padRight(name, width);
}

function sectionLine(
  elf: ElfFile,
  strtab: Uint8Array | undefined,
  s: SectionHeader,
  entsize: bigint,
  wide: boolean,
): string {
  const name = printableSectionName(strtab, s);
  const type = sectionTypeName(elf, s.type);
  let line = wide
    ? `  [${padLeft(String(s.index), 2)}] ${padRight(name, 17)} ${padRight(type, 15)} `
    : `  [${padLeft(String(s.index), 2)}] ${narrowName(name, 17)} ${padRight(type.slice(0, 15), 15)} `;
  const flags = padLeft(sectionFlagLetters(elf, s.flags), 3);
  if (elf.is64 && !wide) {
    // Two lines per section (readelf's default layout for ELF64).
    line += ` ${longHex(s.addr, true)}  `;
    line += s.offset >= 1n << 63n ? longHex(s.offset, true) : hexPad(s.offset, 8);
    line += `\n       ${longHex(s.size, true)}  ${longHex(entsize, true)} ${flags} `;
    line += `     ${padLeft(String(s.link), 2)}   ${padLeft(String(s.info), 3)}     ${s.addralign}\n`;
    return line;
  }
  if (!elf.is64) {
    line += `${longHex(s.addr, false)} ${hexPad(s.offset, 6)} ${hexPad(s.size, 6)} ${hexPad(entsize, 2)}`;
    line += ` ${flags} ${padLeft(String(s.link), 2)} ${padLeft(String(s.info), 3)} ${padLeft(String(s.addralign), 2)}\n`;
    return line;
  }
  // Wide ELF64 layout. readelf tests `(long) sh_offset == sh_offset`: an offset with the top bit set
  // prints as 16 digits.
  line += longHex(s.addr, true);
  line += s.offset >= 1n << 63n ? ` ${longHex(s.offset, true)}` : ` ${hexPad(s.offset, 6)}`;
  line += ` ${hexPad(s.size, 6)} ${hexPad(entsize, 2)}`;
  line += ` ${flags} ${padLeft(String(s.link), 2)} ${padLeft(String(s.info), 3)} ${padLeft(String(s.addralign), 2)}\n`;
  return line;
}

export interface SectionHeaderOptions {
  /** -h was given too: readelf then omits the "There are N section headers" line. */
  readonly header: boolean;
  /** -W: one line per section, names never truncated (default true). */
  readonly wide?: boolean;
}

export function formatSectionHeaders(elf: ElfFile, opts: SectionHeaderOptions): string {
  const h = elf.header;
  const shnum = h.shoff === 0n ? 0 : elf.shnum;
  // binutils process_section_headers: with no sections, only this line (and nothing at all, just a
  // warning on stderr, when e_shoff is set but the count is zero).
  if (shnum === 0) return h.shoff === 0n ? "\nThere are no sections in this file.\n" : "";
  let out = "";
  if (!opts.header) {
    out += `There ${shnum === 1 ? "is" : "are"} ${shnum} section header${shnum === 1 ? "" : "s"}, starting at offset 0x${h.shoff.toString(16)}:\n`;
  }
  const secs = elf.sections;
  const strtab = readelfStringTable(elf);
  out += shnum > 1 ? "\nSection Headers:\n" : "\nSection Header:\n";
  const wide = opts.wide ?? true;
  if (!elf.is64) out += "  [Nr] Name              Type            Addr     Off    Size   ES Flg Lk Inf Al\n";
  else if (wide) out += "  [Nr] Name              Type            Address          Off    Size   ES Flg Lk Inf Al\n";
  else {
    out += "  [Nr] Name              Type             Address           Offset\n";
    out += "       Size              EntSize          Flags  Link  Info  Align\n";
  }
  const fixed = expectedEntsizes(elf, secs);
  for (const s of secs) out += sectionLine(elf, strtab, s, fixed.get(s.index) ?? s.entsize, wide);
  out += keyToFlags(elf);
  return out;
}
