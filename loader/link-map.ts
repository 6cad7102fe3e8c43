import type { ProgramHeader } from "../formats/elf/types.ts";
import type { SearchDir } from "./search-path.ts";

/** `l_type`: the main program, a library loaded at startup, or one loaded by dlopen. */
export type LinkMapType = "executable" | "library" | "loaded";

/** What the dynamic section tells the loader (read from the mapped object's memory). */
export interface LinkMapDynamic {
  readonly needed: readonly string[];
  readonly soname: string | undefined;
  /** DT_RPATH, already dropped when DT_RUNPATH is present (`elf_get_dynamic_info`). */
  readonly rpath: string | undefined;
  readonly runpath: string | undefined;
  readonly flags1: bigint;
  /** l_ldnum: number of dynamic entries PT_DYNAMIC holds (p_memsz / 16). */
  readonly ldnum: number;
}

/**
 * One `struct link_map` as far as searching and loading need it (glibc include/link.h): the name
 * it was opened as (`l_name`), the names it answers to (`l_libname`), where it is mapped, its file
 * identity, its loader (for the RPATH chain), cached search paths and the dependency lists.
 */
export class LinkMap {
  /** l_libname: the first is the name it was requested by. */
  readonly libnames: string[];
  sonameAdded = false;
  private lAddr = 0n;
  /** l_addr as a number (exact), NaN when it is not a safe integer: relocation arithmetic stays in numbers. */
  addrN = 0;
  mapStart = 0n;
  mapEnd = 0n;
  ld: bigint | undefined;
  phdrs: readonly ProgramHeader[] = [];
  dynamic: LinkMapDynamic | undefined;
  /** (st_dev, st_ino); undefined for the main program under an explicit loader invocation and the vDSO. */
  fileId: { readonly dev: bigint; readonly ino: bigint } | undefined;
  /** l_origin: undefined = not computed yet, null = unknown (`(char *) -1`). */
  origin: string | null | undefined;
  /** Trace mode's stand-in for a library that was not found. */
  faked = false;
  /** l_reserved: the mark bit of `_dl_map_object_deps`. */
  reserved = false;
  /** Cached decomposition of DT_RPATH / DT_RUNPATH: undefined = not yet, null = none. */
  rpathDirs: SearchDir[] | null | undefined;
  runpathDirs: SearchDir[] | null | undefined;
  /** l_initfini of a dependency: the object itself then its direct dependencies. */
  initfini: LinkMap[] | undefined;
  /** l_searchlist of the root: the breadth-first list of it and its dependencies. */
  searchlist: LinkMap[] | undefined;
  readonly isRtld: boolean;
  readonly isVdso: boolean;

  // ---- relocation, scopes, TLS (loader/relocate.ts, loader/symbol-lookup.ts, loader/tls.ts) ----
  /** Address of the `struct link_map` in ld.so's memory (its calloc): what lazy binding puts in GOT[1]. */
  lmAddr: bigint | undefined;
  /** l_relocated. */
  relocated = false;
  /** l_versions != NULL: `_dl_check_map_versions` ran and found version tables to index. */
  versionsChecked = false;
  /** l_scope: the scopes a lookup from this object searches (l_scope[0] is the main search list). */
  scope: (readonly LinkMap[])[] = [];
  /** l_reldeps: objects this one bound symbols to outside its own dependencies (keeps them loaded). */
  readonly reldeps: LinkMap[] = [];
  /** l_tls_modid: 0 when the object has no PT_TLS. */
  tlsModid = 0;
  /** l_tls_offset: the static TLS offset (x86_64: subtracted from the thread pointer); undefined = none yet. */
  tlsOffset: bigint | undefined;

  // ---- lifecycle (loader/dlopen.ts, loader/dlclose.ts, loader/init-fini.ts) ----
  /** l_direct_opencount: dlopen calls minus dlclose calls (1 for the objects loaded at startup). */
  opencount = 0;
  /** l_nodelete_active: DF_1_NODELETE, RTLD_NODELETE, or pinned by glibc (unique symbols, main references). */
  nodelete = false;
  /** l_global: in the namespace's global scope (the main search list or RTLD_GLOBAL). */
  global = false;
  /** l_init_called. */
  initCalled = false;
  /** fini has run (dlclose or exit). */
  finiCalled = false;

  constructor(
    /** l_name. */
    public name: string,
    libname: string,
    readonly type: LinkMapType,
    /** l_loader: the object whose DT_NEEDED (or dlopen) caused this one to load. */
    readonly loader: LinkMap | undefined,
    kind: { readonly rtld?: boolean; readonly vdso?: boolean } = {},
  ) {
    this.libnames = libname === "" ? [] : [libname];
    this.isRtld = kind.rtld ?? false;
    this.isVdso = kind.vdso ?? false;
  }

  /** l_addr: the difference between the addresses the object was linked at and is mapped at. */
  get addr(): bigint {
    return this.lAddr;
  }
  set addr(value: bigint) {
    this.lAddr = value;
    const n = Number(value);
    this.addrN = Number.isSafeInteger(n) ? n : Number.NaN;
  }

  /** `_dl_name_match_p`: l_name or any alias. */
  nameMatches(name: string): boolean {
    return this.name === name || this.libnames.includes(name);
  }
}

/** A namespace's chain of loaded objects (`GL(dl_ns)[nsid]._ns_loaded`, l_next order). */
export class Namespace {
  readonly maps: LinkMap[] = [];
  add(map: LinkMap): void {
    this.maps.push(map);
  }
  remove(map: LinkMap): void {
    const i = this.maps.indexOf(map);
    if (i >= 0) this.maps.splice(i, 1);
  }
  insertAfter(prev: LinkMap, map: LinkMap): void {
    const i = this.maps.indexOf(prev);
    this.maps.splice(i + 1, 0, map);
  }
  get main(): LinkMap | undefined {
    return this.maps[0];
  }
}
