/**
 * How readelf 2.40 turns names into text: `print_symbol` (control characters as `^X`, truncation
 * with `[...]` unless -W, optional padding) and `printable_section_name`. Strings are latin1, one
 * character per byte, so the bytes of a name pass through unchanged.
 */
import type { ElfFile } from "../../formats/elf/file.ts";
import { decodeProgramHeaders } from "../../formats/elf/program-headers.ts";
import type { ProgramHeader, SectionHeader } from "../../formats/elf/types.ts";

const isCntrl = (c: number): boolean => c < 0x20 || c === 0x7f;
const isPrint = (c: number): boolean => c >= 0x20 && c < 0x7f;

/**
 * binutils readelf.c `print_symbol`: at most `width` columns unless `wide`; a negative width pads
 * to -width. Bytes ≥ 0x80 print raw (readelf runs in the C locale, where mbrtowc rejects them and
 * each byte counts one column). Returns the text and the number of columns it counts.
 */
export function printSymbol(width: number, symbol: string, wide: boolean): { text: string; printed: number } {
  let pad = false;
  if (width < 0) {
    width = -width;
    pad = true;
  } else if (width === 0) return { text: "", printed: 0 };
  let remaining = wide ? Number.MAX_SAFE_INTEGER : width;
  let dots = false;
  if (!wide && symbol.length > width) {
    remaining = Math.max(0, remaining - 5);
    dots = true;
  }
  let text = "";
  let printed = 0;
  for (let i = 0; i < symbol.length && remaining > 0; i++) {
    const c = symbol.charCodeAt(i) & 0xff;
    if (c === 0) break;
    if (isPrint(c)) {
      text += symbol[i];
      remaining--;
      printed++;
    } else if (isCntrl(c)) {
      if (remaining < 2) break;
      text += `^${String.fromCharCode((c + 0x40) & 0xff)}`;
      remaining -= 2;
      printed += 2;
    } else {
      text += symbol[i];
      remaining--;
      printed++;
    }
  }
  if (dots) {
    text += "[...]";
    printed += 5;
  }
  if (pad && printed < width) {
    text += " ".repeat(width - printed);
    printed = width;
  }
  return { text, printed };
}

/**
 * Whether readelf's `process_section_headers` loads the section headers: "none" when the file has
 * none, "failed" where readelf gives up (an e_shoff with no sections, a table past the end of the
 * file or with entries too small), after which it switches -r off and finds no note sections.
 */
export function sectionHeadersLoad(elf: ElfFile): "ok" | "none" | "failed" {
  let n: number;
  try {
    n = elf.shnum;
  } catch {
    return "failed";
  }
  const h = elf.header;
  if (n === 0) return h.shoff !== 0n ? "failed" : "none";
  if (h.shentsize < (elf.is64 ? 64 : 40)) return "failed";
  // readelf would read the ELF header itself as section headers here; observed to end in failure.
  if (h.shoff === 0n) return "failed";
  if (h.shoff + BigInt(n) * BigInt(h.shentsize) > BigInt(elf.source.size)) return "failed";
  try {
    void elf.sections;
  } catch {
    return "failed";
  }
  return "ok";
}

const phdrCache = new WeakMap<ElfFile, readonly ProgramHeader[]>();

/**
 * The program headers as readelf's `get_{32,64}bit_program_headers` reads them: e_phnum entries
 * at the structure's own stride whatever e_phentsize says (a larger e_phentsize only warns), none
 * when e_phentsize is too small or the e_phentsize * e_phnum bytes are not all in the file.
 */
export function readelfProgramHeaders(elf: ElfFile): readonly ProgramHeader[] {
  const cached = phdrCache.get(elf);
  if (cached) return cached;
  let out: ProgramHeader[] = [];
  const h = elf.header;
  const natural = elf.is64 ? 56 : 32;
  let num = 0;
  try {
    num = elf.phnum;
  } catch {
    num = 0;
  }
  const size = BigInt(elf.source.size);
  const total = BigInt(h.phentsize) * BigInt(num);
  if (num > 0 && h.phentsize >= natural && h.phoff <= size && total <= size - h.phoff) {
    out = decodeProgramHeaders(elf.source.read(Number(h.phoff), num * natural), num, elf.is64, elf.littleEndian);
  }
  phdrCache.set(elf, out);
  return out;
}

const stringTables = new WeakMap<ElfFile, Uint8Array | null>();

/**
 * The section-name string table as readelf loads it (`process_section_headers`): section
 * e_shstrndx when it is in range and not empty, read whole; null when there is none. readelf
 * NUL-terminates its copy, so a name running off the end still reads to the end.
 */
export function sectionStringTable(elf: ElfFile): Uint8Array | null {
  const cached = stringTables.get(elf);
  if (cached !== undefined) return cached;
  let table: Uint8Array | null = null;
  const i = elf.shstrndx;
  const secs = elf.sections;
  if (i !== 0 && i < secs.length) {
    const s = secs[i] as SectionHeader;
    const size = BigInt(elf.source.size);
    if (s.size !== 0n && s.offset <= size && s.size <= size - s.offset) {
      table = elf.source.read(Number(s.offset), Number(s.size));
    }
  }
  stringTables.set(elf, table);
  return table;
}

/** Whether readelf loaded a section-name string table (`filedata->string_table != NULL`). */
export function hasSectionStrings(elf: ElfFile): boolean {
  return sectionStringTable(elf) !== null;
}

/** readelf `section_name_print`: the raw name, `<no-strings>` or `<corrupt>`. */
export function sectionNamePrint(elf: ElfFile, sec: SectionHeader): string {
  const t = sectionStringTable(elf);
  if (!t) return "<no-strings>";
  if (sec.nameOffset >= t.length) return "<corrupt>";
  let end = t.indexOf(0, sec.nameOffset);
  if (end < 0) end = t.length;
  let out = "";
  for (let k = sec.nameOffset; k < end; k++) out += String.fromCharCode(t[k] as number);
  return out;
}

/** readelf `printable_section_name`: control characters as `^X`, other non-printing bytes as `<HH>`. */
export function printableSectionName(elf: ElfFile, sec: SectionHeader): string {
  const name = sectionNamePrint(elf, sec);
  let out = "";
  let remaining = 256;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i) & 0xff;
    if (isCntrl(c)) {
      if (remaining < 2) break;
      out += `^${String.fromCharCode((c + 0x40) & 0xff)}`;
      remaining -= 2;
    } else if (isPrint(c)) {
      out += name[i];
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

/**
 * readelf `process_section_headers` resets a wrong sh_entsize of REL, RELA, RELR, SYMTAB and the
 * first DYNSYM section to the structure size ("Using the expected size … for the rest of this
 * dump"); everything later divides by the corrected value.
 */
export function readelfEntsize(elf: ElfFile, sec: SectionHeader): bigint {
  const w = elf.is64;
  switch (sec.type) {
    case 9:
      return w ? 16n : 8n;
    case 4:
      return w ? 24n : 12n;
    case 19:
      return w ? 8n : 4n;
    case 2:
      return w ? 24n : 16n;
    case 11: {
      const first = elf.sections.find((s) => s.type === 11);
      return first === sec || first?.index === sec.index ? (w ? 24n : 16n) : sec.entsize;
    }
    default:
      return sec.entsize;
  }
}
