/**
 * GNU build attribute notes (annobin's `.gnu.build.attributes`, owner `GA$…`/`GA*…`/`GA+…`/`GA!…`,
 * types NT_GNU_BUILD_ATTRIBUTE_OPEN / _FUNC) as readelf 2.40 prints them:
 * `print_gnu_build_attribute_name` packs the attribute and its value into the Owner column, and
 * `print_gnu_build_attribute_description` prints the address range, carrying the last OPEN / FUNC
 * range over to notes with an empty descriptor and naming the symbol found at the start address.
 * readelf keeps that state in function statics for the whole run; here it lives in a
 * BuildAttributeState made per file.
 */
import type { ElfFile } from "../../formats/elf/file.ts";
import type { ElfNote } from "../../formats/elf/notes.ts";
import { printSymbol } from "./readelf-text.ts";
import { cString, type ReadelfSym, type ReadelfSymtab, readelfSymtab } from "./relocations.ts";

export const NT_GNU_BUILD_ATTRIBUTE_OPEN = 0x100;
export const NT_GNU_BUILD_ATTRIBUTE_FUNC = 0x101;
const SHT_SYMTAB = 2;
const STT_OBJECT = 1;
const STT_FUNC = 2;
const STT_FILE = 4;
const STB_LOCAL = 0;
const STB_GLOBAL = 1;

export interface BuildAttributeState {
  globalOffset: bigint;
  globalEnd: bigint;
  funcOffset: bigint;
  funcEnd: bigint;
  symtab: ReadelfSymtab | null | undefined;
}

export function newBuildAttributeState(): BuildAttributeState {
  return { globalOffset: 0n, globalEnd: 0n, funcOffset: 0n, funcEnd: 0n, symtab: undefined };
}

const TYPE_CHARS = "*$!+";

/** process_note's test: a `GA` name whose third byte is a type character (NUL counts, as strchr finds it). */
export function isBuildAttributeNote(note: ElfNote): boolean {
  if (note.type !== NT_GNU_BUILD_ATTRIBUTE_OPEN && note.type !== NT_GNU_BUILD_ATTRIBUTE_FUNC) return false;
  const at = (i: number) => (i < note.nameBytes.length ? (note.nameBytes[i] as number) : 0);
  const inSet = (c: number) => c === 0 || TYPE_CHARS.includes(String.fromCharCode(c));
  return (note.name.startsWith("GA") && inSet(at(2))) || inSet(at(0));
}

const ATTRIBUTE_TEXT: ReadonlyMap<number, string> = new Map([
  [1, "<version>"],
  [2, "<stack prot>"],
  [3, "<relro>"],
  [4, "<stack size>"],
  [5, "<tool>"],
  [6, "<ABI>"],
  [7, "<PIC>"],
  [8, "<short enum>"],
]);
const PIC_NAMES = ["static", "pic", "PIC", "pie", "PIE"];
const STACK_PROT_NAMES = ["off", "on", "all", "strong", "explicit"];

/** binutils readelf.c `print_gnu_build_attribute_name`. */
export function buildAttributeName(note: ElfNote, wide: boolean): string {
  const nb = note.nameBytes;
  const namesz = note.namesz;
  const at = (i: number) => (i < nb.length ? (nb[i] as number) : 0);
  const corrupt = printSymbol(-20, "  <corrupt name>", wide).text;
  if (namesz < 2) return corrupt;
  let left = wide ? 28 : 20;
  let out = "";
  let p = 0;
  if (at(0) === 0x47 && at(1) === 0x41) {
    if (namesz < 4) return corrupt;
    out += "GA";
    p = 2;
    left -= 2;
  }
  const nameType = String.fromCharCode(at(p));
  if (!"*$+!".includes(nameType) || at(p) === 0) return out + printSymbol(-20, "<unknown name type>", wide).text;
  out += nameType;
  left--;
  p++;
  const attr = at(p);
  let text = ATTRIBUTE_TEXT.get(attr);
  if (text !== undefined) p++;
  else if (attr >= 0x20 && attr < 0x7f) {
    let n = 0;
    while (n < namesz - p && at(p + n) !== 0) n++;
    let len = n + 1;
    if (len > left && !wide) len = left;
    let s = "";
    for (let i = 0; i < len && at(p + i) !== 0; i++) s += String.fromCharCode(at(p + i));
    out += `${s}:`;
    left -= len;
    p += len;
  } else {
    text = `<unknown:_${(attr << 24) >> 24}>`;
    p++;
  }
  if (text !== undefined) {
    out += text;
    left -= text.length;
  }
  if (p > namesz) return out;
  if (left < 1 && !wide) return out;
  const pad = (s: string) => {
    const r = printSymbol(-left, s, wide);
    out += r.text;
    return r.printed;
  };
  switch (nameType) {
    case "*": {
      let bytes = namesz - p;
      if (bytes > 0) bytes--;
      if (bytes > 8) bytes = 8;
      let val = 0n;
      for (let i = 0; i < bytes; i++) val |= BigInt(at(p + i)) << BigInt(8 * i);
      const names = attr === 7 ? PIC_NAMES : attr === 2 ? STACK_PROT_NAMES : undefined;
      const decoded = names && val < BigInt(names.length) ? names[Number(val)] : undefined;
      if (decoded !== undefined) {
        pad(decoded);
        left = 0;
      } else if (val === 0n) {
        out += "0x0";
        left -= 3;
      } else {
        const digits = val.toString(16);
        const s = wide ? `0x${digits}` : `0x${digits.padStart(Math.max(left, 0), "0")}`;
        out += s;
        left -= s.length;
      }
      break;
    }
    case "$": {
      let s = "";
      for (let i = p; i < nb.length && at(i) !== 0; i++) s += String.fromCharCode(at(i));
      left -= pad(s);
      break;
    }
    case "+":
      left -= pad("true");
      break;
    case "!":
      left -= pad("false");
      break;
  }
  if (wide && left > 0) out += " ".repeat(left);
  return out;
}

/** readelf `get_symbol_for_build_attribute`: the symbol at `offset` and its name. */
function symbolAt(
  elf: ElfFile,
  state: BuildAttributeState,
  offset: bigint,
  isOpen: boolean,
): { sym: ReadelfSym; name: string } | undefined {
  if (state.symtab === undefined) {
    state.symtab = null;
    for (const s of elf.sections) {
      if (s.type !== SHT_SYMTAB) continue;
      const t = readelfSymtab(elf, s);
      if (t?.strtab) {
        state.symtab = t;
        break;
      }
    }
  }
  const tab = state.symtab;
  if (!tab?.strtab) return undefined;
  const strtab = tab.strtab;
  let saved: ReadelfSym | undefined;
  for (const sym of tab.syms) {
    if (sym.value !== offset) continue;
    if (sym.name >= strtab.length) continue;
    if (strtab[sym.name] === 0) continue;
    // AArch64/ARM mapping symbols ($d, $x, $t).
    if (strtab[sym.name] === 0x24 && strtab[sym.name + 1] !== 0 && strtab[sym.name + 2] === 0) continue;
    const type = sym.info & 0xf;
    const bind = sym.info >> 4;
    if (isOpen) {
      if (type === STT_OBJECT || type === STT_FILE) {
        saved = sym;
        if (sym.size) break;
        continue;
      }
      if (type === STT_FUNC) continue;
      if (bind === STB_GLOBAL) {
        if (saved === undefined || (saved.info & 0xf) !== STT_OBJECT) saved = sym;
      } else if (bind === STB_LOCAL) {
        if (saved === undefined) saved = sym;
      }
    } else {
      if (type !== STT_FUNC) continue;
      saved = sym;
      break;
    }
  }
  return saved ? { sym: saved, name: cString(strtab, saved.name) } : undefined;
}

const altHex = (v: bigint) => (v === 0n ? "0" : `0x${v.toString(16)}`);

/** binutils readelf.c `print_gnu_build_attribute_description`. */
export function buildAttributeDescription(elf: ElfFile, note: ElfNote, state: BuildAttributeState): string {
  const isOpen = note.type === NT_GNU_BUILD_ATTRIBUTE_OPEN;
  const d = note.desc;
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const le = elf.littleEndian;
  let start: bigint;
  let end: bigint;
  switch (note.descsz) {
    case 0: {
      const [off, e] = isOpen ? [state.globalOffset, state.globalEnd] : [state.funcOffset, state.funcEnd];
      return e > off
        ? `    Applies to region from ${altHex(off)} to ${altHex(e)}\n`
        : `    Applies to region from ${altHex(off)}\n`;
    }
    case 4:
      start = BigInt(v.getUint32(0, le));
      end = 0n;
      break;
    case 8:
      if (!elf.is64) {
        start = BigInt(v.getUint32(0, le));
        end = BigInt(v.getUint32(4, le));
      } else {
        start = v.getBigUint64(0, le);
        end = 0n;
      }
      break;
    case 16:
      start = v.getBigUint64(0, le);
      end = v.getBigUint64(8, le);
      break;
    default:
      return "    <invalid descsz>";
  }
  let found = symbolAt(elf, state, start, isOpen);
  // annobin 5+ biases file-name symbols by 2 so they differ from the first function's address.
  if (!found && isOpen) found = symbolAt(elf, state, start + 2n, isOpen);
  if (end === 0n && found && found.sym.size > 0n) end = start + found.sym.size;
  let out = `    Applies to region from ${altHex(start)}`;
  if (isOpen) {
    state.globalOffset = start;
    if (end) {
      out += ` to ${altHex(end)}`;
      state.globalEnd = end;
    }
  } else {
    state.funcOffset = start;
    if (end) {
      out += ` to ${altHex(end)}`;
      state.funcEnd = end;
    }
  }
  if (found) out += ` (${found.name})`;
  return `${out}\n`;
}
