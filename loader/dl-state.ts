import {
  DT_FINI,
  DT_FINI_ARRAY,
  DT_FINI_ARRAYSZ,
  DT_INIT,
  DT_INIT_ARRAY,
  DT_INIT_ARRAYSZ,
} from "../formats/elf/dynamic-tags.ts";
import { dynamicInfo } from "./dynamic-info.ts";
import type { LinkMap } from "./link-map.ts";
import type { Rtld } from "./rtld.ts";

/** One step of a library's lifecycle as ld.so performs it, for timelines and assertions. */
export type DlEvent =
  | { readonly kind: "dlopen"; readonly file: string | null; readonly mode: number; readonly result: string | null }
  | { readonly kind: "dlclose"; readonly name: string; readonly result: number }
  | { readonly kind: "mapped"; readonly name: string; readonly start: bigint; readonly end: bigint }
  | { readonly kind: "relocated"; readonly name: string }
  | { readonly kind: "init"; readonly name: string; readonly calls: readonly InitFiniCall[] }
  | { readonly kind: "fini"; readonly name: string; readonly calls: readonly InitFiniCall[] }
  | { readonly kind: "unregister"; readonly name: string; readonly result: bigint }
  | { readonly kind: "unmapped"; readonly name: string; readonly start: bigint; readonly end: bigint }
  | { readonly kind: "nodelete"; readonly name: string; readonly why: string }
  | { readonly kind: "error"; readonly message: string };

/** A constructor/destructor call (recorded; the model runs no user code). */
export interface InitFiniCall {
  readonly kind: "DT_INIT" | "DT_INIT_ARRAY" | "DT_FINI_ARRAY" | "DT_FINI";
  readonly index: number;
  readonly addr: bigint;
}

/** Options of the dlopen model that go beyond glibc 2.36 (each off by default = glibc). */
export interface DlOptions {
  /**
   * Unregister after the munmap instead of before it (a loader that hooks the unregistration late,
   * e.g. after `_dl_unmap`): the window the races in scenario/examples/ show. Default false.
   */
  readonly unregisterAfterMunmap?: boolean;
}

/** Points inside dlopen/dlclose where a scenario can run another thread's steps. */
export type DlHookPoint = "mapped" | "before-unregister" | "after-unregister" | "before-munmap" | "after-munmap";

/**
 * The libdl half of ld.so's global state (GL(dl_load_adds), `_dl_find_object`'s data, the dlclose
 * recursion state) and the model's lifecycle timeline. One per Rtld (see `dlState`).
 */
export class DlState {
  /** GL(dl_load_adds): every object ever added to the namespace (startup objects included). */
  loadAdds: number;
  /** `_dl_find_object` data: objects in it after `_dl_find_object_update`, until `_dl_find_object_dlclose`. */
  readonly findObjects: LinkMap[];
  /** dl-close.c `dl_close_state`. */
  closeState: "not_pending" | "pending" | "rerun" = "not_pending";
  readonly events: DlEvent[] = [];
  /** Whether to keep `events` (a long benchmark turns it off to keep memory flat). */
  recordEvents = true;
  options: DlOptions = {};
  /** Called at each hook point (scenarios interleave other threads here). */
  hook: ((point: DlHookPoint, map: LinkMap) => void) | undefined;
  /** dl_load_lock: held by a dlopen/dlclose in progress (another thread's dlopen/dlclose waits). */
  loadLock = false;

  constructor(rtld: Rtld) {
    this.loadAdds = rtld.ns.maps.length;
    this.findObjects = rtld.ns.maps.filter((m) => !m.faked);
    rtld.onMapped ??= (l) => this.at("mapped", l);
  }

  at(point: DlHookPoint, map: LinkMap): void {
    this.hook?.(point, map);
  }

  push(e: DlEvent): void {
    if (this.recordEvents) this.events.push(e);
  }
}

const states = new WeakMap<Rtld, DlState>();

/** The dl* state of a loader, created on first use from what startup loaded. */
export function dlState(rtld: Rtld): DlState {
  let s = states.get(rtld);
  if (!s) {
    s = new DlState(rtld);
    states.set(rtld, s);
  }
  return s;
}

/** DT_INIT/DT_INIT_ARRAY or DT_FINI_ARRAY/DT_FINI of a map, read from process memory (relocated arrays). */
export function initFiniCalls(rtld: Rtld, l: LinkMap, which: "init" | "fini"): InitFiniCall[] {
  if (l.ld === undefined) return [];
  const read = (a: bigint, n: number) => rtld.proc.mm.readUser(Number(a), n);
  // The dynamic section as relocation read it (cached per map by dynamic-info.ts).
  const d = dynamicInfo(rtld, l).values;
  const array = (tag: bigint, sizeTag: bigint): bigint[] => {
    const p = d.get(tag);
    const n = Number((d.get(sizeTag) ?? 0n) / 8n);
    if (p === undefined || n === 0) return [];
    const bytes = read(l.addr + p, n * 8);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return Array.from({ length: n }, (_, i) => dv.getBigUint64(i * 8, true));
  };
  const out: InitFiniCall[] = [];
  if (which === "init") {
    // call_init: DT_INIT first, then DT_INIT_ARRAY in order.
    const init = d.get(DT_INIT);
    if (init !== undefined) out.push({ kind: "DT_INIT", index: 0, addr: l.addr + init });
    array(DT_INIT_ARRAY, DT_INIT_ARRAYSZ).forEach((addr, index) => {
      out.push({ kind: "DT_INIT_ARRAY", index, addr });
    });
  } else {
    // _dl_call_fini: DT_FINI_ARRAY from the last entry to the first, then DT_FINI.
    const arr = array(DT_FINI_ARRAY, DT_FINI_ARRAYSZ);
    for (let i = arr.length - 1; i >= 0; i--) out.push({ kind: "DT_FINI_ARRAY", index: i, addr: arr[i] as bigint });
    const fini = d.get(DT_FINI);
    if (fini !== undefined) out.push({ kind: "DT_FINI", index: 0, addr: l.addr + fini });
  }
  return out;
}
