import type { LinkMap } from "./link-map.ts";
import type { MinimalMalloc } from "./rtld-malloc.ts";
import type { RtldProfile } from "./rtld-profile.ts";

/** `enum r_dir_status` per (directory, capstr): probed lazily, remembered for later searches. */
export type DirStatus = "unknown" | "nonexisting" | "existing";

/** `struct r_search_path_elem`: one directory of a search path, shared by every path naming it. */
export interface SearchDir {
  /** With its trailing '/'. */
  readonly dirname: string;
  /** "RPATH", "RUNPATH", "LD_LIBRARY_PATH", "system search path". */
  readonly what: string;
  /** The object whose path this came from (l_name), if any. */
  readonly where: string | undefined;
  readonly status: DirStatus[];
}

/** What building a path needs from the loader: the allocator and the DST expansion of one element. */
export interface SearchPathContext {
  readonly profile: RtldProfile;
  readonly ncapstr: number;
  readonly malloc: MinimalMalloc;
  /** `expand_dynamic_string_token(l, s)`: allocates and returns [address, expanded string]. */
  expandDst(l: LinkMap, s: string): [bigint, string];
  /** GL(dl_all_dirs): every directory element created so far, newest first. */
  readonly allDirs: SearchDir[];
}

/**
 * `fillin_rpath` (glibc 2.36 elf/dl-load.c): split at any of `sep`, expand DSTs, drop empty
 * elements, normalise trailing slashes to exactly one, and reuse an existing element with the
 * same name (GL(dl_all_dirs)) or allocate a new one (`sizeof elem + ncapstr statuses + where + name`).
 * Relative directories start as "existing" (never skipped: the cwd may change).
 */
export function fillinRpath(
  ctx: SearchPathContext,
  rpath: string,
  sep: string,
  what: string,
  where: string | undefined,
  l: LinkMap,
): SearchDir[] {
  const result: SearchDir[] = [];
  const parts = rpath.split(new RegExp(`[${sep.replace(/[\\^\]-]/g, "\\$&")}]`));
  for (const raw of parts) {
    let cp = "";
    let toFree: bigint | undefined;
    if (raw !== "") {
      const [addr, expanded] = ctx.expandDst(l, raw);
      toFree = addr;
      cp = expanded;
      if (cp.length === 0) {
        ctx.malloc.free(toFree);
        continue;
      }
      let len = cp.length;
      while (len > 1 && cp[len - 1] === "/") len--;
      cp = cp.slice(0, len);
      if (!cp.endsWith("/")) cp += "/";
    }
    const known = ctx.allDirs.find((d) => d.dirname === cp);
    if (known) {
      if (!result.includes(known)) result.push(known);
    } else {
      const whereLen = where !== undefined ? Buffer.byteLength(where, "latin1") + 1 : 0;
      ctx.malloc.malloc(
        ctx.profile.searchPathElemSize + ctx.ncapstr * 4 + whereLen + Buffer.byteLength(cp, "latin1") + 1,
      );
      const init: DirStatus = cp[0] !== "/" ? "existing" : "unknown";
      const d: SearchDir = { dirname: cp, what, where, status: new Array<DirStatus>(ctx.ncapstr).fill(init) };
      ctx.allDirs.unshift(d);
      result.push(d);
    }
    ctx.malloc.free(toFree);
  }
  return result;
}

/**
 * `decompose_rpath`: an empty path is "none"; otherwise a writable copy, an array of
 * (number of ':' + 2) pointers, the elements, and the copy freed. Returns null when nothing is left.
 */
export function decomposeRpath(ctx: SearchPathContext, rpath: string, l: LinkMap, what: string): SearchDir[] | null {
  if (rpath === "") return null;
  const copy = ctx.malloc.malloc(Buffer.byteLength(rpath, "latin1") + 1);
  const nelems = rpath.split(":").length - 1;
  const result = ctx.malloc.malloc((nelems + 2) * 8);
  const dirs = fillinRpath(ctx, rpath, ":", what, l.name, l);
  ctx.malloc.free(copy);
  if (dirs.length === 0) {
    ctx.malloc.free(result);
    return null;
  }
  return dirs;
}
