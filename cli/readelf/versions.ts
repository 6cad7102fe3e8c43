/**
 * `readelf -V` (binutils 2.40 readelf.c `process_version_sections`), byte for byte, and the
 * dynamic-section facts readelf's version printing depends on.
 *
 * readelf reads versioning twice over: the -V tables come from the SHT_GNU_verdef/verneed/versym
 * sections, but names come from the *dynamic* string table (DT_STRTAB), the versym data from
 * DT_VERSYM and the per-symbol lookups from DT_VERDEF/DT_VERNEED, each mapped to a file offset
 * through the PT_LOAD segments. That is modelled here as readelf does it, including its quirks.
 */
import type { ElfFile } from "../../formats/elf/file.ts";
import type { SectionHeader } from "../../formats/elf/types.ts";
import { LdsimError } from "../../formats/errors.ts";
import type { ReadelfOptions } from "./options.ts";
import { printableSectionName } from "./readelf-text.ts";

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const SHT_STRTAB = 3;
const SHT_NOBITS = 8;
const SHT_GNU_VERDEF = 0x6ffffffd;
const SHT_GNU_VERNEED = 0x6ffffffe;
const SHT_GNU_VERSYM = 0x6fffffff;
const DT_NULL = 0n;
const DT_STRTAB = 5n;
const DT_STRSZ = 10n;
const DT_VERSYM = 0x6ffffff0n;
const DT_VERDEF = 0x6ffffffcn;
const DT_VERNEED = 0x6ffffffen;
const MASK64 = (1n << 64n) - 1n;

/**
 * The section headers, or undefined when the table cannot be read: readelf then reports the
 * error on stderr and prints nothing for -s, --dyn-syms or -V.
 */
export function sectionsOrNone(elf: ElfFile): readonly SectionHeader[] | undefined {
  try {
    return elf.sections;
  } catch (e) {
    if (e instanceof LdsimError) return undefined;
    throw e;
  }
}

/** The dynamic-section values readelf keeps for versioning (0n when absent). */
export interface ReadelfDynamicInfo {
  readonly versym: bigint;
  readonly verdef: bigint;
  readonly verneed: bigint;
  /** DT_STRTAB contents (readelf's `dynamic_strings`), when it could be read. */
  readonly strings: Uint8Array | undefined;
}

/** Bytes at a file offset, or undefined where readelf's `get_data` would fail (range outside the file). */
export function fileBytes(elf: ElfFile, offset: bigint, length: number): Uint8Array | undefined {
  if (offset < 0n || length < 0 || offset + BigInt(length) > BigInt(elf.source.size)) return undefined;
  return elf.source.read(Number(offset), length);
}

/** readelf `offset_from_vma`: the file offset of `vma` via the PT_LOAD segment holding `size` bytes of it. */
export function offsetFromVma(elf: ElfFile, vma: bigint, size: bigint): bigint {
  // An unreadable program header table leaves readelf with no segments: every VMA maps to itself.
  let phdrs: ElfFile["programHeaders"];
  try {
    phdrs = elf.programHeaders;
  } catch (e) {
    if (!(e instanceof LdsimError)) throw e;
    phdrs = [];
  }
  for (const seg of phdrs) {
    if (seg.type !== PT_LOAD) continue;
    const start = seg.vaddr & ((MASK64 + 1n - seg.align) & MASK64);
    if (vma >= start && vma + size <= seg.vaddr + seg.filesz) return vma - seg.vaddr + seg.offset;
  }
  return vma;
}

const infoCache = new WeakMap<ElfFile, ReadelfDynamicInfo>();

/**
 * readelf's dynamic-section scan: PT_DYNAMIC located (and replaced by the .dynamic section's
 * offset and size when there is one; a NOBITS .dynamic means no dynamic data, as in debuginfo
 * files), entries read up to DT_NULL.
 */
export function readelfDynamicInfo(elf: ElfFile): ReadelfDynamicInfo {
  const cached = infoCache.get(elf);
  if (cached) return cached;
  let versym = 0n;
  let verdef = 0n;
  let verneed = 0n;
  let strtab = 0n;
  let strsz = 0n;
  let strings: Uint8Array | undefined;
  let addr = 0n;
  let size = 0n;
  let phdrs: ElfFile["programHeaders"] = [];
  try {
    phdrs = elf.programHeaders;
  } catch {
    phdrs = [];
  }
  let secs: readonly SectionHeader[] = [];
  try {
    secs = elf.sections;
  } catch {
    secs = [];
  }
  // process_section_headers runs first and takes the dynamic strings from a STRTAB named .dynstr;
  // DT_STRTAB/DT_STRSZ are used only when that gave none.
  const dynstr = secs.find((s) => s.type === SHT_STRTAB && s.name === ".dynstr");
  if (dynstr && dynstr.size !== 0n) strings = fileBytes(elf, dynstr.offset, Number(dynstr.size));
  for (const ph of phdrs) {
    if (ph.type !== PT_DYNAMIC) continue;
    addr = ph.offset;
    size = ph.filesz;
    if (secs.length > 0) {
      const sec = secs.find((s) => s.name === ".dynamic");
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
    break;
  }
  if (size > 0n) {
    const entSize = elf.is64 ? 16 : 8;
    const n = Number(size / BigInt(entSize));
    const bytes = fileBytes(elf, addr, n * entSize);
    if (bytes) {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const le = elf.littleEndian;
      for (let i = 0; i < n; i++) {
        const o = i * entSize;
        const tag = elf.is64 ? view.getBigUint64(o, le) : BigInt(view.getUint32(o, le));
        const val = elf.is64 ? view.getBigUint64(o + 8, le) : BigInt(view.getUint32(o + 4, le));
        if (tag === DT_NULL) break;
        if (tag === DT_VERSYM) versym = val;
        else if (tag === DT_VERDEF) verdef = val;
        else if (tag === DT_VERNEED) verneed = val;
        if (tag === DT_STRTAB) strtab = val;
        if (tag === DT_STRSZ) strsz = val;
        if (strings === undefined && strtab !== 0n && strsz !== 0n && strsz < BigInt(elf.source.size) + 1n) {
          strings = fileBytes(elf, offsetFromVma(elf, strtab, strsz), Number(strsz));
        }
      }
    }
  }
  const info = { versym, verdef, verneed, strings };
  infoCache.set(elf, info);
  return info;
}

/** A C string at `off` of `table` (to the NUL or the table's end, as readelf's NUL-padded buffers give). */
export function cString(table: Uint8Array, off: number): string {
  let end = table.indexOf(0, off);
  if (end < 0) end = table.length;
  return latin1(table, off, end);
}

/** Bytes → string, one character per byte (ISO-8859-1), as readelf passes name bytes through. */
export function latin1(bytes: Uint8Array, start: number, end: number): string {
  const CHUNK = 8192;
  if (end - start <= CHUNK) return String.fromCharCode.apply(null, bytes.subarray(start, end) as unknown as number[]);
  const parts: string[] = [];
  for (let i = start; i < end; i += CHUNK) {
    parts.push(String.fromCharCode.apply(null, bytes.subarray(i, Math.min(end, i + CHUNK)) as unknown as number[]));
  }
  return parts.join("");
}

/** readelf `get_ver_flags`. */
export function verFlags(flags: number): string {
  if (flags === 0) return "none";
  let s = "";
  if (flags & 1) s += "BASE";
  if (flags & 2) {
    if (flags & 1) s += " | ";
    s += "WEAK";
  }
  if (flags & 4) {
    if (flags & 3) s += " | ";
    s += "INFO";
  }
  if (flags & ~7) {
    if (flags & 7) s += " | ";
    s += "<unknown>";
  }
  return s;
}

/** printf `%#06zx`: "0x" plus at least 4 digits, or "000000" for zero (the # flag adds nothing to 0). */
function hash06(n: number): string {
  return n === 0 ? "000000" : `0x${n.toString(16).padStart(4, "0")}`;
}

function hex16(v: bigint): string {
  return v.toString(16).padStart(16, "0");
}
function hex08(v: bigint): string {
  return v.toString(16).padStart(8, "0");
}

/** readelf `printable_section_name_from_index`: `<corrupt>` for an index past the table. */
function linkName(elf: ElfFile, index: number): string {
  const s = elf.sections[index];
  return s ? printableSectionName(elf, s) : "<corrupt>";
}

function sectionHeaderLines(sec: SectionHeader, linkName: string): string {
  return ` Addr: 0x${hex16(sec.addr)}  Offset: 0x${hex08(sec.offset)}  Link: ${sec.link} (${linkName})\n`;
}

function dynName(info: ReadelfDynamicInfo, off: number): string | undefined {
  const t = info.strings;
  return t && off < t.length ? cString(t, off) : undefined;
}

function sectionBytes(elf: ElfFile, sec: SectionHeader): Uint8Array | undefined {
  if (sec.size === 0n) return undefined;
  return fileBytes(elf, sec.offset, Number(sec.size));
}

function formatVerdef(elf: ElfFile, sec: SectionHeader, info: ReadelfDynamicInfo): string {
  let out = `\nVersion definition section '${printableSectionName(elf, sec)}' contains ${sec.info} ${sec.info === 1 ? "entry" : "entries"}:\n`;
  out += sectionHeaderLines(sec, linkName(elf, sec.link));
  const data = sectionBytes(elf, sec);
  if (!data) return out;
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const le = elf.littleEndian;
  const end = data.length;
  let idx = 0;
  let cnt = 0;
  for (; cnt < sec.info; cnt++) {
    let vstart = idx;
    if (vstart + 20 > end) break;
    const version = v.getUint16(vstart, le);
    const flags = v.getUint16(vstart + 2, le);
    const ndx = v.getUint16(vstart + 4, le);
    const vdCnt = v.getUint16(vstart + 6, le);
    const vdAux = v.getUint32(vstart + 12, le);
    const vdNext = v.getUint32(vstart + 16, le);
    out += `  ${hash06(idx)}: Rev: ${version}  Flags: ${verFlags(flags)}`;
    out += `  Index: ${ndx}  Cnt: ${vdCnt}  `;
    if (vdAux > end - vstart) break;
    vstart += vdAux;
    if (vstart + 8 > end) break;
    let vdaName = v.getUint32(vstart, le);
    let vdaNext = v.getUint32(vstart + 4, le);
    const n0 = dynName(info, vdaName);
    out += n0 !== undefined ? `Name: ${n0}\n` : `Name index: ${vdaName}\n`;
    let isum = idx + vdAux;
    let j = 1;
    for (; j < vdCnt; j++) {
      if (vdaNext < 8 && !(j === vdCnt - 1 && vdaNext === 0)) {
        j = vdCnt;
        break;
      }
      if (vdaNext > end - vstart) break;
      isum += vdaNext;
      vstart += vdaNext;
      if (vstart + 8 > end) break;
      vdaName = v.getUint32(vstart, le);
      vdaNext = v.getUint32(vstart + 4, le);
      const n = dynName(info, vdaName);
      out +=
        n !== undefined
          ? `  ${hash06(isum)}: Parent ${j}: ${n}\n`
          : `  ${hash06(isum)}: Parent ${j}, name index: ${vdaName}\n`;
    }
    if (j < vdCnt) out += "  Version def aux past end of section\n";
    if (vdNext < 20 && !(cnt === sec.info - 1 && vdNext === 0)) {
      cnt = sec.info;
      break;
    }
    if (vdNext > end - idx) break;
    idx += vdNext;
  }
  if (cnt < sec.info) out += "  Version definition past end of section\n";
  return out;
}

function formatVerneed(elf: ElfFile, sec: SectionHeader, info: ReadelfDynamicInfo): string {
  let out = `\nVersion needs section '${printableSectionName(elf, sec)}' contains ${sec.info} ${sec.info === 1 ? "entry" : "entries"}:\n`;
  out += sectionHeaderLines(sec, linkName(elf, sec.link));
  const data = sectionBytes(elf, sec);
  if (!data) return out;
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const le = elf.littleEndian;
  const end = data.length;
  let idx = 0;
  for (let cnt = 0; cnt < sec.info; cnt++) {
    let vstart = idx;
    if (vstart + 16 > end) break;
    const version = v.getUint16(vstart, le);
    const vnCnt = v.getUint16(vstart + 2, le);
    const vnFile = v.getUint32(vstart + 4, le);
    const vnAux = v.getUint32(vstart + 8, le);
    const vnNext = v.getUint32(vstart + 12, le);
    out += `  ${hash06(idx)}: Version: ${version}`;
    const file = dynName(info, vnFile);
    out += file !== undefined ? `  File: ${file}` : `  File: ${vnFile.toString(16)}`;
    out += `  Cnt: ${vnCnt}\n`;
    if (vnAux > end - vstart) break;
    vstart += vnAux;
    let isum = idx + vnAux;
    for (let j = 0; j < vnCnt; j++) {
      if (vstart + 16 > end) break;
      const flags = v.getUint16(vstart + 4, le);
      const other = v.getUint16(vstart + 6, le);
      const name = v.getUint32(vstart + 8, le);
      const next = v.getUint32(vstart + 12, le);
      const n = dynName(info, name);
      out +=
        n !== undefined ? `  ${hash06(isum)}:   Name: ${n}` : `  ${hash06(isum)}:   Name index: ${name.toString(16)}`;
      out += `  Flags: ${verFlags(flags)}  Version: ${other}\n`;
      if (next < 16 && !(j === vnCnt - 1 && next === 0)) break;
      if (next > end - vstart) break;
      isum += next;
      vstart += next;
    }
    if (vnNext < 16 && !(cnt === sec.info - 1 && vnNext === 0)) break;
    if (vnNext > end - idx) break;
    idx += vnNext;
  }
  return out;
}

/** Upper bound on chain steps in the per-entry lookups (readelf has none; a looping chain would hang it). */
const MAX_CHAIN_STEPS = 1 << 16;

/** versymName result meaning "readelf broke out of the cell": print the index only. */
const ABANDON = Symbol("abandon");

/** The versym -V column name for `value` (readelf's walk of DT_VERNEED then DT_VERDEF). */
function versymName(
  elf: ElfFile,
  info: ReadelfDynamicInfo,
  value: number,
  strtab: Uint8Array,
  strSize: bigint,
): string | typeof ABANDON | undefined {
  const le = elf.littleEndian;
  let name: string | undefined;
  const invalid = "*invalid*";
  const nameAt = (off: number): string => (BigInt(off) >= strSize ? invalid : cString(strtab, off));
  if (info.verneed !== 0n) {
    let offset = offsetFromVma(elf, info.verneed, 16n);
    for (let steps = 0; steps < MAX_CHAIN_STEPS; steps++) {
      const evn = fileBytes(elf, offset, 16);
      if (!evn) break;
      const dv = new DataView(evn.buffer, evn.byteOffset, 16);
      const vnAux = dv.getUint32(8, le);
      const vnNext = dv.getUint32(12, le);
      let aOff = offset + BigInt(vnAux);
      let vnaOther = 0;
      let vnaName = 0;
      for (let s2 = 0; s2 < MAX_CHAIN_STEPS; s2++) {
        const evna = fileBytes(elf, aOff, 16);
        let vnaNext = 0;
        if (!evna) {
          vnaOther = 0;
        } else {
          const da = new DataView(evna.buffer, evna.byteOffset, 16);
          vnaNext = da.getUint32(12, le);
          vnaOther = da.getUint16(6, le);
          vnaName = da.getUint32(8, le);
        }
        aOff += BigInt(vnaNext);
        if (vnaOther === value || vnaNext === 0) break;
      }
      if (vnaOther === value) {
        name = nameAt(vnaName);
        break;
      }
      offset += BigInt(vnNext);
      if (vnNext === 0) break;
    }
  }
  if (value !== 0x8001 && info.verdef !== 0n) {
    const want = value & 0x7fff;
    let offset = offsetFromVma(elf, info.verdef, 20n);
    let vdNdx = 0;
    let vdNext = 0;
    let vdAux = 0;
    let failed = false;
    for (let steps = 0; steps < MAX_CHAIN_STEPS; steps++) {
      const evd = fileBytes(elf, offset, 20);
      if (!evd) {
        vdNext = 0;
        vdNdx = want + 1;
        failed = true;
        break;
      }
      const dv = new DataView(evd.buffer, evd.byteOffset, 20);
      vdNext = dv.getUint32(16, le);
      vdNdx = dv.getUint16(4, le);
      vdAux = dv.getUint32(12, le);
      offset += BigInt(vdNext);
      if (vdNdx === want || vdNext === 0) break;
    }
    if (!failed && vdNdx === want) {
      const evda = fileBytes(elf, offset - BigInt(vdNext) + BigInt(vdAux), 8);
      // readelf's `break` here leaves the whole switch case: no name and no padding for this cell.
      if (!evda) return ABANDON;
      const vdaName = new DataView(evda.buffer, evda.byteOffset, 8).getUint32(0, le);
      if (BigInt(vdaName) >= strSize) name = invalid;
      else if (name !== undefined && name !== invalid) name = "*both*";
      else name = cString(strtab, vdaName);
    }
  }
  return name;
}

function formatVersym(elf: ElfFile, sec: SectionHeader, info: ReadelfDynamicInfo): string | undefined {
  const sections = elf.sections;
  const shnum = sections.length;
  if (sec.link >= shnum) return undefined;
  const linkSec = sections[sec.link] as SectionHeader;
  const total = Number(sec.size / 2n);
  if (linkSec.link >= shnum) return undefined;
  // readelf reads the linked symbol table first; an unreadable one ends this section silently.
  if (linkSec.size === 0n || linkSec.entsize === 0n || linkSec.entsize > linkSec.size) return "";
  if (linkSec.size > BigInt(elf.source.size)) return "";
  const numSyms = Number(linkSec.size / linkSec.entsize);
  if (!fileBytes(elf, linkSec.offset, Number(linkSec.size))) return "";
  const strSec = sections[linkSec.link] as SectionHeader;
  const strtab = strSec.size === 0n ? undefined : fileBytes(elf, strSec.offset, Number(strSec.size));
  if (!strtab) return "";
  let out = `\nVersion symbols section '${printableSectionName(elf, sec)}' contains ${total} ${total === 1 ? "entry" : "entries"}:\n`;
  out += sectionHeaderLines(sec, printableSectionName(elf, linkSec));
  const off = offsetFromVma(elf, info.versym, BigInt(total * 2));
  const edata = total === 0 ? undefined : fileBytes(elf, off, total * 2);
  if (!edata) return out;
  const dv = new DataView(edata.buffer, edata.byteOffset, edata.byteLength);
  for (let cnt = 0; cnt < total; cnt += 4) {
    out += `  ${cnt.toString(16).padStart(3, "0")}:`;
    for (let j = 0; j < 4 && cnt + j < total; j++) {
      const d = dv.getUint16((cnt + j) * 2, elf.littleEndian);
      if (d === 0) {
        out += "   0 (*local*)    ";
        continue;
      }
      if (d === 1) {
        out += "   1 (*global*)   ";
        continue;
      }
      let cell = `${(d & 0x7fff).toString(16).padStart(4)}${d & 0x8000 ? "h" : " "}`;
      if (cnt + j >= numSyms) {
        out += cell;
        continue;
      }
      const name = versymName(elf, info, d, strtab, strSec.size);
      if (name === ABANDON) {
        out += cell;
        continue;
      }
      if (name !== undefined) cell += `(${name}${")".padEnd(Math.abs(12 - name.length))}`; // C: a negative `*` width left-justifies
      if (cell.length < 18) cell += " ".repeat(18 - cell.length);
      out += cell;
    }
    out += "\n";
  }
  return out;
}

/** `readelf -V`: the version sections in section-table order, then "No version information" if none. */
export function formatVersions(elf: ElfFile, opts: ReadelfOptions): string {
  void opts;
  const sections = sectionsOrNone(elf);
  if (sections === undefined) return "";
  const info = readelfDynamicInfo(elf);
  let out = "";
  let found = false;
  for (const sec of sections) {
    if (sec.type === SHT_GNU_VERDEF) {
      found = true;
      out += formatVerdef(elf, sec, info);
    } else if (sec.type === SHT_GNU_VERNEED) {
      found = true;
      out += formatVerneed(elf, sec, info);
    } else if (sec.type === SHT_GNU_VERSYM) {
      const s = formatVersym(elf, sec, info);
      if (s !== undefined) {
        found = true;
        out += s;
      }
    }
  }
  if (!found) out += "\nNo version information found in this file.\n";
  return out;
}
