/**
 * DT_HASH (SysV) and DT_GNU_HASH symbol hash tables, walked exactly as glibc 2.36 `do_lookup_x`
 * (elf/dl-lookup.c) walks them, with the layouts set up by `_dl_setup_hash` (elf/dl-setup_hash.c).
 *
 * The tables can be built from a section or from raw bytes plus the file's class and byte order,
 * because the loader reads them from (simulated) process memory where no section header says how
 * long they are. Only the fixed part (header, bloom words, buckets) must be present up front; chain
 * words are read on demand and bounds-checked, so a slice running to the end of the mapping works.
 *
 * Unlike glibc, every walk is bounded: a SysV chain that loops, or a GNU chain without an
 * end-of-chain bit, ends the walk instead of hanging.
 */
import { EndianReader } from "../bytes/endian.ts";
import { FormatError, hex } from "../errors.ts";
import { EM_S390, SHT_GNU_HASH, SHT_HASH } from "./constants.ts";
import type { ElfFile } from "./file.ts";
import { gnuHash, sysvHash } from "./hash-function.ts";
import type { SymbolTable } from "./symbols.ts";
import type { SectionHeader } from "./types.ts";

export interface HashTableLayout {
  readonly is64: boolean;
  readonly littleEndian: boolean;
  /**
   * Bytes per DT_HASH word: 4 everywhere except 64-bit s390 and Alpha, whose `Elf_Symndx` is 64 bits
   * (glibc `sysdeps/unix/sysv/linux/s390/bits/elfclass.h`; binutils readelf `hash_ent_size`). Default 4.
   */
  readonly sysvEntrySize?: 4 | 8;
  /** Absolute offset/address of bytes[0], for error messages. */
  readonly base?: number;
  readonly sourceName?: string;
}

/** DT_HASH: nbucket, nchain, bucket[nbucket], chain[nchain], all Elf32_Word on x86_64/aarch64. */
export class SysvHashTable {
  readonly kind = "sysv" as const;
  readonly nbucket: number;
  /** nchain: equal to the number of dynamic symbols. */
  readonly nchain: number;
  private readonly r: EndianReader;
  /** Bytes per word (4, or 8 on 64-bit s390). */
  readonly entrySize: 4 | 8;

  constructor(bytes: Uint8Array, layout: HashTableLayout) {
    this.r = new EndianReader(bytes, layout.littleEndian, layout.base ?? 0, layout.sourceName);
    this.entrySize = layout.sysvEntrySize ?? 4;
    this.nbucket = this.word(0, "DT_HASH nbucket");
    this.nchain = this.word(1, "DT_HASH nchain");
    const need = this.entrySize * (2 + this.nbucket + this.nchain);
    if (need > bytes.length) {
      throw new FormatError(
        `DT_HASH table (nbucket ${this.nbucket}, nchain ${this.nchain}) needs ${hex(need)} bytes, only ${hex(bytes.length)} available`,
        { source: layout.sourceName, offset: layout.base },
      );
    }
  }

  /** The number of dynamic symbols (nchain). */
  get symbolCount(): number {
    return this.nchain;
  }

  /** Word `i` of the table (a u32, or a u64 that must fit 32 bits on s390x). */
  private word(i: number, what: string): number {
    if (this.entrySize === 4) return this.r.u32(4 * i, what);
    const v = this.r.u64(8 * i, what);
    if (v > 0xffffffffn) {
      throw new FormatError(`${what} 0x${v.toString(16)} does not fit a symbol index`, {
        source: this.r.sourceName,
        offset: this.r.base + 8 * i,
      });
    }
    return Number(v);
  }

  bucket(i: number): number {
    return this.word(2 + i, "DT_HASH bucket");
  }
  chain(i: number): number {
    if (i < 0 || i >= this.nchain) {
      throw new FormatError(`DT_HASH chain index ${i} outside nchain ${this.nchain}`, {
        source: this.r.sourceName,
        offset: this.r.base,
      });
    }
    return this.word(2 + this.nbucket + i, "DT_HASH chain");
  }

  /**
   * The symbol indices glibc would pass to check_match for a name with SysV hash `hash`, in order:
   * `for (symidx = buckets[hash % nbucket]; symidx != STN_UNDEF; symidx = chain[symidx])`.
   * Stops at an index outside the chain array, and after nchain steps (a loop).
   */
  *candidates(hash: number): IterableIterator<number> {
    if (this.nbucket === 0) return;
    let i = this.bucket((hash >>> 0) % this.nbucket);
    for (let steps = 0; i !== 0 && steps <= this.nchain; steps++) {
      if (i >= this.nchain) return;
      yield i;
      i = this.chain(i);
    }
  }
}

/**
 * DT_GNU_HASH: nbuckets, symoffset, bloom_size, bloom_shift (4 × Elf32_Word), bloom[bloom_size]
 * (ElfW(Addr) words), buckets[nbuckets], then chain words indexed by symidx - symoffset.
 */
export class GnuHashTable {
  readonly kind = "gnu" as const;
  readonly nbuckets: number;
  /** symoffset ("symbias"): dynsym entries below it are not hashed. */
  readonly symoffset: number;
  readonly bloomSize: number;
  readonly bloomShift: number;
  /** __ELF_NATIVE_CLASS: bits per bloom word (64 for ELF64, 32 for ELF32). */
  readonly bloomBits: 32 | 64;
  private readonly r: EndianReader;
  private readonly bloomOffset = 16;
  private readonly bucketOffset: number;
  private readonly chainOffset: number;

  constructor(bytes: Uint8Array, layout: HashTableLayout) {
    const r = new EndianReader(bytes, layout.littleEndian, layout.base ?? 0, layout.sourceName);
    this.r = r;
    this.nbuckets = r.u32(0, "DT_GNU_HASH nbuckets");
    this.symoffset = r.u32(4, "DT_GNU_HASH symoffset");
    this.bloomSize = r.u32(8, "DT_GNU_HASH bloom_size");
    this.bloomShift = r.u32(12, "DT_GNU_HASH bloom_shift");
    this.bloomBits = layout.is64 ? 64 : 32;
    const wordBytes = this.bloomBits / 8;
    this.bucketOffset = this.bloomOffset + this.bloomSize * wordBytes;
    this.chainOffset = this.bucketOffset + 4 * this.nbuckets;
    if (this.chainOffset > bytes.length) {
      throw new FormatError(
        `DT_GNU_HASH table (bloom_size ${this.bloomSize}, nbuckets ${this.nbuckets}) needs ${hex(this.chainOffset)} bytes before its chains, only ${hex(bytes.length)} available`,
        { source: layout.sourceName, offset: layout.base },
      );
    }
    // glibc masks the bloom index with bloom_size - 1 (l_gnu_bitmask_idxbits): it must be a power of 2.
    if (this.bloomSize === 0 || (this.bloomSize & (this.bloomSize - 1)) !== 0) {
      throw new FormatError(`DT_GNU_HASH bloom_size ${this.bloomSize} is not a power of 2`, {
        source: layout.sourceName,
        offset: (layout.base ?? 0) + 8,
      });
    }
  }

  /** Bloom word `i` as a bigint (64-bit words on ELF64). */
  bloomWord(i: number): bigint {
    const o = this.bloomOffset + i * (this.bloomBits / 8);
    return this.bloomBits === 64 ? this.r.u64(o, "DT_GNU_HASH bloom word") : BigInt(this.r.u32(o, "bloom word"));
  }
  bucket(i: number): number {
    return this.r.u32(this.bucketOffset + 4 * i, "DT_GNU_HASH bucket");
  }
  /** Number of chain words present in the bytes given. */
  get chainWordsAvailable(): number {
    return Math.floor((this.r.length - this.chainOffset) / 4);
  }
  /** The chain word for symbol index `symidx` (hash with bit 0 = last in chain). */
  chainWord(symidx: number): number {
    const k = symidx - this.symoffset;
    if (k < 0 || k >= this.chainWordsAvailable) {
      throw new FormatError(
        `DT_GNU_HASH chain entry for symbol ${symidx} (symoffset ${this.symoffset}) is outside the table`,
        { source: this.r.sourceName, offset: this.r.base + this.chainOffset + 4 * k },
      );
    }
    return this.r.u32(this.chainOffset + 4 * k, "DT_GNU_HASH chain");
  }

  /**
   * The bloom filter test of do_lookup_x: false means "certainly not here".
   * `word = bloom[(h / C) & (bloom_size - 1)]`, bits `h % C` and `(h >> bloom_shift) % C`.
   */
  bloomMayContain(hash: number): boolean {
    const c = this.bloomBits;
    const h = hash >>> 0;
    const word = this.bloomWord(Math.floor(h / c) & (this.bloomSize - 1));
    const bit1 = BigInt(h % c);
    // The shift count is taken modulo C, as the C `& (__ELF_NATIVE_CLASS - 1)` does (bloom_shift may exceed 31).
    const bit2 = BigInt(Number(BigInt(h) >> BigInt(this.bloomShift)) % c);
    return ((word >> bit1) & (word >> bit2) & 1n) === 1n;
  }

  /**
   * The symbol indices glibc would pass to check_match for a name with GNU hash `hash`, in chain
   * order: after the bloom test, from buckets[hash % nbuckets], every index whose chain word equals
   * the hash ignoring bit 0, until a word with bit 0 set. A chain running off the table ends the walk.
   */
  *candidates(hash: number): IterableIterator<number> {
    const h = hash >>> 0;
    if (this.nbuckets === 0 || !this.bloomMayContain(h)) return;
    let i = this.bucket(h % this.nbuckets);
    if (i === 0 || i < this.symoffset) return;
    for (;;) {
      if (i - this.symoffset >= this.chainWordsAvailable) return;
      const v = this.chainWord(i);
      if ((v ^ h) >>> 1 === 0) yield i;
      if (v & 1) return;
      i++;
    }
  }

  /**
   * The number of dynamic symbols implied by the table (it is stored nowhere): one past the end of
   * the chain that starts at the highest bucket. When every bucket is empty nothing is hashed and
   * the answer is symoffset, which is then only a lower bound: a library that merely imports (e.g.
   * coreutils' libstdbuf.so: symoffset 1, 17 undefined dynsyms) has unhashed entries above it.
   * glibc never needs the count (dladdr walks the chains, so it sees the same symbols).
   */
  symbolCount(): number {
    let max = 0;
    for (let b = 0; b < this.nbuckets; b++) max = Math.max(max, this.bucket(b));
    if (max < this.symoffset) return this.symoffset;
    let i = max;
    for (;;) {
      if (i - this.symoffset >= this.chainWordsAvailable) {
        throw new FormatError(`DT_GNU_HASH chain starting at symbol ${max} has no end-of-chain entry`, {
          source: this.r.sourceName,
          offset: this.r.base + this.chainOffset,
        });
      }
      if (this.chainWord(i) & 1) return i + 1;
      i++;
    }
  }
}

export type HashTable = SysvHashTable | GnuHashTable;

/**
 * Look `name` up the way do_lookup_x does: hash it with the table's function, walk the candidates,
 * and return the first index for which `matches` accepts (by default: the symbol's name is `name`).
 * `matches` is where a loader adds check_match's type, st_value and version tests.
 */
export function hashLookup(
  table: HashTable,
  name: Uint8Array | string,
  matches: (symidx: number) => boolean,
): number | undefined {
  const hash = table.kind === "gnu" ? gnuHash(name) : sysvHash(name);
  for (const i of table.candidates(hash)) if (matches(i)) return i;
  return undefined;
}

/**
 * Name-only lookup: the first index on the chain whose symbol is named `name`. This is do_lookup_x
 * without check_match's other tests (st_value/st_shndx, type, versions, visibility), which a loader
 * adds through hashLookup's `matches`.
 */
export function hashLookupName(table: HashTable, symbols: SymbolTable, name: Uint8Array | string): number | undefined {
  const bytes = typeof name === "string" ? latin1(name) : name;
  return hashLookup(table, bytes, (i) => i < symbols.count && symbols.nameEquals(i, bytes));
}

function latin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

/** Build a table from its section (SHT_HASH or SHT_GNU_HASH). */
export function hashTableFromSection(elf: ElfFile, sec: SectionHeader): HashTable {
  const layout: HashTableLayout = {
    is64: elf.is64,
    littleEndian: elf.littleEndian,
    base: elf.num(sec.offset, "sh_offset"),
    sourceName: elf.name,
    sysvEntrySize: elf.is64 && elf.header.machine === EM_S390 ? 8 : 4,
  };
  const bytes = elf.sectionData(sec);
  if (sec.type === SHT_GNU_HASH) return new GnuHashTable(bytes, layout);
  if (sec.type === SHT_HASH) return new SysvHashTable(bytes, layout);
  throw new FormatError(`section [${sec.index}] ${sec.name} is not a hash table (type ${hex(sec.type)})`, {
    source: elf.name,
    offset: sec.offset,
  });
}

/** The file's .gnu.hash and .hash tables (by section type), when present. */
export function hashTables(elf: ElfFile): { gnu?: GnuHashTable; sysv?: SysvHashTable } {
  const out: { gnu?: GnuHashTable; sysv?: SysvHashTable } = {};
  for (const s of elf.sections) {
    if (s.type === SHT_GNU_HASH && !out.gnu) out.gnu = hashTableFromSection(elf, s) as GnuHashTable;
    if (s.type === SHT_HASH && !out.sysv) out.sysv = hashTableFromSection(elf, s) as SysvHashTable;
  }
  return out;
}
