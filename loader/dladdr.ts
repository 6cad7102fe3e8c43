import { PT_LOAD } from "../formats/elf/constants.ts";
import { clearDlerror, setDlerror } from "./dlerror.ts";
import { dynamicInfo, type MemSymbol } from "./dynamic-info.ts";
import type { LinkMap } from "./link-map.ts";
import { LoaderError } from "./map-object.ts";
import type { Rtld } from "./rtld.ts";

const SHN_UNDEF = 0;
const SHN_ABS = 0xfff1;
const STT_TLS = 6;
const STB_GLOBAL = 1;
const STB_WEAK = 2;
const STV_HIDDEN = 2;
const STV_INTERNAL = 1;

/** `Dl_info`. */
export interface DlInfo {
  /** l_name, or _dl_argv[0] for the main program. */
  readonly dli_fname: string;
  /** l_map_start (not l_addr). */
  readonly dli_fbase: bigint;
  readonly dli_sname: string | null;
  readonly dli_saddr: bigint | null;
}

/** dladdr1's extra result: the link map (RTLD_DL_LINKMAP) and the matching symbol (RTLD_DL_SYMENT). */
export interface DlInfo1 extends DlInfo {
  readonly map: LinkMap;
  readonly sym: MemSymbol | null;
}

/** `_dl_addr_inside_object`: addr inside one of the object's PT_LOAD segments. */
function insideObject(l: LinkMap, addr: bigint): boolean {
  const rel = addr - l.addr;
  return l.phdrs.some((p) => p.type === PT_LOAD && rel >= p.vaddr && rel < p.vaddr + p.memsz);
}

/** `_dl_find_dso_for_object`: the loaded object whose map range (or one of whose segments) holds addr. */
export function findDsoForObject(rtld: Rtld, addr: bigint): LinkMap | undefined {
  for (const l of rtld.ns.maps) {
    if (l.faked) continue;
    if (l.mapEnd !== 0n) {
      if (addr >= l.mapStart && addr < l.mapEnd) return l;
    } else if (insideObject(l, addr)) return l;
  }
  return undefined;
}

/**
 * glibc 2.36 `dladdr` / `dladdr1` (elf/dl-addr.c `_dl_addr`, `determine_info`): 0 (undefined) when no
 * object holds addr. The closest symbol at or below addr is chosen among those the GNU hash table
 * references (or the DT_HASH symbols, global/weak and not hidden): a defined, non-ABS, non-TLS symbol
 * with addr in [value, value + size) — or addr == value for a size-0 or undefined one — preferring the
 * greatest st_value.
 */
export function dladdr1(rtld: Rtld, addr: bigint): DlInfo1 | undefined {
  clearDlerror(rtld);
  const l = findDsoForObject(rtld, addr);
  if (!l) return undefined;
  const fname = l.name === "" && l.type === "executable" ? rtld.progname : l.name;
  let match: MemSymbol | null = null;
  try {
    const info = dynamicInfo(rtld, l);
    const strsz = Number(info.val(10n) ?? 0n);
    const ok = (s: MemSymbol) =>
      (s.shndx !== SHN_UNDEF || s.value !== 0n) &&
      s.shndx !== SHN_ABS &&
      s.type !== STT_TLS &&
      addr >= l.addr + s.value &&
      (((s.shndx === SHN_UNDEF || s.size === 0n) && addr === l.addr + s.value) || addr < l.addr + s.value + s.size) &&
      (match === null || match.value < s.value) &&
      s.nameOffset < strsz;
    if (info.gnu) {
      for (const b of info.gnu.buckets) {
        if (b === 0) continue;
        for (let i = b; ; i++) {
          const s = info.symbol(i);
          if (ok(s)) match = s;
          if (info.chainWord(i) & 1) break;
        }
      }
    } else if (info.sysv) {
      for (let i = 0; i < info.sysv.nchain; i++) {
        const s = info.symbol(i);
        const vis = s.other & 3;
        if ((s.bind === STB_GLOBAL || s.bind === STB_WEAK) && vis !== STV_HIDDEN && vis !== STV_INTERNAL && ok(s))
          match = s;
      }
    }
  } catch (e) {
    // An object without a readable dynamic symbol table (the vDSO here): no symbol, as glibc finds none.
    if (!(e instanceof Error)) throw e;
  }
  const found = match as MemSymbol | null;
  return {
    dli_fname: fname,
    dli_fbase: l.mapStart !== 0n ? l.mapStart : l.addr,
    dli_sname: found ? dynamicInfo(rtld, l).string(found.nameOffset) : null,
    dli_saddr: found ? l.addr + found.value : null,
    map: l,
    sym: found,
  };
}

/** `dladdr(addr, &info)`: the info, or undefined for dladdr's 0. */
export function dladdr(rtld: Rtld, addr: bigint): DlInfo | undefined {
  const r = dladdr1(rtld, addr);
  if (!r) return undefined;
  return { dli_fname: r.dli_fname, dli_fbase: r.dli_fbase, dli_sname: r.dli_sname, dli_saddr: r.dli_saddr };
}

/** dlinfo requests (dlfcn/dlfcn.h). */
export const RTLD_DI_LMID = 1;
export const RTLD_DI_LINKMAP = 2;
export const RTLD_DI_ORIGIN = 6;
export const RTLD_DI_TLS_MODID = 9;
export const RTLD_DI_PHDR = 11;

export type DlinfoResult =
  | { readonly request: typeof RTLD_DI_LMID; readonly lmid: number }
  | { readonly request: typeof RTLD_DI_LINKMAP; readonly map: LinkMap }
  | { readonly request: typeof RTLD_DI_ORIGIN; readonly origin: string }
  | { readonly request: typeof RTLD_DI_TLS_MODID; readonly modid: number }
  | { readonly request: typeof RTLD_DI_PHDR; readonly phnum: number; readonly phdrAddr: bigint };

/**
 * `dlinfo(handle, request, arg)` (dlfcn/dlinfo.c) for the requests the model answers: LMID (always
 * namespace 0), LINKMAP, ORIGIN (l_origin, "" when unknown), TLS_MODID, PHDR. Anything else:
 * undefined with "unsupported dlinfo request" for dlerror.
 */
export function dlinfo(rtld: Rtld, handle: LinkMap, request: number): DlinfoResult | undefined {
  clearDlerror(rtld);
  switch (request) {
    case RTLD_DI_LMID:
      return { request, lmid: 0 };
    case RTLD_DI_LINKMAP:
      return { request, map: handle };
    case RTLD_DI_ORIGIN:
      return { request, origin: handle.origin ?? "" };
    case RTLD_DI_TLS_MODID:
      return { request, modid: handle.tlsModid };
    case RTLD_DI_PHDR: {
      const ph = handle.phdrs.find((p) => p.type === 6);
      const load = handle.phdrs.find((p) => p.type === PT_LOAD);
      return {
        request,
        phnum: handle.phdrs.length,
        phdrAddr: ph ? handle.addr + ph.vaddr : handle.addr + (load?.vaddr ?? 0n) + 64n,
      };
    }
    default:
      setDlerror(rtld, new LoaderError("", "unsupported dlinfo request"));
      return undefined;
  }
}
