/**
 * Symbol lookup as glibc 2.36 ld.so does it (elf/dl-lookup.c `_dl_lookup_symbol_x`, `do_lookup_x`,
 * `check_match`, `do_lookup_unique`, `add_dependency`, `_dl_debug_bindings`), over the tables each
 * object has in process memory (loader/dynamic-info.ts).
 *
 * - Scopes are walked in order, each scope's maps in order; `skip` (RTLD_NEXT) starts the first
 *   scope after that map and is skipped in every scope; a COPY lookup skips the executable.
 * - Per map: LD_DEBUG=symbols prints "symbol=X;  lookup in file=Y [0]" (even for a map with no
 *   hash table), then the GNU hash (bloom filter, bucket, chain) or the SysV hash chain is walked
 *   with check_match's tests: value/section, type, name, version.
 * - Unversioned references to a versioned object: index ≤ 2 (≤ 1 for dlsym's RETURN_NEWEST)
 *   matches; higher non-hidden indices are counted, and exactly one such candidate is accepted.
 * - Binding: hidden/internal definitions are skipped, GLOBAL and WEAK win at once (LD_DYNAMIC_WEAK
 *   is not modelled), GNU_UNIQUE goes through the namespace's unique table.
 * - A versioned lookup that reaches the object named by the Verneed without finding the symbol
 *   stops the whole lookup (do_lookup_x returns -1).
 * - Protected references (the referencing symbol is STV_PROTECTED) bind to themselves unless the
 *   definition found is their own. `_dl_check_protected_symbol` only acts for objects marked
 *   GNU_PROPERTY_1_NEEDED_INDIRECT_EXTERN_ACCESS, which the model does not read (see report).
 */
import { SHN_ABS as SHN_ABS_, SHN_UNDEF as SHN_UNDEF_ } from "../formats/elf/constants.ts";
import { sysvHash } from "../formats/elf/hash-function.ts";
import {
  STB_GLOBAL as STB_GLOBAL_,
  STB_GNU_UNIQUE as STB_GNU_UNIQUE_,
  STB_WEAK as STB_WEAK_,
  STT_COMMON as STT_COMMON_,
  STT_FUNC as STT_FUNC_,
  STT_GNU_IFUNC as STT_GNU_IFUNC_,
  STT_NOTYPE as STT_NOTYPE_,
  STT_OBJECT as STT_OBJECT_,
  STT_TLS as STT_TLS_,
  STV_HIDDEN as STV_HIDDEN_,
  STV_INTERNAL as STV_INTERNAL_,
  STV_PROTECTED as STV_PROTECTED_,
} from "../formats/elf/symbol-constants.ts";
import { type DynamicInfo, dynamicInfo, type MemSymbol } from "./dynamic-info.ts";
import type { LinkMap } from "./link-map.ts";
import type { Rtld } from "./rtld.ts";
import { META, ScopeBlooms, TEST_IN_OBJECT } from "./scope-blooms.ts";
import { allocateForInsert, type UniqueTableMemory } from "./unique-table.ts";

// Module-local copies of the ELF constants: tsx runs this as CommonJS, where every read of an
// imported binding is a getter call, and these are read in the innermost lookup loop.
const SHN_ABS = SHN_ABS_;
const SHN_UNDEF = SHN_UNDEF_;
const STB_GLOBAL = STB_GLOBAL_;
const STB_GNU_UNIQUE = STB_GNU_UNIQUE_;
const STB_WEAK = STB_WEAK_;
const STT_COMMON = STT_COMMON_;
const STT_FUNC = STT_FUNC_;
const STT_GNU_IFUNC = STT_GNU_IFUNC_;
const STT_NOTYPE = STT_NOTYPE_;
const STT_OBJECT = STT_OBJECT_;
const STT_TLS = STT_TLS_;
const STV_HIDDEN = STV_HIDDEN_;
const STV_INTERNAL = STV_INTERNAL_;
const STV_PROTECTED = STV_PROTECTED_;

/** ELF_RTYPE_CLASS_PLT / ELF_RTYPE_CLASS_COPY (sysdeps/generic/ldsodefs.h). */
export const ELF_RTYPE_CLASS_PLT = 1;
export const ELF_RTYPE_CLASS_COPY = 2;

export interface VersionReq {
  readonly name: string;
  readonly hash: number;
  readonly hidden: boolean;
  readonly filename: string | undefined;
}

export interface SymbolMatch {
  readonly map: LinkMap;
  readonly name: string;
  /** st_value + l_addr (0 + st_value for SHN_ABS), before IFUNC. */
  readonly value: bigint;
  readonly size: bigint;
  readonly type: number;
  readonly bind: number;
  readonly other: number;
  readonly shndx: number;
  /** The defining symbol's index in `map`'s DT_SYMTAB. */
  readonly index: number;
  /** st_value as stored. */
  readonly stValue: bigint;
}

/** The referencing symbol (`*ref` on entry to `_dl_lookup_symbol_x`). */
export interface RefSymbol {
  readonly map: LinkMap;
  readonly index: number;
  readonly bind: number;
  readonly other: number;
  readonly value: bigint;
  readonly shndx: number;
  readonly size: bigint;
}

export interface LookupFlags {
  /** ELF_RTYPE_CLASS_PLT=1, COPY=2. */
  readonly typeClass?: number;
  /** RTLD_NEXT's skip_map. */
  readonly skip?: LinkMap;
  /** dlsym (DL_LOOKUP_RETURN_NEWEST, no dependency recording). */
  readonly dlsym?: boolean;
  /** The referencing symbol: decides weak (no error), protected handling and `sym != ref`. */
  readonly ref?: RefSymbol;
  /** DL_LOOKUP_ADD_DEPENDENCY (relocations and lazy binding; not dlsym). Default: !dlsym. */
  readonly addDependency?: boolean;
}

/** `undefined symbol: NAME[, version V]` for a failed strong reference (category "symbol lookup error"). */
export interface LookupFailure {
  readonly object: string;
  readonly message: string;
}

interface NsState {
  readonly unique: Map<string, { sym: MemSymbol; map: LinkMap }>;
  /** What ld.so allocated for that table (loader/unique-table.ts). */
  readonly uniqueMem: UniqueTableMemory;
  readonly failures: LookupFailure[];
  /** number of relocations (lookups), "from cache" counted by relocate.ts. */
  lookups: number;
}
const states = new WeakMap<Rtld, NsState>();
export function lookupState(rtld: Rtld): NsState {
  let s = states.get(rtld);
  if (!s) {
    s = { unique: new Map(), uniqueMem: { entries: undefined, size: 0 }, failures: [], lookups: 0 };
    states.set(rtld, s);
  }
  return s;
}

/** DSO_FILENAME: l_name, or the program name for the main program's empty name. */
export function dsoName(rtld: Rtld, map: LinkMap): string {
  return map.name !== "" ? map.name : rtld.progname;
}

const ALLOWED_STT =
  (1 << STT_NOTYPE) | (1 << STT_OBJECT) | (1 << STT_FUNC) | (1 << STT_COMMON) | (1 << STT_TLS) | (1 << STT_GNU_IFUNC);

/**
 * A lookup's out-parameter, filled in place (a relocation pass makes thousands of lookups: no record
 * per lookup): whether a definition was found and, if so, its symbol and object.
 */
export class Definition {
  found = false;
  sym: MemSymbol | undefined = undefined;
  map: LinkMap | undefined = undefined;
  set(sym: MemSymbol, map: LinkMap): void {
    this.found = true;
    this.sym = sym;
    this.map = map;
  }
  clear(): void {
    this.found = false;
    this.sym = undefined;
    this.map = undefined;
  }
}

/** `_dl_new_hash` (formats/elf/hash-function.ts gnuHash) of a latin1 name as an int32, without a byte copy. */
function gnuHash(name: string): number {
  let h = 5381;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 33) + (name.charCodeAt(i) & 0xff)) | 0;
  return h;
}

/**
 * The name a walk looks for, with its hashes: `_dl_new_hash` at once, `_dl_elf_hash` when a
 * DT_HASH-only object needs it. A relocation's name stays bytes in the referencing object's
 * DT_STRTAB (check_match compares bytes with bytes, as strcmp does); the string is built only for
 * what needs one (LD_DEBUG, errors, the unique table).
 */
class LookupName {
  private str: string | undefined = "";
  /** The name's bytes (not NUL-terminated here) when it was given as a string-table entry. */
  private bytes: Uint8Array | undefined = undefined;
  private off = 0;
  /** Its length in bytes. */
  len = 0;
  /** `_dl_new_hash` as an int32 (bit operations treat it as the uint32 it is; `>>> 0` where arithmetic needs it). */
  gnu = 0;
  sysv = -1;
  ofString(name: string, gnu: number): void {
    this.str = name;
    this.bytes = undefined;
    this.len = name.length;
    this.gnu = gnu;
    this.sysv = -1;
  }
  ofBytes(strtab: Uint8Array, off: number, len: number, gnu: number): void {
    this.str = undefined;
    this.bytes = strtab;
    this.off = off;
    this.len = len;
    this.gnu = gnu;
    this.sysv = -1;
  }
  get name(): string {
    if (this.str === undefined) {
      const b = this.bytes as Uint8Array;
      this.str = Buffer.from(b.buffer, b.byteOffset + this.off, this.len).toString("latin1");
    }
    return this.str;
  }
  /** strcmp(t + off, name) == 0. */
  isAt(t: Uint8Array, off: number): boolean {
    const len = this.len;
    if (off + len >= t.length || t[off + len] !== 0) return false;
    const b = this.bytes;
    if (b === undefined) {
      const s = this.str as string;
      for (let i = 0; i < len; i++) if (t[off + i] !== s.charCodeAt(i)) return false;
      return true;
    }
    const o = this.off;
    for (let i = 0; i < len; i++) if (t[off + i] !== b[o + i]) return false;
    return true;
  }
}

/** The one LookupName lookups fill in (they never nest). */
const walkName = new LookupName();

// check_match's versioned-candidate counter (num_versions, versioned_sym) for the object being
// searched: module state instead of an object per do_lookup_x (the walk never re-enters itself).
let candidates = 0;
let versionedSym: MemSymbol | undefined;

function checkMatch(
  info: DynamicInfo,
  h: LookupName,
  ref: RefSymbol | undefined,
  version: VersionReq | undefined,
  newest: boolean,
  typeClass: number,
  idx: number,
): MemSymbol | undefined {
  const sym = info.symbol(idx);
  if (
    (sym.valueN === 0 && sym.shndx !== SHN_ABS && sym.type !== STT_TLS) ||
    (typeClass & (sym.shndx === SHN_UNDEF ? 1 : 0)) !== 0
  ) {
    return undefined;
  }
  if (((1 << sym.type) & ALLOWED_STT) === 0) return undefined;
  const isRef = ref !== undefined && ref.map === info.map && ref.index === idx;
  if (!isRef && !h.isAt(info.strtab, sym.nameOffset)) return undefined;
  const versions = info.versions();
  const vs = versions ? info.versym(idx) : undefined;
  if (version !== undefined) {
    if (vs !== undefined && versions) {
      const ndx = vs & 0x7fff;
      const have = versions[ndx];
      const same = have !== undefined && have.hash === version.hash && have.name === version.name;
      if (!same && (version.hidden || (have?.hash ?? 0) !== 0 || (vs & 0x8000) !== 0)) return undefined;
    }
  } else if (vs !== undefined) {
    if ((vs & 0x7fff) >= (newest ? 2 : 3)) {
      if ((vs & 0x8000) === 0 && candidates++ === 0) versionedSym = sym;
      return undefined;
    }
  }
  return sym;
}

/**
 * `_dl_lookup_symbol_x`'s walk: `do_lookup_x` on each scope in turn (the first from `start`, the rest
 * whole) until one reports a definition or a fatal error. `blooms` (from the scope index) holds each
 * list's bloom filters, flattened.
 */
function walkScopes(
  rtld: Rtld,
  h: LookupName,
  ref: RefSymbol | undefined,
  result: Definition,
  scopes: readonly (readonly LinkMap[])[],
  blooms: ScopeBlooms[] | undefined,
  start: number,
  version: VersionReq | undefined,
  newest: boolean,
  skip: LinkMap | undefined,
  typeClass: number,
  undefMap: LinkMap | undefined,
): void {
  const dbg = rtld.debug.on("symbols");
  for (let s = 0; s < scopes.length; s++) {
    const scope = scopes[s] as readonly LinkMap[];
    const r = doLookupX(
      rtld,
      h,
      ref,
      result,
      scope,
      blooms?.[s],
      s === 0 ? start : 0,
      version,
      newest,
      skip,
      typeClass,
      undefMap,
      dbg,
    );
    if (r !== 0) break;
  }
}

/**
 * `do_lookup_x` over one scope from position `start`: 1 found (in `result`), 0 not found.
 * With `view` (an indexed walk: no skip map, no COPY lookup, no LD_DEBUG=symbols line, as
 * lookupCore guarantees) the bloom filters and buckets are read from the scope's flattened index.
 */
function doLookupX(
  rtld: Rtld,
  h: LookupName,
  ref: RefSymbol | undefined,
  result: Definition,
  scope: readonly LinkMap[],
  view: ScopeBlooms | undefined,
  start: number,
  version: VersionReq | undefined,
  newest: boolean,
  skip: LinkMap | undefined,
  typeClass: number,
  undefMap: LinkMap | undefined,
  dbg: boolean,
): number {
  if (view) return indexedLookup(rtld, h, ref, result, scope, view, start, version, newest, typeClass, undefMap);
  const copy = (typeClass & ELF_RTYPE_CLASS_COPY) !== 0;
  for (let i = start; i < scope.length; i++) {
    const map = scope[i] as LinkMap;
    if (map === skip) continue;
    if (copy && map.type === "executable") continue;
    if (map.faked) continue;
    if (dbg) rtld.debug.emit("symbols", `symbol=${h.name};  lookup in file=${dsoName(rtld, map)} [0]`);
    const info = dynamicInfo(rtld, map);
    if (lookupInObject(rtld, h, ref, result, map, info, version, newest, typeClass, undefMap)) return 1;
  }
  return 0;
}

/**
 * doLookupX over a scope with its flattened index (a walk with no skip map, no COPY lookup and no
 * LD_DEBUG=symbols line, as lookupCore guarantees): bloom filter and bucket from the index, then the
 * chain in the object.
 */
function indexedLookup(
  rtld: Rtld,
  h: LookupName,
  ref: RefSymbol | undefined,
  result: Definition,
  scope: readonly LinkMap[],
  view: ScopeBlooms,
  start: number,
  version: VersionReq | undefined,
  newest: boolean,
  typeClass: number,
  undefMap: LinkMap | undefined,
): number {
  const gnu = h.gnu;
  // The bloom filter's word index and first bit (do_lookup_x: hash / __ELF_NATIVE_CLASS, hash % 64).
  const word = gnu >>> 6;
  const b1 = gnu & 63;
  const u = gnu >>> 0;
  const meta = view.meta;
  const words = view.words;
  const buckets = view.buckets;
  for (let i = start; i < scope.length; i++) {
    const m = META * i;
    const o = meta[m] as number;
    if (o >= 0) {
      const w = o + (word & (meta[m + 1] as number)) * 2;
      const b2 = (gnu >>> (meta[m + 2] as number)) & 63;
      if (
        (((words[w + (b1 >>> 5)] as number) >>> (b1 & 31)) & ((words[w + (b2 >>> 5)] as number) >>> (b2 & 31)) & 1) ===
        0
      ) {
        continue;
      }
      const nb = meta[m + 4] as number;
      const first = buckets[(meta[m + 3] as number) + (u - Math.floor(u / nb) * nb)] as number;
      if (first === 0) continue;
      const info = view.infos[i] as DynamicInfo;
      const sym = gnuChainMatch(info, h, first, ref, version, newest, typeClass);
      if (sym && bindDefinition(rtld, h, scope[i] as LinkMap, sym, result, typeClass, ref, undefMap)) {
        return 1;
      }
    } else if (o === TEST_IN_OBJECT) {
      const map = scope[i] as LinkMap;
      if (lookupInObject(rtld, h, ref, result, map, dynamicInfo(rtld, map), version, newest, typeClass, undefMap)) {
        return 1;
      }
    }
  }
  return 0;
}

/**
 * do_lookup_x's work on one object: the GNU hash (bloom filter, bucket, chain) or the SysV hash chain
 * with check_match, then the binding rules. True when `result` holds the definition.
 */
function lookupInObject(
  rtld: Rtld,
  h: LookupName,
  ref: RefSymbol | undefined,
  result: Definition,
  map: LinkMap,
  info: DynamicInfo,
  version: VersionReq | undefined,
  newest: boolean,
  typeClass: number,
  undefMap: LinkMap | undefined,
): boolean {
  if (info.nbuckets === 0) return false;
  let sym: MemSymbol | undefined;
  const g = info.gnu;
  if (g) {
    const gnu = h.gnu;
    const b1 = gnu & 63;
    // bitmask_word = l_gnu_bitmask[(hash / 64) & l_gnu_bitmask_idxbits]; both bits must be set.
    const gm = g.bitmask;
    const w = ((gnu >>> 6) & g.idxbits) * 2;
    const b2 = (gnu >>> g.shift) & 63;
    const first =
      (((gm[w + (b1 >>> 5)] as number) >>> (b1 & 31)) & ((gm[w + (b2 >>> 5)] as number) >>> (b2 & 31)) & 1) === 0
        ? 0
        : (g.buckets[bucketOf(gnu, g.buckets.length)] as number);
    if (first !== 0) sym = gnuChainMatch(info, h, first, ref, version, newest, typeClass);
  } else if (info.sysv) {
    candidates = 0;
    versionedSym = undefined;
    const nchain = info.sysv.nchain;
    if (h.sysv < 0) h.sysv = sysvHash(h.name);
    let steps = 0;
    for (let c = info.sysvStart(h.sysv); c !== 0 && steps <= nchain; steps++) {
      sym = checkMatch(info, h, ref, version, newest, typeClass, c);
      if (sym) break;
      c = info.sysvChain(c);
    }
    if (!sym && candidates === 1) sym = versionedSym;
  }
  return sym !== undefined && bindDefinition(rtld, h, map, sym, result, typeClass, ref, undefMap);
}

/**
 * The GNU hash chain from symbol `first` (a non-empty bucket): check_match on every entry whose
 * hash (bit 0 aside) is the name's, up to the entry with the end bit. The matching symbol, the one
 * acceptable versioned candidate for an unversioned reference, or undefined.
 */
function gnuChainMatch(
  info: DynamicInfo,
  h: LookupName,
  first: number,
  ref: RefSymbol | undefined,
  version: VersionReq | undefined,
  newest: boolean,
  typeClass: number,
): MemSymbol | undefined {
  candidates = 0;
  versionedSym = undefined;
  const gnu = h.gnu;
  const words = info.gnuChainWords();
  const bias = (info.gnu as NonNullable<DynamicInfo["gnu"]>).symbias;
  const nWords = words === null ? 0 : words.length;
  // A corrupt chain without an end bit stops at the symbol table's plausible end.
  for (let c = first, n = 0; n < 1 << 24; c++, n++) {
    const k = c - bias;
    const cw = k >= 0 && k < nWords ? ((words as Uint32Array)[k] as number) : info.chainWord(c);
    if ((cw ^ gnu) >>> 1 === 0) {
      const sym = checkMatch(info, h, ref, version, newest, typeClass, c);
      if (sym) return sym;
    }
    if (cw & 1) break;
  }
  return candidates === 1 ? versionedSym : undefined;
}

/**
 * do_lookup_x's binding rules for the symbol check_match accepted in `map`: hidden and internal
 * definitions are passed over, GLOBAL and WEAK are the answer, GNU_UNIQUE goes through the
 * namespace's table. True when `result` holds the definition.
 */
function bindDefinition(
  rtld: Rtld,
  h: LookupName,
  map: LinkMap,
  sym: MemSymbol,
  result: Definition,
  typeClass: number,
  ref: RefSymbol | undefined,
  undefMap: LinkMap | undefined,
): boolean {
  const vis = sym.other & 3;
  if (vis !== STV_HIDDEN && vis !== STV_INTERNAL) {
    if (sym.bind === STB_WEAK || sym.bind === STB_GLOBAL) {
      result.set(sym, map);
      return true;
    }
    if (sym.bind === STB_GNU_UNIQUE) {
      doLookupUnique(rtld, h.name, map, result, typeClass, sym, ref, undefMap);
      return true;
    }
  }
  // glibc ≤ 2.33 failed the lookup here (-1) when this object was the one the version's
  // Vernaux names and did not define the symbol; 2.34 dropped that rule (libpthread's symbols
  // moved to libc: node's pthread_join@GLIBC_2.2.5 from libpthread.so.0 binds to libc.so.6).
  return false;
}

/** `hash % nbuckets` of an int32-held uint32 hash (no floating-point remainder). */
function bucketOf(hash: number, nbuckets: number): number {
  const u = hash >>> 0;
  return u - Math.floor(u / nbuckets) * nbuckets;
}

function doLookupUnique(
  rtld: Rtld,
  name: string,
  map: LinkMap,
  result: Definition,
  typeClass: number,
  sym: MemSymbol,
  ref: RefSymbol | undefined,
  undefMap: LinkMap | undefined,
): void {
  const state = lookupState(rtld);
  const tab = state.unique;
  const e = tab.get(name);
  if (e) {
    if (typeClass & ELF_RTYPE_CLASS_COPY) result.set(sym, map);
    else result.set(e.sym, e.map);
    return;
  }
  // A new name: the table's array is allocated or grown first (calloc from ld.so's malloc).
  allocateForInsert(rtld, state.uniqueMem, tab.size);
  if (typeClass & ELF_RTYPE_CLASS_COPY && ref && undefMap) {
    // The executable's copy becomes the unique definition.
    tab.set(name, { sym: dynamicInfo(rtld, undefMap).symbol(ref.index), map: undefMap });
  } else {
    tab.set(name, { sym, map });
    if (map.type === "loaded" && !map.nodelete) {
      if (rtld.debug.on("bindings")) {
        rtld.debug.emit("bindings", `marking ${map.name} [0] as NODELETE due to unique symbol`);
      }
      map.nodelete = true;
    }
  }
  result.set(sym, map);
}

/** The flattened bloom filters of a scope's lists, with the list contents they were built from. */
interface ScopeIndex {
  /** The scope lists' contents when the index was built (any change rebuilds it). */
  readonly snapshot: (readonly LinkMap[])[];
  /** Each list's bloom filters, flattened (loader/scope-blooms.ts). */
  readonly blooms: ScopeBlooms[];
}
const indexes = new WeakMap<readonly LinkMap[], ScopeIndex>();

/**
 * The bloom index of a scope, rebuilt when its lists changed since it was built. Keyed by the first
 * list: startup gives every object its own `[searchlist]` array (rtld.c's l_scope), all sharing the
 * main search list, and they should share one index.
 */
function scopeIndex(rtld: Rtld, scopes: readonly (readonly LinkMap[])[]): ScopeIndex | undefined {
  const first = scopes[0];
  if (!first) return undefined;
  let m = indexes.get(first);
  if (m && sameScopes(m.snapshot, scopes)) return m;
  // Every object's l_info view, built now if a walk has not needed it yet (glibc sets up l_info and
  // the hash table of each object when it maps it, before any lookup). One that cannot be read is
  // left to the walk, which reports it when (and if) it reaches the object, as before.
  const view = (map: LinkMap): DynamicInfo | undefined => {
    try {
      return dynamicInfo(rtld, map);
    } catch {
      return undefined;
    }
  };
  m = { snapshot: scopes.map((l) => [...l]), blooms: scopes.map((l) => new ScopeBlooms(l, view)) };
  indexes.set(first, m);
  return m;
}

/**
 * The scope index for a run of lookups over scope lists that do not change during it (one object's
 * relocation pass: nothing there adds or removes objects), checked against its snapshot once.
 */
export class LookupSession {
  private scopes: readonly (readonly LinkMap[])[] | undefined;
  private index: ScopeIndex | undefined;
  private ns: NsState | undefined;
  /** lookupState(rtld), looked up once per session. */
  state(rtld: Rtld): NsState {
    this.ns ??= lookupState(rtld);
    return this.ns;
  }
  indexFor(rtld: Rtld, scopes: readonly (readonly LinkMap[])[]): ScopeIndex | undefined {
    if (scopes !== this.scopes || !this.index) {
      this.index = scopeIndex(rtld, scopes);
      this.scopes = scopes;
    }
    return this.index;
  }
}

function sameScopes(snap: readonly (readonly LinkMap[])[], scopes: readonly (readonly LinkMap[])[]): boolean {
  if (snap.length !== scopes.length) return false;
  for (let i = 0; i < snap.length; i++) {
    const a = snap[i] as readonly LinkMap[];
    const b = scopes[i] as readonly LinkMap[];
    if (a.length !== b.length) return false;
    for (let j = 0; j < a.length; j++) if (a[j] !== b[j]) return false;
  }
  return true;
}

/**
 * `add_dependency`: a binding from `undefMap` into a dlopen'ed object outside undefMap's own
 * dependencies (l_initfini) records it in l_reldeps, so dlclose keeps the target while the
 * referencing object lives.
 */
function addDependency(undefMap: LinkMap, map: LinkMap): void {
  if (undefMap === map || map.nodelete) return;
  if (undefMap.initfini?.includes(map)) return;
  if (undefMap.reldeps.includes(map)) return;
  undefMap.reldeps.push(map);
}

/** Emit glibc's `_dl_signal_cerror`/`_dl_signal_error` debug line ("... (fatal)") when any category but statistics is on. */
export function debugError(rtld: Rtld, object: string, occasion: string, message: string, fatal = true): void {
  const cat = [...rtld.debug.categories].find((c) => c !== "statistics");
  if (cat) rtld.debug.emit(cat, `${object}: error: ${occasion}: ${message} (${fatal ? "fatal" : "continued"})`);
}

/**
 * `_dl_lookup_symbol_x(name, undef_map, &ref, scopes, version, type_class, flags, skip_map)`:
 * the definition the dynamic linker binds `name` to, or undefined (an undefined weak reference, or
 * a failure: for a strong reference the "undefined symbol" failure is recorded in
 * `lastLookupFailure(rtld)` and its LD_DEBUG error line emitted; the caller raises it).
 */
export function lookupSymbol(
  rtld: Rtld,
  undefMap: LinkMap,
  name: string,
  scopes: readonly (readonly LinkMap[])[],
  version: VersionReq | undefined,
  flags: LookupFlags = {},
): SymbolMatch | undefined {
  const newest = flags.dlsym === true;
  const found = new Definition();
  walkName.ofString(name, gnuHash(name));
  const typeClass = flags.typeClass ?? 0;
  const addDep = flags.addDependency ?? !newest;
  if (
    !lookupCore(found, rtld, undefMap, scopes, version, typeClass, newest, flags.skip, flags.ref, addDep, undefined)
  ) {
    return undefined;
  }
  const sym = found.sym as MemSymbol;
  const map = found.map as LinkMap;
  return {
    map,
    name,
    value: (sym.shndx === SHN_ABS ? 0n : map.addr) + sym.value,
    size: sym.size,
    type: sym.type,
    bind: sym.bind,
    other: sym.other,
    shndx: sym.shndx,
    index: sym.index,
    stValue: sym.value,
  };
}

/**
 * `_dl_lookup_symbol_x` for a relocation, into `out` (no record per lookup): the name is the `len` bytes at `off` of the referencing object's
 * DT_STRTAB `strtab`, its `_dl_new_hash` known; lookups through `session` share its scope index.
 */
export function lookupStrtabNameInto(
  out: Definition,
  rtld: Rtld,
  undefMap: LinkMap,
  strtab: Uint8Array,
  off: number,
  len: number,
  hash: number,
  scopes: readonly (readonly LinkMap[])[],
  version: VersionReq | undefined,
  typeClass: number,
  ref: RefSymbol | undefined,
  session: LookupSession,
): boolean {
  walkName.ofBytes(strtab, off, len, hash | 0);
  return lookupCore(out, rtld, undefMap, scopes, version, typeClass, false, undefined, ref, true, session);
}

/** `_dl_lookup_symbol_x` for the name in walkName. */
function lookupCore(
  out: Definition,
  rtld: Rtld,
  undefMap: LinkMap,
  scopes: readonly (readonly LinkMap[])[],
  version: VersionReq | undefined,
  typeClass: number,
  newest: boolean,
  skip: LinkMap | undefined,
  ref: RefSymbol | undefined,
  addDep: boolean,
  session: LookupSession | undefined,
): boolean {
  const st = session ? session.state(rtld) : lookupState(rtld);
  st.lookups++;
  out.clear();
  let start = 0;
  if (skip) {
    const first = scopes[0] ?? [];
    const i = first.indexOf(skip);
    start = i < 0 ? first.length : i;
  }
  // Without RTLD_NEXT's skip, a COPY lookup or LD_DEBUG=symbols (a line per object), the walk tests
  // every object's bloom filter from the scope's flattened index. (An earlier memo of whole walks by
  // name cost more in map upkeep than it saved once walks became this cheap: gdb's startup repeats
  // only 13% of its 13.8k lookups.)
  const index =
    !skip && (typeClass & ELF_RTYPE_CLASS_COPY) === 0 && !rtld.debug.on("symbols")
      ? session
        ? session.indexFor(rtld, scopes)
        : scopeIndex(rtld, scopes)
      : undefined;
  // The walk's name and hashes, reused (lookups never nest: nothing below calls back into one).
  const name = walkName;
  walkScopes(rtld, name, ref, out, scopes, index?.blooms, start, version, newest, skip, typeClass, undefMap);
  if (!out.found) {
    if (ref === undefined || ref.bind !== STB_WEAK) {
      const failure = {
        object: dsoName(rtld, undefMap),
        message: `undefined symbol: ${name.name}${version ? `, version ${version.name}` : ""}`,
      };
      st.failures.push(failure);
      debugError(rtld, failure.object, "symbol lookup error", failure.message);
    }
    return false;
  }
  const isProtected = ref !== undefined && (ref.other & 3) === STV_PROTECTED;
  if (isProtected && ref) {
    const bindToSelf = (): void => {
      const info = dynamicInfo(rtld, undefMap);
      out.set(info.symbol(ref.index), undefMap);
    };
    if (typeClass === ELF_RTYPE_CLASS_PLT) {
      if (out.map !== undefMap) bindToSelf();
    } else {
      const pv = protectedResult;
      pv.clear();
      walkScopes(rtld, name, ref, pv, scopes, undefined, start, version, newest, skip, ELF_RTYPE_CLASS_PLT, undefined);
      if (pv.found && pv.map !== undefMap) bindToSelf();
    }
  }
  const map = out.map as LinkMap;
  if (map.type === "loaded" && addDep) addDependency(undefMap, map);
  if (rtld.debug.on("bindings")) {
    rtld.debug.emit(
      "bindings",
      `binding file ${dsoName(rtld, undefMap)} [0] to ${dsoName(rtld, map)} [0]: ${isProtected ? "protected" : "normal"} symbol \`${name.name}'${version ? ` [${version.name}]` : ""}`,
    );
  }
  return true;
}

/** The protected-reference check's second walk (its own out-parameter: `out` holds the first's answer). */
const protectedResult = new Definition();

/** The most recent strong-reference failure recorded by lookupSymbol (cleared by taking it). */
export function takeLookupFailure(rtld: Rtld): LookupFailure | undefined {
  return lookupState(rtld).failures.pop();
}
