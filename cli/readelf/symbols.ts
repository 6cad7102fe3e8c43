/**
 * `readelf -s` / `--dyn-syms` (binutils 2.40 readelf.c `dump_symbol_section`, `print_dynamic_symbol`,
 * `get_symbol_version_string`, `print_symbol`), byte for byte.
 *
 * readelf reads each symbol section's bytes at sh_offset whatever its type (so a NOBITS table in a
 * debuginfo file shows whatever bytes lie there), with a stride of the natural entry size, and takes
 * per-symbol versions from DT_VERSYM/DT_VERDEF/DT_VERNEED through the PT_LOAD mapping. That is all
 * reproduced here; problems readelf reports on stderr only end the table, as they do in readelf.
 */
import type { ElfFile } from "../../formats/elf/file.ts";
import {
  ELFOSABI_SOLARIS,
  STT_SECTION,
  symbolBindingName,
  symbolIndexName,
  symbolOtherName,
  symbolTypeName,
  symbolVisibilityName,
} from "../../formats/elf/symbol-constants.ts";
import { type ElfSymbol, SYM32_SIZE, SYM64_SIZE, SymbolTable } from "../../formats/elf/symbols.ts";
import type { SectionHeader } from "../../formats/elf/types.ts";
import type { ReadelfOptions } from "./options.ts";
import { hasSectionStrings, printableSectionName } from "./readelf-text.ts";
import {
  cString,
  fileBytes,
  offsetFromVma,
  type ReadelfDynamicInfo,
  readelfDynamicInfo,
  sectionsOrNone,
} from "./versions.ts";

const SHT_SYMTAB = 2;
const SHT_DYNSYM = 11;
const SHT_SYMTAB_SHNDX = 18;
const SHN_UNDEF = 0;
const VER_FLG_BASE = 1;
const MAX_CHAIN_STEPS = 1 << 16;

type VersionKind = "hidden" | "public" | "undefined";
interface VersionString {
  readonly text: string;
  readonly kind: VersionKind;
  readonly vnaOther: number;
}

/** What readelf's Verdef and Verneed walks find for one versym value (the same for every symbol carrying it). */
interface VersionWalk {
  /** Verdef walk reached index 1 with VER_FLG_BASE: no version is printed. */
  readonly base: boolean;
  /** vda_name of the matching Verdef's first Verdaux, when found and readable. */
  readonly defName: number | undefined;
  readonly maxVdNdx: number;
  /** vna_name of the matching Vernaux, when found. */
  readonly needName: number | undefined;
}

/**
 * readelf `get_symbol_version_string`, split so the two chain walks (which depend only on the
 * versym value and on whether the symbol is defined) run once per distinct value: readelf repeats
 * them for every symbol, which is the same answer at O(symbols × versions) cost.
 */
class VersionResolver {
  private readonly walks = new Map<number, VersionWalk>();
  private readonly versym: Uint8Array | undefined;

  constructor(
    private readonly elf: ElfFile,
    private readonly info: ReadelfDynamicInfo,
    count: number,
  ) {
    // readelf reads each entry at offset_from_vma(versym, 2 + si*2) + si*2; with the usual single
    // PT_LOAD mapping that is one contiguous run, read once here and checked per entry below.
    this.versym = undefined;
    if (info.versym !== 0n && count > 0) {
      const base = offsetFromVma(elf, info.versym, 2n + BigInt(count - 1) * 2n);
      const direct = offsetFromVma(elf, info.versym, 2n);
      if (base === direct) this.versym = fileBytes(elf, base, count * 2);
    }
  }

  private versymOf(si: number): number | undefined {
    const le = this.elf.littleEndian;
    if (this.versym && si * 2 + 2 <= this.versym.length) {
      return new DataView(this.versym.buffer, this.versym.byteOffset + si * 2, 2).getUint16(0, le);
    }
    const off = offsetFromVma(this.elf, this.info.versym, 2n + BigInt(si) * 2n);
    const data = fileBytes(this.elf, off + BigInt(si) * 2n, 2);
    return data ? new DataView(data.buffer, data.byteOffset, 2).getUint16(0, le) : undefined;
  }

  private walk(vers: number, defined: boolean): VersionWalk {
    const key = defined ? vers | 0x10000 : vers;
    let w = this.walks.get(key);
    if (!w) {
      w = walkVersions(this.elf, this.info, vers, defined);
      this.walks.set(key, w);
    }
    return w;
  }

  resolve(si: number, sym: ElfSymbol, strtab: Uint8Array | undefined): VersionString | undefined {
    const info = this.info;
    if (info.versym === 0n) return undefined;
    const vers = this.versymOf(si);
    if (vers === undefined || vers === 0) return undefined;
    const kind: VersionKind = vers & 0x8000 ? "hidden" : "public";
    const want = vers & 0x7fff;
    const nameAt = (n: number): string => (strtab && n < strtab.length ? cString(strtab, n) : "<corrupt>");
    const defined = sym.rawShndx !== SHN_UNDEF;
    const w = this.walk(vers, defined);
    if (defined && vers !== 0x8001 && info.verdef !== 0n) {
      if (w.base) return undefined;
      if (w.defName !== undefined && sym.nameOffset !== w.defName)
        return { text: nameAt(w.defName), kind, vnaOther: 0 };
    }
    if (info.verneed !== 0n) {
      if (w.needName !== undefined) return { text: nameAt(w.needName), kind: "undefined", vnaOther: vers };
      if ((w.maxVdNdx !== 0 || want !== 1) && want > w.maxVdNdx) return { text: "<corrupt>", kind, vnaOther: 0 };
    }
    return undefined;
  }
}

function walkVersions(elf: ElfFile, info: ReadelfDynamicInfo, vers: number, defined: boolean): VersionWalk {
  const le = elf.littleEndian;
  const want = vers & 0x7fff;
  let maxVdNdx = 0;
  let base = false;
  let defName: number | undefined;
  // Usually verdef is for defined and verneed for undefined symbols, but copy-relocated data is
  // defined with a verneed version, so readelf tries both.
  if (defined && vers !== 0x8001 && info.verdef !== 0n) {
    let o = offsetFromVma(elf, info.verdef, 20n);
    let vdNdx = 0;
    let vdAux = 0;
    let vdNext = 0;
    let vdFlags = 0;
    for (let steps = 0; steps < MAX_CHAIN_STEPS; steps++) {
      const evd = fileBytes(elf, o, 20);
      if (!evd) {
        vdNdx = 0;
        vdAux = 0;
        vdNext = 0;
        vdFlags = 0;
      } else {
        const dv = new DataView(evd.buffer, evd.byteOffset, 20);
        vdFlags = dv.getUint16(2, le);
        vdNdx = dv.getUint16(4, le);
        vdAux = dv.getUint32(12, le);
        vdNext = dv.getUint32(16, le);
      }
      if ((vdNdx & 0x7fff) > maxVdNdx) maxVdNdx = vdNdx & 0x7fff;
      o += BigInt(vdNext);
      if (vdNdx === want || vdNext === 0) break;
    }
    if (vdNdx === want) {
      if (vdNdx === 1 && vdFlags === VER_FLG_BASE) {
        base = true;
      } else {
        const evda = fileBytes(elf, o - BigInt(vdNext) + BigInt(vdAux), 8);
        if (evda) defName = new DataView(evda.buffer, evda.byteOffset, 8).getUint32(0, le);
      }
    }
  }
  let needName: number | undefined;
  if (info.verneed !== 0n) {
    let o = offsetFromVma(elf, info.verneed, 16n);
    let vnaOther = 0;
    let vnaName = 0;
    for (let steps = 0; steps < MAX_CHAIN_STEPS; steps++) {
      const evn = fileBytes(elf, o, 16);
      if (!evn) {
        vnaOther = 0;
        vnaName = 0;
        break;
      }
      const dn = new DataView(evn.buffer, evn.byteOffset, 16);
      const vnAux = dn.getUint32(8, le);
      const vnNext = dn.getUint32(12, le);
      let aOff = o + BigInt(vnAux);
      for (let s2 = 0; s2 < MAX_CHAIN_STEPS; s2++) {
        const evna = fileBytes(elf, aOff, 16);
        let vnaNext = 0;
        if (!evna) {
          vnaOther = 0;
          vnaName = 0;
        } else {
          const da = new DataView(evna.buffer, evna.byteOffset, 16);
          vnaOther = da.getUint16(6, le);
          vnaName = da.getUint32(8, le);
          vnaNext = da.getUint32(12, le);
        }
        aOff += BigInt(vnaNext);
        if (vnaOther === vers || vnaNext === 0) break;
      }
      if (vnaOther === vers) break;
      o += BigInt(vnNext);
      if (vnNext === 0) break;
    }
    if (vnaOther === vers) needName = vnaName;
  }
  return { base, defName, maxVdNdx, needName };
}

/**
 * readelf `print_symbol`: printable ASCII as is, control characters as ^X, other bytes raw. With -W
 * nothing is cut; otherwise names longer than `width` end in "[...]".
 */
const NON_PRINTABLE = /[^\x20-\x7e]/;

function printSymbolName(name: string, requested: number, wide: boolean): string {
  // A negative width asks for the name padded out to -width (readelf passes one when the version
  // suffix alone overflows the 21 columns); zero prints nothing.
  const extraPadding = requested < 0;
  const width = Math.abs(requested);
  if (width === 0) return "";
  // Common case: printable ASCII that fits (or -W) prints as is.
  if ((wide || name.length <= width) && !NON_PRINTABLE.test(name)) {
    return extraPadding && name.length < width ? name.padEnd(width) : name;
  }
  let remaining = wide ? Number.MAX_SAFE_INTEGER : width;
  let dots = false;
  if (!wide && name.length > width) {
    remaining = Math.max(0, remaining - 5);
    dots = true;
  }
  let out = "";
  for (let i = 0; i < name.length && remaining > 0; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) {
      out += name[i];
      remaining--;
    } else if (c < 0x20 || c === 0x7f) {
      if (remaining < 2) break;
      out += `^${String.fromCharCode((c + 0x40) & 0xff)}`;
      remaining -= 2;
    } else {
      out += name[i];
      remaining--;
    }
  }
  if (dots) out += "[...]";
  if (extraPadding && out.length < width) out = out.padEnd(width);
  return out;
}

/** readelf `print_vma(size, DEC_5)`: decimal in 5 columns up to 99999, then 0x-prefixed hex. */
function sizeField(size: bigint): string {
  return size <= 99999n ? size.toString().padStart(5) : `0x${size.toString(16)}`;
}

interface LoadedTable {
  readonly table: SymbolTable;
  readonly strtab: Uint8Array | undefined;
}

/** readelf `get_elf_symbols` plus the string-table read of `dump_symbol_section`; undefined where readelf gives up. */
function loadTable(elf: ElfFile, sec: SectionHeader): LoadedTable | undefined {
  if (sec.size === 0n || sec.entsize === 0n || sec.entsize > sec.size) return undefined;
  if (sec.size > BigInt(elf.source.size)) return undefined;
  const natural = elf.is64 ? SYM64_SIZE : SYM32_SIZE;
  const number = sec.size / sec.entsize;
  if (number * BigInt(natural) > sec.size + 1n) return undefined;
  const raw = fileBytes(elf, sec.offset, Number(sec.size));
  if (!raw) return undefined;
  const sections = elf.sections;
  let shndx: Uint8Array | undefined;
  const shndxSec = sections.find((s) => s.type === SHT_SYMTAB_SHNDX && s.link === sec.index);
  if (shndxSec) {
    shndx = fileBytes(elf, shndxSec.offset, Number(shndxSec.size));
    if (!shndx || shndxSec.size / 4n < number) return undefined;
  }
  // Entries are read with the natural stride; a partial last entry reads as zeros (readelf's buffer).
  const n = Number(number);
  let bytes = raw;
  if (raw.length < n * natural) {
    bytes = new Uint8Array(n * natural);
    bytes.set(raw);
  }
  const table = new SymbolTable(
    bytes.subarray(0, n * natural),
    new Uint8Array(0),
    { is64: elf.is64, littleEndian: elf.littleEndian, base: Number(sec.offset), sourceName: elf.name },
    shndx,
    sec,
  );
  let strtab: Uint8Array | undefined;
  const strSec = sec.link < sections.length ? sections[sec.link] : undefined;
  if (strSec) strtab = strSec.size === 0n ? undefined : fileBytes(elf, strSec.offset, Number(strSec.size));
  return { table, strtab };
}

function symbolLine(
  elf: ElfFile,
  versions: VersionResolver | undefined,
  sym: ElfSymbol,
  strtab: Uint8Array | undefined,
  wide: boolean,
): string {
  const h = elf.header;
  const osabi = h.ident.osabi;
  const sections = elf.sections;
  const shnum = elf.shnum;
  let line = `${String(sym.index).padStart(6)}: `;
  line += sym.value.toString(16).padStart(elf.is64 ? 16 : 8, "0");
  line += ` ${sizeField(sym.size)}`;
  line += ` ${symbolTypeName(sym.type, h.machine, osabi).padEnd(7)}`;
  line += ` ${symbolBindingName(sym.bind, osabi).padEnd(6)}`;
  if (osabi === ELFOSABI_SOLARIS) {
    line += ` ${solarisVisibility(sym.other).padEnd(7)}`;
  } else {
    line += ` ${symbolVisibilityName(sym.visibility).padEnd(7)}`;
    const extra = sym.other ^ sym.visibility;
    if (extra !== 0) line += ` [${symbolOtherName(extra, h.machine)}] `;
  }
  const extended = sym.extendedShndx;
  line += ` ${symbolIndexName(sym.shndx, h.machine, shnum, extended).padStart(4)} `;

  let name: string;
  if (
    sym.type === STT_SECTION &&
    sym.nameOffset === 0 &&
    isRealIndex(sym) &&
    sym.shndx < shnum &&
    sections.length > 0
  ) {
    const s = sections[sym.shndx];
    // readelf `section_name_valid` / `section_name_print`: the raw name (escaped by print_symbol below).
    name = s && hasSectionStrings(elf) && s.name !== "<corrupt>" ? s.name : "<corrupt>";
  } else {
    name = strtab && sym.nameOffset < strtab.length ? cString(strtab, sym.nameOffset) : "<corrupt>";
  }
  const ver = versions?.resolve(sym.index, sym, strtab);
  let avail = 21;
  if (!wide && ver) {
    avail -= 1 + ver.text.length;
    if (ver.kind === "undefined") avail -= ` (${ver.vnaOther})`.length;
    else if (ver.kind !== "hidden") avail -= 1;
  }
  line += printSymbolName(name, avail, wide);
  if (ver) {
    if (ver.kind === "undefined") line += `@${ver.text} (${ver.vnaOther})`;
    else line += ver.kind === "hidden" ? `@${ver.text}` : `@@${ver.text}`;
  }
  return `${line}\n`;
}

/** readelf holds special indices as 0xffffffxx internally, so only real indices name a section. */
function isRealIndex(sym: ElfSymbol): boolean {
  return sym.extendedShndx || sym.rawShndx < 0xff00;
}

function solarisVisibility(other: number): string {
  switch (other & 7) {
    case 0:
      return "DEFAULT";
    case 1:
      return "INTERNAL";
    case 2:
      return "HIDDEN";
    case 3:
      return "PROTECTED";
    case 4:
      return "EXPORTED";
    case 5:
      return "SINGLETON";
    case 6:
      return "ELIMINATE";
    default:
      return symbolVisibilityName(other & 3);
  }
}

function dumpSymbolSection(elf: ElfFile, sec: SectionHeader, info: ReadelfDynamicInfo, wide: boolean): string {
  const name = printableSectionName(elf, sec);
  if (sec.entsize === 0n) return `\nSymbol table '${name}' has a sh_entsize of zero!\n`;
  const num = sec.size / sec.entsize;
  let out = `\nSymbol table '${name}' contains ${num} ${num === 1n ? "entry" : "entries"}:\n`;
  out += elf.is64
    ? "   Num:    Value          Size Type    Bind   Vis      Ndx Name\n"
    : "   Num:    Value  Size Type    Bind   Vis      Ndx Name\n";
  const loaded = loadTable(elf, sec);
  if (!loaded) return out;
  const { table, strtab } = loaded;
  const lines: string[] = [out];
  const versions = sec.type === SHT_DYNSYM ? new VersionResolver(elf, info, table.count) : undefined;
  for (let i = 0; i < table.count; i++) {
    lines.push(symbolLine(elf, versions, table.symbol(i), strtab, wide));
  }
  return lines.join("");
}

/**
 * `readelf -s` (both tables, section order) or `--dyn-syms` (SHT_DYNSYM only); with both, -s wins
 * as in readelf. Returns "" when neither is selected.
 */
export function formatSymbols(elf: ElfFile, opts: ReadelfOptions): string {
  const all = opts.syms === true;
  if (!all && opts.dynSyms !== true) return "";
  // readelf 2.40 `process_symbol_table`: without section headers --dyn-syms prints nothing and -s
  // one line (it does not fall back to DT_SYMTAB unless -D is given).
  const sections = sectionsOrNone(elf);
  if (sections === undefined) return "";
  if (sections.length === 0) {
    return all ? "\nDynamic symbol information is not available for displaying symbols.\n" : "";
  }
  const info = readelfDynamicInfo(elf);
  const parts: string[] = [];
  for (const sec of sections) {
    if (sec.type !== SHT_SYMTAB && sec.type !== SHT_DYNSYM) continue;
    if (!all && sec.type === SHT_SYMTAB) continue;
    parts.push(dumpSymbolSection(elf, sec, info, opts.wide));
  }
  return parts.join("");
}

/** Exposed for tests and other formatters: a symbol's readelf version suffix ("@GLIBC_2.2.5 (2)", "@@V", ""). */
export function readelfVersionSuffix(elf: ElfFile, si: number, sym: ElfSymbol, strtab: Uint8Array): string {
  const v = new VersionResolver(elf, readelfDynamicInfo(elf), 0).resolve(si, sym, strtab);
  if (!v) return "";
  if (v.kind === "undefined") return `@${v.text} (${v.vnaOther})`;
  return v.kind === "hidden" ? `@${v.text}` : `@@${v.text}`;
}
