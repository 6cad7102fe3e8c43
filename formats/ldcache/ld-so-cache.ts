import { EndianReader } from "../bytes/endian.ts";
import { FormatError, hex } from "../errors.ts";

/**
 * /etc/ld.so.cache as ldconfig writes it and ld.so reads it (glibc sysdeps/generic/dl-cache.h,
 * elf/dl-cache.c): an optional old `ld.so-1.7.0` table, then the `glibc-ld.so.cache1.1` header,
 * its 24-byte entries, the string table and the extension directory (tag 0 = generator string,
 * tag 1 = the glibc-hwcaps subdirectory names). A pure reader: bytes in, records out.
 */

export const CACHEMAGIC_OLD = "ld.so-1.7.0";
export const CACHEMAGIC_NEW = "glibc-ld.so.cache";
export const CACHE_VERSION = "1.1";
/** `struct cache_file_new` is 48 bytes; each `struct file_entry_new` 24. */
const NEW_HEADER_SIZE = 48;
const NEW_ENTRY_SIZE = 24;
const OLD_HEADER_SIZE = 16;
const OLD_ENTRY_SIZE = 12;
export const CACHE_EXTENSION_MAGIC = 0xeaa42174;
export const CACHE_EXTENSION_TAG_GENERATOR = 0;
export const CACHE_EXTENSION_TAG_GLIBC_HWCAPS = 1;
/** Bit 62 of `hwcap`: the low 32 bits index the glibc-hwcaps extension (dl-cache.h). */
export const DL_CACHE_HWCAP_EXTENSION = 1n << 62n;
/** Bits 32..41 of `hwcap`: the ISA level a named-hwcaps entry needs. */
export const DL_CACHE_HWCAP_ISA_LEVEL_SHIFT = 32n;
export const DL_CACHE_HWCAP_ISA_LEVEL_MASK = 0x3ffn;
export const FLAG_ELF_LIBC6 = 0x0003;
export const FLAG_X8664_LIB64 = 0x0300;
export const FLAG_AARCH64_LIB64 = 0x0a00;

export interface CacheEntry {
  readonly flags: number;
  readonly key: string;
  readonly value: string;
  readonly keyOffset: number;
  readonly valueOffset: number;
  readonly osVersion: number;
  readonly hwcap: bigint;
}

export interface CacheExtensionSection {
  readonly tag: number;
  readonly flags: number;
  readonly offset: number;
  readonly size: number;
}

export interface LdSoCache {
  readonly format: "new" | "old" | "old+new";
  /** 0 unset, 1 invalid, 2 little, 3 big (the new header's `flags`). */
  readonly endianFlag: number;
  readonly entries: readonly CacheEntry[];
  readonly extensions: readonly CacheExtensionSection[];
  /** Tag 0: the ldconfig that wrote the file. */
  readonly generator: string | undefined;
  /** Tag 1: subdirectory names (e.g. `x86-64-v3`) indexed by the low bits of a named-hwcap entry. */
  readonly hwcapsSubdirs: readonly string[];
}

function cstr(bytes: Uint8Array, off: number, source: string): string {
  if (off < 0 || off >= bytes.length)
    throw new FormatError(`string offset ${hex(off)} outside the cache`, { source, offset: off });
  const end = bytes.indexOf(0, off);
  if (end < 0) throw new FormatError(`string at ${hex(off)} is not NUL-terminated`, { source, offset: off });
  return Buffer.from(bytes.subarray(off, end)).toString("latin1");
}

function startsWith(bytes: Uint8Array, at: number, text: string): boolean {
  if (at + text.length > bytes.length) return false;
  for (let i = 0; i < text.length; i++) if (bytes[at + i] !== text.charCodeAt(i)) return false;
  return true;
}

/**
 * The last cache parsed, kept by content: every simulated ld.so run reads the same /etc/ld.so.cache
 * (through its own mapping, so the bytes are a new array each time), and a parse is a pure function
 * of the bytes and the source name. A byte comparison (memcmp) is far cheaper than the ~2000
 * string decodes of a parse.
 */
let lastParse: { readonly bytes: Uint8Array; readonly source: string; readonly cache: LdSoCache } | undefined;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** Parse the whole cache file. Little-endian unless the header says big (flags = 3). */
export function parseLdSoCache(bytes: Uint8Array, source = "/etc/ld.so.cache"): LdSoCache {
  if (lastParse && lastParse.source === source && sameBytes(lastParse.bytes, bytes)) return lastParse.cache;
  const cache = parseLdSoCacheUncached(bytes, source);
  // A copy: the caller's array may be reused or modified after we return.
  lastParse = { bytes: bytes.slice(), source, cache };
  return cache;
}

function parseLdSoCacheUncached(bytes: Uint8Array, source: string): LdSoCache {
  let newAt = 0;
  let format: LdSoCache["format"] = "new";
  let oldCount = 0;
  if (startsWith(bytes, 0, CACHEMAGIC_OLD)) {
    const r = new EndianReader(bytes, true, 0, source);
    oldCount = r.u32(12, "old nlibs");
    const oldEnd = OLD_HEADER_SIZE + oldCount * OLD_ENTRY_SIZE;
    if (oldEnd > bytes.length)
      throw new FormatError(`old table of ${oldCount} entries overruns the file`, { source, offset: 12 });
    // ALIGN_CACHE: the new header follows 8-aligned (dl-cache.h).
    newAt = (oldEnd + 7) & ~7;
    format = startsWith(bytes, newAt, CACHEMAGIC_NEW) ? "old+new" : "old";
  }
  if (format === "old") return parseOld(bytes, oldCount, source);
  if (!startsWith(bytes, newAt, CACHEMAGIC_NEW) || !startsWith(bytes, newAt + 17, CACHE_VERSION)) {
    throw new FormatError("not a glibc-ld.so.cache1.1 file", { source, offset: newAt });
  }
  const endianFlag = bytes[newAt + 28] ?? 0;
  const le = endianFlag !== 3;
  const r = new EndianReader(bytes, le, 0, source);
  const nlibs = r.u32(newAt + 20, "nlibs");
  const lenStrings = r.u32(newAt + 24, "len_strings");
  const extOffset = r.u32(newAt + 32, "extension_offset");
  const entriesEnd = newAt + NEW_HEADER_SIZE + nlibs * NEW_ENTRY_SIZE;
  if (entriesEnd > bytes.length) {
    throw new FormatError(`${nlibs} entries overrun the file (${bytes.length} bytes)`, { source, offset: newAt + 20 });
  }
  void lenStrings;
  const entries: CacheEntry[] = [];
  for (let i = 0; i < nlibs; i++) {
    const at = newAt + NEW_HEADER_SIZE + i * NEW_ENTRY_SIZE;
    // String offsets are relative to the new header (cache_new in dl-cache.c).
    const keyOffset = r.u32(at + 4, "key");
    const valueOffset = r.u32(at + 8, "value");
    entries.push({
      flags: r.i32(at, "flags"),
      keyOffset,
      valueOffset,
      key: cstr(bytes, newAt + keyOffset, source),
      value: cstr(bytes, newAt + valueOffset, source),
      osVersion: r.u32(at + 12, "osversion"),
      hwcap: r.u64(at + 16, "hwcap"),
    });
  }
  const extensions: CacheExtensionSection[] = [];
  let generator: string | undefined;
  const hwcapsSubdirs: string[] = [];
  if (extOffset !== 0 && extOffset % 4 === 0 && extOffset + 8 <= bytes.length) {
    const at = newAt + extOffset;
    if (at + 8 <= bytes.length && r.u32(at, "extension magic") === CACHE_EXTENSION_MAGIC) {
      const count = r.u32(at + 4, "extension count");
      if (at + 8 + count * 16 > bytes.length)
        throw new FormatError(`${count} extension sections overrun the file`, { source, offset: at + 4 });
      for (let i = 0; i < count; i++) {
        const s = at + 8 + i * 16;
        const sec = { tag: r.u32(s), flags: r.u32(s + 4), offset: r.u32(s + 8), size: r.u32(s + 12) };
        extensions.push(sec);
        if (sec.offset + sec.size > bytes.length) continue;
        if (sec.tag === CACHE_EXTENSION_TAG_GENERATOR) {
          generator = Buffer.from(bytes.subarray(sec.offset, sec.offset + sec.size)).toString("latin1");
        } else if (sec.tag === CACHE_EXTENSION_TAG_GLIBC_HWCAPS && sec.size % 4 === 0) {
          for (let k = 0; k < sec.size; k += 4) hwcapsSubdirs.push(cstr(bytes, newAt + r.u32(sec.offset + k), source));
        }
      }
    }
  }
  return { format, endianFlag, entries, extensions, generator, hwcapsSubdirs };
}

function parseOld(bytes: Uint8Array, nlibs: number, source: string): LdSoCache {
  const r = new EndianReader(bytes, true, 0, source);
  const strings = OLD_HEADER_SIZE + nlibs * OLD_ENTRY_SIZE;
  const entries: CacheEntry[] = [];
  for (let i = 0; i < nlibs; i++) {
    const at = OLD_HEADER_SIZE + i * OLD_ENTRY_SIZE;
    const keyOffset = r.u32(at + 4);
    const valueOffset = r.u32(at + 8);
    entries.push({
      flags: r.i32(at),
      keyOffset,
      valueOffset,
      key: cstr(bytes, strings + keyOffset, source),
      value: cstr(bytes, strings + valueOffset, source),
      osVersion: 0,
      hwcap: 0n,
    });
  }
  return { format: "old", endianFlag: 0, entries, extensions: [], generator: undefined, hwcapsSubdirs: [] };
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/**
 * `_dl_cache_libcmp` (elf/dl-cache.c): a "version sort" — runs of digits compare numerically and a
 * digit sorts after a non-digit. Returns <0, 0, >0 like strcmp.
 */
export function cacheLibcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  const at = (s: string, k: number) => (k < s.length ? s.charCodeAt(k) : 0);
  while (at(a, i) !== 0) {
    const c1 = at(a, i);
    const c2 = at(b, j);
    if (isDigit(c1)) {
      if (!isDigit(c2)) return 1;
      let v1 = 0;
      let v2 = 0;
      while (isDigit(at(a, i))) v1 = (v1 * 10 + at(a, i++) - 0x30) | 0;
      while (isDigit(at(b, j))) v2 = (v2 * 10 + at(b, j++) - 0x30) | 0;
      if (v1 !== v2) return v1 - v2;
    } else if (isDigit(c2)) return -1;
    else if (c1 !== c2) return c1 - c2;
    else {
      i++;
      j++;
    }
  }
  return at(a, i) - at(b, j);
}

/** What `search_cache` needs to know about the running machine. */
export interface CacheSearchContext {
  /** `_DL_CACHE_DEFAULT_ID` (x86_64: 0x0303, aarch64: 0x0a03). */
  readonly defaultId: number;
  /** hwcap bits an ordinary (legacy) entry may carry: `dl_hwcap & hwcap_mask | platform | TLS`. */
  readonly allowedHwcap: bigint;
  /** Priority of a glibc-hwcaps subdirectory name (1 = best), 0 when not usable here. */
  readonly hwcapsPriority: (subdir: string) => number;
  /** The ISA level this CPU supports (for named-hwcaps entries). */
  readonly isaLevel: number;
}

/**
 * `search_cache` (glibc 2.36 elf/dl-cache.c): binary search over the entries (sorted descending by
 * `_dl_cache_libcmp`), back up to the first equal key, then scan the equal keys: named glibc-hwcaps
 * entries (listed first) compete by priority; the first usable ordinary entry ends the scan once a
 * best exists, and an entry whose flags equal the default id stops it. Returns the path or undefined.
 */
export function searchCache(cache: LdSoCache, name: string, ctx: CacheSearchContext): string | undefined {
  const e = cache.entries;
  let left = 0;
  let right = e.length - 1;
  let best: string | undefined;
  let bestPriority = 0;
  while (left <= right) {
    let middle = (left + right) >> 1;
    const cmp = cacheLibcmp(name, (e[middle] as CacheEntry).key);
    if (cmp === 0) {
      left = middle;
      while (middle > 0 && cacheLibcmp(name, (e[middle - 1] as CacheEntry).key) === 0) middle--;
      do {
        const lib = e[middle] as CacheEntry;
        if (middle > left && cacheLibcmp(name, lib.key) !== 0) break;
        const flags = lib.flags;
        if (flags === 1 || flags === ctx.defaultId) {
          const named = cache.format !== "old" && (lib.hwcap & DL_CACHE_HWCAP_EXTENSION) !== 0n;
          if (named) {
            const level = Number((lib.hwcap >> DL_CACHE_HWCAP_ISA_LEVEL_SHIFT) & DL_CACHE_HWCAP_ISA_LEVEL_MASK);
            if (level > ctx.isaLevel) continue;
          }
          if (cache.format !== "old") {
            if (!named && best !== undefined) break;
            if (!named && (lib.hwcap & ~ctx.allowedHwcap) !== 0n) continue;
            if (named) {
              const idx = Number(lib.hwcap & 0xffffffffn);
              const sub = cache.hwcapsSubdirs[idx];
              const prio = sub === undefined ? 0 : ctx.hwcapsPriority(sub);
              if (prio === 0) continue;
              if (best === undefined || prio < bestPriority) {
                best = lib.value;
                bestPriority = prio;
              }
              continue;
            }
          }
          best = lib.value;
          if (flags === ctx.defaultId) break;
        }
      } while (++middle <= right);
      break;
    }
    if (cmp < 0) left = middle + 1;
    else right = middle - 1;
  }
  return best;
}
