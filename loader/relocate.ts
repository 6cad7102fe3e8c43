/**
 * `_dl_relocate_object` (glibc 2.36 elf/dl-reloc.c) with `ELF_DYNAMIC_RELOCATE` (elf/dynamic-link.h,
 * elf/do-rel.h): the values ld.so writes into a mapped object, written with proc.mm.writeUser, and
 * the syscalls it makes (DT_TEXTREL mprotects, RELRO), in glibc's order:
 *
 * 1. "relocation processing: NAME[ (lazy)]" (LD_DEBUG=reloc); lazy is dropped by DT_BIND_NOW,
 *    DF_BIND_NOW and DF_1_NOW;
 * 2. DT_TEXTREL: every PT_LOAD without PF_W made writable (page-rounded, own prot | PROT_WRITE);
 * 3. `elf_machine_runtime_setup`: lazy with DT_JMPREL → GOT[1] = the link map, GOT[2] = the resolver;
 * 4. DT_RELR (not for ld.so itself: `_dl_start` did it), then the RELA ranges of `_ELF_DYNAMIC_DO_RELOC`:
 *    [DT_RELA, +RELASZ) (JMPREL cut off its end when RELASZ covers it) with its first DT_RELACOUNT
 *    entries on the RELATIVE fast path (skipped for ld.so), then DT_JMPREL (merged into the first
 *    range when not lazy and contiguous); IRELATIVE entries of each range after the others;
 * 5. symbol references through RESOLVE_MAP: local or hidden references bind to the object itself,
 *    the previous lookup is reused for the same symbol and type class (l_lookup_cache), otherwise
 *    `_dl_lookup_symbol_x` with the versym's version (when its hash is non-zero);
 * 6. l_relocated, TEXTREL protections restored in reverse, `_dl_protect_relro`.
 *
 * Callers pass the object's l_scope: the namespace's global scope (main's search list), preceded by
 * `[map]` alone when the object has DT_SYMBOLIC (`dynamicInfo(rtld, map).symbolic`; glibc's
 * `_dl_map_object_from_fd` does that). At startup rtld.c relocates main's l_initfini from last to
 * first (ld.so skipped), looks up libc's malloc family from the main map (`__rtld_malloc_init_real`),
 * then relocates ld.so, not lazily; test/loader/reloc-harness.ts does exactly that.
 *
 * ld.so itself: in the real process `_dl_start` has applied its RELR and RELATIVE relocations before
 * anything else runs; the model does that (silently) the first time ld.so's map is relocated, so
 * its memory ends as the real one does.
 */
import { EM_AARCH64, PF_R, PF_W, PF_X, PT_LOAD, SHN_ABS, SHN_UNDEF } from "../formats/elf/constants.ts";
import { DT_GNU_PRELINKED } from "../formats/elf/dynamic-tags.ts";
import type { RelaRecord } from "../formats/elf/relocations.ts";
import { STB_LOCAL, STT_GNU_IFUNC, STV_HIDDEN, STV_INTERNAL } from "../formats/elf/symbol-constants.ts";
import { addUserWords, WordWriter, writeUserWords } from "../kernel-shim/mm/user-access.ts";
import { syscall } from "../kernel-shim/syscalls/dispatch.ts";
import { type DynamicInfo, dynamicInfo, type MemSymbol } from "./dynamic-info.ts";
import type { LinkMap } from "./link-map.ts";
import { LoaderError } from "./map-object.ts";
import { AARCH64_RELOCATOR } from "./relocate-aarch64.ts";
import { X86_64_RELOCATOR } from "./relocate-x86_64.ts";
import { protectRelro } from "./relro.ts";
import type { Rtld } from "./rtld.ts";
import {
  Definition,
  dsoName,
  LookupSession,
  lookupStrtabNameInto,
  type RefSymbol,
  takeLookupFailure,
  type VersionReq,
} from "./symbol-lookup.ts";
import { initStartupTls } from "./tls.ts";

// Module-local copies (tsx runs this as CommonJS: an imported binding read is a getter call).
const SHN_ABS_ = SHN_ABS;
const SHN_UNDEF_ = SHN_UNDEF;
const STT_GNU_IFUNC_ = STT_GNU_IFUNC;
const STB_LOCAL_ = STB_LOCAL;
const STV_HIDDEN_ = STV_HIDDEN;
const STV_INTERNAL_ = STV_INTERNAL;

export interface RelocateOptions {
  readonly lazy: boolean;
}

/** A symbol lookup failed during relocation ("symbol lookup error" in glibc's messages). */
export class SymbolLookupError extends LoaderError {
  override name = "SymbolLookupError";
  readonly occasion = "symbol lookup error";
}

/** What RESOLVE_MAP gives a relocation: the defining map and symbol (both undefined for an unresolved weak reference). */
export interface Resolved {
  readonly map: LinkMap | undefined;
  readonly sym: MemSymbol | undefined;
}

/** Everything an architecture's relocation function needs. */
export interface RelocContext {
  readonly rtld: Rtld;
  readonly map: LinkMap;
  readonly info: DynamicInfo;
  /** RESOLVE_MAP for symbol `symIdx` and relocation type `type`. */
  resolve(symIdx: number, type: number): Resolved;
  read64(addr: bigint): bigint;
  write64(addr: bigint, value: bigint): void;
  /** The pass's word writes (user writes of 8 bytes, page checks remembered between slots of one page). */
  readonly words: WordWriter;
  write32(addr: bigint, value: bigint): void;
  copy(dst: bigint, src: bigint, len: bigint): void;
  /** `_dl_error_printf` text (stderr, not fatal). */
  warn(text: string): void;
}

/** One architecture's `elf_machine_*` functions. */
export interface ArchRelocator {
  readonly name: string;
  readonly relative: number;
  readonly irelative: number;
  /** GLOB_DAT, JUMP_SLOT and the absolute 64-bit type (R_X86_64_64, R_AARCH64_ABS64): the fast path's types. */
  readonly globDat: number;
  readonly jumpSlot: number;
  readonly abs64: number;
  /** GLOB_DAT and JUMP_SLOT add r_addend (aarch64) or not (x86_64). */
  readonly slotAddend: boolean;
  /** Whether elf_machine_lazy_rel of every JUMP_SLOT of `info` is the plain `*slot += l_addr`. */
  lazyJumpSlotFast(info: DynamicInfo): boolean;
  /** The IFUNC step of elf_machine_rela for a resolved STT_GNU_IFUNC definition: its resolver's value. */
  ifuncValue(ctx: RelocContext, res: Resolved, symIdx: number, value: bigint): bigint;
  /** elf_machine_type_class. */
  typeClass(type: number): number;
  /** elf_machine_runtime_setup's GOT writes for lazy binding. */
  runtimeSetup(ctx: RelocContext, lazy: boolean): void;
  /** elf_machine_rela. */
  rela(ctx: RelocContext, r: RelaRecord): void;
  /** elf_machine_lazy_rel. */
  lazyRel(ctx: RelocContext, r: RelaRecord): void;
}

export function archRelocator(rtld: Rtld): ArchRelocator {
  return rtld.options.machine === EM_AARCH64 ? AARCH64_RELOCATOR : X86_64_RELOCATOR;
}

/** Counters LD_DEBUG=statistics prints. */
export interface RelocStats {
  relocations: number;
  fromCache: number;
  relative: number;
  readonly warnings: string[];
}
const stats = new WeakMap<Rtld, RelocStats>();
export function relocStats(rtld: Rtld): RelocStats {
  let s = stats.get(rtld);
  if (!s) {
    s = { relocations: 0, fromCache: 0, relative: 0, warnings: [] };
    stats.set(rtld, s);
  }
  return s;
}

const bootstrapped = new WeakSet<Rtld>();

/** The referencing symbol of a relocation, as `_dl_lookup_symbol_x` receives it (st_value/st_size read on demand). */
class RelocRef implements RefSymbol {
  index = 0;
  bind = 0;
  other = 0;
  shndx = 0;
  constructor(
    readonly map: LinkMap,
    private readonly info: DynamicInfo,
  ) {}
  /** Now symbol `index` (one record per relocation pass: a lookup never keeps it). */
  at(index: number, bind: number, other: number, shndx: number): this {
    this.index = index;
    this.bind = bind;
    this.other = other;
    this.shndx = shndx;
    return this;
  }
  get value(): bigint {
    return this.info.symbol(this.index).value;
  }
  get size(): bigint {
    return this.info.symbol(this.index).size;
  }
}

/**
 * l_lookup_cache: the last relocation's symbol index and type class, and the definition it bound to
 * (a lookup fills it in place; map and sym undefined for an unresolved weak reference).
 */
class LookupCache extends Definition implements Resolved {
  symIdx = -1;
  typeClass = -1;
}

/** RESOLVE_MAP's answer for a local or hidden reference (the object itself), reused by one pass. */
class SelfResolved implements Resolved {
  sym: MemSymbol | undefined = undefined;
  constructor(readonly map: LinkMap) {}
}

function makeContext(
  rtld: Rtld,
  map: LinkMap,
  info: DynamicInfo,
  scopes: readonly (readonly LinkMap[])[],
): RelocContext {
  const arch = archRelocator(rtld);
  const st = relocStats(rtld);
  const mm = rtld.proc.mm;
  // One scratch buffer for every write: writeUser copies the bytes into the page, never keeps them.
  const buf = new Uint8Array(8);
  const buf4 = buf.subarray(0, 4);
  const dv = new DataView(buf.buffer);
  // The scope lists do not change while one object is relocated.
  const session = new LookupSession();
  const words = new WordWriter(mm);
  const relocRef = new RelocRef(map, info);
  const self = new SelfResolved(map);
  let cache = info.lookupCache as LookupCache | undefined;
  if (!cache) {
    cache = new LookupCache();
    info.lookupCache = cache;
  }
  const c = cache;
  return {
    rtld,
    map,
    info,
    words,
    resolve(symIdx, type) {
      // The referencing symbol's st_info, st_other, st_shndx and st_name, without a decoded entry
      // kept per reference (a large program's startup has some 14k).
      const head = info.symbolHead(symIdx);
      const nameOff = info.headName;
      const bind = (head & 0xff) >> 4;
      const other = (head >>> 8) & 0xff;
      const vis = other & 3;
      if (bind === STB_LOCAL_ || vis === STV_HIDDEN_ || vis === STV_INTERNAL_) {
        self.sym = info.symbol(symIdx);
        return self;
      }
      const tc = arch.typeClass(type);
      if (c.symIdx === symIdx && c.typeClass === tc) {
        st.fromCache++;
        return c;
      }
      let version: VersionReq | undefined;
      const versions = info.versions();
      const vs = info.versym(symIdx);
      if (versions && vs !== undefined) {
        const v = versions[vs & 0x7fff];
        // l_versions[ndx] itself (its fields are a VersionReq's once the name is known to be there).
        if (v && v.hash !== 0 && v.name !== undefined) version = v as VersionReq;
      }
      st.relocations++;
      // The cache is refilled in place: it names this symbol only once the lookup succeeded.
      c.symIdx = -1;
      const hash = info.nameHash(nameOff);
      const ref = relocRef.at(symIdx, bind, other, head >>> 16);
      const found = lookupStrtabNameInto(
        c,
        rtld,
        map,
        info.strtab,
        nameOff,
        info.nameLength,
        hash,
        scopes,
        version,
        tc,
        ref,
        session,
      );
      if (!found) {
        const fail = takeLookupFailure(rtld);
        if (fail) throw new SymbolLookupError(fail.object, fail.message);
      }
      c.symIdx = symIdx;
      c.typeClass = tc;
      return c;
    },
    read64(addr) {
      const b = mm.readUser(Number(addr), 8);
      return new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
    },
    write64(addr, value) {
      const v = BigInt.asUintN(64, value);
      words.write(Number(addr), Number(v & 0xffffffffn), Number(v >> 32n));
    },
    write32(addr, value) {
      dv.setUint32(0, Number(BigInt.asUintN(32, value)), true);
      mm.writeUser(Number(addr), buf4);
    },
    copy(dst, src, len) {
      if (len > 0n) mm.writeUser(Number(dst), mm.readUser(Number(src), Number(len)));
    },
    warn(text) {
      st.warnings.push(text);
    },
  };
}

/** `elf_dynamic_do_Rela` over one range. */
function doRela(
  ctx: RelocContext,
  arch: ArchRelocator,
  start: bigint,
  size: bigint,
  nrelative: bigint,
  lazy: boolean,
): void {
  const base = Number(ctx.map.addr);
  if (size > 0n && size % 24n === 0n && size <= 0x7fffffffn && Number.isSafeInteger(base)) {
    doRelaTable(ctx, arch, start, size, nrelative, lazy, base);
    return;
  }
  doRelaRecords(ctx, arch, start, size, nrelative, lazy);
}

/** doRela over decoded records (a table whose size is not whole entries: decoding reports it). */
function doRelaRecords(
  ctx: RelocContext,
  arch: ArchRelocator,
  start: bigint,
  size: bigint,
  nrelative: bigint,
  lazy: boolean,
): void {
  const { map, info } = ctx;
  const recs = info.rela(start, size);
  const ireloc: RelaRecord[] = [];
  if (lazy) {
    for (const r of recs) {
      if (r.type === arch.irelative) ireloc.push(r);
      else arch.lazyRel(ctx, r);
    }
    for (const r of ireloc) arch.lazyRel(ctx, r);
    return;
  }
  const nrel = Number(nrelative < BigInt(recs.length) ? nrelative : BigInt(recs.length));
  const st = relocStats(ctx.rtld);
  // ld.so's RELATIVE entries were applied by _dl_start; a prelinked object at its link address needs none.
  if (!map.isRtld && (map.addr !== 0n || !info.has(DT_GNU_PRELINKED))) {
    for (let i = 0; i < nrel; i++) {
      const r = recs[i] as RelaRecord;
      ctx.write64(map.addr + r.offset, map.addr + r.addend);
    }
  }
  st.relative += nrel;
  for (let i = nrel; i < recs.length; i++) {
    const r = recs[i] as RelaRecord;
    if (r.type === arch.irelative) {
      ireloc.push(r);
      continue;
    }
    arch.rela(ctx, r);
  }
  for (const r of ireloc) arch.rela(ctx, r);
}

/** Entry `i` of a RELA table as a record (for the architecture's general functions). */
function recordAt(dv: DataView, i: number): RelaRecord {
  const o = i * 24;
  const info = dv.getBigUint64(o + 8, true);
  return {
    kind: "rela",
    index: i,
    offset: dv.getBigUint64(o, true),
    info,
    sym: dv.getUint32(o + 12, true),
    type: dv.getUint32(o + 8, true),
    addend: dv.getBigInt64(o + 16, true),
  };
}

const TWO32 = 0x1_0000_0000;

/**
 * doRela over a whole table read with one user read, entries decoded from its bytes with number
 * arithmetic: the RELATIVE prefix (DT_RELACOUNT, most of a library's entries) and lazy JUMP_SLOT runs
 * written with one batched user access (writeUserWords / addUserWords: the same per-slot writes
 * and faults), GLOB_DAT/JUMP_SLOT/64 bound through ctx.resolve and written slot by slot; every other
 * type goes to the architecture's elf_machine_rela / elf_machine_lazy_rel. Same order as glibc:
 * IRELATIVE entries after the others.
 */
function doRelaTable(
  ctx: RelocContext,
  arch: ArchRelocator,
  start: bigint,
  size: bigint,
  nrelative: bigint,
  lazy: boolean,
  base: number,
): void {
  const { map, info, rtld } = ctx;
  const mm = rtld.proc.mm;
  const bytes = info.read(start, Number(size));
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = bytes.length / 24;
  const ireloc: number[] = [];
  const baseLo = base % TWO32;
  const baseHi = (base - baseLo) / TWO32;
  /** The table's offset field + l_addr as the general path's Number(l_addr + r_offset) gives it. */
  const slotAddr = (o: number): number => {
    const at = base + dv.getUint32(o, true) + dv.getUint32(o + 4, true) * TWO32;
    return Number.isSafeInteger(at) ? at : Number(map.addr + dv.getBigUint64(o, true));
  };
  if (lazy) {
    const fast = arch.lazyJumpSlotFast(info);
    const addrs = batchAddrs;
    const delta = new Uint32Array([baseLo, baseHi]);
    let n = 0;
    for (let i = 0; i < count; i++) {
      const o = i * 24;
      const t = dv.getUint32(o + 8, true);
      if (t === arch.irelative) ireloc.push(i);
      else if (fast && t === arch.jumpSlot) {
        addrs[n++] = slotAddr(o);
        if (n === BATCH) {
          addUserWords(mm, addrs, delta, n);
          n = 0;
        }
      } else {
        addUserWords(mm, addrs, delta, n);
        n = 0;
        arch.lazyRel(ctx, recordAt(dv, i));
      }
    }
    addUserWords(mm, addrs, delta, n);
    for (const i of ireloc) arch.lazyRel(ctx, recordAt(dv, i));
    return;
  }
  const nrel = nrelative < BigInt(count) ? Number(nrelative) : count;
  const st = relocStats(rtld);
  // ld.so's RELATIVE entries were applied by _dl_start; a prelinked object at its link address needs none.
  if (nrel > 0 && !map.isRtld && (map.addr !== 0n || !info.has(DT_GNU_PRELINKED))) {
    const addrs = batchAddrs;
    const words = batchWords;
    for (let from = 0; from < nrel; from += BATCH) {
      const n = Math.min(BATCH, nrel - from);
      for (let j = 0; j < n; j++) {
        const o = (from + j) * 24;
        addrs[j] = slotAddr(o);
        // l_addr + r_addend mod 2^64, in 32-bit halves.
        const lo = dv.getUint32(o + 16, true) + baseLo;
        words[2 * j] = lo >>> 0;
        words[2 * j + 1] = (dv.getUint32(o + 20, true) + baseHi + (lo >= TWO32 ? 1 : 0)) >>> 0;
      }
      writeUserWords(mm, addrs, words, n);
    }
  }
  st.relative += nrel;
  for (let i = nrel; i < count; i++) {
    const o = i * 24;
    const t = dv.getUint32(o + 8, true);
    if (t === arch.irelative) ireloc.push(i);
    else if (t === arch.globDat || t === arch.jumpSlot || t === arch.abs64) {
      symbolSlot(ctx, arch, dv, o, t, slotAddr(o));
    } else arch.rela(ctx, recordAt(dv, i));
  }
  for (const i of ireloc) arch.rela(ctx, recordAt(dv, i));
}

const slotWords = new Uint32Array(2);

/** Slots per batched user access (reused buffers: a run of RELATIVE or lazy JUMP_SLOT entries goes through in pieces). */
const BATCH = 1024;
const batchAddrs = new Float64Array(BATCH);
const batchWords = new Uint32Array(BATCH * 2);

/** GLOB_DAT / JUMP_SLOT / 64 (ABS64): S (+ A where the architecture adds it), IFUNC resolved. */
function symbolSlot(ctx: RelocContext, arch: ArchRelocator, dv: DataView, o: number, t: number, at: number): void {
  const symIdx = dv.getUint32(o + 12, true);
  const res = ctx.resolve(symIdx, t);
  const sym = res.sym;
  const withAddend = t === arch.abs64 || arch.slotAddend;
  let v = Number.NaN;
  if (sym && !(sym.type === STT_GNU_IFUNC_ && sym.shndx !== SHN_UNDEF_ && res.map)) {
    const a = withAddend ? dv.getUint32(o + 16, true) + dv.getInt32(o + 20, true) * TWO32 : 0;
    v = (sym.shndx === SHN_ABS_ ? 0 : (res.map?.addrN ?? 0)) + sym.valueN + a;
  } else if (!sym) {
    v = withAddend ? dv.getUint32(o + 16, true) + dv.getInt32(o + 20, true) * TWO32 : 0;
  }
  if (Number.isSafeInteger(v) && v >= 0) {
    const lo = v - Math.floor(v / TWO32) * TWO32;
    slotWords[0] = lo;
    slotWords[1] = (v - lo) / TWO32;
  } else {
    let value = symbolAddress(res);
    if (sym && sym.type === STT_GNU_IFUNC_ && sym.shndx !== SHN_UNDEF_ && res.map) {
      value = arch.ifuncValue(ctx, res, symIdx, value);
    }
    if (withAddend) value += dv.getBigInt64(o + 16, true);
    value = BigInt.asUintN(64, value);
    slotWords[0] = Number(value & 0xffffffffn);
    slotWords[1] = Number(value >> 32n);
  }
  ctx.words.write(at, slotWords[0] as number, slotWords[1] as number);
}

/** DT_RELR: `*slot += l_addr` for each address, batched (the same reads, writes and faults as one at a time). */
function applyRelr(ctx: RelocContext): void {
  const { map, info } = ctx;
  const offs = info.relrOffsets();
  const base = Number(map.addr);
  let addrs: Float64Array;
  if (offs && Number.isSafeInteger(base)) {
    if (offs.length === 0) return;
    addrs = new Float64Array(offs.length);
    for (let i = 0; i < offs.length; i++) {
      const at = base + (offs[i] as number);
      addrs[i] = Number.isSafeInteger(at) ? at : Number(map.addr + BigInt(offs[i] as number));
    }
  } else {
    const relr = info.relr();
    if (relr.length === 0) return;
    addrs = new Float64Array(relr.length);
    for (let i = 0; i < relr.length; i++) addrs[i] = Number(map.addr + (relr[i] as bigint));
  }
  const a = BigInt.asUintN(64, map.addr);
  addUserWords(ctx.rtld.proc.mm, addrs, new Uint32Array([Number(a & 0xffffffffn), Number(a >> 32n)]), addrs.length);
}

/** `_dl_start`'s self-relocation of ld.so (RELR and the RELATIVE entries), once per process. */
function bootstrapRtld(ctx: RelocContext, arch: ArchRelocator): void {
  const { rtld, map, info } = ctx;
  if (bootstrapped.has(rtld)) return;
  bootstrapped.add(rtld);
  applyRelr(ctx);
  const rr = info.relaRange;
  if (rr) {
    for (const r of info.rela(rr.start, rr.size)) {
      if (r.type === arch.relative) ctx.write64(map.addr + r.offset, map.addr + r.addend);
    }
  }
}

/**
 * `_dl_relocate_object(map, scopes, lazy ? RTLD_LAZY : 0, 0)`. Errors: a strong reference that
 * cannot be resolved (SymbolLookupError: "undefined symbol: X[, version V]"), an mprotect failure,
 * an unknown relocation type (LoaderError with glibc's text).
 */
export function relocateObject(
  rtld: Rtld,
  map: LinkMap,
  scopes: readonly (readonly LinkMap[])[],
  options: RelocateOptions,
): void {
  if (map.relocated) return;
  initStartupTls(rtld);
  const info = dynamicInfo(rtld, map);
  const arch = archRelocator(rtld);
  let lazy = options.lazy;
  if (info.bindNow) lazy = false;
  if (rtld.debug.on("reloc")) {
    rtld.debug.emit("reloc", "");
    rtld.debug.emit("reloc", `relocation processing: ${dsoName(rtld, map)}${lazy ? " (lazy)" : ""}`);
  }
  const page = BigInt(rtld.proc.mm.pageSize);
  const textrels: { start: bigint; len: bigint; prot: number }[] = [];
  if (info.textrel) {
    for (const ph of map.phdrs) {
      if (ph.type !== PT_LOAD || (ph.flags & PF_W) !== 0) continue;
      const start = map.addr + (ph.vaddr & ~(page - 1n));
      const len = ((ph.vaddr + ph.memsz + page - 1n) & ~(page - 1n)) - (ph.vaddr & ~(page - 1n));
      const prot = (ph.flags & PF_R ? 1 : 0) | (ph.flags & PF_W ? 2 : 0) | (ph.flags & PF_X ? 4 : 0);
      const r = syscall(rtld.proc, "mprotect", start, len, prot | 2);
      if (r < 0n) throw new LoaderError(map.name, "cannot make segment writable for relocation", Number(-r));
      textrels.unshift({ start, len, prot });
    }
  }
  const ctx = makeContext(rtld, map, info, scopes);
  if (map.isRtld) bootstrapRtld(ctx, arch);
  const jmprel = info.jmprelRange;
  const doLazy = lazy && jmprel !== undefined;
  arch.runtimeSetup(ctx, doLazy);
  if (!map.isRtld) applyRelr(ctx);
  // _ELF_DYNAMIC_DO_RELOC's two ranges.
  const r0 = { start: 0n, size: 0n, nrelative: 0n };
  let r1: { start: bigint; size: bigint } | undefined;
  const rr = info.relaRange;
  if (rr) {
    r0.start = rr.start;
    r0.size = rr.size;
    r0.nrelative = rr.nrelative;
  }
  if (jmprel) {
    if (r0.start === 0n) r0.start = jmprel.start;
    if (r0.start + r0.size === jmprel.start + jmprel.size) r0.size -= jmprel.size;
    if (!lazy && r0.start + r0.size === jmprel.start) r0.size += jmprel.size;
    else r1 = jmprel;
  }
  doRela(ctx, arch, r0.start, r0.size, r0.nrelative, false);
  if (r1) doRela(ctx, arch, r1.start, r1.size, 0n, lazy);
  map.relocated = true;
  for (const t of textrels) {
    const r = syscall(rtld.proc, "mprotect", t.start, t.len, t.prot);
    if (r < 0n) throw new LoaderError(map.name, "cannot restore segment prot after reloc", Number(-r));
  }
  protectRelro(rtld, map);
}

/** `_dl_reloc_bad_type`: "unexpected reloc type 0x%x" / "unexpected PLT reloc type 0x%x". */
export function badRelocType(map: LinkMap, type: number, plt: boolean): LoaderError {
  // Two hex digits, eight when the type does not fit a byte (64-bit ld.so).
  const digits = type > 0xff ? 8 : 2;
  const hexType = (type >>> 0).toString(16).padStart(digits, "0").slice(-digits);
  return new LoaderError(map.name, `unexpected ${plt ? "PLT " : ""}reloc type 0x${hexType}`);
}

/** SYMBOL_ADDRESS(sym_map, sym, true): 0 for an unresolved weak reference, st_value for SHN_ABS. */
/** The smaller of two bigints (Math.min takes numbers only). */
export const minBig = (a: bigint, b: bigint): bigint => (a < b ? a : b);

export function symbolAddress(res: Resolved): bigint {
  if (!res.sym) return 0n;
  return (res.sym.shndx === 0xfff1 ? 0n : (res.map?.addr ?? 0n)) + res.sym.value;
}
