import { readelfOffsetFromVma } from "../../formats/elf/address.ts";
import { PT_DYNAMIC, SHT_NOBITS, SHT_STRTAB } from "../../formats/elf/constants.ts";
import { type DynamicEntry, dynamicEntrySize, parseDynamic } from "../../formats/elf/dynamic.ts";
import * as DT from "../../formats/elf/dynamic-tags.ts";
import { decodeLatin1, type ElfFile } from "../../formats/elf/file.ts";
import { fullHex, prefixHex } from "./printf.ts";
import { rawSectionName, readelfStringTable } from "./sections.ts";

/** `readelf -d`: the dynamic section, as binutils readelf.c `process_dynamic_section` prints it. */

const EM_AARCH64 = 183;

export interface ReadelfDynamic {
  /** File offset readelf reports ("Dynamic section at offset …"). */
  readonly offset: number;
  /** Entries up to and including DT_NULL. */
  readonly entries: readonly DynamicEntry[];
}

const cache = new WeakMap<ElfFile, ReadelfDynamic | null>();

/**
 * Locate the dynamic array as readelf does (`process_program_headers` / `locate_dynamic_section`):
 * PT_DYNAMIC gives the default; when there is a section header table its `.dynamic` section (by
 * name) wins, and an empty or SHT_NOBITS `.dynamic` means there is none. Null when absent.
 */
export function readelfDynamic(elf: ElfFile): ReadelfDynamic | null {
  const hit = cache.get(elf);
  if (hit !== undefined) return hit;
  const found = locate(elf);
  cache.set(elf, found);
  return found;
}

function locate(elf: ElfFile): ReadelfDynamic | null {
  const ph = elf.programHeaders.find((p) => p.type === PT_DYNAMIC);
  if (!ph) return null;
  let addr = ph.offset;
  let size = ph.filesz;
  if (elf.header.shoff !== 0n && elf.shnum > 0) {
    const strtab = readelfStringTable(elf);
    const sec = elf.sections.find((s) => rawSectionName(strtab, s) === ".dynamic");
    if (sec) {
      if (sec.size === 0n || sec.type === SHT_NOBITS) return null;
      addr = sec.offset;
      size = sec.size;
    }
  }
  const fileSize = BigInt(elf.source.size);
  if (addr > fileSize || size > fileSize - addr) return null;
  if (size < BigInt(dynamicEntrySize(elf.is64))) return null;
  const offset = Number(addr);
  const bytes = elf.readBytes(offset, Number(size), "dynamic section");
  const parsed = parseDynamic(bytes, elf.is64, elf.littleEndian, { base: offset, source: elf.name });
  return { offset, entries: parsed.entries };
}

/**
 * The dynamic string table readelf uses for names: the section named `.dynstr` when there is one
 * (read while processing section headers), else DT_STRTAB/DT_STRSZ through `offset_from_vma`.
 */
function dynamicStrings(elf: ElfFile, entries: readonly DynamicEntry[]): Uint8Array | undefined {
  if (elf.header.shoff !== 0n && elf.shnum > 0) {
    const strtab = readelfStringTable(elf);
    // Only an SHT_STRTAB named .dynstr (readelf `process_section_headers`), the first one.
    const sec = elf.sections.find((s) => s.type === SHT_STRTAB && rawSectionName(strtab, s) === ".dynstr");
    if (sec) {
      try {
        return elf.readBytes(Number(sec.offset), elf.num(sec.size, ".dynstr size"), ".dynstr");
      } catch {
        return undefined;
      }
    }
  }
  let strtab: bigint | undefined;
  let strsz: bigint | undefined;
  for (const e of entries) {
    if (e.tag === DT.DT_STRTAB) strtab = e.value;
    if (e.tag === DT.DT_STRSZ) strsz = e.value;
    if (strtab && strsz) {
      const off = readelfOffsetFromVma(elf.programHeaders, strtab, strsz);
      try {
        return elf.readBytes(elf.num(off, "DT_STRTAB offset"), elf.num(strsz, "DT_STRSZ"), "dynamic string table");
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function nameAt(strings: Uint8Array | undefined, offset: bigint): string | undefined {
  if (!strings || offset >= BigInt(strings.length)) return undefined;
  const start = Number(offset);
  let end = strings.indexOf(0, start);
  if (end < 0) end = strings.length;
  return decodeLatin1(strings, start, end);
}

function bitNames(value: bigint, names: readonly (readonly [bigint, string])[]): string {
  if (value === 0n) return "Flags: None";
  let rest = value;
  let out = "Flags:";
  for (const [bit, name] of names) {
    if ((rest & bit) !== 0n) {
      out += ` ${name}`;
      rest ^= bit;
    }
  }
  if (rest !== 0n) out += ` ${rest.toString(16)}`;
  return out;
}

/** readelf `print_dynamic_flags`: one name per set bit, lowest first. */
function dynamicFlags(value: bigint): string {
  const parts: string[] = [];
  let rest = value;
  while (rest !== 0n) {
    const bit = rest & -rest;
    rest &= ~bit;
    parts.push(DT.DT_FLAGS_NAMES.get(bit) ?? "unknown");
  }
  return parts.join(" ");
}

const BYTES_TAGS = new Set<bigint>([
  DT.DT_PLTRELSZ,
  DT.DT_RELASZ,
  DT.DT_STRSZ,
  DT.DT_RELSZ,
  DT.DT_RELAENT,
  DT.DT_RELRENT,
  DT.DT_RELRSZ,
  DT.DT_SYMENT,
  DT.DT_RELENT,
  DT.DT_PLTPADSZ,
  DT.DT_MOVEENT,
  DT.DT_MOVESZ,
  DT.DT_PREINIT_ARRAYSZ,
  DT.DT_INIT_ARRAYSZ,
  DT.DT_FINI_ARRAYSZ,
  DT.DT_GNU_CONFLICTSZ,
  DT.DT_GNU_LIBLISTSZ,
]);
const COUNT_TAGS = new Set<bigint>([DT.DT_VERDEFNUM, DT.DT_VERNEEDNUM, DT.DT_RELACOUNT, DT.DT_RELCOUNT]);
const NAMED_TAGS: ReadonlyMap<bigint, string> = new Map([
  [DT.DT_NEEDED, "Shared library"],
  [DT.DT_SONAME, "Library soname"],
  [DT.DT_RPATH, "Library rpath"],
  [DT.DT_RUNPATH, "Library runpath"],
]);
const FILTER_TAGS: ReadonlyMap<bigint, string> = new Map([
  [DT.DT_AUXILIARY, "Auxiliary library"],
  [DT.DT_FILTER, "Filter library"],
  [DT.DT_CONFIG, "Configuration file"],
  [DT.DT_DEPAUDIT, "Dependency audit library"],
  [DT.DT_AUDIT, "Audit library"],
]);

function gmtime(seconds: bigint): string {
  const d = new Date(Number(BigInt.asIntN(64, seconds)) * 1000);
  if (Number.isNaN(d.getTime())) return `<corrupt time val: ${seconds.toString(16)}`;
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getUTCFullYear(), 4)}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}T${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

/** The Name/Value column of one entry. */
function entryValue(elf: ElfFile, e: DynamicEntry, strings: Uint8Array | undefined): string {
  const v = e.value;
  const named = NAMED_TAGS.get(e.tag);
  if (named !== undefined) {
    const name = nameAt(strings, v);
    return name !== undefined ? `${named}: [${name}]` : prefixHex(v);
  }
  const filter = FILTER_TAGS.get(e.tag);
  if (filter !== undefined) {
    const name = nameAt(strings, v);
    return name !== undefined ? `${filter}: [${name}]` : `${filter}: ${prefixHex(v)}`;
  }
  if (BYTES_TAGS.has(e.tag)) return `${v} (bytes)`;
  if (COUNT_TAGS.has(e.tag)) return `${v}`;
  switch (e.tag) {
    case DT.DT_FLAGS:
      return dynamicFlags(v);
    case DT.DT_FLAGS_1:
      return bitNames(v, DT.DT_FLAGS_1_NAMES);
    case DT.DT_POSFLAG_1:
      return bitNames(v, DT.DT_POSFLAG_1_NAMES);
    case DT.DT_FEATURE_1:
      return bitNames(v, DT.DT_FEATURE_1_NAMES);
    case DT.DT_GNU_FLAGS_1:
      return bitNames(v, DT.DT_GNU_FLAGS_1_NAMES);
    case DT.DT_PLTREL:
      return DT.readelfDynamicTypeName(v, elf.header.machine);
    case DT.DT_BIND_NOW:
      return "";
    case DT.DT_USED: {
      const name = nameAt(strings, v);
      return name ? `Not needed object: [${name}]` : prefixHex(v);
    }
    case DT.DT_GNU_PRELINKED:
      return gmtime(v);
    default:
      // readelf `dynamic_section_aarch64_val`: the PLT marker tags print no value.
      if (elf.header.machine === EM_AARCH64 && (e.tag === DT.DT_AARCH64_BTI_PLT || e.tag === DT.DT_AARCH64_PAC_PLT)) {
        return "";
      }
      return prefixHex(v);
  }
}

/** One row of `readelf -d`, for the JSON view: tag, readelf's type name, raw value, printed value. */
export interface DynamicRow {
  readonly tag: bigint;
  readonly type: string;
  readonly value: bigint;
  readonly text: string;
}

/** The rows `readelf -d` prints, or null when the file has no dynamic section. */
export function dynamicRows(elf: ElfFile): { readonly offset: number; readonly rows: readonly DynamicRow[] } | null {
  const dyn = readelfDynamic(elf);
  if (!dyn) return null;
  const strings = dynamicStrings(elf, dyn.entries);
  const rows = dyn.entries.map((e) => ({
    tag: e.tag,
    type: DT.readelfDynamicTypeName(e.tag, elf.header.machine),
    value: e.value,
    text: entryValue(elf, e, strings),
  }));
  return { offset: dyn.offset, rows };
}

export function formatDynamic(elf: ElfFile): string {
  const dyn = readelfDynamic(elf);
  if (!dyn) return "\nThere is no dynamic section in this file.\n";
  const n = dyn.entries.length;
  const strings = dynamicStrings(elf, dyn.entries);
  let out = `\nDynamic section at offset 0x${dyn.offset.toString(16)} contains ${n} ${n === 1 ? "entry" : "entries"}:\n`;
  out += "  Tag        Type                         Name/Value\n";
  const width = elf.is64 ? 19 : 27;
  for (const e of dyn.entries) {
    const type = DT.readelfDynamicTypeName(e.tag, elf.header.machine);
    // printf ("%*s", width - strlen (type), " "): a negative width left-justifies, so a long name
    // gets |width - len| spaces, never fewer than one.
    out += ` ${fullHex(e.tag, elf.is64)} (${type})${" ".repeat(Math.max(1, Math.abs(width - type.length)))}`;
    out += `${entryValue(elf, e, strings)}\n`;
  }
  return out;
}
