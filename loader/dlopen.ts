import { DF_1_NODELETE } from "../formats/elf/dynamic-tags.ts";
import { Errno } from "../kernel-shim/errno.ts";
import { dlState, initFiniCalls } from "./dl-state.ts";
import { closeWorker } from "./dlclose.ts";
import { clearDlerror, formatDlerror, recordOf, setDlerror } from "./dlerror.ts";
import { dynamicInfo } from "./dynamic-info.ts";
import type { LinkMap } from "./link-map.ts";
import { mapObjectDeps } from "./load-deps.ts";
import { LoaderError } from "./map-object.ts";
import { relocateObject } from "./relocate.ts";
import type { Rtld } from "./rtld.ts";
import { assignTlsModid, updateTlsSlotinfo } from "./tls.ts";
import { checkMapVersions } from "./version-check.ts";

/** bits/dlfcn.h (x86_64 / generic). */
export const RTLD_LAZY = 0x1;
export const RTLD_NOW = 0x2;
export const RTLD_BINDING_MASK = 0x3;
export const RTLD_NOLOAD = 0x4;
export const RTLD_DEEPBIND = 0x8;
export const RTLD_GLOBAL = 0x100;
export const RTLD_LOCAL = 0;
export const RTLD_NODELETE = 0x1000;

/** `mode` from flag names ("RTLD_NOW|RTLD_GLOBAL" or ["NOW", "GLOBAL"]), for scenarios and the CLI. */
export function parseDlopenMode(spec: string | readonly string[]): number {
  const names = typeof spec === "string" ? spec.split(/[|,\s]+/) : spec;
  const table: Record<string, number> = {
    LAZY: RTLD_LAZY,
    NOW: RTLD_NOW,
    NOLOAD: RTLD_NOLOAD,
    DEEPBIND: RTLD_DEEPBIND,
    GLOBAL: RTLD_GLOBAL,
    LOCAL: RTLD_LOCAL,
    NODELETE: RTLD_NODELETE,
  };
  let mode = 0;
  for (const raw of names) {
    if (raw === "") continue;
    const n = raw.replace(/^RTLD_/, "").toUpperCase();
    const v = table[n];
    if (v === undefined) throw new LoaderError("dlopen", `unknown flag ${raw}`);
    mode |= v;
  }
  return mode;
}

export interface DlopenCall {
  /** The object whose code calls dlopen (`call_map`, default the main program): its RPATH/RUNPATH/$ORIGIN apply. */
  readonly caller?: LinkMap;
}

/** The main program's map (l_searchlist of which is the namespace's global scope). */
function mainMap(rtld: Rtld): LinkMap {
  const m = rtld.ns.main;
  if (!m) throw new LoaderError("dlopen", "no main program");
  return m;
}

/** `_dl_new_object`'s l_scope for an object loaded under `root`: [global, root's list], swapped by RTLD_DEEPBIND. */
function initialScope(rtld: Rtld, root: LinkMap, deepbind: boolean): (readonly LinkMap[])[] {
  const global = mainMap(rtld).searchlist ?? [];
  const local = root.searchlist ?? [root];
  return deepbind ? [local, global] : [global, local];
}

/**
 * glibc 2.36 `dlopen` (dlfcn/dlopen.c → elf/dl-open.c `_dl_open`, `dl_open_worker_begin`,
 * `dl_open_worker`): the handle, or null with the error left for `dlerror`. The same syscalls as ld.so:
 *
 * 1. mode checks ("invalid mode parameter", "invalid mode for dlopen()");
 * 2. `_dl_map_object(call_map, file, lt_loaded, …, mode | __RTLD_CALLMAP)` — RTLD_NOLOAD returns null
 *    (no error) right before mapping an object that is not loaded;
 * 3. ++l_direct_opencount; an object opened before returns here (RTLD_GLOBAL promotion, RTLD_NODELETE);
 * 4. `_dl_map_object_deps`, then relocation of l_initfini from last to first (RELRO mprotect inside);
 * 5. NODELETE activation (RTLD_NODELETE, DF_1_NODELETE), scope update, `_dl_find_object_update`;
 * 6. `_dl_init` (constructors of l_initfini from last to first), then RTLD_GLOBAL's global-scope add;
 * 7. `_dl_unload_cache`; on error after mapping, `_dl_close_worker(new, force)` unmaps every object
 *    this call mapped (SFrame unregistered before each munmap).
 *
 * SFrame: each newly mapped object is registered inside `_dl_map_object_from_fd` (Rtld option
 * registerSframe); re-opens and RTLD_NOLOAD map nothing and so register nothing.
 */
export function dlopen(rtld: Rtld, file: string | null, mode: number, call: DlopenCall = {}): LinkMap | null {
  clearDlerror(rtld);
  const st = dlState(rtld);
  rtld.useLibcMalloc();
  const name = file ?? "";
  let result: LinkMap | null = null;
  try {
    result = openWorker(rtld, name, mode, call);
  } catch (e) {
    if (!(e instanceof LoaderError)) throw e;
    setDlerror(rtld, e);
    st.push({ kind: "error", message: formatDlerror(recordOf(e)) });
  }
  st.push({ kind: "dlopen", file, mode, result: result ? result.name : null });
  return result;
}

function openWorker(rtld: Rtld, file: string, mode: number, call: DlopenCall): LinkMap | null {
  const allowed = RTLD_BINDING_MASK | RTLD_NOLOAD | RTLD_DEEPBIND | RTLD_GLOBAL | RTLD_NODELETE;
  if ((mode & ~allowed) !== 0) throw new LoaderError("", "invalid mode parameter");
  if ((mode & RTLD_BINDING_MASK) === 0) throw new LoaderError(file, "invalid mode for dlopen()", Errno.EINVAL);
  const st = dlState(rtld);
  const before = new Set(rtld.ns.maps);
  // call_map only matters for a bare name or a DST (dl-open.c determines it only then).
  const needCaller = !file.includes("/") || file.includes("$");
  const callMap = needCaller ? (call.caller ?? rtld.ns.main) : undefined;
  let root: LinkMap | undefined;
  try {
    root = rtld.mapObjectMode(callMap, file, "loaded", false, {
      noload: (mode & RTLD_NOLOAD) !== 0,
      callmap: true,
    });
    if (root === undefined) return null;
    root.opencount++;
    if (root.searchlist !== undefined) {
      // Opened before (directly): no new loading.
      if (rtld.debug.on("files")) {
        rtld.debug.emit("files", `opening file=${root.name} [0]; direct_opencount=${root.opencount}`);
        rtld.debug.emit("files", "");
      }
      if (mode & RTLD_NODELETE && !root.nodelete) {
        rtld.debug.emit("files", `marking ${root.name} [0] as NODELETE`);
        root.nodelete = true;
      }
      if (mode & RTLD_GLOBAL && !root.global) addToGlobal(rtld, root);
      return root;
    }
    const fresh = () => rtld.ns.maps.filter((m) => !before.has(m));
    for (const m of fresh()) st.push({ kind: "mapped", name: m.name, start: m.mapStart, end: m.mapEnd });
    mapObjectDeps(rtld, root);
    const added = fresh();
    for (const m of added) {
      if (m === root) continue;
      st.push({ kind: "mapped", name: m.name, start: m.mapStart, end: m.mapEnd });
    }
    st.loadAdds += added.length;
    // dl_open_worker_begin: "So far, so good. Now check the versions." — every member of the new
    // search list whose l_versions is still NULL, not verbose: a missing version fails the dlopen.
    for (const m of root.searchlist ?? [root]) {
      if (!m.versionsChecked && !m.faked) checkMapVersions(rtld, m, { verbose: false });
    }
    const deepbind = (mode & RTLD_DEEPBIND) !== 0;
    for (const m of added) {
      m.scope = initialScope(rtld, rootLoaderOf(m, root), deepbind);
      // _dl_map_object_from_fd: DT_SYMBOLIC (without RTLD_DEEPBIND) puts the object alone first.
      if (!deepbind && dynamicInfo(rtld, m).symbolic) m.scope.unshift([m]);
      // _dl_map_object_from_fd: PT_TLS gets the next module id when the object is mapped.
      assignTlsModid(rtld, m);
    }
    if (rtld.debug.on("scopes")) showScopes(rtld, root);
    // Relocate l_initfini from the end (dependencies first); reloc_mode keeps RTLD_LAZY.
    const initfini = root.initfini ?? [root];
    for (let i = initfini.length - 1; i >= 0; i--) {
      const l = initfini[i] as LinkMap;
      if (l.relocated) continue;
      if (l.scope.length === 0) l.scope = initialScope(rtld, root, deepbind);
      relocateObject(rtld, l, l.scope, { lazy: (mode & RTLD_LAZY) !== 0 });
      st.push({ kind: "relocated", name: l.name });
    }
    // ---- no recoverable errors after this point (dl-open.c "demarcation point") ----
    if (mode & RTLD_NODELETE) root.nodelete = true;
    for (const m of added) {
      if ((m.dynamic?.flags1 ?? 0n) & DF_1_NODELETE) m.nodelete = true;
    }
    for (const m of added) if (m.nodelete) st.push({ kind: "nodelete", name: m.name, why: "activate_nodelete" });
    updateScopes(rtld, root);
    // update_tls_slotinfo: the static TLS blocks allocated during relocation get their init images.
    updateTlsSlotinfo(rtld, root);
    // _dl_find_object_update: the new objects become visible to _dl_find_object.
    for (const m of added) if (!st.findObjects.includes(m)) st.findObjects.push(m);
    // dl_open_worker: _dl_init(new), then the global scope.
    for (let i = initfini.length - 1; i >= 0; i--) callInit(rtld, initfini[i] as LinkMap);
    if (mode & RTLD_GLOBAL) addToGlobal(rtld, root);
    if (rtld.debug.on("files")) {
      rtld.debug.emit("files", `opening file=${root.name} [0]; direct_opencount=${root.opencount}`);
      rtld.debug.emit("files", "");
    }
    rtld.unloadCache();
    return root;
  } catch (e) {
    // _dl_open: the cache first, then the objects this call loaded (force close).
    rtld.unloadCache();
    // (root is set only after its opencount was raised.)
    if (root !== undefined) closeWorker(rtld, root, true);
    throw e;
  }
}

/** The root of an object's l_loader chain: the dlopen'ed object for its new dependencies. */
function rootLoaderOf(m: LinkMap, root: LinkMap): LinkMap {
  let l = m;
  for (let i = 0; l.loader !== undefined && i < 10000; i++) l = l.loader;
  return l.type === "loaded" ? l : root;
}

/** `_dl_init` → `call_init` for one object of a dlopen: once, DT_INIT then DT_INIT_ARRAY. */
function callInit(rtld: Rtld, l: LinkMap): void {
  if (l.initCalled) return;
  l.initCalled = true;
  if (l.type === "executable") return;
  const calls = initFiniCalls(rtld, l, "init");
  if (calls.length === 0) return;
  rtld.debug.emit("libs", "");
  rtld.debug.emit("libs", `calling init: ${l.name}`);
  rtld.debug.emit("libs", "");
  dlState(rtld).push({ kind: "init", name: l.name, calls });
}

/** `add_to_global_update`: the object's search list joins the namespace's global scope (the main search list). */
function addToGlobal(rtld: Rtld, root: LinkMap): void {
  const global = mainMap(rtld).searchlist;
  if (!global) return;
  for (const m of root.searchlist ?? [root]) {
    if (m.global || global.includes(m)) continue;
    m.global = true;
    global.push(m);
  }
  root.global = true;
}

/** `update_scopes`: every initialised dlopen'ed member of the new search list gets it as an extra scope. */
function updateScopes(_rtld: Rtld, root: LinkMap): void {
  const list = root.searchlist;
  if (!list) return;
  for (const m of list) {
    if (!m.initCalled || m.type !== "loaded") continue;
    if (m.scope.includes(list)) continue;
    m.scope.push(list);
  }
}

/** LD_DEBUG=scopes (`_dl_show_scope`) for the objects of a dlopen. */
function showScopes(rtld: Rtld, root: LinkMap): void {
  const dso = (m: LinkMap) => (m.name !== "" ? m.name : rtld.progname);
  for (const m of root.searchlist ?? []) {
    rtld.debug.emit("scopes", "");
    rtld.debug.emit("scopes", `object=${dso(m)} [0]`);
    if (m.scope.length === 0) rtld.debug.emit("scopes", " no scope");
    m.scope.forEach((s, i) => {
      rtld.debug.emit("scopes", ` scope ${i}: ${s.map(dso).join(" ")}`);
    });
  }
}
