import { sysvHash } from "../formats/elf/hash-function.ts";
import { dlState } from "./dl-state.ts";
import { clearDlerror, setDlerror } from "./dlerror.ts";
import type { LinkMap } from "./link-map.ts";
import { LoaderError } from "./map-object.ts";
import type { Rtld } from "./rtld.ts";
import { lookupSymbol, type SymbolMatch, takeLookupFailure, type VersionReq } from "./symbol-lookup.ts";

/** `RTLD_DEFAULT` ((void *) 0) and `RTLD_NEXT` ((void *) -1). */
export type DlHandle = LinkMap | "RTLD_DEFAULT" | "RTLD_NEXT";

/** The root of a map's l_loader chain (`root_loader` in dl-sym.c). */
function rootLoader(l: LinkMap): LinkMap {
  let r = l;
  for (let i = 0; r.loader !== undefined && i < 10000; i++) r = r.loader;
  return r;
}

/**
 * glibc 2.36 `dlsym` / `dlvsym` (dlfcn/dlsym.c → elf/dl-sym.c `do_sym`): the symbol's address
 * (st_value + l_addr; IFUNC and TLS results are not translated in this model), or null with the error
 * for dlerror ("OBJ: undefined symbol: NAME[, version V]").
 *
 * - a handle: its l_local_scope (its breadth-first search list), no dependency recorded;
 * - RTLD_DEFAULT: the caller's l_scope (global scope + its local scope), DL_LOOKUP_ADD_DEPENDENCY:
 *   a definition in a dlopen'ed object referenced from an object that can never be unloaded (the
 *   main program, startup libraries, NODELETE objects) pins it ("marking … as NODELETE due to
 *   reference from main program"); from a dlopen'ed object it joins the caller's l_reldeps;
 * - RTLD_NEXT: the caller's root loader's search list after the caller.
 */
export function dlsym(rtld: Rtld, handle: DlHandle, name: string, caller?: LinkMap): bigint | null {
  return dlvsym(rtld, handle, name, undefined, caller);
}

export function dlvsym(
  rtld: Rtld,
  handle: DlHandle,
  name: string,
  version: string | undefined,
  caller?: LinkMap,
): bigint | null {
  clearDlerror(rtld);
  const m = symbolMatch(rtld, handle, name, version, caller);
  return m === undefined ? null : m.value;
}

/** dlsym's lookup with the whole match (defining map, size, type), for dladdr-style reports. */
export function symbolMatch(
  rtld: Rtld,
  handle: DlHandle,
  name: string,
  version: string | undefined,
  caller?: LinkMap,
): SymbolMatch | undefined {
  const main = rtld.ns.main;
  const vreq: VersionReq | undefined =
    version === undefined ? undefined : { name: version, hash: sysvHash(version), hidden: false, filename: undefined };
  const fail = (e: LoaderError) => {
    setDlerror(rtld, e);
    return undefined;
  };
  if (!main) return fail(new LoaderError("", "no main program"));
  const match = caller ?? main;
  let found: SymbolMatch | undefined;
  let undefMap: LinkMap;
  if (handle === "RTLD_DEFAULT") {
    undefMap = match;
    const scopes = match.scope.length > 0 ? match.scope : [main.searchlist ?? [main]];
    const pinning = match.type !== "loaded" || match.nodelete;
    found = lookupSymbol(rtld, match, name, scopes, vreq, { dlsym: true, addDependency: !pinning });
    if (found && pinning && found.map.type === "loaded" && !found.map.nodelete && found.map !== match) {
      rtld.debug.emit("bindings", `marking ${found.map.name} [0] as NODELETE due to reference from main program`);
      found.map.nodelete = true;
      dlState(rtld).push({ kind: "nodelete", name: found.map.name, why: "reference from main program" });
    }
  } else if (handle === "RTLD_NEXT") {
    undefMap = match;
    const root = rootLoader(match);
    found = lookupSymbol(rtld, match, name, [root.searchlist ?? [root]], vreq, { dlsym: true, skip: match });
  } else {
    if (!rtld.ns.maps.includes(handle)) return fail(new LoaderError("", "invalid handle"));
    undefMap = handle;
    found = lookupSymbol(rtld, handle, name, [handle.searchlist ?? [handle]], vreq, {
      dlsym: true,
      addDependency: false,
    });
  }
  if (found === undefined) {
    const f = takeLookupFailure(rtld);
    const object = f?.object ?? (undefMap.name !== "" ? undefMap.name : rtld.progname);
    return fail(new LoaderError(object, f?.message ?? `undefined symbol: ${name}`));
  }
  return found;
}
