import { decodeDynamic, readDynamicFromMemory } from "../formats/elf/dynamic.ts";
import {
  DF_1_INITFIRST,
  DT_FINI,
  DT_FINI_ARRAY,
  DT_FINI_ARRAYSZ,
  DT_INIT,
  DT_INIT_ARRAY,
  DT_INIT_ARRAYSZ,
  DT_PREINIT_ARRAY,
  DT_PREINIT_ARRAYSZ,
} from "../formats/elf/dynamic-tags.ts";
import { callingInit, dsoName } from "./debug-format.ts";
import type { LinkMap } from "./link-map.ts";
import type { Rtld } from "./rtld.ts";
import { sortMaps } from "./sort-maps.ts";

/**
 * One constructor or destructor call ld.so (or libc for the main program) would make. The model
 * cannot run code: it records the call with the function address read from the relocated array.
 */
export interface InitCall {
  readonly map: LinkMap;
  readonly kind: "DT_PREINIT_ARRAY" | "DT_INIT" | "DT_INIT_ARRAY" | "DT_FINI_ARRAY" | "DT_FINI";
  /** Index in the array (0 for DT_INIT/DT_FINI). */
  readonly index: number;
  /** The function's run-time address. */
  readonly addr: bigint;
}

interface InitFiniTags {
  readonly init: bigint | undefined;
  readonly initArray: readonly bigint[] | undefined;
  readonly preinitArray: readonly bigint[] | undefined;
  readonly fini: bigint | undefined;
  readonly finiArray: readonly bigint[] | undefined;
}

/**
 * The object's DT_INIT/DT_FINI and the three arrays, read from process memory: the array entries as
 * relocation left them (R_*_RELATIVE make them run-time addresses). The dynamic section's d_ptr values
 * are link-time addresses for every object here (the model does not self-relocate ld.so's dynamic
 * section), so l_addr is added as `call_init` does with `l->l_addr + d_ptr`.
 */
function initFiniTags(rtld: Rtld, l: LinkMap): InitFiniTags {
  if (l.ld === undefined)
    return { init: undefined, initArray: undefined, preinitArray: undefined, fini: undefined, finiArray: undefined };
  const read = (a: bigint, n: number) => rtld.proc.mm.readUser(Number(a), n);
  const d = decodeDynamic(
    readDynamicFromMemory(read, l.ld, true, true, { source: l.name, granule: rtld.proc.mm.pageSize }).entries,
  ).values;
  const array = (tag: bigint, sizeTag: bigint): bigint[] | undefined => {
    const p = d.get(tag);
    if (p === undefined) return undefined;
    const n = Number((d.get(sizeTag) ?? 0n) / 8n);
    if (n === 0) return [];
    const bytes = read(l.addr + p, n * 8);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return Array.from({ length: n }, (_, i) => dv.getBigUint64(i * 8, true));
  };
  const init = d.get(DT_INIT);
  const fini = d.get(DT_FINI);
  return {
    init: init === undefined ? undefined : l.addr + init,
    initArray: array(DT_INIT_ARRAY, DT_INIT_ARRAYSZ),
    preinitArray: array(DT_PREINIT_ARRAY, DT_PREINIT_ARRAYSZ),
    fini: fini === undefined ? undefined : l.addr + fini,
    finiArray: array(DT_FINI_ARRAY, DT_FINI_ARRAYSZ),
  };
}

/**
 * elf/dl-init.c `call_init`: once per object (l_init_called), never the kernel-mapped main program
 * (its constructors are libc's job), nothing for an object without DT_INIT and DT_INIT_ARRAY;
 * otherwise "calling init: NAME" under LD_DEBUG's impcalls categories, DT_INIT first, then the array.
 */
function callInit(rtld: Rtld, l: LinkMap, out: InitCall[]): void {
  if (l.initCalled) return;
  l.initCalled = true;
  if (l.name === "" && l.type === "executable") return;
  const t = initFiniTags(rtld, l);
  // ld.so's own map is announced although its dynamic section has neither DT_INIT nor
  // DT_INIT_ARRAY: observed with glibc 2.36 on Debian 12 ("calling init: /lib64/ld-linux-x86-64.so.2"
  // first, under every impcalls category); nothing is called for it.
  if (t.init === undefined && t.initArray === undefined && !l.isRtld) return;
  impcalls(rtld, callingInit(dsoName(l, rtld.progname), "calling init"));
  if (t.init !== undefined) out.push({ map: l, kind: "DT_INIT", index: 0, addr: t.init });
  (t.initArray ?? []).forEach((addr, index) => {
    out.push({ map: l, kind: "DT_INIT_ARRAY", index, addr });
  });
}

/**
 * DL_DEBUG_IMPCALLS lines ("calling init", "initialize program", "transferring control"): glibc
 * turns them on with libs, reloc, files, symbols, bindings and versions, not with scopes or
 * statistics (rtld.c debopts). They go to the first of those categories that is on.
 */
export function impcalls(rtld: Rtld, lines: readonly string[]): void {
  const cat = (["libs", "reloc", "files", "symbols", "bindings", "versions"] as const).find((c) => rtld.debug.on(c));
  if (cat) for (const t of lines) rtld.debug.emit(cat, t);
}

/** `l_initfini` of the root map: its search list sorted by `_dl_sort_maps (l_initfini, nlist, true, false)` (dl-deps.c). */
export function mainInitfini(main: LinkMap): LinkMap[] {
  return sortMaps(main.searchlist ?? [main], false, true);
}

/**
 * elf/dl-init.c `_dl_init (main_map, …)` at startup: the DF_1_INITFIRST object, the main program's
 * DT_PREINIT_ARRAY ("calling preinit"), then `call_init` on l_initfini from last to first
 * (dependencies before their users); followed by what csu/libc-start.c does for a dynamic program
 * before main: "initialize program: ARGV0", the program's DT_INIT and DT_INIT_ARRAY, "transferring
 * control: ARGV0". Returns every call in order.
 */
export function runInitializers(rtld: Rtld, main: LinkMap, argv0: string): InitCall[] {
  const out: InitCall[] = [];
  const initfini = main.initfini ?? mainInitfini(main);
  const first = initfini.find((l) => ((l.dynamic?.flags1 ?? 0n) & DF_1_INITFIRST) !== 0n && l !== main);
  if (first) callInit(rtld, first, out);
  const t = initFiniTags(rtld, main);
  if (t.preinitArray && t.preinitArray.length > 0) {
    impcalls(rtld, callingInit(dsoName(main, rtld.progname), "calling preinit"));
    t.preinitArray.forEach((addr, index) => {
      out.push({ map: main, kind: "DT_PREINIT_ARRAY", index, addr });
    });
  }
  for (let i = initfini.length - 1; i >= 0; i--) callInit(rtld, initfini[i] as LinkMap, out);
  // csu/libc-start.c (SHARED): the program's own constructors, run by __libc_start_main.
  impcalls(rtld, callingInit(argv0, "initialize program"));
  if (main.name === "" && main.type === "executable") {
    if (t.init !== undefined) out.push({ map: main, kind: "DT_INIT", index: 0, addr: t.init });
    (t.initArray ?? []).forEach((addr, index) => {
      out.push({ map: main, kind: "DT_INIT_ARRAY", index, addr });
    });
  }
  return out;
}

/**
 * elf/dl-fini.c `_dl_fini` for the base namespace: every loaded map sorted for fini (dependents
 * first), then for each with l_init_called: "calling fini: NAME [0]", DT_FINI_ARRAY from last to
 * first, then DT_FINI. Recorded only (exit is not modelled further).
 */
export function runFinalizers(rtld: Rtld): InitCall[] {
  const out: InitCall[] = [];
  const maps = sortMaps(
    rtld.ns.maps.filter((l) => !l.faked),
    true,
    true,
  );
  for (const l of maps) {
    if (!l.initCalled || l.finiCalled) continue;
    l.finiCalled = true;
    impcalls(rtld, ["", `calling fini: ${l.name} [0]`, ""]);
    const t = initFiniTags(rtld, l);
    const arr = t.finiArray ?? [];
    for (let i = arr.length - 1; i >= 0; i--)
      out.push({ map: l, kind: "DT_FINI_ARRAY", index: i, addr: arr[i] as bigint });
    if (t.fini !== undefined) out.push({ map: l, kind: "DT_FINI", index: 0, addr: t.fini });
  }
  return out;
}
