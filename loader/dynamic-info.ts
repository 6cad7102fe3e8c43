/**
 * `l_info` and what `_dl_setup_hash` / `_dl_check_map_versions` derive from it (glibc 2.36
 * elf/get-dynamic-info.h, elf/dl-setup_hash.c, elf/dl-version.c), read from the PROCESS MEMORY of a
 * mapped object the way ld.so reads it: the dynamic array at l_ld, then the symbol, string, hash,
 * version and relocation tables its d_ptr entries point at (+ l_addr).
 *
 * One record per link map, cached in a WeakMap (a link map is never re-read: ld.so's l_info is
 * filled once). Tables are read lazily entry by entry (symbols, chain words, versym halves), as
 * do_lookup_x touches only what a hash chain names; each entry is cached after its first read.
 *
 * ld.so's own dynamic section: in the real process `_dl_start` has already added l_addr to its
 * d_ptr entries in memory (elf_get_dynamic_info's ADJUST_DYN_INFO). In the model nothing ran before
 * the loader, so ld.so's entries are raw too and l_addr is added for every object alike.
 * The model does not write the adjusted pointers back into the dynamic section (ld.so does, for
 * DT_HASH, DT_PLTGOT, DT_STRTAB, DT_SYMTAB, DT_RELA, DT_JMPREL, DT_VERSYM, DT_GNU_HASH): other
 * loader parts re-read l_ld and expect the file's values.
 */
import { decodeDynamic, readDynamicFromMemory } from "../formats/elf/dynamic.ts";
import {
  DF_1_NOW,
  DF_BIND_NOW,
  DF_TEXTREL,
  DT_BIND_NOW,
  DT_FLAGS,
  DT_FLAGS_1,
  DT_GNU_HASH,
  DT_HASH,
  DT_JMPREL,
  DT_PLTGOT,
  DT_PLTREL,
  DT_PLTRELSZ,
  DT_RELA,
  DT_RELACOUNT,
  DT_RELASZ,
  DT_RELR,
  DT_RELRSZ,
  DT_STRSZ,
  DT_STRTAB,
  DT_SYMBOLIC,
  DT_SYMTAB,
  DT_TEXTREL,
  DT_TLSDESC_GOT,
  DT_VERDEF,
  DT_VERNEED,
  DT_VERSYM,
} from "../formats/elf/dynamic-tags.ts";
import { decodeRelocations, decodeRelr, type RelaRecord } from "../formats/elf/relocations.ts";
import { LdsimError } from "../formats/errors.ts";
import { readUserView } from "../kernel-shim/mm/user-access.ts";
import type { LinkMap } from "./link-map.ts";
import type { Rtld } from "./rtld.ts";

const PT_TLS = 7;
const PT_GNU_RELRO = 0x6474e552;
const SYM_SIZE = 24;
/** Upper bound on any one table read (a corrupt DT_STRSZ must not allocate gigabytes). */
const MAX_TABLE = 256 * 1024 * 1024;

/** A dynamic table is inconsistent (the loader would crash or assert on it). */
export class DynamicInfoError extends LdsimError {
  override name = "DynamicInfoError";
  constructor(
    readonly object: string,
    message: string,
  ) {
    super(`${object}: ${message}`);
  }
}

/** One Elf64_Sym as ld.so sees it in memory. */
export interface MemSymbol {
  readonly index: number;
  readonly nameOffset: number;
  readonly info: number;
  readonly bind: number;
  readonly type: number;
  readonly other: number;
  readonly shndx: number;
  readonly value: bigint;
  readonly size: bigint;
  /** st_value as a number (exact), NaN when it is 2^53 or more: relocation arithmetic stays in numbers. */
  readonly valueN: number;
}

/** One `struct r_found_version` of `l_versions[]`: hash 0 = no version at that index. */
export interface FoundVersion {
  readonly name: string | undefined;
  readonly hash: number;
  readonly hidden: boolean;
  readonly filename: string | undefined;
}

/** One Vernaux with its Verneed's file name, in table order. */
export interface NeededVersion {
  readonly file: string;
  readonly name: string;
  readonly hash: number;
  readonly flags: number;
  readonly other: number;
}

/** One Verdef (its first Verdaux name), in table order. */
export interface DefinedVersion {
  readonly version: number;
  readonly flags: number;
  readonly ndx: number;
  readonly hash: number;
  readonly name: string;
}

/** Pages (from l_addr) whose copies DynamicInfo keeps in an array rather than a map. */
const NEAR_PAGES = 4096;

function le32(p: Uint8Array, o: number): number {
  return (
    ((p[o] as number) | ((p[o + 1] as number) << 8) | ((p[o + 2] as number) << 16) | ((p[o + 3] as number) << 24)) >>> 0
  );
}

const TWO32 = 0x1_0000_0000;
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * ELF64 little-endian RELR words → the addresses they name, as numbers (formats/elf/relocations.ts
 * decodeRelrWords' order and rules, in 32-bit halves); undefined when an address could reach 2^53
 * (decodeRelrWords' bigints then) or the bytes are not whole words.
 */
export function decodeRelrOffsets(b: Uint8Array): Float64Array | undefined {
  if (b.length % 8 !== 0) return undefined;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const n = b.length / 8;
  // Each bitmap word names at most 63 slots, an address word one.
  let count = 0;
  for (let i = 0; i < n; i++) {
    const lo = dv.getUint32(i * 8, true);
    if ((lo & 1) === 0) count++;
    else count += popcount(lo >>> 1) + popcount(dv.getUint32(i * 8 + 4, true));
  }
  const out = new Float64Array(count);
  let k = 0;
  let base = 0;
  const limit = 2 ** 53 - 64 * 8;
  for (let i = 0; i < n; i++) {
    const lo = dv.getUint32(i * 8, true);
    const hi = dv.getUint32(i * 8 + 4, true);
    if ((lo & 1) === 0) {
      const addr = lo + hi * TWO32;
      if (addr > limit) return undefined;
      out[k++] = addr;
      base = addr + 8;
    } else {
      if (base > limit) return undefined;
      for (let bit = 1; bit < 32; bit++) if ((lo >>> bit) & 1) out[k++] = base + (bit - 1) * 8;
      for (let bit = 0; bit < 32; bit++) if ((hi >>> bit) & 1) out[k++] = base + (bit + 31) * 8;
      base += 63 * 8;
    }
  }
  return out;
}

function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return ((((v + (v >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24) & 0xff;
}

/**
 * MemSymbol decoded from its eight fields, st_value and st_size kept as 32-bit halves (bigint on
 * demand). Every number field holds an int32 (halves with `| 0`, read back with `>>> 0`):
 * V8 then stores them unboxed, and a large program's startup keeps some 11k of these alive.
 */
class MemSym implements MemSymbol {
  private readonly valueLo: number;
  private readonly valueHi: number;
  private readonly sizeLo: number;
  private readonly sizeHi: number;
  constructor(
    readonly index: number,
    readonly nameOffset: number,
    readonly info: number,
    readonly other: number,
    readonly shndx: number,
    valueLo: number,
    valueHi: number,
    sizeLo: number,
    sizeHi: number,
  ) {
    this.valueLo = valueLo | 0;
    this.valueHi = valueHi | 0;
    this.sizeLo = sizeLo | 0;
    this.sizeHi = sizeHi | 0;
  }
  /** st_value as a number, NaN from 2^53 on. */
  get valueN(): number {
    const hi = this.valueHi >>> 0;
    return hi < 0x200000 ? (this.valueLo >>> 0) + hi * TWO32 : Number.NaN;
  }
  get bind(): number {
    return this.info >> 4;
  }
  get type(): number {
    return this.info & 0xf;
  }
  get value(): bigint {
    return (BigInt(this.valueHi >>> 0) << 32n) | BigInt(this.valueLo >>> 0);
  }
  get size(): bigint {
    return (BigInt(this.sizeHi >>> 0) << 32n) | BigInt(this.sizeLo >>> 0);
  }
}

export interface TlsSegment {
  readonly blocksize: bigint;
  readonly align: bigint;
  /** l_tls_firstbyte_offset: p_vaddr & (p_align - 1). */
  readonly firstbyteOffset: bigint;
  readonly initimage: bigint;
  readonly initimageSize: bigint;
}

/** The cached `l_info` view of one object. */
export class DynamicInfo {
  /** Raw d_un of each tag (the last entry wins, as elf_get_dynamic_info assigns in order). */
  readonly values: ReadonlyMap<bigint, bigint>;
  readonly strtab: Uint8Array;
  readonly symtab: bigint | undefined;
  private readonly symtabN: number;
  /** l_nbuckets (0 = no hash table: do_lookup_x skips the object after its debug line). */
  readonly nbuckets: number;
  readonly gnu:
    | {
        /** l_gnu_bitmask as 32-bit halves (word i = [2i] low, [2i+1] high): bloom tests stay in numbers. */
        readonly bitmask: Uint32Array;
        readonly shift: number;
        readonly buckets: Uint32Array;
        /** Address of l_gnu_chain_zero (chain words are indexed by symbol index). */
        readonly chainZero: bigint;
        /** chainZero as a number (user addresses are below 2^53). */
        readonly chainZeroN: number;
        /** l_gnu_bitmask_idxbits (bloom words - 1). */
        readonly idxbits: number;
        /** symoffset: the first symbol index the chains cover. */
        readonly symbias: number;
      }
    | undefined;
  readonly sysv: { readonly buckets: Uint32Array; readonly chainAddr: bigint; readonly nchain: number } | undefined;
  readonly versymAddr: bigint | undefined;
  readonly tls: TlsSegment | undefined;
  readonly relro: { readonly addr: bigint; readonly size: bigint } | undefined;
  /** l_versions[] (built from VERNEED and non-base VERDEF entries); undefined when there are none. */
  private versionsCache: FoundVersion[] | null | undefined;
  /** Decoded symbols by index: an array sized from the table's likely extent, a map beyond it. */
  private readonly syms: (MemSym | undefined)[];
  private readonly farSyms = new Map<number, MemSym>();
  private readonly versymN: number | undefined;
  private defsCache: DefinedVersion[] | undefined;
  /** l_lookup_cache: the last relocation's symbol index and type class and its result. */
  lookupCache: { symIdx: number; typeClass: number } | undefined;

  constructor(
    readonly rtld: Rtld,
    readonly map: LinkMap,
  ) {
    this.pageBase = Math.floor(Number(map.addr) / 4096) * 4096;
    const object = map.name || rtld.progname;
    const read = (a: bigint, n: number) => rtld.proc.mm.readUser(Number(a), n);
    const entries =
      map.ld === undefined
        ? []
        : readDynamicFromMemory(read, map.ld, true, true, { source: object, granule: rtld.proc.mm.pageSize }).entries;
    this.values = decodeDynamic(entries).values;
    const strsz = this.values.get(DT_STRSZ) ?? 0n;
    if (strsz > BigInt(MAX_TABLE)) throw new DynamicInfoError(object, `DT_STRSZ ${strsz} is too large`);
    const strtab = this.ptr(DT_STRTAB);
    this.strtab = strtab === undefined || strsz === 0n ? new Uint8Array(0) : this.read(strtab, Number(strsz));
    this.symtab = this.ptr(DT_SYMTAB);
    this.symtabN = this.symtab === undefined ? 0 : Number(this.symtab);
    // .dynstr usually follows .dynsym: their distance bounds the symbol count (only a sizing hint).
    const span = strtab !== undefined && this.symtab !== undefined ? (Number(strtab) - this.symtabN) / SYM_SIZE : 0;
    this.syms = new Array(span > 0 && span <= 65536 ? Math.ceil(span) : 0);
    this.versymAddr = this.ptr(DT_VERSYM);
    this.versymN = this.versymAddr === undefined ? undefined : Number(this.versymAddr);
    // _dl_setup_hash: DT_GNU_HASH preferred, else DT_HASH.
    const gh = this.ptr(DT_GNU_HASH);
    const sh = this.ptr(DT_HASH);
    if (gh !== undefined) {
      const hdr = this.small(gh, 16);
      const nbuckets = hdr.getUint32(0, true);
      const symbias = hdr.getUint32(4, true);
      const bitmaskNwords = hdr.getUint32(8, true);
      const shift = hdr.getUint32(12, true);
      if (bitmaskNwords === 0 || (bitmaskNwords & (bitmaskNwords - 1)) !== 0 || bitmaskNwords > MAX_TABLE / 8) {
        throw new DynamicInfoError(object, `DT_GNU_HASH bloom size ${bitmaskNwords} is not a power of 2`);
      }
      if (nbuckets > MAX_TABLE / 4) throw new DynamicInfoError(object, `DT_GNU_HASH nbuckets ${nbuckets} too large`);
      const bm = this.read(gh + 16n, bitmaskNwords * 8);
      const bdv = new DataView(bm.buffer, bm.byteOffset, bm.byteLength);
      const bitmask = new Uint32Array(bitmaskNwords * 2);
      for (let i = 0; i < bitmaskNwords * 2; i++) bitmask[i] = bdv.getUint32(i * 4, true);
      const bucketsAddr = gh + 16n + BigInt(bitmaskNwords * 8);
      const bb = this.read(bucketsAddr, nbuckets * 4);
      const buckets = new Uint32Array(nbuckets);
      const bbv = new DataView(bb.buffer, bb.byteOffset, bb.byteLength);
      for (let i = 0; i < nbuckets; i++) buckets[i] = bbv.getUint32(i * 4, true);
      const chainZero = bucketsAddr + BigInt(nbuckets * 4) - BigInt(symbias) * 4n;
      this.gnu = {
        bitmask,
        shift,
        buckets,
        chainZero,
        chainZeroN: Number(chainZero),
        idxbits: bitmaskNwords - 1,
        symbias,
      };
      this.sysv = undefined;
      this.nbuckets = nbuckets;
    } else if (sh !== undefined) {
      const hdr = this.small(sh, 8);
      const nbucket = hdr.getUint32(0, true);
      const nchain = hdr.getUint32(4, true);
      if (nbucket > MAX_TABLE / 4 || nchain > MAX_TABLE / 4) {
        throw new DynamicInfoError(object, `DT_HASH nbucket ${nbucket} / nchain ${nchain} too large`);
      }
      const bb = this.read(sh + 8n, nbucket * 4);
      const bbv = new DataView(bb.buffer, bb.byteOffset, bb.byteLength);
      const buckets = new Uint32Array(nbucket);
      for (let i = 0; i < nbucket; i++) buckets[i] = bbv.getUint32(i * 4, true);
      this.sysv = { buckets, chainAddr: sh + 8n + BigInt(nbucket * 4), nchain };
      this.gnu = undefined;
      this.nbuckets = nbucket;
    } else {
      this.gnu = undefined;
      this.sysv = undefined;
      this.nbuckets = 0;
    }
    const tls = map.phdrs.find((p) => p.type === PT_TLS && p.memsz > 0n);
    this.tls = tls && {
      blocksize: tls.memsz,
      align: tls.align,
      firstbyteOffset: tls.align === 0n ? 0n : tls.vaddr & (tls.align - 1n),
      initimage: map.addr + tls.vaddr,
      initimageSize: tls.filesz,
    };
    const relro = map.phdrs.find((p) => p.type === PT_GNU_RELRO);
    this.relro = relro && { addr: relro.vaddr, size: relro.memsz };
  }

  /** D_PTR: the d_ptr of `tag` plus l_addr; undefined when the tag is absent. */
  ptr(tag: bigint): bigint | undefined {
    const v = this.values.get(tag);
    return v === undefined ? undefined : v + this.map.addr;
  }
  val(tag: bigint): bigint | undefined {
    return this.values.get(tag);
  }
  has(tag: bigint): boolean {
    return this.values.has(tag);
  }

  read(addr: bigint, len: number): Uint8Array {
    if (len > MAX_TABLE) throw new DynamicInfoError(this.map.name, `table of ${len} bytes at 0x${addr.toString(16)}`);
    // Tables are only read (and kept, as ld.so keeps pointers into the object): a view, not a copy, when possible.
    return readUserView(this.rtld.proc.mm, Number(addr), len);
  }

  private readonly pages = new Map<number, Uint8Array>();
  /** Page copies by page number from l_addr (the tables sit in the object's first megabytes): no hashing. */
  private nearPages: (Uint8Array | undefined)[] = [];
  private readonly pageBase: number;

  /**
   * A small read from the object's read-only tables (symbols, hash chains, versym, version
   * records), through a per-object copy of each 4 KiB page read: these tables are never written
   * after mapping, and one user-memory access per entry dominated lookups.
   */
  private small(addr: bigint, len: number): DataView {
    const a = Number(addr);
    const page = Math.floor(a / 4096) * 4096;
    const end = a + len;
    if (end <= page + 4096) {
      const p = this.page(page);
      return new DataView(p.buffer, p.byteOffset + (a - page), len);
    }
    const b = this.read(addr, len);
    return new DataView(b.buffer, b.byteOffset, len);
  }

  /** The cached copy of the 4 KiB page at `page` (page-aligned). */
  private page(page: number): Uint8Array {
    const i = (page - this.pageBase) / 4096;
    if (i >= 0 && i < NEAR_PAGES) {
      // Grown to the highest page asked for (a holey array stays fast only when preallocated).
      if (i >= this.nearPages.length) {
        const grown: (Uint8Array | undefined)[] = new Array(
          Math.min(NEAR_PAGES, Math.max(64, i + 1, this.nearPages.length * 2)),
        );
        for (let k = 0; k < this.nearPages.length; k++) grown[k] = this.nearPages[k];
        this.nearPages = grown;
      }
      let p = this.nearPages[i];
      if (!p) {
        p = readUserView(this.rtld.proc.mm, page, 4096);
        this.nearPages[i] = p;
      }
      return p;
    }
    let p = this.pages.get(page);
    if (!p) {
      p = readUserView(this.rtld.proc.mm, page, 4096);
      this.pages.set(page, p);
    }
    return p;
  }

  /** A little-endian u32 of the read-only tables at `a`, through the page copies (no DataView, no bigint). */
  private u32(a: number): number {
    const o = a - Math.floor(a / 4096) * 4096;
    if (o <= 4092) {
      const p = this.page(a - o);
      return (
        ((p[o] as number) |
          ((p[o + 1] as number) << 8) |
          ((p[o + 2] as number) << 16) |
          ((p[o + 3] as number) << 24)) >>>
        0
      );
    }
    return this.small(BigInt(a), 4).getUint32(0, true);
  }

  /** A little-endian u16 of the read-only tables at `a`. */
  private u16(a: number): number {
    const o = a - Math.floor(a / 4096) * 4096;
    if (o <= 4094) {
      const p = this.page(a - o);
      return (p[o] as number) | ((p[o + 1] as number) << 8);
    }
    return this.small(BigInt(a), 2).getUint16(0, true);
  }

  /** The bind-now decision of elf_get_dynamic_info: DT_BIND_NOW, DF_BIND_NOW, or DF_1_NOW. */
  get bindNow(): boolean {
    return (
      this.has(DT_BIND_NOW) ||
      ((this.val(DT_FLAGS) ?? 0n) & DF_BIND_NOW) !== 0n ||
      ((this.val(DT_FLAGS_1) ?? 0n) & DF_1_NOW) !== 0n
    );
  }
  /** l_info[DT_TEXTREL]: DT_TEXTREL or DF_TEXTREL. */
  get textrel(): boolean {
    return this.has(DT_TEXTREL) || ((this.val(DT_FLAGS) ?? 0n) & DF_TEXTREL) !== 0n;
  }
  get symbolic(): boolean {
    return this.has(DT_SYMBOLIC);
  }
  get pltgot(): bigint | undefined {
    return this.ptr(DT_PLTGOT);
  }
  get tlsdescGot(): bigint | undefined {
    return this.ptr(DT_TLSDESC_GOT);
  }

  /** Symbol `index` of DT_SYMTAB. */
  symbol(index: number): MemSymbol {
    const s = index < this.syms.length ? this.syms[index] : this.farSyms.get(index);
    if (s) return s;
    if (this.symtab === undefined) throw new DynamicInfoError(this.map.name, "no DT_SYMTAB");
    const a = this.symtabN + index * SYM_SIZE;
    const o = a - Math.floor(a / 4096) * 4096;
    let sym: MemSym;
    if (o <= 4096 - SYM_SIZE && Number.isSafeInteger(a)) {
      // Straight from the page copy: no DataView, the 64-bit fields as halves.
      const p = this.page(a - o);
      sym = new MemSym(
        index,
        le32(p, o),
        p[o + 4] as number,
        p[o + 5] as number,
        (p[o + 6] as number) | ((p[o + 7] as number) << 8),
        le32(p, o + 8),
        le32(p, o + 12),
        le32(p, o + 16),
        le32(p, o + 20),
      );
    } else {
      const dv = this.small(this.symtab + BigInt(index * SYM_SIZE), SYM_SIZE);
      sym = new MemSym(
        index,
        dv.getUint32(0, true),
        dv.getUint8(4),
        dv.getUint8(5),
        dv.getUint16(6, true),
        dv.getUint32(8, true),
        dv.getUint32(12, true),
        dv.getUint32(16, true),
        dv.getUint32(20, true),
      );
    }
    if (index < this.syms.length) this.syms[index] = sym;
    else this.farSyms.set(index, sym);
    return sym;
  }

  /** st_name of the entry symbolHead last read. */
  headName = 0;

  /**
   * `st_info | st_other << 8 | st_shndx << 16` of symbol `index` (st_shndx back with `>>> 16`), its
   * st_name left in headName: what a relocation needs of its referencing symbol, read without
   * decoding (and keeping) the whole entry. Faults and errors as `symbol(index)`.
   */
  symbolHead(index: number): number {
    const s = index < this.syms.length ? this.syms[index] : this.farSyms.get(index);
    if (!s && this.symtab !== undefined) {
      const a = this.symtabN + index * SYM_SIZE;
      const o = a - Math.floor(a / 4096) * 4096;
      if (o <= 4096 - SYM_SIZE && Number.isSafeInteger(a)) {
        const p = this.page(a - o);
        this.headName = le32(p, o);
        return (
          (p[o + 4] as number) |
          ((p[o + 5] as number) << 8) |
          ((p[o + 6] as number) << 16) |
          ((p[o + 7] as number) << 24)
        );
      }
    }
    const sym = s ?? this.symbol(index);
    this.headName = sym.nameOffset;
    return sym.info | (sym.other << 8) | (sym.shndx << 16);
  }

  /** strlen of the string nameHash last hashed. */
  nameLength = 0;

  /** `_dl_new_hash` (as int32) of the string at DT_STRTAB + off, its length left in nameLength. */
  nameHash(off: number): number {
    const t = this.strtab;
    if (off >= t.length) this.stringEnd(off);
    let h = 5381;
    let end = off;
    for (; end < t.length; end++) {
      const c = t[end] as number;
      if (c === 0) break;
      h = (Math.imul(h, 33) + c) | 0;
    }
    if (end === t.length) this.stringEnd(off);
    this.nameLength = end - off;
    return h;
  }

  private strBuf: Buffer | undefined;

  /** The NUL-terminated string at DT_STRTAB + off (latin1). */
  string(off: number): string {
    const t = this.strtab;
    const end = this.stringEnd(off);
    // latin1: one char per byte, as the loop `s += String.fromCharCode(b)` built it, decoded natively.
    this.strBuf ??= Buffer.from(t.buffer, t.byteOffset, t.length);
    return this.strBuf.toString("latin1", off, end);
  }

  /** The offset of the NUL ending the string at DT_STRTAB + off (which must lie in the table). */
  private stringEnd(off: number): number {
    const t = this.strtab;
    if (off >= t.length) throw new DynamicInfoError(this.map.name, `string offset ${off} outside DT_STRTAB`);
    const end = t.indexOf(0, off);
    if (end < 0) throw new DynamicInfoError(this.map.name, `string at ${off} is not NUL-terminated`);
    return end;
  }

  /** The GNU hash chain word of symbol `index` (l_gnu_chain_zero[index]). */
  chainWord(index: number): number {
    const g = this.gnu;
    if (!g) throw new DynamicInfoError(this.map.name, "no DT_GNU_HASH");
    return this.u32(g.chainZeroN + index * 4);
  }

  private chainWords: Uint32Array | null | undefined;

  /**
   * The GNU hash chains as 32-bit words from symbol index symbias on (word `c - symbias` is
   * l_gnu_chain_zero[c]), read in one piece the first time a walk needs them: a large program's
   * startup walks some 29k chains. Null when that is not possible (a chain without an end, a range
   * that faults, a huge table): walks then read word by word (chainWord), as before.
   */
  gnuChainWords(): Uint32Array | null {
    if (this.chainWords !== undefined) return this.chainWords;
    this.chainWords = null;
    const g = this.gnu;
    if (!g) return null;
    let bytes: Uint8Array;
    try {
      const n = this.symbolCount() - g.symbias;
      if (n <= 0 || n > MAX_TABLE / 4) return null;
      bytes = this.read(BigInt(g.chainZeroN + g.symbias * 4), n * 4);
    } catch {
      return null;
    }
    // The table's bytes as little-endian words: a view when the host is little-endian and the bytes aligned, else a copy.
    const n = bytes.length / 4;
    let words: Uint32Array;
    if (HOST_LE && bytes.byteOffset % 4 === 0) words = new Uint32Array(bytes.buffer, bytes.byteOffset, n);
    else {
      words = new Uint32Array(n);
      for (let i = 0; i < n; i++) words[i] = le32(bytes, i * 4);
    }
    this.chainWords = words;
    return words;
  }

  /**
   * The number of DT_SYMTAB entries the hash table covers (stored nowhere for DT_GNU_HASH: one past
   * the end of the chain that starts at the highest bucket; DT_HASH's nchain).
   */
  symbolCount(): number {
    if (this.sysv) return this.sysv.nchain;
    const g = this.gnu;
    if (!g) return 0;
    let max = 0;
    for (const b of g.buckets) if (b > max) max = b;
    if (max === 0) return 0;
    for (let i = max, n = 0; n < 1 << 24; i++, n++) if (this.chainWord(i) & 1) return i + 1;
    throw new DynamicInfoError(this.map.name, "DT_GNU_HASH chain without an end");
  }

  /** DT_HASH chain[index]. */
  sysvChain(index: number): number {
    const s = this.sysv;
    if (!s || index >= s.nchain) throw new DynamicInfoError(this.map.name, `DT_HASH chain index ${index}`);
    return this.u32(Number(s.chainAddr) + index * 4);
  }

  /** The versym half of symbol `index`; undefined when the object has no DT_VERSYM. */
  versym(index: number): number | undefined {
    if (this.versymN === undefined) return undefined;
    return this.u16(this.versymN + index * 2);
  }

  /** Candidate symbol indices of `name` in hash-chain order (the bloom filter, then the chain). */
  *candidates(name: string, newHash: number, oldHash: () => number): IterableIterator<number> {
    const g = this.gnu;
    if (g) {
      const bucket = this.gnuStart(newHash);
      if (bucket === 0) return;
      // A corrupt chain without an end bit stops at the symbol table's plausible end.
      for (let i = bucket, n = 0; n < 1 << 24; i++, n++) {
        const w = this.chainWord(i);
        if ((w ^ newHash) >>> 1 === 0) yield i;
        if (w & 1) return;
      }
      return;
    }
    const s = this.sysv;
    if (!s) return;
    const h = oldHash();
    let steps = 0;
    for (
      let i = s.buckets[h - Math.floor(h / s.buckets.length) * s.buckets.length] as number;
      i !== 0 && steps <= s.nchain;
      steps++
    ) {
      yield i;
      i = this.sysvChain(i);
    }
    void name;
  }

  /**
   * The GNU hash walk's first chain index for `newHash` (do_lookup_x's bloom filter test, then
   * l_gnu_buckets[hash % nbuckets]); 0 = the filter or the bucket rules the object out.
   */
  gnuStart(newHash: number): number {
    const g = this.gnu;
    if (!g) return 0;
    // bitmask_word = l_gnu_bitmask[(hash / 64) & l_gnu_bitmask_idxbits]; two bits of it must be set.
    const w = (Math.floor(newHash / 64) & (g.bitmask.length / 2 - 1)) * 2;
    const b1 = newHash & 63;
    const b2 = (newHash >>> g.shift) & 63;
    const bit1 = ((g.bitmask[w + (b1 >>> 5)] as number) >>> (b1 & 31)) & 1;
    const bit2 = ((g.bitmask[w + (b2 >>> 5)] as number) >>> (b2 & 31)) & 1;
    if ((bit1 & bit2) === 0) return 0;
    return g.buckets[newHash - Math.floor(newHash / g.buckets.length) * g.buckets.length] as number;
  }

  /** The DT_HASH walk's first index for the SysV hash `h` (0 = empty bucket). */
  sysvStart(h: number): number {
    const s = this.sysv;
    if (!s) return 0;
    return s.buckets[h - Math.floor(h / s.buckets.length) * s.buckets.length] as number;
  }

  // ---- versions ----

  /** The Vernaux entries (with their Verneed's vn_file), in table order. */
  neededVersions(): NeededVersion[] {
    const addr = this.ptr(DT_VERNEED);
    const out: NeededVersion[] = [];
    if (addr === undefined) return out;
    let ent = addr;
    for (let n = 0; n < 65536; n++) {
      const b = this.small(ent, 16);
      const cnt = b.getUint16(2, true);
      const file = this.string(b.getUint32(4, true));
      const aux = b.getUint32(8, true);
      const next = b.getUint32(12, true);
      let a = ent + BigInt(aux);
      for (let j = 0; j < Math.max(cnt, 1) && j < 65536; j++) {
        const x = this.small(a, 16);
        out.push({
          file,
          hash: x.getUint32(0, true),
          flags: x.getUint16(4, true),
          other: x.getUint16(6, true),
          name: this.string(x.getUint32(8, true)),
        });
        const anext = x.getUint32(12, true);
        if (anext === 0) break;
        a += BigInt(anext);
      }
      if (next === 0) break;
      ent += BigInt(next);
    }
    return out;
  }

  /** The Verdef entries (name = first Verdaux), in table order. */
  definedVersions(): readonly DefinedVersion[] {
    // Read once: every object that needs a version of this one walks the same chain (match_symbol).
    if (this.defsCache) return this.defsCache;
    const addr = this.ptr(DT_VERDEF);
    const out: DefinedVersion[] = [];
    if (addr === undefined) {
      this.defsCache = out;
      return out;
    }
    let ent = addr;
    for (let n = 0; n < 65536; n++) {
      const b = this.small(ent, 20);
      const aux = b.getUint32(12, true);
      const x = this.small(ent + BigInt(aux), 8);
      out.push({
        version: b.getUint16(0, true),
        flags: b.getUint16(2, true),
        ndx: b.getUint16(4, true),
        hash: b.getUint32(8, true),
        name: this.string(x.getUint32(0, true)),
      });
      const next = b.getUint32(16, true);
      if (next === 0) break;
      ent += BigInt(next);
    }
    // Cached only when the whole chain was read (a fault above propagates and is met again next time).
    this.defsCache = out;
    return out;
  }

  /**
   * `l_versions[]` as `_dl_check_map_versions` fills it: the Vernaux entries by vna_other (hidden =
   * vna_other & 0x8000, with the needed file), then the Verdef entries but the base one (its name
   * must not match a versioned reference). Undefined (l_versyms NULL) when no index > 0 is used.
   */
  versions(): FoundVersion[] | undefined {
    if (this.versionsCache !== undefined) return this.versionsCache ?? undefined;
    if (this.strtab.length === 0) {
      this.versionsCache = null;
      return undefined;
    }
    const needs = this.neededVersions();
    const defs = this.definedVersions();
    let high = 0;
    for (const n of needs) high = Math.max(high, n.other & 0x7fff);
    for (const d of defs) high = Math.max(high, d.ndx & 0x7fff);
    if (high === 0) {
      this.versionsCache = null;
      return undefined;
    }
    const v: FoundVersion[] = [];
    for (let i = 0; i <= high; i++) v.push({ name: undefined, hash: 0, hidden: false, filename: undefined });
    for (const n of needs) {
      v[n.other & 0x7fff] = { name: n.name, hash: n.hash, hidden: (n.other & 0x8000) !== 0, filename: n.file };
    }
    for (const d of defs) {
      if (d.flags & 1) continue; // VER_FLG_BASE
      v[d.ndx & 0x7fff] = { name: d.name, hash: d.hash, hidden: false, filename: undefined };
    }
    this.versionsCache = v;
    return v;
  }

  /** l_versyms: present only when l_versions is (dl-version.c sets both together). */
  get hasVersyms(): boolean {
    return this.versymAddr !== undefined && this.versions() !== undefined;
  }

  // ---- relocation tables ----

  /** RELA records in [addr, addr + size). */
  rela(addr: bigint, size: bigint): RelaRecord[] {
    if (size === 0n) return [];
    if (size > BigInt(MAX_TABLE)) throw new DynamicInfoError(this.map.name, `relocation table of ${size} bytes`);
    const bytes = this.read(addr, Number(size));
    return decodeRelocations(bytes, "rela", { is64: true, littleEndian: true, source: this.map.name }) as RelaRecord[];
  }

  /** DT_RELR addresses (before l_addr). */
  relr(): bigint[] {
    const a = this.ptr(DT_RELR);
    const sz = this.val(DT_RELRSZ) ?? 0n;
    if (a === undefined || sz === 0n) return [];
    if (sz > BigInt(MAX_TABLE)) throw new DynamicInfoError(this.map.name, `DT_RELRSZ ${sz}`);
    return decodeRelr(this.read(a, Number(sz)), { is64: true, littleEndian: true, source: this.map.name });
  }

  /**
   * DT_RELR addresses (before l_addr) as numbers, decoded from the table's words in 32-bit halves
   * (relr() without a bigint per word and bit); undefined when an address would not be exact as a
   * number or the table is not whole words (then relr() decodes it, or reports it).
   */
  relrOffsets(): Float64Array | undefined {
    const a = this.ptr(DT_RELR);
    const sz = this.val(DT_RELRSZ) ?? 0n;
    if (a === undefined || sz === 0n) return new Float64Array(0);
    if (sz > BigInt(MAX_TABLE)) throw new DynamicInfoError(this.map.name, `DT_RELRSZ ${sz}`);
    if (sz % 8n !== 0n) return undefined;
    return decodeRelrOffsets(this.read(a, Number(sz)));
  }

  get relaRange(): { start: bigint; size: bigint; nrelative: bigint } | undefined {
    const a = this.ptr(DT_RELA);
    if (a === undefined) return undefined;
    return { start: a, size: this.val(DT_RELASZ) ?? 0n, nrelative: this.val(DT_RELACOUNT) ?? 0n };
  }
  get jmprelRange(): { start: bigint; size: bigint } | undefined {
    if (!this.has(DT_PLTREL)) return undefined;
    const a = this.ptr(DT_JMPREL);
    if (a === undefined) return undefined;
    return { start: a, size: this.val(DT_PLTRELSZ) ?? 0n };
  }
}

const cache = new WeakMap<LinkMap, DynamicInfo>();

/** The object's l_info view (read on first use, then cached for the map's lifetime). */
export function dynamicInfo(rtld: Rtld, map: LinkMap): DynamicInfo {
  let d = cache.get(map);
  if (!d) {
    d = new DynamicInfo(rtld, map);
    cache.set(map, d);
  }
  return d;
}
