/**
 * Encoders for the tables the ELF writer builds itself: string tables, the two symbol hash tables,
 * GNU symbol versioning and packed RELR relocations. Each takes plain values and returns bytes in the
 * file's byte order; the writer places them. Layouts follow the ELF gABI, the GNU extensions as
 * documented in binutils (`bfd/elflink.c`) and what glibc reads (`dl-lookup.c`, `dl-version.c`).
 */
import { ByteWriter } from "../bytes/writer.ts";
import { LdsimError } from "../errors.ts";
import { gnuHash, sysvHash } from "./hash-function.ts";

/** A deduplicating string table: offset 0 is the empty string, as every ELF string table starts. */
export class StringTableBuilder {
  private readonly offsets = new Map<string, number>();
  private readonly parts: Uint8Array[] = [new Uint8Array(1)];
  private size = 1;

  /** Offset of `s`, adding it on first use. Names are bytes: code points above 0xff are rejected. */
  add(s: string): number {
    if (s === "") return 0;
    const known = this.offsets.get(s);
    if (known !== undefined) return known;
    const bytes = new Uint8Array(s.length + 1);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 0 || c > 0xff) throw new LdsimError(`ELF writer: name ${JSON.stringify(s)} is not a byte string`);
      bytes[i] = c;
    }
    const at = this.size;
    this.offsets.set(s, at);
    this.parts.push(bytes);
    this.size += bytes.length;
    return at;
  }
  /** Offset of a string already added. */
  offsetOf(s: string): number {
    const at = s === "" ? 0 : this.offsets.get(s);
    if (at === undefined) throw new LdsimError(`ELF writer: string ${JSON.stringify(s)} was never added`);
    return at;
  }
  get length(): number {
    return this.size;
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

/**
 * Bucket count for both hash tables, chosen as GNU ld does without `-O` (bfd `compute_bucket_count`):
 * the largest entry of this prime table not above the number of hashed symbols, and at least 2 for
 * DT_GNU_HASH.
 */
const BUCKET_SIZES = [1, 3, 17, 37, 67, 97, 131, 197, 263, 521, 1031, 2053, 4099, 8209, 16411, 32771, 65537, 131101];
export function bucketCount(nsyms: number, gnu = false): number {
  let best = 1;
  for (let i = 0; i < BUCKET_SIZES.length; i++) {
    best = BUCKET_SIZES[i] as number;
    const next = BUCKET_SIZES[i + 1];
    if (next === undefined || nsyms < next) break;
  }
  return gnu && best < 2 ? 2 : best;
}

/**
 * SysV `DT_HASH`: nbucket, nchain, buckets, chains. `names[i]` is the name of dynamic symbol i (index 0
 * is the null symbol and is never hashed). Entries are 4 bytes, except on 64-bit s390 and Alpha where
 * the ABI makes them 8 (binutils `hash_entry_size`, readelf's `hash_ent_size`).
 */
export function encodeSysvHash(names: readonly string[], littleEndian: boolean, entrySize: 4 | 8): Uint8Array {
  const nchain = names.length;
  const nbucket = bucketCount(Math.max(0, nchain - 1));
  const buckets = new Array<number>(nbucket).fill(0);
  const chains = new Array<number>(nchain).fill(0);
  // Insert in index order, each new symbol at the head of its bucket, as bfd does; any order is valid.
  for (let i = 1; i < nchain; i++) {
    const b = sysvHash(names[i] as string) % nbucket;
    chains[i] = buckets[b] as number;
    buckets[b] = i;
  }
  const w = new ByteWriter(littleEndian, (2 + nbucket + nchain) * entrySize);
  const word = (v: number) => (entrySize === 8 ? w.u64(BigInt(v)) : w.u32(v));
  word(nbucket);
  word(nchain);
  for (const b of buckets) word(b);
  for (const c of chains) word(c);
  return w.finish();
}

export interface GnuHashLayout {
  /** Order of the hashed symbols (indices into the input list), as they must appear in .dynsym. */
  readonly order: readonly number[];
  readonly nbuckets: number;
}

/**
 * Order the symbols GNU hash requires: grouped by bucket (`hash % nbuckets`), stable within a bucket.
 * The hashed symbols must be the last ones of .dynsym, in this order.
 */
export function gnuHashOrder(names: readonly string[]): GnuHashLayout {
  const nbuckets = bucketCount(names.length, true);
  const keyed = names.map((n, i) => ({ i, b: gnuHash(n) % nbuckets }));
  keyed.sort((a, b) => a.b - b.b || a.i - b.i);
  return { order: keyed.map((k) => k.i), nbuckets };
}

/**
 * `DT_GNU_HASH` (bfd `elf_gnu_hash_process_symidx`, read by glibc `_dl_setup_hash`/`do_lookup_x`):
 * nbuckets, symoffset, bloom_size, bloom_shift, the Bloom filter (ELF-class words), buckets, then
 * one chain word per hashed symbol (hash with bit 0 set on the last symbol of each bucket).
 * `hashedNames` are the names of dynamic symbols `symoffset..`, already in gnuHashOrder order.
 */
export function encodeGnuHash(
  hashedNames: readonly string[],
  nbuckets: number,
  symoffset: number,
  is64: boolean,
  littleEndian: boolean,
): Uint8Array {
  const n = hashedNames.length;
  if (n === 0) {
    // GNU ld's empty table: one empty bucket, symoffset 1, one all-zero Bloom word, shift 0.
    const w = new ByteWriter(littleEndian, 24);
    w.u32(1).u32(1).u32(1).u32(0);
    if (is64) w.u64(0n);
    else w.u32(0);
    return w.u32(0).finish();
  }
  const hashes = hashedNames.map((s) => gnuHash(s));
  const c = is64 ? 64 : 32;
  const shift1 = is64 ? 6 : 5;
  // Bloom filter sized as GNU ld 2.40 sizes it (bfd `bfd_elf_size_dynsym_hash_dynstr`): 2-4 bits
  // per symbol. Checked byte for byte against ld's .gnu.hash in test/formats/elf/writer-tables.test.ts.
  let maskLog2 = (n <= 1 ? 0 : Math.floor(Math.log2(n))) + 1;
  if (maskLog2 < 3) maskLog2 = 5;
  else if ((1 << (maskLog2 - 2)) & n) maskLog2 += 3;
  else maskLog2 += 2;
  if (is64 && maskLog2 === 5) maskLog2 = 6;
  const bloomShift = maskLog2;
  const bloomSize = 2 ** (maskLog2 - shift1);
  const bloom = new Array<bigint>(bloomSize).fill(0n);
  const buckets = new Array<number>(nbuckets).fill(0);
  const chain = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    const h = hashes[i] as number;
    const word = Math.floor(h / c) % bloomSize;
    bloom[word] = (bloom[word] as bigint) | (1n << BigInt(h % c)) | (1n << BigInt((h >>> bloomShift) % c));
    const b = h % nbuckets;
    if (buckets[b] === 0) buckets[b] = symoffset + i;
    else if ((hashes[i - 1] as number) % nbuckets !== b) {
      throw new LdsimError("ELF writer: GNU hash symbols are not grouped by bucket");
    }
    const last = i === n - 1 || (hashes[i + 1] as number) % nbuckets !== b;
    chain[i] = last ? (h | 1) >>> 0 : (h & ~1) >>> 0;
  }
  const w = new ByteWriter(littleEndian, 16 + bloomSize * (c / 8) + (nbuckets + n) * 4);
  w.u32(nbuckets).u32(symoffset).u32(bloomSize).u32(bloomShift);
  for (const b of bloom) {
    if (is64) w.u64(b);
    else w.u32(Number(b));
  }
  for (const b of buckets) w.u32(b);
  for (const h of chain) w.u32(h);
  return w.finish();
}

/** What the version encoders need of a string table: the offset of each name. */
export type StringOffsets = Pick<StringTableBuilder, "offsetOf">;

export const VER_FLG_BASE = 1;
export const VER_FLG_WEAK = 2;

export interface VerdefEntry {
  readonly index: number;
  readonly flags: number;
  /** Version name, then its parents (`vda_name` of the extra Verdaux entries). */
  readonly names: readonly string[];
}

/** `.gnu.version_d`: Verdef (20 bytes) each followed by its Verdaux (8 bytes) list. */
export function encodeVerdef(defs: readonly VerdefEntry[], strings: StringOffsets, le: boolean): Uint8Array {
  const w = new ByteWriter(le);
  defs.forEach((d, i) => {
    const last = i === defs.length - 1;
    w.u16(1)
      .u16(d.flags)
      .u16(d.index)
      .u16(d.names.length)
      .u32(sysvHash(d.names[0] as string))
      .u32(20)
      .u32(last ? 0 : 20 + 8 * d.names.length);
    d.names.forEach((name, j) => {
      w.u32(strings.offsetOf(name)).u32(j === d.names.length - 1 ? 0 : 8);
    });
  });
  return w.finish();
}

export interface VerneedEntry {
  readonly file: string;
  readonly versions: readonly { readonly name: string; readonly flags: number; readonly index: number }[];
}

/** `.gnu.version_r`: Verneed (16 bytes) each followed by its Vernaux (16 bytes) list. */
export function encodeVerneed(needs: readonly VerneedEntry[], strings: StringOffsets, le: boolean): Uint8Array {
  const w = new ByteWriter(le);
  needs.forEach((n, i) => {
    const last = i === needs.length - 1;
    w.u16(1)
      .u16(n.versions.length)
      .u32(strings.offsetOf(n.file))
      .u32(16)
      .u32(last ? 0 : 16 + 16 * n.versions.length);
    n.versions.forEach((v, j) => {
      w.u32(sysvHash(v.name))
        .u16(v.flags)
        .u16(v.index)
        .u32(strings.offsetOf(v.name))
        .u32(j === n.versions.length - 1 ? 0 : 16);
    });
  });
  return w.finish();
}

/**
 * Packed relative relocations (`SHT_RELR`, gABI; lld `RelrSection::updateAllocSize`): an even word is
 * an address to relocate; an odd word is a bitmap whose bit i (i ≥ 1) relocates the word i-1 places
 * after the previous run's base. Addresses must be word-aligned; duplicates are dropped.
 */
export function encodeRelr(addresses: readonly bigint[], is64: boolean, le: boolean): Uint8Array {
  const wordSize = is64 ? 8n : 4n;
  const nbits = is64 ? 63n : 31n;
  const sorted = [...new Set(addresses)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const a of sorted) {
    if (a % wordSize !== 0n) throw new LdsimError(`ELF writer: RELR address 0x${a.toString(16)} is not word-aligned`);
  }
  const words: bigint[] = [];
  for (let i = 0; i < sorted.length; ) {
    const first = sorted[i] as bigint;
    words.push(first);
    let base = first + wordSize;
    i++;
    for (;;) {
      let bitmap = 0n;
      for (; i < sorted.length; i++) {
        const d = (sorted[i] as bigint) - base;
        if (d >= nbits * wordSize) break;
        bitmap |= 1n << (d / wordSize);
      }
      if (bitmap === 0n) break;
      words.push((bitmap << 1n) | 1n);
      base += nbits * wordSize;
    }
  }
  const w = new ByteWriter(le, words.length * Number(wordSize));
  for (const x of words) {
    if (is64) w.u64(x);
    else w.u32(Number(x));
  }
  return w.finish();
}
