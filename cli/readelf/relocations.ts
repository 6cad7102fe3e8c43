/**
 * `readelf -r` as GNU readelf 2.40 prints it (binutils readelf.c `process_relocs`,
 * `dump_relocations`, `slurp_relr_relocs`, `get_symbol_version_string`), byte for byte.
 *
 * readelf reads some things leniently where formats/elf/relocations.ts is strict: the entry count in
 * the heading is sh_size / sh_entsize, while the records printed are sh_size / sizeof (Rela); a
 * section that cannot be read prints its heading and nothing else. Both are modelled.
 */

import { SHT_DYNSYM, SHT_REL, SHT_RELA, SHT_RELR, SHT_SYMTAB, SHT_SYMTAB_SHNDX } from "../../formats/elf/constants.ts";
import type { ElfFile } from "../../formats/elf/file.ts";
import { relocTypeName } from "../../formats/elf/reloc-types.ts";
import { decodeRelocations, decodeRelr, type RelocationKind } from "../../formats/elf/relocations.ts";
import type { SectionHeader } from "../../formats/elf/types.ts";
import type { ReadelfOptions } from "./options.ts";
import {
  hasSectionStrings,
  printableSectionName,
  printSymbol,
  readelfEntsize,
  readelfProgramHeaders,
  sectionHeadersLoad,
  sectionNamePrint,
} from "./readelf-text.ts";

const MASK64 = (1n << 64n) - 1n;
const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const SHT_NOBITS = 8;
const STT_SECTION = 3;
const STT_GNU_IFUNC = 10;
const SHN_ABS = 0xfff1;
const SHN_COMMON = 0xfff2;
const SHN_XINDEX = 0xffff;
const SHN_X86_64_LCOMMON = 0xff02;
const EM_X86_64 = 62;
const EM_L1OM = 180;
const EM_K1OM = 181;
const VERSYM_HIDDEN = 0x8000;
const VERSYM_VERSION = 0x7fff;
const VER_FLG_BASE = 1;

const DT_NULL = 0n;
const DT_PLTRELSZ = 2n;
const DT_RELASZ = 8n;
const DT_RELSZ = 18n;
const DT_RELRSZ = 35n;
const DT_VERSYM = 0x6ffffff0n;
const DT_VERDEF = 0x6ffffffcn;
const DT_VERNEED = 0x6ffffffen;

/** What readelf remembers from the dynamic section for -r. */
interface DynamicFacts {
  readonly versym: bigint;
  readonly verdef: bigint;
  readonly verneed: bigint;
  /** Any of DT_RELSZ, DT_RELASZ, DT_RELRSZ, DT_PLTRELSZ non-zero. */
  readonly hasDynamicRelocs: boolean;
}

/** A symbol as readelf's get_elf_symbols leaves it. */
export interface ReadelfSym {
  readonly name: number;
  readonly info: number;
  readonly shndx: number;
  readonly value: bigint;
  readonly size: bigint;
}

export interface ReadelfSymtab {
  readonly syms: readonly ReadelfSym[];
  readonly strtab: Uint8Array | undefined;
  readonly isDynsym: boolean;
}

/** readelf `get_data`: the bytes, or undefined when the range is empty or not inside the file. */
export function fileBytes(elf: ElfFile, offset: bigint, length: bigint): Uint8Array | undefined {
  const size = BigInt(elf.source.size);
  if (length === 0n) return undefined;
  if (offset < 0n || length < 0n || offset > size || length > size - offset) return undefined;
  return elf.source.read(Number(offset), Number(length));
}

/** readelf `offset_from_vma` (falls back to the address itself, as readelf does after warning). */
function offsetFromVma(elf: ElfFile, vma: bigint, size: bigint): bigint {
  for (const seg of readelfProgramHeaders(elf)) {
    if (seg.type !== PT_LOAD) continue;
    const start = seg.vaddr & (-seg.align & MASK64);
    if (vma >= start && ((vma + size) & MASK64) <= seg.vaddr + seg.filesz)
      return (vma - seg.vaddr + seg.offset) & MASK64;
  }
  return vma;
}

/**
 * readelf's dynamic-section location (`process_program_headers`: PT_DYNAMIC, replaced by the
 * .dynamic section's extent when section headers name one, emptied for a NOBITS .dynamic) and the
 * tags -r depends on.
 */
function dynamicFacts(elf: ElfFile): DynamicFacts {
  let addr = 0n;
  let size = 0n;
  for (const ph of readelfProgramHeaders(elf)) {
    if (ph.type !== PT_DYNAMIC) continue;
    addr = ph.offset;
    size = ph.filesz;
    if (sectionHeadersLoad(elf) === "ok" && elf.sections.length > 0) {
      const sec = elf.sections.find((s) => s.name === ".dynamic");
      if (sec && sec.size !== 0n) {
        if (sec.type === SHT_NOBITS) {
          addr = 0n;
          size = 0n;
        } else {
          addr = sec.offset;
          size = sec.size;
        }
      }
    }
    const fsize = BigInt(elf.source.size);
    if (addr > fsize || size > fsize - addr) {
      addr = 0n;
      size = 0n;
    }
  }
  let versym = 0n;
  let verdef = 0n;
  let verneed = 0n;
  let hasDynamicRelocs = false;
  const ent = elf.is64 ? 16n : 8n;
  const n = size / ent;
  const bytes = n > 0n ? fileBytes(elf, addr, n * ent) : undefined;
  if (bytes) {
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const le = elf.littleEndian;
    for (let i = 0; i < Number(n); i++) {
      const o = i * Number(ent);
      const tag = elf.is64 ? v.getBigUint64(o, le) : BigInt(v.getUint32(o, le));
      const val = elf.is64 ? v.getBigUint64(o + 8, le) : BigInt(v.getUint32(o + 4, le));
      if (tag === DT_NULL) break;
      if (tag === DT_VERSYM) versym = val;
      else if (tag === DT_VERDEF) verdef = val;
      else if (tag === DT_VERNEED) verneed = val;
      else if ((tag === DT_RELSZ || tag === DT_RELASZ || tag === DT_RELRSZ || tag === DT_PLTRELSZ) && val !== 0n) {
        hasDynamicRelocs = true;
      }
    }
  }
  return { versym, verdef, verneed, hasDynamicRelocs };
}

/**
 * readelf `get_symtab` (symbols and their string table), or with `withStrings` false
 * `get_{32,64}bit_elf_symbols` alone (what apply_relocations uses); undefined where readelf gives up.
 */
export function readelfSymtab(elf: ElfFile, symsec: SectionHeader, withStrings = true): ReadelfSymtab | undefined {
  const entsize = readelfEntsize(elf, symsec);
  if (symsec.size === 0n) return undefined;
  if (entsize === 0n || entsize > symsec.size) return undefined;
  if (symsec.size > BigInt(elf.source.size)) return undefined;
  const number = symsec.size / entsize;
  const natural = elf.is64 ? 24n : 16n;
  if (number * natural > symsec.size + 1n) return undefined;
  const raw = fileBytes(elf, symsec.offset, symsec.size);
  if (!raw) return undefined;
  let shndxWords: DataView | undefined;
  for (const s of elf.sections) {
    if (s.type !== SHT_SYMTAB_SHNDX || s.link !== symsec.index) continue;
    const b = fileBytes(elf, s.offset, number * 4n);
    if (b) shndxWords = new DataView(b.buffer, b.byteOffset, b.byteLength);
    break;
  }
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const le = elf.littleEndian;
  const count = Number(number);
  const syms: ReadelfSym[] = new Array(count);
  const stride = Number(natural);
  for (let j = 0; j < count; j++) {
    const o = j * stride;
    // The last entry may run one byte short of the buffer (readelf allows size + 1); read it as 0.
    const u8 = (x: number) => (x < raw.length ? v.getUint8(x) : 0);
    const u16 = (x: number) => (x + 2 <= raw.length ? v.getUint16(x, le) : 0);
    const u32 = (x: number) => (x + 4 <= raw.length ? v.getUint32(x, le) : 0);
    const u64 = (x: number) => (x + 8 <= raw.length ? v.getBigUint64(x, le) : 0n);
    const name = u32(o);
    const info = elf.is64 ? u8(o + 4) : u8(o + 12);
    let shndx = elf.is64 ? u16(o + 6) : u16(o + 14);
    const value = elf.is64 ? u64(o + 8) : BigInt(u32(o + 4));
    const size = elf.is64 ? u64(o + 16) : BigInt(u32(o + 8));
    if (shndx === SHN_XINDEX && shndxWords) {
      shndx = j * 4 + 4 <= shndxWords.byteLength ? shndxWords.getUint32(j * 4, le) : 0;
    }
    syms[j] = { name, info, shndx, value, size };
  }
  let strtab: Uint8Array | undefined;
  if (withStrings && symsec.link !== 0) {
    if (symsec.link >= elf.sections.length) return undefined;
    const strsec = elf.sections[symsec.link] as SectionHeader;
    strtab = fileBytes(elf, strsec.offset, strsec.size);
    if (!strtab) return undefined;
  }
  return { syms, strtab, isDynsym: symsec.type === SHT_DYNSYM };
}

/** A C string at `off` (to the NUL or the end of the buffer, which readelf NUL-terminates). */
export function cString(table: Uint8Array, off: number): string {
  let end = table.indexOf(0, off);
  if (end < 0) end = table.length;
  let s = "";
  for (let i = off; i < end; i++) s += String.fromCharCode(table[i] as number);
  return s;
}

type VersionInfo = { readonly name: string; readonly kind: "undefined" | "hidden" | "public" };

function u16At(elf: ElfFile, off: bigint): number | undefined {
  const b = fileBytes(elf, off, 2n);
  if (!b) return undefined;
  return elf.littleEndian ? (b[0] as number) | ((b[1] as number) << 8) : ((b[0] as number) << 8) | (b[1] as number);
}
function u32At(elf: ElfFile, b: Uint8Array, i: number): number {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return v.getUint32(i, elf.littleEndian);
}

/** binutils readelf.c `get_symbol_version_string`, including its `<corrupt>` answers. */
function symbolVersion(
  elf: ElfFile,
  dyn: DynamicFacts,
  tab: ReadelfSymtab,
  si: number,
  sym: ReadelfSym,
): VersionInfo | undefined {
  if (!tab.isDynsym || dyn.versym === 0n) return undefined;
  const strtab = tab.strtab;
  const strName = (off: number) => (strtab && off < strtab.length ? cString(strtab, off) : "<corrupt>");
  const vsOff = offsetFromVma(elf, dyn.versym, 2n + BigInt(si) * 2n);
  const versData = u16At(elf, vsOff + BigInt(si) * 2n);
  if (versData === undefined || versData === 0) return undefined;
  let kind: VersionInfo["kind"] = (versData & VERSYM_HIDDEN) !== 0 ? "hidden" : "public";
  let maxVdNdx = 0;
  const limit = elf.source.size + 1;

  if (sym.shndx !== 0 && versData !== 0x8001 && dyn.verdef !== 0n) {
    let off = offsetFromVma(elf, dyn.verdef, 20n);
    let ndx = 0;
    let aux = 0;
    let next = 0;
    let flags = 0;
    for (let steps = 0; steps < limit; steps++) {
      const evd = fileBytes(elf, off, 20n);
      if (!evd) {
        ndx = 0;
        aux = 0;
        next = 0;
        flags = 0;
      } else {
        const v = new DataView(evd.buffer, evd.byteOffset, 20);
        flags = v.getUint16(2, elf.littleEndian);
        ndx = v.getUint16(4, elf.littleEndian);
        aux = v.getUint32(12, elf.littleEndian);
        next = v.getUint32(16, elf.littleEndian);
      }
      if ((ndx & VERSYM_VERSION) > maxVdNdx) maxVdNdx = ndx & VERSYM_VERSION;
      off = (off + BigInt(next)) & MASK64;
      if (!(ndx !== (versData & VERSYM_VERSION) && next !== 0)) break;
    }
    if (ndx === (versData & VERSYM_VERSION)) {
      if (ndx === 1 && flags === VER_FLG_BASE) return undefined;
      off = (off - BigInt(next) + BigInt(aux)) & MASK64;
      const evda = fileBytes(elf, off, 8n);
      if (evda) {
        const vdaName = u32At(elf, evda, 0);
        if (sym.name !== vdaName) return { name: strName(vdaName), kind };
      }
    }
  }

  if (dyn.verneed !== 0n) {
    let offset = offsetFromVma(elf, dyn.verneed, 16n);
    let vnaOther = 0;
    let vnaName = 0;
    for (let outer = 0; outer < limit; outer++) {
      const evn = fileBytes(elf, offset, 16n);
      if (!evn) {
        vnaOther = 0;
        vnaName = 0;
        break;
      }
      const vnAux = u32At(elf, evn, 8);
      const vnNext = u32At(elf, evn, 12);
      let vnaOff = (offset + BigInt(vnAux)) & MASK64;
      for (let inner = 0; inner < limit; inner++) {
        const evna = fileBytes(elf, vnaOff, 16n);
        let vnaNext = 0;
        if (!evna) {
          vnaOther = 0;
          vnaName = 0;
        } else {
          const v = new DataView(evna.buffer, evna.byteOffset, 16);
          vnaOther = v.getUint16(6, elf.littleEndian);
          vnaName = v.getUint32(8, elf.littleEndian);
          vnaNext = v.getUint32(12, elf.littleEndian);
        }
        vnaOff = (vnaOff + BigInt(vnaNext)) & MASK64;
        if (!(vnaOther !== versData && vnaNext !== 0)) break;
      }
      if (vnaOther === versData) break;
      offset = (offset + BigInt(vnNext)) & MASK64;
      if (vnNext === 0) break;
    }
    if (vnaOther === versData) {
      kind = "undefined";
      return { name: strName(vnaName), kind };
    }
    if ((maxVdNdx || (versData & VERSYM_VERSION) !== 1) && (versData & VERSYM_VERSION) > maxVdNdx) {
      return { name: "<corrupt>", kind };
    }
  }
  return undefined;
}

/** `%PRIx64` of a signed 64-bit addend as readelf prints it: ` + 10`, ` - 8` (`-` form without spaces when unnamed). */
function addendText(addend: bigint, named: boolean): string {
  const u = BigInt.asUintN(64, addend);
  const negative = BigInt.asIntN(64, u) < 0n;
  const mag = negative ? BigInt.asUintN(64, -u) : u;
  if (named) return negative ? ` - ${mag.toString(16)}` : ` + ${mag.toString(16)}`;
  return negative ? `-${mag.toString(16)}` : mag.toString(16);
}

function hexw(v: bigint, w: number): string {
  return v.toString(16).padStart(w, "0");
}

/** The name readelf shows for an unnamed STT_SECTION symbol (dump_relocations). */
function sectionSymbolName(elf: ElfFile, shndx: number): string {
  if (shndx < elf.shnum && elf.sections.length > 0) {
    const sec = elf.sections[shndx];
    if (sec) return sectionNamePrint(elf, sec);
  }
  if (shndx === SHN_ABS) return "ABS";
  if (shndx === SHN_COMMON) return "COMMON";
  const m = elf.header.machine;
  if ((m === EM_X86_64 || m === EM_L1OM || m === EM_K1OM) && shndx === SHN_X86_64_LCOMMON) return "LARGE_COMMON";
  return `<section 0x${shndx.toString(16)}>`;
}

function headings(is64: boolean, rela: boolean, wide: boolean): string {
  if (!is64) {
    if (rela) {
      return wide
        ? " Offset     Info    Type                Sym. Value  Symbol's Name + Addend\n"
        : " Offset     Info    Type            Sym.Value  Sym. Name + Addend\n";
    }
    return wide
      ? " Offset     Info    Type                Sym. Value  Symbol's Name\n"
      : " Offset     Info    Type            Sym.Value  Sym. Name\n";
  }
  if (rela) {
    return wide
      ? "    Offset             Info             Type               Symbol's Value  Symbol's Name + Addend\n"
      : "  Offset          Info           Type           Sym. Value    Sym. Name + Addend\n";
  }
  return wide
    ? "    Offset             Info             Type               Symbol's Value  Symbol's Name\n"
    : "  Offset          Info           Type           Sym. Value    Sym. Name\n";
}

/** binutils readelf.c `dump_relocations` for one table. */
function dumpRelocations(
  elf: ElfFile,
  offset: bigint,
  size: bigint,
  kind: RelocationKind | "relr",
  tab: ReadelfSymtab | undefined,
  dyn: DynamicFacts,
  wide: boolean,
): string {
  const bytes = fileBytes(elf, offset, size);
  if (!bytes) return "";
  const is64 = elf.is64;
  const layout = { is64, littleEndian: elf.littleEndian, base: Number(offset), source: elf.name };
  if (kind === "relr") {
    const addrs = decodeRelr(bytes, layout, true);
    const out = [`  ${addrs.length} ${addrs.length === 1 ? "offset" : "offsets"}\n`];
    for (const a of addrs) out.push(`${hexw(a, is64 ? 16 : 8)}\n`);
    return out.join("");
  }
  const rels = decodeRelocations(bytes, kind, layout, { allowTrailing: true });
  const out: string[] = [headings(is64, kind === "rela", wide)];
  const machine = elf.header.machine;
  for (const rel of rels) {
    let line = is64
      ? wide
        ? `${hexw(rel.offset, 16)}  ${hexw(rel.info, 16)} `
        : `${hexw(rel.offset, 12)}  ${hexw(rel.info, 12)} `
      : `${hexw(rel.offset & 0xffffffffn, 8)}  ${hexw(rel.info & 0xffffffffn, 8)} `;
    const rtype = relocTypeName(machine, rel.type);
    if (rtype === undefined) line += `unrecognized: ${(rel.type >>> 0).toString(16).padEnd(7)}`;
    else line += wide ? rtype.padEnd(22) : rtype.slice(0, 17).padEnd(17);
    if (rel.sym !== 0) {
      if (tab && rel.sym < tab.syms.length) {
        const sym = tab.syms[rel.sym] as ReadelfSym;
        const ver = symbolVersion(elf, dyn, tab, rel.sym, sym);
        const verText = ver ? `${ver.kind === "public" ? "@@" : "@"}${ver.name}` : "";
        line += " ";
        if ((sym.info & 0xf) === STT_GNU_IFUNC) {
          const width = is64 ? 14 : 8;
          const strtab = tab.strtab;
          const name = !strtab || sym.name === 0 || sym.name >= strtab.length ? "??" : cString(strtab, sym.name);
          // `printf ("()%-*s", len <= width ? (width + 1) - len : 1, " ")`; the version is not counted.
          const p = printSymbol(width, name, wide);
          line += `${p.text}${verText}()${" ".repeat(p.printed <= width ? width + 1 - p.printed : 1)}`;
        } else {
          line += hexw(sym.value & (is64 ? MASK64 : 0xffffffffn), is64 ? 16 : 8);
          line += is64 ? " " : "   ";
        }
        if (sym.name === 0) {
          const secName = (sym.info & 0xf) === STT_SECTION ? sectionSymbolName(elf, sym.shndx) : "<null>";
          line += printSymbol(22, secName, wide).text;
        } else if (!tab.strtab) {
          line += `<string table index: ${String(sym.name).padStart(3)}>`;
        } else if (sym.name < tab.strtab.length) {
          line += printSymbol(22, cString(tab.strtab, sym.name), wide).text + verText;
        }
        if (rel.kind === "rela") line += addendText(rel.addend, true);
      }
    } else if (rel.kind === "rela") {
      line += " ".repeat(is64 ? 20 : 12) + addendText(rel.addend, false);
    }
    out.push(`${line}\n`);
  }
  return out.join("");
}

/** `readelf -r` output for `elf` (the text readelf writes to stdout, latin1: one char per byte). */
export function formatRelocations(elf: ElfFile, opts: ReadelfOptions): string {
  const wide = opts.wide;
  const out: string[] = [];
  const dyn = dynamicFacts(elf);
  // readelf: without loaded section headers, do_reloc is switched off and -r prints nothing.
  const load = sectionHeadersLoad(elf);
  if (load === "failed") return "";
  const sections = load === "ok" ? elf.sections : [];
  const strings = sections.length > 0 && hasSectionStrings(elf);
  let found = false;
  for (const sec of sections) {
    if (sec.type !== SHT_RELA && sec.type !== SHT_REL && sec.type !== SHT_RELR) continue;
    if (sec.size === 0n) continue;
    const kind: RelocationKind | "relr" = sec.type === SHT_RELA ? "rela" : sec.type === SHT_REL ? "rel" : "relr";
    const name = strings ? `'${printableSectionName(elf, sec)}'` : String(sec.nameOffset);
    const n = sec.size / readelfEntsize(elf, sec);
    out.push(
      `\nRelocation section ${name} at offset 0x${sec.offset.toString(16)} contains ${n} ${n === 1n ? "entry" : "entries"}:\n`,
    );
    if (sec.link !== 0 && sec.link < sections.length) {
      const symsec = sections[sec.link] as SectionHeader;
      if (symsec.type !== SHT_SYMTAB && symsec.type !== SHT_DYNSYM) continue;
      const tab = readelfSymtab(elf, symsec);
      if (!tab) continue;
      out.push(dumpRelocations(elf, sec.offset, sec.size, kind, tab, dyn, wide));
    } else {
      out.push(dumpRelocations(elf, sec.offset, sec.size, kind, undefined, dyn, wide));
    }
    // readelf sets `found` only after dumping: a table skipped for its symbol table does not count.
    found = true;
  }
  if (!found) {
    if (dyn.hasDynamicRelocs) {
      out.push(
        "\nThere are no static relocations in this file.\nTo see the dynamic relocations add --use-dynamic to the command line.\n",
      );
    } else {
      out.push("\nThere are no relocations in this file.\n");
    }
  }
  return out.join("");
}
