import { PT_DYNAMIC, PT_INTERP, PT_LOAD, PT_PHDR } from "../formats/elf/constants.ts";
import { decodeDynamic, readDynamicFromMemory } from "../formats/elf/dynamic.ts";
import { DT_GNU_PRELINKED, DT_RELACOUNT, DT_RELCOUNT } from "../formats/elf/dynamic-tags.ts";
import { sysvHash } from "../formats/elf/hash-function.ts";
import * as AT from "../kernel-shim/exec/auxv.ts";
import type { Process } from "../kernel-shim/process/process.ts";
import { syscall } from "../kernel-shim/syscalls/dispatch.ts";
import { showScope, statistics } from "./debug-format.ts";
import { dynamicInfo } from "./dynamic-info.ts";
import { mainInitfini } from "./init-fini.ts";
import { copyTlsInitImages, type InitialTls, initTls } from "./init-tls.ts";
import { LinkMap } from "./link-map.ts";
import { mapObjectDeps } from "./load-deps.ts";
import { LoaderError } from "./map-object.ts";
import { Rtld, type RtldOptions } from "./rtld.ts";
import { ELF_RTYPE_CLASS_PLT, lookupSymbol, type VersionReq } from "./symbol-lookup.ts";

/** The vDSO's DT_SONAME on x86_64 and arm64 (setup_vdso names the map after it). */
const VDSO_NAME = "linux-vdso.so.1";
const PRELOAD_FILE = "/etc/ld.so.preload";
const R_OK = 4;
const AT_FDCWD = -100;

export interface StartupResult {
  readonly rtld: Rtld;
  readonly main: LinkMap;
  /** Set when loading failed: glibc's fatal message and exit status 127. */
  readonly error: StartupError | undefined;
  /** /etc/ld.so.preload exists (its libraries are not loaded by the model). */
  readonly preloadFile?: boolean;
}

/** Why startup stopped: glibc's message (stderr) and the exit status (127 fatal, 1 missing version). */
export interface StartupError {
  readonly message: string;
  readonly status: number;
}

/**
 * ld.so's own `__strerror_r` (glibc 2.36 elf/dl-minimal.c), used for messages before libc is
 * relocated: six errnos have text, every other one prints as "Error N".
 */
export function rtldStrerror(errno: number): string {
  const known: Readonly<Record<number, string>> = {
    12: "Cannot allocate memory",
    22: "Invalid argument",
    2: "No such file or directory",
    1: "Operation not permitted",
    5: "Input/output error",
    13: "Permission denied",
  };
  return known[errno] ?? `Error ${errno}`;
}

/** `_dl_signal_error` at startup: "PROG: error while loading shared libraries: OBJ: REASON[: ERRNO TEXT]". */
function fatal(progname: string, e: LoaderError): StartupError {
  const detail = e.errno ? `: ${rtldStrerror(e.errno)}` : "";
  // A lookup failure during relocation names its occasion ("symbol lookup error").
  const occasion = (e as { readonly occasion?: string }).occasion ?? "error while loading shared libraries";
  return {
    message: `${progname}: ${occasion}: ${e.object}${e.object ? ": " : ""}${e.reason}${detail}`,
    status: 127,
  };
}

function auxv(proc: Process, type: number): bigint | undefined {
  return proc.image?.auxv.find(([t]) => t === type)?.[1];
}

function cstringAt(proc: Process, addr: bigint): string {
  const out: number[] = [];
  for (let a = Number(addr); out.length < 4096; a++) {
    const b = proc.mm.readUser(a, 1)[0] as number;
    if (b === 0) break;
    out.push(b);
  }
  return Buffer.from(out).toString("latin1");
}

/**
 * elf/setup-vdso.h `setup_vdso`: when the kernel's vDSO image is an ELF object (the shim maps zero
 * pages unless given one), its phdrs, l_addr (from the PT_LOAD's p_vaddr), l_map_end and dynamic
 * section, so the version check sees its Verdef as ld.so does. The map keeps the name
 * "linux-vdso.so.1" (its DT_SONAME).
 */
function setupVdso(proc: Process, v: LinkMap, base: bigint): void {
  const r = proc.mm.tryReadUser(Number(base), 64);
  if (!r.ok || r.bytes[0] !== 0x7f || r.bytes[1] !== 0x45 || r.bytes[2] !== 0x4c || r.bytes[3] !== 0x46) return;
  const dv = new DataView(r.bytes.buffer, r.bytes.byteOffset, 64);
  const phdrs = Rtld.phdrsFromMemory(proc, base + dv.getBigUint64(32, true), dv.getUint16(56, true));
  v.phdrs = phdrs;
  for (const p of phdrs) {
    if (p.type === PT_LOAD) {
      v.addr = base - p.vaddr;
      v.mapEnd = base + p.memsz;
    }
  }
  const dyn = phdrs.find((p) => p.type === PT_DYNAMIC);
  if (dyn) v.ld = v.addr + dyn.vaddr;
}

/**
 * `setup_vdso_pointers` (sysdeps/unix/sysv/linux/dl-vdso-setup.c, x86_64): `dl_vdso_vsym` looks each
 * vDSO function up in the vDSO's own scope with the hidden version LINUX_2.6 — LD_DEBUG=symbols and
 * bindings show these five lookups first. Nothing happens without a vDSO image.
 */
function setupVdsoPointers(rtld: Rtld, v: LinkMap): void {
  if (v.ld === undefined || rtld.proc.kernel.arch !== "x86_64") return;
  const version: VersionReq = { name: "LINUX_2.6", hash: sysvHash("LINUX_2.6"), hidden: true, filename: undefined };
  for (const name of [
    "__vdso_clock_gettime",
    "__vdso_gettimeofday",
    "__vdso_time",
    "__vdso_getcpu",
    "__vdso_clock_getres",
  ]) {
    lookupSymbol(rtld, v, name, [[v]], version, { addDependency: false });
  }
}

/** ld.so's own link map, from its ELF header in memory at `base`; and `&_end` for the malloc. */
function rtldSelf(proc: Process, base: bigint, name: string): { map: LinkMap; end: bigint } {
  const ehdr = proc.mm.readUser(Number(base), 64);
  const dv = new DataView(ehdr.buffer, ehdr.byteOffset, 64);
  const phoff = dv.getBigUint64(32, true);
  const phnum = dv.getUint16(56, true);
  const phdrs = Rtld.phdrsFromMemory(proc, base + phoff, phnum);
  const map = new LinkMap(name, name, "library", undefined, { rtld: true });
  map.addr = base;
  map.mapStart = base;
  map.phdrs = phdrs;
  let end = 0n;
  for (const p of phdrs) if (p.type === PT_LOAD && p.vaddr + p.memsz > end) end = p.vaddr + p.memsz;
  map.mapEnd = base + end;
  const dyn = phdrs.find((p) => p.type === PT_DYNAMIC);
  if (dyn) map.ld = base + dyn.vaddr;
  return { map, end: base + end };
}

/**
 * ld.so's startup (glibc 2.36 elf/rtld.c `dl_main`) from a process exec has just built, up to the end
 * of dependency loading:
 *
 * - kernel-started program (AT_BASE ≠ 0): the main map from AT_PHDR (l_addr = AT_PHDR − PT_PHDR.p_vaddr),
 *   ld.so's map from AT_BASE named by PT_INTERP;
 * - explicit invocation (`ld.so PROG`, what ldd runs; AT_BASE = 0): ld.so maps PROG itself with
 *   `__RTLD_OPENEXEC` (no file id, ET_EXEC allowed, the worst-case audit space).
 *
 * Then the vDSO map, `_dl_init_paths` (hwcaps, system dirs, the program's RPATH/RUNPATH,
 * LD_LIBRARY_PATH), `_dl_map_object_deps` breadth first, and ld.so's own map moved to its place in
 * the search order (after its predecessor in the main search list; dropped when nothing needs it).
 *
 * SFrame: with `registerSframe`, each library ld.so maps gets `stacktrace_setup(REGISTER, …)` right
 * after `_dl_map_object_from_fd` has mapped it and closed the fd — the earliest point where the
 * .sframe and text addresses are final, matching the RFC's "after mmap" registration. glibc's own
 * comparable hook (`_dl_find_object_update`, 2.35+) runs later, after relocation; registering earlier
 * costs nothing since the kernel only reads .sframe when it unwinds. The executable and ld.so are
 * left to exec (binfmt_elf registers them in the kernel series).
 */
export function startFromExec(
  proc: Process,
  options: RtldOptions & { readonly progname?: string } = {},
): StartupResult {
  const image = proc.image;
  if (!image) throw new LoaderError("ld.so", "process has not exec'd a program");
  const base = auxv(proc, AT.AT_BASE) ?? 0n;
  const direct = base === 0n;
  const rtldBase = direct ? BigInt(image.loadBias) : base;
  const argv0 = image.argv[0] ?? "";
  const self = rtldSelf(proc, rtldBase, direct ? argv0 : "");
  const rtld = new Rtld(proc, self.end, options);
  // _dl_sysdep_start: "Initialize the break pointer" before dl_main.
  syscall(proc, "brk", 0);
  let main: LinkMap;
  const progname = direct ? (image.argv[1] ?? "") : argv0;
  rtld.progname = progname;
  try {
    if (direct) {
      main = rtld.mapObject(undefined, progname, "executable", true);
    } else {
      main = rtld.newObject("", "", "executable", undefined, { openexec: true });
      const phdrAddr = auxv(proc, AT.AT_PHDR) ?? 0n;
      const phnum = Number(auxv(proc, AT.AT_PHNUM) ?? 0n);
      const phdrs = Rtld.phdrsFromMemory(proc, phdrAddr, phnum);
      const ph = phdrs.find((p) => p.type === PT_PHDR);
      main.addr = ph ? phdrAddr - ph.vaddr : 0n;
      main.phdrs = phdrs;
      const dyn = phdrs.find((p) => p.type === PT_DYNAMIC);
      if (dyn) main.ld = main.addr + dyn.vaddr;
      rtld.readDynamic(main);
      rtld.ns.add(main);
    }
  } catch (e) {
    if (e instanceof LoaderError) {
      const m = rtld.ns.main ?? new LinkMap(progname, progname, "executable", undefined);
      return { rtld, main: m, error: fatal(progname, e) };
    }
    throw e;
  }
  // ld.so's libname: the program's PT_INTERP string (its l_name stays argv[0] when run directly).
  const interp = main.phdrs.find((p) => p.type === PT_INTERP);
  const interpName = interp ? cstringAt(proc, main.addr + interp.vaddr) : undefined;
  const rmap = self.map;
  if (!direct) rmap.name = interpName ?? "";
  rmap.libnames.length = 0;
  rmap.libnames.push(interpName ?? rmap.name);
  rtld.readDynamic(rmap);
  // l_ldnum is only set for objects ld.so maps and for the main program; ld.so's own map keeps 0,
  // so it gets no l_initfini allocation in _dl_map_object_deps.
  if (rmap.dynamic) rmap.dynamic = { ...rmap.dynamic, ldnum: 0 };
  // Pointers in ld.so's own dynamic section are not yet relocated in memory for its soname; use it if present.
  if (rmap.dynamic?.soname && !rmap.libnames.includes(rmap.dynamic.soname)) rmap.libnames.push(rmap.dynamic.soname);
  rtld.rtldMap = rmap;
  rtld.ns.add(rmap);
  const vdsoBase = auxv(proc, AT.AT_SYSINFO_EHDR);
  if (vdsoBase !== undefined && vdsoBase !== 0n) {
    const v = rtld.newObject("", "", "library", undefined, { vdso: true });
    v.name = VDSO_NAME;
    v.libnames.push(VDSO_NAME);
    v.mapStart = vdsoBase;
    v.addr = vdsoBase;
    setupVdso(proc, v, vdsoBase);
    setupVdsoPointers(rtld, v);
    rtld.vdsoMap = v;
    rtld.ns.add(v);
  }
  rtld.initPaths(main, options.libraryPath);
  // The preload file: access() first, since it usually does not exist (rtld.c dl_main). Reading and
  // preloading its contents is not modelled; the result says when the file exists.
  // arm64 has no access(2): glibc's access() is faccessat(AT_FDCWD, …) there.
  const preloadFile =
    (proc.kernel.arch === "aarch64"
      ? syscall(proc, "faccessat", AT_FDCWD, PRELOAD_FILE, R_OK)
      : syscall(proc, "access", PRELOAD_FILE, R_OK)) === 0n;
  let error: StartupResult["error"];
  try {
    mapObjectDeps(rtld, main);
  } catch (e) {
    if (!(e instanceof LoaderError)) throw e;
    error = fatal(progname, e);
  }
  // rtld.c: take ld.so off the chain, put it back after its predecessor in the search list.
  rtld.ns.remove(rmap);
  const sl = main.searchlist ?? [];
  const i = sl.indexOf(rmap);
  if (i > 0) rtld.ns.insertAfter(sl[i - 1] as LinkMap, rmap);
  return { rtld, main, error, preloadFile };
}

/** How the startup proceeds after loading (LD_BIND_NOW, the version check). */
export interface FinishOptions {
  /** LD_BIND_NOW set (non-empty): no lazy PLT binding (GLRO(dl_lazy) = 0). */
  readonly bindNow?: boolean;
  /** `_dl_check_all_versions (main, 1, 0)` (RELOC's checkAllVersions); skipped when absent. */
  readonly checkVersions?: (rtld: Rtld, main: LinkMap) => unknown;
  /** `_dl_relocate_object` (RELOC's relocateObject). */
  readonly relocate: (
    rtld: Rtld,
    map: LinkMap,
    scopes: readonly (readonly LinkMap[])[],
    options: { readonly lazy: boolean },
  ) => void;
  /** Counters for LD_DEBUG=statistics (RELOC's relocStats). */
  readonly relocStats?: (rtld: Rtld) => { readonly relocations: number; readonly fromCache: number };
  /** `_dl_start` began at this `process.hrtime.bigint()` (for the statistics' total). */
  readonly startTime?: bigint;
  /** Time spent loading objects, in ns (the statistics' "time needed to load objects"). */
  readonly loadTime?: bigint;
}

/** The `struct r_debug` state a debugger sees (`_dl_debug_initialize`, `_dl_debug_state` transitions). */
export interface RDebugState {
  readonly version: 1;
  /** r_map: the head of the base namespace's chain. */
  readonly map: LinkMap;
  /** r_ldbase: ld.so's load address. */
  readonly ldbase: bigint;
  /** Every r_state value `_dl_debug_state` was called with, in order. */
  readonly states: readonly ("RT_ADD" | "RT_CONSISTENT")[];
}

export interface FinishedStartup extends StartupResult {
  readonly tls: InitialTls | undefined;
  /** Objects in the order `_dl_relocate_object` was called on them. */
  readonly relocationOrder: readonly LinkMap[];
  readonly rDebug: RDebugState;
  /** The libc startup model's calls (see `libcEarlyInit`). */
  readonly libcStartup: readonly string[];
}

/**
 * The libc startup model: the system calls the C library itself makes between ld.so's last call
 * and `main` on Debian 12 (glibc 2.36), measured with `setarch -R strace` on programs whose main
 * starts with a marker syscall. Only `__libc_early_init` (called by ld.so after relocation through
 * `_dl_call_libc_early_init`) makes one: `__pthread_early_init` reads RLIMIT_STACK to size the
 * default thread stack — `prlimit64(0, RLIMIT_STACK, NULL, &limit)`. `__libc_start_main` itself
 * makes none for a dynamic program. Constructors of the program's libraries may make more (e.g.
 * libselinux reads /proc/filesystems); the model cannot run them.
 */
export function libcEarlyInit(rtld: Rtld, lazy: boolean): readonly string[] {
  const libc = libcMap(rtld);
  if (!libc) return [];
  const limit = new Uint8Array(16);
  syscall(rtld.proc, "prlimit64", 0, RLIMIT_STACK, 0, limit);
  const out = ["__libc_early_init: __pthread_early_init: getrlimit (RLIMIT_STACK) → prlimit64"];
  if (libcPltCall(rtld, "__tunable_get_val", lazy))
    out.push("__libc_early_init: lazy PLT binding of __tunable_get_val");
  return out;
}

/** `GL(dl_ns)[LM_ID_BASE].libc_map`: the object whose soname is libc.so.6. */
export function libcMap(rtld: Rtld): LinkMap | undefined {
  return rtld.ns.maps.find((l) => l.dynamic?.soname === LIBC_SO);
}

/**
 * A call libc makes before main through its PLT to a GLIBC_PRIVATE function of ld.so: under lazy
 * binding the first call goes through `_dl_fixup`, whose lookup LD_DEBUG=symbols/bindings show
 * (`__tunable_get_val` in `__libc_early_init`, `_dl_audit_preinit` in `__libc_start_main`). Under
 * BIND_NOW the slot was bound during libc's relocation and nothing is printed. The model does the
 * lookup (and its debug lines); the GOT slot itself is not rewritten. Returns whether it looked up.
 */
export function libcPltCall(rtld: Rtld, name: string, lazy: boolean): boolean {
  const libc = libcMap(rtld);
  // Measured on x86_64 (strace/LD_DEBUG) and aarch64 (LD_DEBUG under qemu-aarch64): the same two calls.
  if (!libc || !lazy || (rtld.proc.kernel.arch !== "x86_64" && rtld.proc.kernel.arch !== "aarch64")) return false;
  if (dynamicInfo(rtld, libc).bindNow) return false;
  const version: VersionReq = {
    name: "GLIBC_PRIVATE",
    hash: sysvHash("GLIBC_PRIVATE"),
    hidden: false,
    filename: rtld.rtldMap.dynamic?.soname ?? "ld-linux-x86-64.so.2",
  };
  lookupSymbol(rtld, libc, name, libc.scope, version, { typeClass: ELF_RTYPE_CLASS_PLT });
  return true;
}

/**
 * `l_contiguous` of the main map as rtld_setup_main_map decides it (glibc 2.36 elf/rtld.c): cleared
 * when a PT_LOAD does not start at the page after the previous one's end (a hole between segments,
 * as in non-PIE programs whose data segment skips a page).
 */
export function mainContiguous(main: LinkMap, pageSize: number): boolean {
  const page = BigInt(pageSize);
  let expected = 0n;
  for (const p of main.phdrs) {
    if (p.type !== PT_LOAD) continue;
    const mapstart = main.addr + (p.vaddr & ~(page - 1n));
    if (expected !== 0n && expected !== mapstart) return false;
    const allocend = main.addr + p.vaddr + p.memsz;
    expected = (allocend + page - 1n) & ~(page - 1n);
  }
  return true;
}

/**
 * `__rtld_malloc_init_real (main_map)` (elf/dl-minimal.c): ld.so switches from its minimal malloc
 * to libc's, looking up calloc, free, malloc and realloc from the main map with the base version
 * (GLIBC_2.2.5 on x86_64) — four more "binding file PROG" lines before ld.so's own relocation.
 */
function rtldMallocInitReal(rtld: Rtld, main: LinkMap): void {
  const base = rtld.proc.kernel.arch === "aarch64" ? "GLIBC_2.17" : "GLIBC_2.2.5";
  const version: VersionReq = { name: base, hash: sysvHash(base), hidden: false, filename: undefined };
  for (const name of ["calloc", "free", "malloc", "realloc"]) {
    lookupSymbol(rtld, main, name, main.scope, version, {});
  }
}

const LIBC_SO = "libc.so.6";
const RLIMIT_STACK = 3;

/** rtld.c `print_statistics`: the relative relocations counted from DT_RELACOUNT of the main search list. */
function relativeRelocations(rtld: Rtld, searchlist: readonly LinkMap[]): number {
  let n = 0;
  for (const l of searchlist) {
    if (l.ld === undefined) continue;
    const read = (a: bigint, len: number) => rtld.proc.mm.readUser(Number(a), len);
    const d = decodeDynamic(
      readDynamicFromMemory(read, l.ld, true, true, { source: l.name, granule: rtld.proc.mm.pageSize }).entries,
    ).values;
    const rel = d.get(DT_RELCOUNT);
    if (l.addr !== 0n && rel !== undefined) n += Number(rel);
    const rela = d.get(DT_RELACOUNT);
    if ((l.addr !== 0n || d.get(DT_GNU_PRELINKED) === undefined) && rela !== undefined) n += Number(rela);
  }
  return n;
}

/**
 * The rest of `dl_main` after the dependencies are loaded, then `_dl_start`'s statistics — what
 * happens before ld.so jumps to `_dl_init` (loader/init-fini.ts) and the program's entry:
 *
 * 1. every search-list object joins the global scope (l_global); l_scope as `_dl_new_object` set it:
 *    the main search list, plus its own search list for an object loaded without a loader (vDSO);
 *    ld.so's own map has none;
 * 2. `version_check_doit`: `_dl_check_map_versions` on every object in l_next order (a missing
 *    version: "PROG: OBJ: version `V' not found (required by X)", exit status 1);
 * 3. `init_tls` (loader/init-tls.ts): the static TLS block and TCB, TLS_INIT_TP's four syscalls,
 *    `security_init`;
 * 4. LD_DEBUG=scopes: "Initial object scopes";
 * 5. `_dl_relocate_object` on l_initfini from last to first, ld.so skipped (each ends with its RELRO
 *    mprotect); `_dl_allocate_tls_init`; `_dl_find_object_init`'s allocation; ld.so's own relocation
 *    (its RELRO: the last mprotect before libc's);
 * 6. `_dl_call_libc_early_init` (the libc startup model: prlimit64);
 * 7. r_debug → RT_CONSISTENT, `_dl_unload_cache` (munmap of ld.so.cache);
 * 8. LD_DEBUG=statistics.
 */
export function finishStartup(start: StartupResult, options: FinishOptions): FinishedStartup {
  const { rtld, main } = start;
  const rDebug = {
    version: 1 as const,
    map: main,
    ldbase: rtld.rtldMap.addr,
    states: ["RT_ADD"] as RDebugState["states"][number][],
  };
  const base = { ...start, tls: undefined, relocationOrder: [] as LinkMap[], rDebug, libcStartup: [] as string[] };
  if (start.error) return base;
  const sl = main.searchlist ?? [main];
  main.opencount = 1;
  for (const l of sl) l.global = true;
  main.scope = [sl];
  for (const l of rtld.ns.maps) {
    if (l === main || l.isRtld) continue;
    l.scope = l.isVdso ? [sl, [l]] : [sl];
  }
  if (!main.initfini || main.initfini.length !== sl.length) main.initfini = mainInitfini(main);
  const progname = rtld.progname;
  try {
    // l_versions is allocated by the check itself (version-check.ts), as _dl_check_map_versions does.
    if (options.checkVersions) options.checkVersions(rtld, main);
  } catch (e) {
    if (!(e instanceof LoaderError)) throw e;
    // print_missing_version: "%s: %s: %s\n" (RTLD_PROGNAME, object, message) per error, then _exit (1).
    const lines = (e as { readonly stderr?: readonly string[] }).stderr;
    const message = lines && lines.length > 0 ? lines.join("\n") : `${progname}: ${e.object}: ${e.reason}`;
    return { ...base, error: { message, status: 1 } };
  }
  let tls: InitialTls;
  try {
    tls = initTls(rtld);
  } catch (e) {
    if (!(e instanceof LoaderError)) throw e;
    return { ...base, error: fatal(progname, e) };
  }
  if (rtld.debug.on("scopes")) {
    rtld.debug.emit("scopes", "");
    rtld.debug.emit("scopes", "Initial object scopes");
    for (const l of rtld.ns.maps) for (const t of showScope(l, progname)) rtld.debug.emit("scopes", t);
  }
  const lazy = !options.bindNow;
  const order: LinkMap[] = [];
  const t0 = process.hrtime.bigint();
  try {
    const initfini = main.initfini;
    for (let i = initfini.length - 1; i >= 0; i--) {
      const l = initfini[i] as LinkMap;
      if (l.isRtld) continue;
      options.relocate(rtld, l, l.scope, { lazy });
      order.push(l);
    }
    copyTlsInitImages(rtld, tls);
    const rtldInList = sl.includes(rtld.rtldMap);
    if (rtldInList) {
      // _dl_find_object_init (_dlfo_process_initial): one dl_find_object_internal (32 bytes) per
      // implicitly NODELETE object, plus one per PT_LOAD of a main program that is not contiguous.
      let nodelete = rtld.ns.maps.filter((l) => l !== main && l.type === "library" && !l.faked).length;
      if (!mainContiguous(main, rtld.proc.mm.pageSize)) {
        nodelete += main.phdrs.filter((p) => p.type === PT_LOAD).length;
      }
      rtld.malloc.malloc(nodelete * 32);
      rtldMallocInitReal(rtld, main);
      options.relocate(rtld, rtld.rtldMap, main.scope, { lazy: false });
      order.push(rtld.rtldMap);
    }
  } catch (e) {
    if (!(e instanceof LoaderError)) throw e;
    return { ...base, tls, relocationOrder: order, error: fatal(progname, e) };
  }
  const relocTime = process.hrtime.bigint() - t0;
  const libcStartup = libcEarlyInit(rtld, lazy);
  rDebug.states.push("RT_CONSISTENT");
  rtld.unloadCache();
  if (rtld.debug.on("statistics")) {
    const total = process.hrtime.bigint() - (options.startTime ?? t0);
    const st = options.relocStats?.(rtld) ?? { relocations: 0, fromCache: 0 };
    const lines = statistics({
      totalCycles: total,
      relocCycles: relocTime,
      loadCycles: options.loadTime ?? 0n,
      relocations: st.relocations,
      cacheRelocations: st.fromCache,
      relativeRelocations: relativeRelocations(rtld, sl),
    });
    for (const t of lines) rtld.debug.emit("statistics", t);
  }
  return { ...base, tls, relocationOrder: order, libcStartup };
}
