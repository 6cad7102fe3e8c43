import type { LinkMap } from "./link-map.ts";

/**
 * `_dl_sort_maps` with glibc 2.36's default algorithm (tunable glibc.rtld.dynamic_sort=2,
 * elf/dl-sort-maps.c `_dl_sort_maps_dfs`, with the force_first handling of bug 28937 that the 2.36
 * release branch carries): a depth-first search over l_initfini (and, for fini, l_reldeps) whose
 * reverse post-order is the result. Callers use it for:
 *
 * - `_dl_map_object_deps`: the root's l_initfini = its search list sorted, forFini = false; init runs
 *   the result from last to first (dependencies first);
 * - `_dl_close_worker` / `_dl_fini`: every map of the namespace in l_next order, forFini = true;
 *   fini runs the result first to last (dependents first).
 *
 * `forceFirst` keeps maps[0] first (glibc passes true for the base namespace and dl-deps). Returns a
 * new array; the input is not modified. Faked (trace-mode) maps are skipped as glibc does, and the
 * main executable is never reached through a dependency edge (`l_main_map`).
 */
export function sortMaps(maps: readonly LinkMap[], forFini: boolean, forceFirst = true): LinkMap[] {
  const n = maps.length;
  if (n === 0) return [];
  const firstMap = maps[0] as LinkMap;
  // l_visited lives in the link map in glibc; a set scoped to this call is the same bit.
  let visited = new Set<LinkMap>();
  const rpo: LinkMap[] = new Array<LinkMap>(n);
  let head = n;
  let doReldeps = false;

  const isMainMap = (m: LinkMap) => m.type === "executable";

  // Explicit stack instead of glibc's recursion: the same visiting order (each l_initfini entry in
  // order, then l_reldeps from the last to the first), without depending on the JS stack depth.
  const traverse = (start: LinkMap, out: LinkMap[], withReldeps: boolean, pos: { head: number }) => {
    if (visited.has(start) || start.faked) return;
    interface Frame {
      readonly map: LinkMap;
      readonly edges: readonly LinkMap[];
      i: number;
    }
    const edgesOf = (m: LinkMap): LinkMap[] => {
      const e: LinkMap[] = [...(m.initfini ?? [])];
      if (withReldeps && m.reldeps.length > 0) {
        doReldeps = true;
        for (let k = m.reldeps.length - 1; k >= 0; k--) e.push(m.reldeps[k] as LinkMap);
      }
      return e;
    };
    visited.add(start);
    const stack: Frame[] = [{ map: start, edges: edgesOf(start), i: 0 }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as Frame;
      if (top.i < top.edges.length) {
        const dep = top.edges[top.i++] as LinkMap;
        // dfs_traversal: the callee returns at once for a visited or faked map.
        if (!visited.has(dep) && !isMainMap(dep) && !dep.faked) {
          visited.add(dep);
          stack.push({ map: dep, edges: edgesOf(dep), i: 0 });
        }
        continue;
      }
      stack.pop();
      pos.head -= 1;
      // More maps reachable than were passed in: glibc would write before rpo[0] (its assert);
      // ignore the extra rather than corrupt the result.
      if (pos.head >= 0) out[pos.head] = top.map;
    }
  };

  const pos = { head };
  for (let i = n - 1; i >= 0; i--) {
    traverse(maps[i] as LinkMap, rpo, forFini, pos);
    if (pos.head <= 0) break;
  }
  head = pos.head;

  if (doReldeps) {
    // Second pass over l_initfini only, in rpo order: static dependencies win over reldeps in cycles.
    // glibc returns straight after it (no force_first fix-up on this path).
    visited = new Set<LinkMap>();
    const out: LinkMap[] = new Array<LinkMap>(n);
    const p2 = { head: n };
    for (let i = n - 1; i >= 0; i--) {
      const m = rpo[i];
      if (m !== undefined) traverse(m, out, false, p2);
      if (p2.head <= 0) break;
    }
    return out.filter((m) => m !== undefined);
  }

  const result = head > 0 ? rpo.slice(head) : rpo;
  if (forceFirst && result[0] !== firstMap) {
    const i = result.indexOf(firstMap);
    if (i > 0) {
      result.splice(i, 1);
      result.unshift(firstMap);
    }
  }
  return result;
}
