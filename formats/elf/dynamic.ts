import { EndianReader } from "../bytes/endian.ts";
import { FormatError, hex } from "../errors.ts";
import { requireOffset } from "./address.ts";
import { PT_DYNAMIC, SHT_DYNAMIC, SHT_NOBITS } from "./constants.ts";
import {
  DT_AUXILIARY,
  DT_FILTER,
  DT_NEEDED,
  DT_NULL,
  DT_RPATH,
  DT_RUNPATH,
  DT_SONAME,
  DT_STRSZ,
  DT_STRTAB,
} from "./dynamic-tags.ts";
import { decodeLatin1, type ElfFile } from "./file.ts";

/**
 * The dynamic section: an array of (d_tag, d_un) pairs ending at DT_NULL (ELF gABI "Dynamic
 * Section"). Read from the file (PT_DYNAMIC or SHT_DYNAMIC) or from raw bytes, such as the loader's
 * copy of a mapped segment, since ld.so reads `l_ld` from memory, not from the file.
 */

/** One Elf32_Dyn / Elf64_Dyn. */
export interface DynamicEntry {
  readonly index: number;
  /**
   * d_tag as the unsigned value of its field (32 or 64 bits), as binutils reads it; the tags elf.h
   * defines are all small positive numbers, so this equals the signed Sxword for every real tag.
   */
  readonly tag: bigint;
  /** d_val or d_ptr (which one depends on the tag); unsigned. */
  readonly value: bigint;
}

export interface ParsedDynamic {
  /** Entries up to and including the first DT_NULL (readelf prints and counts it). */
  readonly entries: readonly DynamicEntry[];
  /** Whether a DT_NULL ended the array before the bytes ran out. */
  readonly terminated: boolean;
}

export interface DynamicSection extends ParsedDynamic {
  /** File offset and size of the bytes parsed. */
  readonly offset: number;
  readonly size: number;
  /** Where the location came from. */
  readonly from: "segment" | "section";
}

/** Size of one entry: Elf32_Dyn is 8 bytes, Elf64_Dyn 16. */
export function dynamicEntrySize(is64: boolean): number {
  return is64 ? 16 : 8;
}

/**
 * Parse dynamic entries from `bytes`, stopping after the first DT_NULL (binutils readelf.c
 * `get_dynamic_section` counts entries up to and including it; glibc `elf_get_dynamic_info` loops
 * `while (dyn->d_tag != DT_NULL)`). A trailing partial entry is ignored, as readelf's
 * `dynamic_size / entsize` division does.
 */
export function parseDynamic(
  bytes: Uint8Array,
  is64: boolean,
  littleEndian: boolean,
  options: { readonly base?: number; readonly source?: string | undefined } = {},
): ParsedDynamic {
  const r = new EndianReader(bytes, littleEndian, options.base ?? 0, options.source);
  const ent = dynamicEntrySize(is64);
  const count = Math.floor(bytes.length / ent);
  const entries: DynamicEntry[] = [];
  for (let i = 0; i < count; i++) {
    const o = i * ent;
    const tag = is64 ? r.u64(o, "d_tag") : BigInt(r.u32(o, "d_tag"));
    const value = is64 ? r.u64(o + 8, "d_val") : BigInt(r.u32(o + 4, "d_val"));
    entries.push({ index: i, tag, value });
    if (tag === DT_NULL) return { entries, terminated: true };
  }
  return { entries, terminated: false };
}

/**
 * Read a dynamic array from a loaded image, entry by entry, as ld.so walks `l_ld` until DT_NULL
 * (glibc `elf_get_dynamic_info`): there is no size in memory, so `maxEntries` bounds the walk and a
 * missing terminator within it raises a FormatError instead of reading on forever.
 *
 * `granule` (a power of two, e.g. the page size): memory is read up to the next multiple of it at a
 * time instead of one entry at a time. Readability changes only at page boundaries, so with the page
 * size this touches exactly the pages the entry-by-entry walk would and faults at the same entry.
 */
export function readDynamicFromMemory(
  read: (address: bigint, length: number) => Uint8Array,
  address: bigint,
  is64: boolean,
  littleEndian: boolean,
  options: { readonly maxEntries?: number; readonly source?: string; readonly granule?: number } = {},
): ParsedDynamic {
  const ent = dynamicEntrySize(is64);
  const max = options.maxEntries ?? 4096;
  const granule = BigInt(Math.max(ent, options.granule ?? ent));
  const entries: DynamicEntry[] = [];
  let at = address;
  let chunk: Uint8Array = new Uint8Array(0);
  let view = new DataView(chunk.buffer);
  let pos = 0;
  for (let i = 0; i < max; i++) {
    if (pos + ent > chunk.length) {
      // Up to 32 entries, never past the end of the granule, at least one entry (an entry may
      // straddle the boundary): a typical array (30-40 entries) in one or two small reads.
      const toBoundary = Number(granule - (at % granule));
      chunk = read(at, toBoundary >= ent ? Math.min(toBoundary - (toBoundary % ent), 32 * ent) : ent);
      view = new DataView(chunk.buffer, chunk.byteOffset, chunk.length);
      pos = 0;
      if (chunk.length < ent) throw new FormatError(`short read of dynamic entry ${i} at ${hex(at)}`, options);
    }
    const tag = is64 ? view.getBigUint64(pos, littleEndian) : BigInt(view.getUint32(pos, littleEndian));
    const value = is64 ? view.getBigUint64(pos + 8, littleEndian) : BigInt(view.getUint32(pos + 4, littleEndian));
    entries.push({ index: i, tag, value });
    if (tag === DT_NULL) return { entries, terminated: true };
    pos += ent;
    at += BigInt(ent);
  }
  throw new FormatError(`no DT_NULL within ${max} dynamic entries from ${hex(address)}`, {
    source: options.source,
    offset: address,
  });
}

/** Encode dynamic entries (the inverse of parseDynamic), e.g. to build test images or a loaded copy. */
export function encodeDynamic(
  entries: readonly { readonly tag: bigint; readonly value: bigint }[],
  is64: boolean,
  littleEndian: boolean,
): Uint8Array {
  const ent = dynamicEntrySize(is64);
  const out = new Uint8Array(entries.length * ent);
  const v = new DataView(out.buffer);
  const bits = is64 ? 64 : 32;
  entries.forEach((e, i) => {
    for (const [what, x] of [
      ["d_tag", e.tag],
      ["d_val", e.value],
    ] as const) {
      if (x < 0n || x !== BigInt.asUintN(bits, x)) {
        throw new FormatError(`${what} ${hex(x)} of entry ${i} does not fit in ${bits} bits`);
      }
    }
    if (is64) {
      v.setBigUint64(i * ent, e.tag, littleEndian);
      v.setBigUint64(i * ent + 8, e.value, littleEndian);
    } else {
      v.setUint32(i * ent, Number(e.tag), littleEndian);
      v.setUint32(i * ent + 4, Number(e.value), littleEndian);
    }
  });
  return out;
}

/**
 * Find and parse an ELF file's dynamic array: the PT_DYNAMIC segment (what ld.so uses), or, in a
 * file without one, the first SHT_DYNAMIC section. Undefined when there is neither, or when the
 * section is SHT_NOBITS (nothing in the file to read).
 */
export function readDynamic(elf: ElfFile): DynamicSection | undefined {
  const ph = elf.programHeaders.find((p) => p.type === PT_DYNAMIC);
  let offset: number;
  let size: number;
  let from: DynamicSection["from"];
  if (ph) {
    offset = elf.num(ph.offset, "PT_DYNAMIC p_offset");
    size = elf.num(ph.filesz, "PT_DYNAMIC p_filesz");
    from = "segment";
  } else {
    const sec = elf.sections.find((s) => s.type === SHT_DYNAMIC);
    if (!sec || sec.type === SHT_NOBITS) return undefined;
    offset = elf.num(sec.offset, `section ${sec.index} sh_offset`);
    size = elf.num(sec.size, `section ${sec.index} sh_size`);
    from = "section";
  }
  const bytes = elf.readBytes(offset, size, "dynamic section");
  const parsed = parseDynamic(bytes, elf.is64, elf.littleEndian, { base: offset, source: elf.name });
  return { ...parsed, offset, size, from };
}

/**
 * The dynamic array decoded by tag, like musl's `decode_vec` or glibc's `l_info`: `values` holds
 * each tag's value with a later entry overriding an earlier one (both loaders just assign
 * `info[tag] = dyn` in order); the repeatable tags (DT_NEEDED, DT_AUXILIARY, DT_FILTER) are read
 * from `entries` in order (dynList). DT_NULL is not included.
 */
export interface DecodedDynamic {
  readonly entries: readonly DynamicEntry[];
  readonly values: ReadonlyMap<bigint, bigint>;
}

export function decodeDynamic(entries: readonly DynamicEntry[]): DecodedDynamic {
  const live: DynamicEntry[] = [];
  const values = new Map<bigint, bigint>();
  for (const e of entries) {
    if (e.tag === DT_NULL) break;
    live.push(e);
    values.set(e.tag, e.value);
  }
  return { entries: live, values };
}

/** The value of `tag`, or undefined when the array has no such entry. */
export function dynValue(d: DecodedDynamic, tag: bigint): bigint | undefined {
  return d.values.get(tag);
}
/** Every value of `tag`, in order (empty when absent). */
export function dynList(d: DecodedDynamic, tag: bigint): readonly bigint[] {
  const out: bigint[] = [];
  for (const e of d.entries) if (e.tag === tag) out.push(e.value);
  return out;
}

/** The string table DT_STRTAB points at, DT_STRSZ bytes long. */
export class DynamicStringTable implements DynamicStrings {
  constructor(
    readonly bytes: Uint8Array,
    /** The table's address (DT_STRTAB) — for error messages. */
    readonly address: bigint,
    readonly source?: string,
  ) {}

  /** The NUL-terminated string at `offset`; a FormatError when it is outside or unterminated. */
  get(offset: bigint): string {
    const where = { source: this.source, offset: this.address + offset };
    if (offset < 0n || offset >= BigInt(this.bytes.length)) {
      throw new FormatError(
        `dynamic string offset ${hex(offset)} outside DT_STRTAB of ${this.bytes.length} bytes`,
        where,
      );
    }
    const start = Number(offset);
    const end = this.bytes.indexOf(0, start);
    if (end < 0) throw new FormatError(`dynamic string at offset ${hex(offset)} is not NUL-terminated`, where);
    return decodeLatin1(this.bytes, start, end);
  }
}

function strtabRange(d: DecodedDynamic, source?: string): { addr: bigint; size: bigint } | undefined {
  const addr = dynValue(d, DT_STRTAB);
  if (addr === undefined) return undefined;
  const size = dynValue(d, DT_STRSZ);
  if (size === undefined) throw new FormatError("DT_STRTAB without DT_STRSZ", { source });
  return { addr, size };
}

/**
 * The dynamic string table of an unloaded file: DT_STRTAB translated to a file offset through the
 * PT_LOAD segments. Undefined when the array has no DT_STRTAB.
 */
export function dynamicStringsFromFile(elf: ElfFile, d: DecodedDynamic): DynamicStringTable | undefined {
  const range = strtabRange(d, elf.name);
  if (!range) return undefined;
  const off = requireOffset(elf.programHeaders, range.addr, range.size, "DT_STRTAB", elf.name);
  const bytes = elf.readBytes(
    elf.num(off, "DT_STRTAB offset"),
    elf.num(range.size, "DT_STRSZ"),
    "dynamic string table",
  );
  return new DynamicStringTable(bytes, range.addr, elf.name);
}

/** What dynamicNames needs of a string table: the NUL-terminated string at an offset. */
export interface DynamicStrings {
  get(offset: bigint): string;
}

/**
 * DT_STRTAB of a mapped object, read from memory only where a string is asked for, as ld.so reads
 * `strtab + d_val` through a pointer: a page of the table nobody reads is never touched (and cannot
 * fault). Same answers and errors as DynamicStringTable over the same bytes: an offset at or past
 * DT_STRSZ, or no NUL before it, is a FormatError.
 */
export class MemoryStringTable implements DynamicStrings {
  constructor(
    private readonly read: (address: bigint, length: number) => Uint8Array,
    /** DT_STRTAB + load bias: where the table is in memory. */
    readonly base: bigint,
    readonly size: number,
    /** DT_STRTAB as the array gives it (for error messages, as DynamicStringTable reports). */
    readonly address: bigint,
    readonly source?: string,
    /** Read up to a multiple of this (a power of two, the page size) at a time. */
    private readonly granule = 4096,
  ) {}

  /**
   * The bytes of the last first-read, at table offset `chunkAt`: the names a loader asks for sit
   * together (DT_NEEDED's are usually adjacent), so one read serves several. The table is for one
   * pass of lookups — what it read stands for memory that does not change meanwhile (.dynstr).
   */
  private chunk: Uint8Array | undefined;
  private chunkAt = 0;

  get(offset: bigint): string {
    const where = { source: this.source, offset: this.address + offset };
    if (offset < 0n || offset >= BigInt(this.size)) {
      throw new FormatError(`dynamic string offset ${hex(offset)} outside DT_STRTAB of ${this.size} bytes`, where);
    }
    let off = Number(offset);
    const c = this.chunk;
    if (c !== undefined && off >= this.chunkAt && off < this.chunkAt + c.length) {
      const nul = c.indexOf(0, off - this.chunkAt);
      if (nul >= 0) return decodeLatin1(c, off - this.chunkAt, nul);
    }
    const g = BigInt(this.granule);
    const parts: Uint8Array[] = [];
    while (off < this.size) {
      const at = this.base + BigInt(off);
      // A first read of a few names, then the rest of the page (never past it).
      const want = Math.min(Number(g - (at % g)), this.size - off, parts.length === 0 ? 512 : this.size);
      const bytes = this.read(at, want);
      if (parts.length === 0) {
        this.chunk = bytes;
        this.chunkAt = off;
      }
      const nul = bytes.indexOf(0);
      if (nul >= 0) {
        parts.push(bytes.subarray(0, nul));
        let len = 0;
        for (const p of parts) len += p.length;
        const all = parts.length === 1 ? (parts[0] as Uint8Array) : new Uint8Array(len);
        if (parts.length > 1) {
          let o = 0;
          for (const p of parts) {
            all.set(p, o);
            o += p.length;
          }
        }
        return decodeLatin1(all, 0, all.length);
      }
      parts.push(bytes);
      off += bytes.length;
      if (bytes.length < want) break;
    }
    throw new FormatError(`dynamic string at offset ${hex(offset)} is not NUL-terminated`, where);
  }
}

/**
 * The dynamic string table of a mapped object at DT_STRTAB + `loadBias` (glibc adds `l_addr` to d_ptr
 * entries once mapped), read lazily through `read(address, length)` from the loader's memory.
 */
export function dynamicStringsFromMemory(
  read: (address: bigint, length: number) => Uint8Array,
  d: DecodedDynamic,
  loadBias = 0n,
  source?: string,
  granule = 4096,
): MemoryStringTable | undefined {
  const range = strtabRange(d, source);
  if (!range) return undefined;
  if (range.size > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new FormatError(`DT_STRSZ ${hex(range.size)} is too large`, { source });
  }
  return new MemoryStringTable(read, range.addr + loadBias, Number(range.size), range.addr, source, granule);
}

/** The names an object's dynamic array gives through DT_STRTAB. */
export interface DynamicNames {
  readonly needed: readonly string[];
  readonly soname: string | undefined;
  readonly rpath: string | undefined;
  readonly runpath: string | undefined;
  readonly auxiliary: readonly string[];
  readonly filter: readonly string[];
}

export function dynamicNames(d: DecodedDynamic, strings: DynamicStrings): DynamicNames {
  const one = (tag: bigint) => {
    const v = dynValue(d, tag);
    return v === undefined ? undefined : strings.get(v);
  };
  // One pass over the entries, in order (what dynList would give per tag).
  const needed: string[] = [];
  const auxiliary: string[] = [];
  const filter: string[] = [];
  for (const e of d.entries) {
    if (e.tag === DT_NEEDED) needed.push(strings.get(e.value));
    else if (e.tag === DT_AUXILIARY) auxiliary.push(strings.get(e.value));
    else if (e.tag === DT_FILTER) filter.push(strings.get(e.value));
  }
  return {
    needed,
    soname: one(DT_SONAME),
    rpath: one(DT_RPATH),
    runpath: one(DT_RUNPATH),
    auxiliary,
    filter,
  };
}
