/**
 * Static TLS as glibc 2.36 lays it out (elf/dl-tls.c `_dl_next_tls_modid`, `_dl_determine_tlsoffset`,
 * `_dl_tls_static_surplus_init`, `_dl_try_allocate_static_tls`):
 *
 * - module ids: the main program gets 1 when it has PT_TLS (rtld.c), every other object with a
 *   non-empty PT_TLS the next id when it is mapped (`_dl_next_tls_modid`; gaps left by dlclose are
 *   reused first);
 * - x86_64 (TLS_TCB_AT_TP, variant II): blocks below the thread pointer, l_tls_offset a positive
 *   distance (address = tp − offset), filling free space left by alignment first;
 * - aarch64 (TLS_DTV_AT_TP, variant I): blocks after a 16-byte TCB (address = tp + offset);
 * - the static surplus (`_dl_tls_static_surplus_init`, loader/init-tls.ts `staticSurplus`): 1664 bytes
 *   with the default tunables (nns 4, optional_static_tls 512), from which a dlopen'ed module with
 *   initial-exec TLS gets a static block, and TLSDESC an optional one from at most 512 of them;
 * - dlclose gives a static block back only when it ends the used area (`_dl_close_worker`).
 */
import { EM_AARCH64 } from "../formats/elf/constants.ts";
import { dynamicInfo } from "./dynamic-info.ts";
import { higherPrimeNumber } from "./higher-prime-number.ts";
import {
  determineTlsOffsetsVariantI,
  determineTlsOffsets as determineTlsOffsetsVariantII,
  GLIBC236_AARCH64_TLS,
  GLIBC236_X86_64_TLS,
  staticSurplus,
  type TlsModule,
} from "./init-tls.ts";
import type { LinkMap } from "./link-map.ts";
import { LoaderError } from "./map-object.ts";
import type { Rtld } from "./rtld.ts";

/**
 * x86_64 TLS_TCB_SIZE: sizeof (struct pthread) in Debian 12's glibc 2.36 — the same ABI facts
 * init_tls uses (loader/init-tls.ts, measured from the rseq area's offset in real strace runs).
 */
export const X86_64_TCB_SIZE = BigInt(GLIBC236_X86_64_TLS.tcbSize);

export interface TlsState {
  /** GL(dl_tls_max_dtv_idx). */
  maxDtvIdx: number;
  /** slotinfo: module id → map (index 0 unused). */
  readonly slots: (LinkMap | undefined)[];
  /** _dl_determine_tlsoffset has run. */
  static: boolean;
  staticUsed: bigint;
  staticSize: bigint;
  staticAlign: bigint;
  staticOptional: bigint;
  surplus: bigint;
  /** dl_tls_generation. */
  generation: number;
  /**
   * `_dl_close_worker`'s tls_free_start/tls_free_end: the contiguous chunk of static TLS freed by the
   * dlclose in progress (undefined = NO_TLS_OFFSET), and whether it removed any TLS module (any_tls).
   */
  freeChunk: { start: bigint; end: bigint } | undefined;
  anyTlsRemoved: boolean;
  /**
   * TLS_DTV_AT_TP: `_dl_try_allocate_static_tls` overwrites l_tls_firstbyte_offset with the
   * dl_tls_static_used it started from; `_dl_close_worker` reads that back as the block's start.
   */
  readonly firstbyteAfterAlloc: WeakMap<LinkMap, bigint>;
  /** l_need_tls_init: a static block allocated while its object was being relocated, filled in later. */
  readonly needTlsInit: WeakSet<LinkMap>;
}

const states = new WeakMap<Rtld, TlsState>();

export function tlsState(rtld: Rtld): TlsState {
  let s = states.get(rtld);
  if (!s) {
    // `_dl_tls_static_surplus_init (0)` with the default tunables: 1664 bytes.
    const abi = isAarch64(rtld) ? GLIBC236_AARCH64_TLS : GLIBC236_X86_64_TLS;
    const surplus = staticSurplus(abi);
    s = {
      maxDtvIdx: 0,
      slots: [undefined],
      static: false,
      staticUsed: 0n,
      staticSize: 0n,
      staticAlign: 0n,
      staticOptional: BigInt(abi.optionalStaticTls),
      surplus,
      generation: 0,
      freeChunk: undefined,
      anyTlsRemoved: false,
      firstbyteAfterAlloc: new WeakMap(),
      needTlsInit: new WeakSet(),
    };
    states.set(rtld, s);
  }
  return s;
}

const isAarch64 = (rtld: Rtld) => rtld.options.machine === EM_AARCH64;
const roundup = (v: bigint, a: bigint) => (a <= 1n ? v : ((v + a - 1n) / a) * a);

/** `_dl_next_tls_modid` + recording the map in the slotinfo (0 when the object has no PT_TLS). */
export function assignTlsModid(rtld: Rtld, map: LinkMap): number {
  const st = tlsState(rtld);
  if (map.tlsModid !== 0) {
    // Assigned already (loader/init-tls.ts at startup): record it in the slotinfo.
    st.slots[map.tlsModid] = map;
    if (map.tlsModid > st.maxDtvIdx) st.maxDtvIdx = map.tlsModid;
    return map.tlsModid;
  }
  const tls = dynamicInfo(rtld, map).tls;
  if (!tls) return 0;
  let id = st.slots.findIndex((m, i) => i > 0 && i <= st.maxDtvIdx && m === undefined);
  if (id < 0) {
    id = ++st.maxDtvIdx;
    st.slots[id] = map;
  } else st.slots[id] = map;
  map.tlsModid = id;
  return id;
}

/**
 * Forget a module (`_dl_close_worker`, for each object being unloaded): its id becomes a gap reused
 * by the next load, and a static block (dlopen'ed with initial-exec TLS) joins the chunk being
 * reclaimed — given back by `finishTlsRelease` only if the chunk ends where the used area ends.
 */
export function releaseTlsModid(rtld: Rtld, map: LinkMap): void {
  const st = tlsState(rtld);
  if (map.tlsModid > 0 && st.slots[map.tlsModid] === map) st.slots[map.tlsModid] = undefined;
  if (map.tlsModid === st.maxDtvIdx) {
    while (st.maxDtvIdx > 0 && st.slots[st.maxDtvIdx] === undefined) st.maxDtvIdx--;
  }
  const t = dynamicInfo(rtld, map).tls;
  if (t) st.anyTlsRemoved = true;
  if (t && map.tlsOffset !== undefined) {
    const firstbyte = st.firstbyteAfterAlloc.get(map) ?? t.firstbyteOffset;
    if (isAarch64(rtld)) reclaimVariantI(st, map.tlsOffset, t.blocksize, firstbyte);
    else reclaimVariantII(st, map.tlsOffset, t.blocksize);
  }
  map.tlsModid = 0;
  map.tlsOffset = undefined;
}

/**
 * The end of `_dl_close_worker`: bump dl_tls_generation once if any TLS module went, and give the
 * freed chunk back when it is the top of the used static area (`tls_free_end == dl_tls_static_used`).
 */
export function finishTlsRelease(rtld: Rtld): void {
  const st = tlsState(rtld);
  if (st.anyTlsRemoved) {
    st.generation++;
    const c = st.freeChunk;
    if (c && c.end === st.staticUsed) st.staticUsed = c.start;
  }
  st.freeChunk = undefined;
  st.anyTlsRemoved = false;
}

/**
 * dl-close.c, TLS_TCB_AT_TP: the block is [offset − blocksize, offset) below the thread pointer. A
 * block contiguous with the chunk extends it; otherwise one of the two is given back at once if it is
 * the top of the used area, or the later one is kept (the other one leaks).
 */
function reclaimVariantII(st: TlsState, offset: bigint, blocksize: bigint): void {
  const c = st.freeChunk;
  if (c === undefined) st.freeChunk = { start: offset - blocksize, end: offset };
  else if (offset === c.start) c.start = offset - blocksize;
  else if (offset - blocksize === c.end) c.end = offset;
  else if (c.end === st.staticUsed) {
    st.staticUsed = c.start;
    st.freeChunk = { start: offset - blocksize, end: offset };
  } else if (offset === st.staticUsed) st.staticUsed = offset - blocksize;
  else if (c.end < offset) st.freeChunk = { start: offset - blocksize, end: offset };
}

/**
 * dl-close.c, TLS_DTV_AT_TP: the block is [firstbyte, offset + blocksize), firstbyte being the
 * l_tls_firstbyte_offset that `_dl_try_allocate_static_tls` set to the used size before the block.
 */
function reclaimVariantI(st: TlsState, offset: bigint, blocksize: bigint, firstbyte: bigint): void {
  const c = st.freeChunk;
  const end = offset + blocksize;
  if (c === undefined) st.freeChunk = { start: firstbyte, end };
  else if (firstbyte === c.end) c.end = end;
  else if (end === c.start) c.start = firstbyte;
  else if (end === st.staticUsed) st.staticUsed = firstbyte;
  else if (c.end === st.staticUsed) {
    st.staticUsed = c.start;
    st.freeChunk = { start: firstbyte, end };
  } else if (c.end < firstbyte) st.freeChunk = { start: firstbyte, end };
}

/**
 * `_dl_determine_tlsoffset`: static offsets for every module known at startup, in module-id order,
 * and the static block's size — the one layout implementation, in loader/init-tls.ts (which
 * `init_tls` also uses to size the block it allocates).
 */
export function determineTlsOffsets(rtld: Rtld): void {
  const st = tlsState(rtld);
  const abi = isAarch64(rtld) ? GLIBC236_AARCH64_TLS : GLIBC236_X86_64_TLS;
  const modules: TlsModule[] = [];
  for (const m of st.slots.slice(1, st.maxDtvIdx + 1)) {
    const t = m && dynamicInfo(rtld, m).tls;
    if (!m || !t) continue;
    modules.push({ map: m, ...t, align: t.align === 0n ? 1n : t.align });
  }
  const layout =
    abi.variant === "I"
      ? determineTlsOffsetsVariantI(modules, st.surplus, abi)
      : determineTlsOffsetsVariantII(modules, st.surplus, abi);
  st.staticUsed = layout.staticUsed;
  st.staticSize = layout.staticSize;
  st.staticAlign = layout.staticAlign;
  st.static = true;
}

/**
 * The startup part of TLS setup (rtld.c `init_tls` after the dependencies are loaded): module ids
 * for the loaded objects in l_next order (the main program first) and the static layout. Runs once.
 */
export function initStartupTls(rtld: Rtld): void {
  const st = tlsState(rtld);
  if (st.static) return;
  for (const m of rtld.ns.maps) assignTlsModid(rtld, m);
  determineTlsOffsets(rtld);
}

/**
 * `_dl_try_allocate_static_tls`: a static block from the surplus for a module loaded after startup
 * (initial-exec TLS in a dlopen'ed object); false when it does not fit.
 */
export function tryAllocateStaticTls(rtld: Rtld, map: LinkMap, optional: boolean): boolean {
  const st = tlsState(rtld);
  const t = dynamicInfo(rtld, map).tls;
  if (!t) return false;
  if (t.align > st.staticAlign) return false;
  const align = t.align === 0n ? 1n : t.align;
  if (!isAarch64(rtld)) {
    let freebytes = st.staticSize - st.staticUsed;
    if (freebytes < X86_64_TCB_SIZE) return false;
    freebytes -= X86_64_TCB_SIZE;
    const blsize = t.blocksize + t.firstbyteOffset;
    if (freebytes < blsize) return false;
    const n = (freebytes - blsize) / align;
    const use = freebytes - n * align - t.firstbyteOffset;
    if (optional && use > st.staticOptional) return false;
    if (optional) st.staticOptional -= use;
    const offset = st.staticUsed + use;
    map.tlsOffset = offset;
    st.staticUsed = offset;
    initNowOrLater(rtld, st, map);
    return true;
  }
  const offset = roundup(st.staticUsed - t.firstbyteOffset, align) + t.firstbyteOffset;
  const used = offset + t.blocksize;
  if (used > st.staticSize) return false;
  const use = used - st.staticUsed;
  if (optional && use > st.staticOptional) return false;
  if (optional) st.staticOptional -= use;
  map.tlsOffset = offset;
  st.firstbyteAfterAlloc.set(map, st.staticUsed);
  st.staticUsed = used;
  initNowOrLater(rtld, st, map);
  return true;
}

/**
 * The end of `_dl_try_allocate_static_tls`: an object already relocated gets its block filled in
 * now (dl_init_static_tls); one being relocated is marked l_need_tls_init, for `updateTlsSlotinfo`
 * once its relocations (which may touch the init image) are done.
 */
function initNowOrLater(rtld: Rtld, st: TlsState, map: LinkMap): void {
  if (map.relocated) initStaticTls(rtld, map);
  else st.needTlsInit.add(map);
}

/**
 * dl-open.c `update_tls_slotinfo` (after the demarcation point, when a new object has TLS): a new
 * dl_tls_generation, then dl_init_static_tls for each object of the new search list still marked
 * l_need_tls_init and not yet initialised.
 */
export function updateTlsSlotinfo(rtld: Rtld, root: LinkMap): void {
  const st = tlsState(rtld);
  const list = root.searchlist ?? [root];
  if (!list.some((m) => !m.initCalled && dynamicInfo(rtld, m).tls)) return;
  st.generation++;
  for (const m of list) {
    if (!st.needTlsInit.has(m) || m.initCalled) continue;
    st.needTlsInit.delete(m);
    initStaticTls(rtld, m);
  }
}

/**
 * dl_init_static_tls (nptl `__nptl_init_static_tls` → init_one_static_tls) for the process's one
 * thread: the init image at tp − l_tls_offset, the rest of the block zeroed. x86_64 only: the model
 * keeps the thread pointer as the FS base (arch_prctl); aarch64's `msr tpidr_el0` is not kept.
 */
export function initStaticTls(rtld: Rtld, map: LinkMap): void {
  const t = dynamicInfo(rtld, map).tls;
  const off = map.tlsOffset;
  const tp = rtld.proc.fsBase;
  if (!t || off === undefined || isAarch64(rtld) || tp === 0n) return;
  // Allocated from the static surplus, so the block is at most a few KiB.
  const block = new Uint8Array(Number(t.blocksize));
  const n = Math.min(Number(t.initimageSize), block.length);
  if (n > 0) block.set(rtld.proc.mm.readUser(Number(t.initimage), n));
  rtld.proc.mm.writeUser(Number(tp - off), block);
}

/**
 * TRY_STATIC_TLS (elf/dl-reloc.c, used by R_X86_64_TLSDESC and R_AARCH64_TLSDESC in a shared ld.so):
 * the module's static offset, allocating one from the optional surplus
 * (`_dl_try_allocate_static_tls (map, true)`, at most glibc.rtld.optional_static_tls bytes in all)
 * if it has none; undefined when that does not fit — the descriptor then goes dynamic
 * (`_dl_make_tlsdesc_dynamic`, `_dl_tlsdesc_dynamic`) and the dlopen still succeeds.
 */
export function tryStaticTls(rtld: Rtld, map: LinkMap): bigint | undefined {
  if (map.tlsOffset !== undefined) return map.tlsOffset;
  return tryAllocateStaticTls(rtld, map, true) ? map.tlsOffset : undefined;
}

/** CHECK_STATIC_TLS: the defining module must have a static block (allocated now if possible). */
export function checkStaticTls(rtld: Rtld, map: LinkMap): bigint {
  if (map.tlsOffset !== undefined) return map.tlsOffset;
  if (!tryAllocateStaticTls(rtld, map, false)) {
    throw new LoaderError(map.name, "cannot allocate memory in static TLS block");
  }
  return map.tlsOffset as unknown as bigint;
}

/** One map's `l_mach.tlsdesc_table` (elf/tlsdeschtab.h): its size, count and the args by ti_offset. */
interface TlsdescTable {
  size: number;
  entries: bigint;
  readonly args: Map<bigint, bigint>;
}
const tlsdescTables = new WeakMap<LinkMap, TlsdescTable>();

/**
 * `_dl_make_tlsdesc_dynamic` (elf/tlsdeschtab.h): the argument of a TLSDESC that found no static
 * TLS room (TRY_STATIC_TLS failed) — a malloc'd `struct tlsdesc_dynamic_arg` {ti_module, ti_offset,
 * gen_count} (24 bytes), one per (module, offset), kept in a per-map hash table that `htab_create`
 * makes on first use (a 32-byte `struct hashtab` and 3 slots) and `htab_expand` regrows when 3/4
 * full. Returns the argument's address; the memory itself is libc's heap, not modelled byte by byte.
 */
export function makeTlsdescDynamic(rtld: Rtld, map: LinkMap, tiOffset: bigint): bigint {
  let ht = tlsdescTables.get(map);
  if (!ht) {
    rtld.malloc.malloc(32);
    ht = { size: 3, entries: rtld.malloc.malloc(3 * 8), args: new Map() };
    tlsdescTables.set(map, ht);
  }
  const known = ht.args.get(tiOffset);
  if (known !== undefined) return known;
  if (ht.size * 3 <= ht.args.size * 4) {
    // htab_expand: the next prime above twice the elements, a new slot array, the old one freed.
    const nsize = higherPrimeNumber(ht.args.size * 2);
    const fresh = rtld.malloc.malloc(nsize * 8);
    rtld.malloc.free(ht.entries);
    ht.entries = fresh;
    ht.size = nsize;
  }
  const arg = rtld.malloc.malloc(24);
  ht.args.set(tiOffset, arg);
  return arg;
}
