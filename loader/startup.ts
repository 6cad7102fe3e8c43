import { PT_DYNAMIC, PT_INTERP, PT_LOAD, PT_PHDR } from "../formats/elf/constants.ts";
import * as AT from "../kernel-shim/exec/auxv.ts";
import type { Process } from "../kernel-shim/process/process.ts";
import { LinkMap } from "./link-map.ts";
import { mapObjectDeps } from "./load-deps.ts";
import { LoaderError } from "./map-object.ts";
import { Rtld, type RtldOptions } from "./rtld.ts";

/** The vDSO's DT_SONAME on x86_64 and arm64 (setup_vdso names the map after it). */
const VDSO_NAME = "linux-vdso.so.1";

export interface StartupResult {
  readonly rtld: Rtld;
  readonly main: LinkMap;
  /** Set when loading failed: glibc's fatal message and exit status 127. */
  readonly error: { readonly message: string; readonly status: 127 } | undefined;
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
function fatal(progname: string, e: LoaderError): { readonly message: string; readonly status: 127 } {
  const detail = e.errno ? `: ${rtldStrerror(e.errno)}` : "";
  return {
    message: `${progname}: error while loading shared libraries: ${e.object}: ${e.reason}${detail}`,
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
    rtld.vdsoMap = v;
    rtld.ns.add(v);
  }
  rtld.initPaths(main, options.libraryPath);
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
  return { rtld, main, error };
}
