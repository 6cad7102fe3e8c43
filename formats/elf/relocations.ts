/**
 * Relocation records: REL and RELA tables (ELF gABI "Relocation") and RELR packed relative
 * relocations (gABI SHT_RELR, DT_RELR). Decoders work on raw bytes, so the loader can hand them what
 * it read from memory through DT_RELA/DT_RELASZ, DT_REL/DT_RELSZ, DT_JMPREL/DT_PLTRELSZ or
 * DT_RELR/DT_RELRSZ, and on sections of an ElfFile.
 *
 * r_info is split by class as elf.h's ELF32_R_SYM/ELF32_R_TYPE and ELF64_R_SYM/ELF64_R_TYPE do:
 * ELF32 sym = info >> 8, type = info & 0xff; ELF64 sym = info >> 32, type = info & 0xffffffff.
 * The addend is a signed bigint in both classes (Elf32_Sword / Elf64_Sxword).
 */
import { EndianReader } from "../bytes/endian.ts";
import { FormatError, hex } from "../errors.ts";
import { SHT_REL, SHT_RELA, SHT_RELR } from "./constants.ts";
import type { ElfFile } from "./file.ts";
import type { SectionHeader } from "./types.ts";

/** A relocation table is malformed: bad entry size, a size that is not a whole number of entries. */
export class RelocationFormatError extends FormatError {
  override name = "RelocationFormatError";
}

/** One Elf32_Rel / Elf64_Rel. */
export interface RelRecord {
  readonly kind: "rel";
  /** Index in its table. */
  readonly index: number;
  readonly offset: bigint;
  /** r_info as stored. */
  readonly info: bigint;
  readonly sym: number;
  readonly type: number;
}

/** One Elf32_Rela / Elf64_Rela. */
export interface RelaRecord {
  readonly kind: "rela";
  readonly index: number;
  readonly offset: bigint;
  readonly info: bigint;
  readonly sym: number;
  readonly type: number;
  /** r_addend, sign-extended. */
  readonly addend: bigint;
}

export type Relocation = RelRecord | RelaRecord;
export type RelocationKind = Relocation["kind"];

export interface RelocationLayout {
  readonly is64: boolean;
  readonly littleEndian: boolean;
  /** Absolute offset (or address) of bytes[0], for error messages. */
  readonly base?: number;
  readonly source?: string;
}

/** sizeof(Elf{32,64}_Rel), sizeof(Elf{32,64}_Rela), sizeof(Elf{32,64}_Relr). */
export function relocationEntrySize(kind: RelocationKind | "relr", is64: boolean): number {
  if (kind === "relr") return is64 ? 8 : 4;
  if (kind === "rel") return is64 ? 16 : 8;
  return is64 ? 24 : 12;
}

/**
 * Check a DT_RELAENT / DT_RELENT / DT_RELRENT value (or an sh_entsize) against the record size;
 * glibc asserts `DT_RELAENT == sizeof (ElfW(Rela))` in `elf_get_dynamic_info`.
 */
export function checkEntrySize(
  kind: RelocationKind | "relr",
  is64: boolean,
  entsize: bigint | number,
  source?: string,
): void {
  const want = relocationEntrySize(kind, is64);
  if (BigInt(entsize) !== BigInt(want)) {
    throw new RelocationFormatError(
      `${kind.toUpperCase()} entry size ${entsize} is not ${want} (sizeof Elf${is64 ? 64 : 32}_${kind === "rel" ? "Rel" : kind === "rela" ? "Rela" : "Relr"})`,
      { source },
    );
  }
}

/** Split r_info into symbol index and type (ELF32_R_SYM/TYPE, ELF64_R_SYM/TYPE). */
export function splitInfo(info: bigint, is64: boolean): { readonly sym: number; readonly type: number } {
  if (is64) return { sym: Number((info >> 32n) & 0xffffffffn), type: Number(info & 0xffffffffn) };
  return { sym: Number((info >> 8n) & 0xffffffn), type: Number(info & 0xffn) };
}

/** Join symbol index and type into r_info (ELF32_R_INFO / ELF64_R_INFO). */
export function makeInfo(sym: number, type: number, is64: boolean): bigint {
  if (is64) return (BigInt(sym >>> 0) << 32n) | BigInt(type >>> 0);
  return BigInt((((sym & 0xffffff) << 8) | (type & 0xff)) >>> 0);
}

function checkWhole(length: number, entsize: number, what: string, l: RelocationLayout): void {
  if (length % entsize !== 0) {
    throw new RelocationFormatError(
      `${what}: size ${hex(length)} is not a multiple of the ${entsize}-byte entry size`,
      { source: l.source, offset: l.base },
    );
  }
}

/**
 * Decode a REL or RELA table. The bytes must hold a whole number of entries (a table read through
 * DT_RELASZ or sh_size that does not is corrupt); pass `allowTrailing` to ignore a trailing
 * partial entry instead, as binutils readelf `slurp_rela_relocs` does (size / sizeof (Rela)).
 */
export function decodeRelocations(
  bytes: Uint8Array,
  kind: RelocationKind,
  layout: RelocationLayout,
  options: { readonly allowTrailing?: boolean } = {},
): Relocation[] {
  const ent = relocationEntrySize(kind, layout.is64);
  if (!options.allowTrailing) checkWhole(bytes.length, ent, kind === "rel" ? "REL table" : "RELA table", layout);
  const r = new EndianReader(bytes, layout.littleEndian, layout.base ?? 0, layout.source);
  const count = Math.floor(bytes.length / ent);
  const out: Relocation[] = new Array(count);
  const is64 = layout.is64;
  for (let i = 0; i < count; i++) {
    const o = i * ent;
    const offset = is64 ? r.u64(o, "r_offset") : BigInt(r.u32(o, "r_offset"));
    const info = is64 ? r.u64(o + 8, "r_info") : BigInt(r.u32(o + 4, "r_info"));
    const { sym, type } = splitInfo(info, is64);
    if (kind === "rel") {
      out[i] = { kind, index: i, offset, info, sym, type };
    } else {
      const addend = is64 ? r.i64(o + 16, "r_addend") : BigInt(r.i32(o + 8, "r_addend"));
      out[i] = { kind, index: i, offset, info, sym, type, addend };
    }
  }
  return out;
}

/** The raw words of a RELR table (Elf32_Relr / Elf64_Relr), unsigned. */
export function relrWords(bytes: Uint8Array, layout: RelocationLayout, allowTrailing = false): bigint[] {
  const ent = layout.is64 ? 8 : 4;
  if (!allowTrailing) checkWhole(bytes.length, ent, "RELR table", layout);
  const r = new EndianReader(bytes, layout.littleEndian, layout.base ?? 0, layout.source);
  const n = Math.floor(bytes.length / ent);
  const out: bigint[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = layout.is64 ? r.u64(i * ent, "relr") : BigInt(r.u32(i * ent, "relr"));
  return out;
}

/**
 * Expand RELR words into the addresses to relocate (gABI SHT_RELR; glibc `ELF_DYNAMIC_DO_RELR`,
 * binutils readelf `slurp_relr_relocs`). An even word is an address: relocate it and continue from
 * the next word-sized slot. An odd word is a bitmap: bit j (1 ≤ j < wordbits) relocates
 * base + (j - 1) * wordsize; afterwards base advances by (wordbits - 1) words.
 *
 * Addresses wrap at the class width, as glibc's ElfW(Addr) arithmetic does. A bitmap before any
 * address word applies from base 0, which is what both glibc and readelf compute.
 */
export function decodeRelrWords(words: readonly bigint[], is64: boolean): bigint[] {
  const size = is64 ? 8n : 4n;
  const bits = is64 ? 64n : 32n;
  const mask = (1n << bits) - 1n;
  const out: bigint[] = [];
  let base = 0n;
  for (const w of words) {
    if ((w & 1n) === 0n) {
      out.push(w);
      base = (w + size) & mask;
    } else {
      let entry = w >> 1n;
      let addr = base;
      while (entry !== 0n) {
        if ((entry & 1n) !== 0n) out.push(addr);
        entry >>= 1n;
        addr = (addr + size) & mask;
      }
      base = (base + size * (bits - 1n)) & mask;
    }
  }
  return out;
}

/** Decode RELR bytes to addresses (see decodeRelrWords). */
export function decodeRelr(bytes: Uint8Array, layout: RelocationLayout, allowTrailing = false): bigint[] {
  return decodeRelrWords(relrWords(bytes, layout, allowTrailing), layout.is64);
}

/**
 * Encode sorted, word-aligned addresses as RELR words (the packing lld and GNU ld emit: an address
 * word, then bitmaps covering the following wordbits - 1 slots each while any of them is used).
 */
export function encodeRelr(addresses: readonly bigint[], is64: boolean): bigint[] {
  const size = is64 ? 8n : 4n;
  const nbits = is64 ? 63 : 31;
  const out: bigint[] = [];
  let i = 0;
  const sorted = [...addresses].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const a of sorted) {
    if (a % size !== 0n) throw new RelocationFormatError(`RELR address ${hex(a)} is not ${size}-byte aligned`);
  }
  while (i < sorted.length) {
    const start = sorted[i] as bigint;
    out.push(start);
    let base = start + size;
    i++;
    while (i < sorted.length && sorted[i] === start) i++;
    for (;;) {
      let bitmap = 0n;
      while (i < sorted.length) {
        const d = (sorted[i] as bigint) - base;
        if (d < 0n) {
          i++;
          continue;
        }
        const slot = d / size;
        if (slot >= BigInt(nbits)) break;
        bitmap |= 1n << slot;
        i++;
      }
      if (bitmap === 0n) break;
      out.push((bitmap << 1n) | 1n);
      base += size * BigInt(nbits);
    }
  }
  return out;
}

function sectionKind(sec: SectionHeader): RelocationKind | "relr" {
  if (sec.type === SHT_REL) return "rel";
  if (sec.type === SHT_RELA) return "rela";
  if (sec.type === SHT_RELR) return "relr";
  throw new RelocationFormatError(
    `section [${sec.index}] ${sec.name} is not a relocation section (type ${hex(sec.type)})`,
    {
      offset: sec.offset,
    },
  );
}

function sectionBytes(elf: ElfFile, sec: SectionHeader, kind: RelocationKind | "relr"): Uint8Array {
  const ent = relocationEntrySize(kind, elf.is64);
  if (sec.entsize !== BigInt(ent)) {
    throw new RelocationFormatError(
      `section [${sec.index}] ${sec.name}: sh_entsize ${sec.entsize} is not ${ent} (sizeof ${kind.toUpperCase()} entry)`,
      { source: elf.name, offset: sec.offset },
    );
  }
  const bytes = elf.sectionData(sec);
  checkWhole(bytes.length, ent, `section [${sec.index}] ${sec.name}`, {
    is64: elf.is64,
    littleEndian: elf.littleEndian,
    base: elf.num(sec.offset, "sh_offset"),
    source: elf.name,
  });
  return bytes;
}

/** The records of an SHT_REL or SHT_RELA section; sh_entsize and sh_size are checked. */
export function sectionRelocations(elf: ElfFile, sec: SectionHeader): Relocation[] {
  const kind = sectionKind(sec);
  if (kind === "relr") {
    throw new RelocationFormatError(`section [${sec.index}] ${sec.name} is SHT_RELR; use sectionRelr`, {
      source: elf.name,
      offset: sec.offset,
    });
  }
  return decodeRelocations(sectionBytes(elf, sec, kind), kind, {
    is64: elf.is64,
    littleEndian: elf.littleEndian,
    base: elf.num(sec.offset, "sh_offset"),
    source: elf.name,
  });
}

/** The addresses an SHT_RELR section relocates; sh_entsize and sh_size are checked. */
export function sectionRelr(elf: ElfFile, sec: SectionHeader): bigint[] {
  const kind = sectionKind(sec);
  if (kind !== "relr") {
    throw new RelocationFormatError(`section [${sec.index}] ${sec.name} is not SHT_RELR`, {
      source: elf.name,
      offset: sec.offset,
    });
  }
  return decodeRelr(sectionBytes(elf, sec, kind), {
    is64: elf.is64,
    littleEndian: elf.littleEndian,
    base: elf.num(sec.offset, "sh_offset"),
    source: elf.name,
  });
}

/** Encode REL/RELA records (for the ELF writer and tests). */
export function encodeRelocations(
  records: readonly (
    | { readonly offset: bigint; readonly sym: number; readonly type: number; readonly addend?: bigint }
    | Relocation
  )[],
  kind: RelocationKind,
  is64: boolean,
  littleEndian: boolean,
): Uint8Array {
  const ent = relocationEntrySize(kind, is64);
  const out = new Uint8Array(ent * records.length);
  const v = new DataView(out.buffer);
  records.forEach((rec, i) => {
    const o = i * ent;
    const info = makeInfo(rec.sym, rec.type, is64);
    const addend = "addend" in rec && rec.addend !== undefined ? rec.addend : 0n;
    if (is64) {
      v.setBigUint64(o, BigInt.asUintN(64, rec.offset), littleEndian);
      v.setBigUint64(o + 8, info, littleEndian);
      if (kind === "rela") v.setBigInt64(o + 16, BigInt.asIntN(64, addend), littleEndian);
    } else {
      v.setUint32(o, Number(BigInt.asUintN(32, rec.offset)), littleEndian);
      v.setUint32(o + 4, Number(info), littleEndian);
      if (kind === "rela") v.setInt32(o + 8, Number(BigInt.asIntN(32, addend)), littleEndian);
    }
  });
  return out;
}
