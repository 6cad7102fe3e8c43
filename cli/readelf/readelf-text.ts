/**
 * How readelf 2.40 turns names into text: `print_symbol` (control characters as `^X`, truncation
 * with `[...]` unless -W, optional padding) and `printable_section_name`. Strings are latin1, one
 * character per byte, so the bytes of a name pass through unchanged.
 */
import type { ElfFile } from "../../formats/elf/file.ts";
import type { SectionHeader } from "../../formats/elf/types.ts";

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

/** Whether readelf loaded a section-name string table (`filedata->string_table != NULL`). */
export function hasSectionStrings(elf: ElfFile): boolean {
  const i = elf.shstrndx;
  const secs = elf.sections;
  if (i === 0 || i >= secs.length) return false;
  const s = secs[i] as SectionHeader;
  if (s.size === 0n) return false;
  return s.offset + s.size <= BigInt(elf.source.size);
}

/** readelf `section_name_print`: the raw name, `<no-strings>` or `<corrupt>`. */
export function sectionNamePrint(elf: ElfFile, sec: SectionHeader): string {
  if (!hasSectionStrings(elf)) return "<no-strings>";
  return sec.name;
}

/** readelf `printable_section_name`: control characters as `^X`, other non-printing bytes as `<HH>`. */
export function printableSectionName(elf: ElfFile, sec: SectionHeader): string {
  const name = sectionNamePrint(elf, sec);
  let out = "";
  let remaining = 256;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i) & 0xff;
    if (c === 0) break;
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
