import { syscall } from "../kernel-shim/syscalls/dispatch.ts";
import { type DlState, dlState, initFiniCalls } from "./dl-state.ts";
import { clearDlerror, setDlerror } from "./dlerror.ts";
import type { LinkMap } from "./link-map.ts";
import { LoaderError, unregisterSframe } from "./map-object.ts";
import type { Rtld } from "./rtld.ts";
import { sortMaps } from "./sort-maps.ts";
import { finishTlsRelease, releaseTlsModid } from "./tls.ts";

/**
 * glibc 2.36 `dlclose` (dlfcn/dlclose.c → elf/dl-close.c `_dl_close`): 0, or -1 with the error left
 * for dlerror ("shared object not open"). A NODELETE object returns at once without touching its
 * reference count, as `_dl_close` does.
 */
export function dlclose(rtld: Rtld, handle: LinkMap): number {
  clearDlerror(rtld);
  const st = dlState(rtld);
  if (handle.nodelete) {
    st.push({ kind: "dlclose", name: handle.name, result: 0 });
    return 0;
  }
  if (handle.opencount === 0 || !rtld.ns.maps.includes(handle)) {
    setDlerror(rtld, new LoaderError(handle.name, "shared object not open"));
    st.push({ kind: "dlclose", name: handle.name, result: -1 });
    return -1;
  }
  closeWorker(rtld, handle, false);
  st.push({ kind: "dlclose", name: handle.name, result: 0 });
  return 0;
}

/**
 * `_dl_close_worker(map, force)`: one reference less; unless still referenced (or not dlopen'ed, or a
 * close already running), mark every object still used — not lt_loaded, opened directly, NODELETE,
 * or reachable from a used one through l_initfini or l_reldeps — sort the namespace for fini, run the
 * destructors of the unused ones that were initialised (dependents first), drop them from the global
 * scope and the others' scopes, then for each in the same order: `_dl_find_object_dlclose`, SFrame
 * unregistration, one `munmap(l_map_start, l_map_end - l_map_start)`, and the link map is freed.
 * `force` is the failed-dlopen path (`_dl_open` → `_dl_close_worker(new, true)`).
 */
export function closeWorker(rtld: Rtld, map: LinkMap, force: boolean): void {
  const st = dlState(rtld);
  map.opencount = Math.max(0, map.opencount - 1);
  if (map.opencount > 0 || map.type !== "loaded" || st.closeState !== "not_pending") {
    if (map.opencount === 0 && map.type === "loaded") st.closeState = "rerun";
    if (rtld.debug.on("files")) {
      rtld.debug.emit("files", "");
      rtld.debug.emit("files", `closing file=${map.name}; direct_opencount=${map.opencount}`);
    }
    return;
  }
  for (;;) {
    st.closeState = "pending";
    const maps = rtld.ns.maps.slice();
    const idx = new Map<LinkMap, number>(maps.map((m, i) => [m, i]));
    const used = new Set<LinkMap>();
    const done = new Set<LinkMap>();
    // Mark phase with glibc's index backtracking (a newly used object already passed is revisited).
    for (let i = 0; i < maps.length; i++) {
      const l = maps[i] as LinkMap;
      if (done.has(l)) continue;
      const keep = l.type !== "loaded" || l.opencount > 0 || l.nodelete || used.has(l);
      if (!keep) continue;
      used.add(l);
      done.add(l);
      const deps = [...(l.initfini ?? []).slice(1), ...l.reldeps];
      for (const d of deps) {
        if (used.has(d)) continue;
        const j = idx.get(d);
        if (j === undefined) continue;
        used.add(d);
        if (j - 1 < i) i = j - 1;
      }
    }
    const sorted = sortMaps(maps, true, true);
    const unload = sorted.filter((m) => !used.has(m));
    for (const m of unload) {
      if (!m.initCalled || m.finiCalled) continue;
      m.finiCalled = true;
      const calls = initFiniCalls(rtld, m, "fini");
      if (calls.length > 0) {
        rtld.debug.emit("libs", "");
        rtld.debug.emit("libs", `calling fini: ${m.name} [0]`);
        rtld.debug.emit("libs", "");
      }
      st.push({ kind: "fini", name: m.name, calls });
    }
    if (unload.length > 0) {
      const gone = new Set(unload);
      // Scopes of the objects that stay: the removed objects' search lists go.
      for (const m of sorted) {
        if (gone.has(m) || m.type !== "loaded") continue;
        m.scope = m.scope.filter((s) => !unload.some((u) => u.searchlist === s));
        const keepRel = m.reldeps.filter((r) => !gone.has(r));
        m.reldeps.length = 0;
        m.reldeps.push(...keepRel);
      }
      // unload_global: out of the namespace's global scope.
      const global = rtld.ns.main?.searchlist;
      if (global) {
        const kept = global.filter((m) => !gone.has(m));
        global.length = 0;
        global.push(...kept);
      }
      for (const m of unload) {
        // _dl_find_object_dlclose, then (the RFC's hook) unregister, before the unmap.
        const fi = st.findObjects.indexOf(m);
        if (fi >= 0) st.findObjects.splice(fi, 1);
        if (m.tlsModid !== 0) releaseTlsModid(rtld, m);
        const late = st.options.unregisterAfterMunmap === true;
        if (!late) unregister(rtld, m);
        st.at("before-munmap", m);
        syscall(rtld.proc, "munmap", m.mapStart, m.mapEnd - m.mapStart);
        // l_removed: from here no lookup or _dl_map_object finds the object.
        rtld.ns.remove(m);
        st.push({ kind: "unmapped", name: m.name, start: m.mapStart, end: m.mapEnd });
        st.at("after-munmap", m);
        if (late) unregister(rtld, m);
        if (rtld.debug.on("files")) {
          rtld.debug.emit("files", "");
          rtld.debug.emit("files", `file=${m.name} [0];  destroying link map`);
        }
      }
    }
    // The end of _dl_close_worker's TLS part: dl_tls_generation, and the freed static chunk back.
    finishTlsRelease(rtld);
    // The failed-dlopen path needs nothing else; a destructor's dlclose asked for another pass.
    const again = (st.closeState as DlState["closeState"]) === "rerun";
    st.closeState = "not_pending";
    if (!again || force) break;
  }
}

/** stacktrace_setup(UNREGISTER) for an object whose registration succeeded (hook points around it). */
function unregister(rtld: Rtld, m: LinkMap): void {
  const st = dlState(rtld);
  if (rtld.sframeRegistered(m)) {
    st.at("before-unregister", m);
    const r = unregisterSframe(rtld.proc, { lAddr: m.addr, phdrs: m.phdrs });
    if (r !== undefined) st.push({ kind: "unregister", name: m.name, result: r });
    st.at("after-unregister", m);
  }
  rtld.forgetSframe(m);
}
