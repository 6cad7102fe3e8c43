import type { LinkMap } from "./link-map.ts";
import type { Rtld } from "./rtld.ts";
import { sortMaps } from "./sort-maps.ts";

/**
 * `_dl_map_object_deps` (glibc 2.36 elf/dl-deps.c) for DT_NEEDED: a breadth-first walk from `map`,
 * each object once (the l_reserved mark), every dependency but the root given its own l_initfini
 * (itself + its direct dependencies: `(2 * (n + 1) + 1)` pointers), and the root's search list
 * (`2 * nlist + 1` pointers). Faked (not found) entries stay in the walk but not in the search list.
 * Errors (a missing library outside trace mode) propagate as LoaderError.
 */
export function mapObjectDeps(rtld: Rtld, map: LinkMap): LinkMap[] {
  const known: LinkMap[] = [map];
  map.reserved = true;
  try {
    for (let i = 0; i < known.length; i++) {
      const l = known[i] as LinkMap;
      const ownList =
        l.searchlist === undefined && l.initfini === undefined && l !== map && (l.dynamic?.ldnum ?? 0) > 0;
      const needed: LinkMap[] = [];
      for (const raw of l.dynamic?.needed ?? []) {
        const name = rtld.expandDstNoAlloc(l, raw);
        const dep = rtld.mapObject(l, name, l.type === "executable" ? "library" : l.type);
        if (!dep.reserved) {
          known.push(dep);
          dep.reserved = true;
        }
        needed.push(dep);
      }
      if (ownList) {
        rtld.malloc.malloc((2 * (needed.length + 1) + 1) * 8);
        l.initfini = [l, ...needed];
      }
    }
  } finally {
    for (const l of known) l.reserved = false;
  }
  rtld.malloc.malloc((2 * known.length + 1) * 8);
  map.searchlist = known.filter((l) => !(rtld.traceMode && l.faked));
  // The root's l_initfini: its search list sorted (`_dl_sort_maps (l_initfini, nlist, true, false)`),
  // replacing the list it had as someone's dependency; the sort still sees the old one.
  map.initfini = sortMaps(map.searchlist, false, true);
  return known;
}
