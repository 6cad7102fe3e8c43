import { EndianReader } from "../formats/bytes/endian.ts";
import { ET_DYN, ET_EXEC, PT_DYNAMIC, PT_LOAD } from "../formats/elf/constants.ts";
import { DF_1_NODEFLIB, DF_1_PIE } from "../formats/elf/dynamic-tags.ts";
import { decodeProgramHeaders } from "../formats/elf/program-headers.ts";
import type { ProgramHeader } from "../formats/elf/types.ts";
import { type LdSoCache, parseLdSoCache, searchCache } from "../formats/ldcache/ld-so-cache.ts";
import { Errno, errnoName } from "../kernel-shim/errno.ts";
import type { Process } from "../kernel-shim/process/process.ts";
import { syscall } from "../kernel-shim/syscalls/dispatch.ts";
import { DebugLog } from "./debug.ts";
import { fileGenerating, fileMapped, fileNeededBy } from "./debug-format.ts";
import { dstCount, dstRequired, dstSubstitute } from "./dst.ts";
import { LinkMap, type LinkMapType, Namespace } from "./link-map.ts";
import {
  FILEBUF_SIZE,
  LoaderError,
  mapSegments,
  phdrsFromBytes,
  registerSframe,
  unregisterSframe,
} from "./map-object.ts";
import { MinimalMalloc } from "./rtld-malloc.ts";
import { capstrs, DEBIAN12_X86_64, importantHwcapsAllocations, type RtldProfile } from "./rtld-profile.ts";
import { readSearchDynamic } from "./search-dynamic.ts";
import { decomposeRpath, fillinRpath, type SearchDir, type SearchPathContext } from "./search-path.ts";
import { userMmap } from "./user-mmap.ts";

const AT_FDCWD = -100;
const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const AT_EMPTY_PATH = 0x1000;
const PROT_READ = 1;
const MAP_PRIVATE = 0x02;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const EM_X86_64 = 62;

/** searchCache's answers per parsed ld.so.cache, per profile, per name (see cacheLookup). */
const cacheAnswers = new WeakMap<LdSoCache, WeakMap<RtldProfile, Map<string, string | undefined>>>();

export interface RtldOptions {
  readonly profile?: RtldProfile;
  /** LD_TRACE_LOADED_OBJECTS (ldd): a library that is not found becomes a faked "not found" entry. */
  readonly traceMode?: boolean;
  /** LD_LIBRARY_PATH (or --library-path). */
  readonly libraryPath?: string;
  /** --inhibit-cache. */
  readonly inhibitCache?: boolean;
  /** Call stacktrace_setup for each newly mapped object with PT_GNU_SFRAME (see startup.ts). */
  readonly registerSframe?: boolean;
  /**
   * A failed stacktrace_setup(REGISTER) makes the load fail ("cannot register SFrame section"): the
   * object is unregistered and unmapped again. Default false: the failure is logged (LD_DEBUG=files)
   * and loading continues, since the kernel only needs .sframe for unwinding.
   */
  readonly fatalSframeRegistration?: boolean;
  /** e_machine the loader accepts (elf_machine_matches_host). */
  readonly machine?: number;
  /** LD_DEBUG output (the categories that are on); none by default. */
  readonly debug?: DebugLog;
}

/** Result of `open_verify`: an open, checked file, or why the candidate is skipped. */
interface Opened {
  readonly fd: bigint;
  readonly head: Uint8Array;
  readonly phBytes: Uint8Array;
  readonly phoff: number;
  readonly phnum: number;
  readonly type: number;
}
interface Skipped {
  readonly fd: -1n;
  readonly errno: number;
  readonly otherClass: boolean;
}
type Verified = Opened | Skipped;
const isSkipped = (v: Verified): v is Skipped => v.fd === -1n;

/**
 * How `_dl_map_object` was called from dlopen (`mode` bits of glibc's elf/dl-load.c that change the
 * search or the mapping): RTLD_NOLOAD stops right before mapping a file that is not loaded yet;
 * `__RTLD_CALLMAP` searches with the caller's paths but gives the new object no l_loader.
 */
export interface MapObjectMode {
  readonly noload?: boolean;
  readonly callmap?: boolean;
}

/**
 * ld.so's allocator: the minimal malloc until libc's malloc takes over (`__rtld_malloc_init_real`),
 * then libc's brk heap for the small blocks ld.so needs, which shows no mmap in strace.
 */
class RtldMalloc extends MinimalMalloc {
  private heap: bigint | undefined;
  /** Switch to libc's malloc (idempotent). */
  useLibc(): void {
    this.heap ??= 0x1000n;
  }
  get libc(): boolean {
    return this.heap !== undefined;
  }
  override malloc(n: number): bigint {
    if (this.heap === undefined) return super.malloc(n);
    const p = this.heap;
    this.heap += (BigInt(n) + 31n) & ~15n;
    return p;
  }
  override calloc(n: number): bigint {
    return this.malloc(n);
  }
  override free(p: bigint | undefined): void {
    if (this.heap === undefined) super.free(p);
  }
  override realloc(p: bigint | undefined, n: number): bigint {
    return this.heap === undefined ? super.realloc(p, n) : this.malloc(n);
  }
}

/** A failure `_dl_signal_error` would report: "`object`: `reason`[: strerror]". */
export function isLoaderError(e: unknown): e is LoaderError {
  return e instanceof LoaderError;
}

/**
 * The state and the object-search half of glibc 2.36's ld.so (elf/dl-load.c `_dl_map_object`,
 * `open_path`, `open_verify`, `_dl_map_object_from_fd`, `_dl_init_paths`; elf/dl-cache.c; elf/dl-object.c
 * `_dl_new_object`), driving the process only through syscalls. ld.so's own allocations go through
 * MinimalMalloc with the sizes glibc requests, so its page mmaps land where the real ones do.
 */
export class Rtld implements SearchPathContext {
  readonly ns = new Namespace();
  readonly profile: RtldProfile;
  readonly capstr: readonly string[];
  readonly ncapstr: number;
  readonly malloc: MinimalMalloc;
  readonly allDirs: SearchDir[] = [];
  systemDirs: SearchDir[] = [];
  envPath: SearchDir[] | null = null;
  /** The ld.so.cache as mapped: undefined = not opened yet, null = unusable. */
  private cache: LdSoCache | null | undefined;
  cacheMapping: { readonly addr: bigint; readonly size: bigint } | undefined;
  readonly traceMode: boolean;
  readonly options: RtldOptions;
  rtldMap!: LinkMap;
  vdsoMap: LinkMap | undefined;
  /** LD_DEBUG=libs lines (without the pid prefix). */
  readonly debugLibs: string[] = [];
  /** LD_DEBUG output of every category (loader/debug.ts). */
  readonly debug: DebugLog;
  readonly sframeResults: { readonly map: LinkMap; readonly results: readonly bigint[] }[] = [];
  /** Called after each object is mapped, added to the namespace and (optionally) registered. */
  onMapped: ((l: LinkMap) => void) | undefined;
  /** _dl_argv[0] as ld.so names the program in messages. */
  progname = "";

  constructor(
    readonly proc: Process,
    rtldEnd: bigint,
    options: RtldOptions = {},
  ) {
    this.options = options;
    this.profile = options.profile ?? DEBIAN12_X86_64;
    this.capstr = capstrs(this.profile);
    this.ncapstr = this.capstr.length;
    this.malloc = new RtldMalloc(proc, rtldEnd, this.profile.mallocAlignment);
    this.traceMode = options.traceMode ?? false;
    this.debug = options.debug ?? new DebugLog();
  }

  /** An LD_DEBUG=libs line: kept in debugLibs (ldd's tests) and in the category log. */
  private libsLine(text: string): void {
    this.debugLibs.push(text);
    this.debug.emit("libs", text);
  }

  // ---- dl-object.c ----

  /**
   * `_dl_new_object`: one calloc for the link map, its audit states (the worst case for the main
   * program and the vDSO), the libname record and the name; then l_origin from the real name
   * (a copy for an absolute path, getcwd-based for a relative one).
   */
  newObject(
    realname: string,
    libname: string,
    type: LinkMapType,
    loader: LinkMap | undefined,
    kind: { readonly openexec?: boolean; readonly vdso?: boolean; readonly rtld?: boolean } = {},
  ): LinkMap {
    const worst = kind.openexec || kind.vdso;
    const lib = kind.openexec ? "" : libname;
    const lmAddr = this.malloc.calloc(
      this.profile.linkMapAllocBase +
        (worst ? this.profile.auditSpaceWorstCase : 0) +
        Buffer.byteLength(lib, "latin1") +
        1,
    );
    const l = new LinkMap(realname, lib, type, loader, kind);
    l.lmAddr = lmAddr;
    if (realname !== "") l.origin = this.computeOrigin(realname);
    return l;
  }

  private computeOrigin(realname: string): string | null {
    const rlen = Buffer.byteLength(realname, "latin1") + 1;
    let full: string;
    if (realname.startsWith("/")) {
      this.malloc.malloc(rlen);
      full = realname;
    } else {
      // realloc(origin, len += 128) until getcwd fits (the cwd is what the getcwd syscall returns).
      const cwd = this.proc.cwd;
      let len = rlen;
      let p: bigint | undefined;
      do {
        len += 128;
        p = this.malloc.realloc(p, len);
      } while (Buffer.byteLength(cwd, "latin1") + 1 > len - rlen);
      full = `${cwd.endsWith("/") ? cwd : `${cwd}/`}${realname}`;
    }
    const slash = full.lastIndexOf("/");
    return slash === 0 ? "/" : full.slice(0, slash);
  }

  /** `_dl_get_origin` for the main program started by the kernel: readlink("/proc/self/exe"). */
  private originOf(l: LinkMap): string | undefined {
    if (l.origin === undefined) {
      const buf = new Uint8Array(4096);
      // arm64 has no readlink(2): glibc's readlink() is readlinkat(AT_FDCWD, …) there.
      const n =
        this.proc.kernel.arch === "aarch64"
          ? syscall(this.proc, "readlinkat", AT_FDCWD, "/proc/self/exe", buf, 4096)
          : syscall(this.proc, "readlink", "/proc/self/exe", buf, 4096);
      if (n > 0n && buf[0] === 0x2f) {
        let text = Buffer.from(buf.subarray(0, Number(n))).toString("latin1");
        text = text.slice(0, text.lastIndexOf("/") + 1);
        this.malloc.malloc(text.length + 1);
        l.origin = text.length === 1 ? "/" : text.slice(0, -1);
      } else l.origin = null;
    }
    return l.origin ?? undefined;
  }

  /** `expand_dynamic_string_token`: strdup, or a DL_DST_REQUIRED-sized buffer holding the expansion. */
  expandDst(l: LinkMap, s: string): [bigint, string] {
    const cnt = dstCount(s);
    if (cnt === 0) return [this.malloc.malloc(Buffer.byteLength(s, "latin1") + 1), s];
    const v = { origin: this.originOf(l), profile: this.profile };
    const addr = this.malloc.malloc(dstRequired(s, cnt, v) + 1);
    return [addr, dstSubstitute(s, v)];
  }

  /** `expand_dst` in dl-deps.c: the same expansion on the stack (no allocation beyond the origin). */
  expandDstNoAlloc(l: LinkMap, s: string): string {
    if (dstCount(s) === 0) return s;
    return dstSubstitute(s, { origin: this.originOf(l), profile: this.profile });
  }

  // ---- search paths ----

  /**
   * `_dl_init_paths`: the hwcaps strings, the system directories (one block), the main program's
   * DT_RUNPATH or else DT_RPATH, and LD_LIBRARY_PATH (split at ':' and ';').
   */
  initPaths(main: LinkMap, llp: string | undefined): void {
    for (const n of importantHwcapsAllocations(this.profile)) this.malloc.malloc(n);
    const nsys = this.profile.systemDirs.length;
    this.malloc.malloc((nsys + 1) * 8);
    const elem = this.profile.searchPathElemSize;
    const round = Math.floor((2 * elem - 1 + this.ncapstr * 4) / elem);
    this.malloc.malloc(nsys * round * elem);
    this.systemDirs = this.profile.systemDirs.map((dirname) => ({
      dirname,
      what: "system search path",
      where: undefined,
      status: new Array(this.ncapstr).fill("unknown"),
    }));
    this.allDirs.push(...[...this.systemDirs].reverse());
    const dyn = main.dynamic;
    if (dyn?.runpath !== undefined) {
      main.runpathDirs = decomposeRpath(this, dyn.runpath, main, "RUNPATH");
      main.rpathDirs = null;
    } else {
      main.runpathDirs = null;
      main.rpathDirs = dyn?.rpath !== undefined ? decomposeRpath(this, dyn.rpath, main, "RPATH") : null;
    }
    if (llp !== undefined && llp !== "") {
      const n = llp.split(/[:;]/).length;
      const arr = this.malloc.malloc((n + 1) * 8);
      const dirs = fillinRpath(this, llp, ":;", "LD_LIBRARY_PATH", undefined, main);
      if (dirs.length === 0) {
        this.malloc.free(arr);
        this.envPath = null;
      } else this.envPath = dirs;
    }
  }

  /** `cache_rpath`: decompose an object's DT_RPATH/DT_RUNPATH on first use. */
  private cacheRpath(l: LinkMap, which: "rpath" | "runpath"): SearchDir[] | null {
    const key = which === "rpath" ? "rpathDirs" : "runpathDirs";
    const cur = l[key];
    if (cur !== undefined) return cur;
    const s = which === "rpath" ? l.dynamic?.rpath : l.dynamic?.runpath;
    l[key] = s === undefined ? null : decomposeRpath(this, s, l, which === "rpath" ? "RPATH" : "RUNPATH");
    return l[key] ?? null;
  }

  /**
   * `open_verify`: open, read the 832-byte file buffer, check the ELF header as glibc does (fatal
   * errors throw; a wrong class or machine only skips the candidate), and read the program headers
   * (pread64 when they lie beyond the buffer).
   */
  openVerify(path: string): Verified {
    const fd = syscall(this.proc, "openat", AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0n) return { fd: -1n, errno: Number(-fd), otherClass: false };
    const fb = new Uint8Array(FILEBUF_SIZE);
    const lose = (reason: string, errno?: number): never => {
      syscall(this.proc, "close", fd);
      throw new LoaderError(path, reason, errno);
    };
    // Read until at least an ELF header is there, EOF or an error (the loop in open_verify).
    let len = 0;
    let lastErr = 0n;
    do {
      const rest = fb.subarray(len);
      const got = syscall(this.proc, "read", fd, rest, FILEBUF_SIZE - len);
      if (got <= 0n) {
        lastErr = got;
        break;
      }
      len += Number(got);
    } while (len < 64);
    if (lastErr < 0n && len < 64) lose("cannot read file data", Number(-lastErr));
    const head = fb.subarray(0, len);
    if (head.length < 64) lose("file too short");
    if (head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) lose("invalid ELF header");
    if (head[4] !== 2) {
      syscall(this.proc, "close", fd);
      return { fd: -1n, errno: Errno.ENOENT, otherClass: true };
    }
    if (head[5] !== 1) lose("ELF file data encoding not little-endian");
    if (head[6] !== 1) lose("ELF file version ident does not match current one");
    if (head[7] !== 0 && head[7] !== 3) lose("ELF file OS ABI invalid");
    if (head[8] !== 0) lose("ELF file ABI version invalid");
    const r = new EndianReader(head, true, 0, path);
    if (r.u32(20) !== 1) lose("ELF file version does not match current one");
    if (r.u16(18) !== (this.options.machine ?? EM_X86_64)) {
      syscall(this.proc, "close", fd);
      return { fd: -1n, errno: Errno.ENOENT, otherClass: false };
    }
    const type = r.u16(16);
    if (type !== ET_DYN && type !== ET_EXEC) lose("only ET_DYN and ET_EXEC can be loaded");
    if (r.u16(54) !== 56) lose("ELF file's phentsize not the expected size");
    const phoff = r.u64n(32);
    const phnum = r.u16(56);
    const phBytes = this.readPhdrs(fd, head, phoff, phnum, path);
    return { fd, head, phBytes, phoff, phnum, type };
  }

  private readPhdrs(fd: bigint, head: Uint8Array, phoff: number, phnum: number, path: string): Uint8Array {
    const len = phnum * 56;
    if (phoff + len <= head.length) return head.subarray(phoff, phoff + len);
    const buf = new Uint8Array(len);
    const got = syscall(this.proc, "pread64", fd, buf, len, phoff);
    if (got !== BigInt(len)) {
      syscall(this.proc, "close", fd);
      throw new LoaderError(path, "cannot read file data", got < 0n ? Number(-got) : undefined);
    }
    return buf;
  }

  /**
   * `open_path`: every directory × every hwcaps subdirectory not known to be missing; a failed open
   * in an unknown subdirectory is followed by a stat of that directory to remember whether it exists.
   * Returns the open candidate and its name, or undefined.
   */
  openPath(
    name: string,
    dirs: SearchDir[],
    label: string,
    st: { otherClass: boolean },
    /** The object and slot an RPATH/RUNPATH came from: forgotten when none of its directories exists. */
    owner?: { readonly map: LinkMap; readonly key: "rpathDirs" | "runpathDirs" },
  ): [Opened, string] | undefined {
    {
      const list: string[] = [];
      for (const d of dirs)
        for (let c = 0; c < this.ncapstr; c++)
          if (d.status[c] !== "nonexisting") list.push(`${d.dirname}${this.capstr[c]}`.replace(/\/$/, ""));
      // print_search_path names the list after its first element: r_search_path_elem is shared through
      // GL(dl_all_dirs), so a directory another object's path decomposed first keeps that owner's name.
      const d0 = dirs[0];
      const shown = d0?.where !== undefined ? `${d0.what} from file ${d0.where || this.progname}` : label;
      this.libsLine(` search path=${list.join(":")}\t\t(${shown})`);
    }
    let any = false;
    for (const dir of dirs) {
      let hereAny = false;
      let lastErrno: number = Errno.ENOENT;
      for (let cnt = 0; cnt < this.ncapstr; cnt++) {
        if (dir.status[cnt] === "nonexisting") continue;
        const sub = this.capstr[cnt] as string;
        const path = `${dir.dirname}${sub}${name}`;
        this.libsLine(`  trying file=${path}`);
        const v = this.openVerify(path);
        if (isSkipped(v)) {
          lastErrno = v.errno;
          if (v.otherClass) st.otherClass = true;
        }
        if (dir.status[cnt] === "unknown") {
          if (v.fd !== -1n) dir.status[cnt] = "existing";
          else {
            const dpath = `${dir.dirname}${sub}`.slice(0, -1);
            const sb = new Uint8Array(144);
            const sr = syscall(this.proc, "newfstatat", AT_FDCWD, dpath, sb, 0);
            // st_mode: offset 24 in x86_64's struct stat, 16 in arm64's (asm-generic).
            const mode = new DataView(sb.buffer).getUint32(this.proc.kernel.arch === "aarch64" ? 16 : 24, true);
            dir.status[cnt] = sr !== 0n || (mode & S_IFMT) !== S_IFDIR ? "nonexisting" : "existing";
          }
        }
        hereAny ||= dir.status[cnt] !== "nonexisting";
        if (!isSkipped(v)) {
          this.malloc.malloc(Buffer.byteLength(path, "latin1") + 1);
          return [v, path];
        }
      }
      if (hereAny && lastErrno !== Errno.ENOENT && lastErrno !== Errno.EACCES) return undefined;
      any ||= hereAny;
    }
    // "Remove the whole path if none of the directories exists" (not the system or LD_LIBRARY_PATH lists).
    if (!any && owner) owner.map[owner.key] = null;
    return undefined;
  }

  /**
   * `_dl_load_cache_lookup`: on first use map the whole cache read-only (`_dl_sysdep_read_whole_file`:
   * openat, newfstatat, mmap, close), then `search_cache`; the hit is strdup'ed.
   */
  cacheLookup(name: string): string | undefined {
    if (this.cache === undefined) {
      this.cache = null;
      const fd = syscall(this.proc, "openat", AT_FDCWD, this.profile.ldSoCache, O_RDONLY | O_CLOEXEC);
      if (fd >= 0n) {
        const sb = new Uint8Array(144);
        const sr = syscall(this.proc, "newfstatat", fd, "", sb, AT_EMPTY_PATH);
        const size = new DataView(sb.buffer).getBigInt64(48, true);
        let addr = -1n;
        if (sr === 0n && size > 0n) addr = userMmap(this.proc, 0, size, PROT_READ, MAP_PRIVATE, fd, 0);
        syscall(this.proc, "close", fd);
        // ld.so searches the mapping after close(2): the VMA keeps the file (vma->vm_file).
        let bytes: Uint8Array | undefined;
        if (addr >= 0n) {
          this.cacheMapping = { addr, size };
          bytes = this.proc.mm.readUser(Number(addr), Number(size));
        }
        if (bytes) {
          try {
            this.cache = parseLdSoCache(bytes, this.profile.ldSoCache);
          } catch {
            this.cache = null;
          }
        }
      }
    }
    if (this.cache === null) return undefined;
    const p = this.profile;
    // search_cache is a pure function of the parsed cache (shared while the file's bytes are the
    // same: parseLdSoCache), the machine profile and the name: answered once per triple.
    let byProfile = cacheAnswers.get(this.cache);
    if (!byProfile) {
      byProfile = new WeakMap();
      cacheAnswers.set(this.cache, byProfile);
    }
    let answers = byProfile.get(p);
    if (!answers) {
      answers = new Map();
      byProfile.set(p, answers);
    }
    let hit = answers.get(name);
    if (hit === undefined && !answers.has(name)) {
      hit = searchCache(this.cache, name, {
        defaultId: p.cacheDefaultId,
        allowedHwcap: (0xfn << 48n) | (1n << 63n),
        hwcapsPriority: (sub) => {
          const i = p.glibcHwcaps.indexOf(sub);
          return i < 0 ? 0 : i + 1;
        },
        isaLevel: p.isaLevel,
      });
      answers.set(name, hit);
    }
    if (hit !== undefined) this.malloc.malloc(Buffer.byteLength(hit, "latin1") + 1);
    return hit;
  }

  /**
   * `__rtld_malloc_init_real`: after libc is relocated ld.so allocates with libc's malloc (a brk heap
   * for the small blocks it needs), so later link maps cause no anonymous mmaps. Idempotent.
   */
  useLibcMalloc(): void {
    (this.malloc as RtldMalloc).useLibc();
  }

  /**
   * `_dl_unload_cache` (elf/dl-cache.c): munmap the ld.so.cache mapping, so the next search maps it
   * again. Called at the end of startup and at the end of every dlopen (success or failure). An
   * unusable cache stays unusable (`(void *) -1`), as in glibc.
   */
  unloadCache(): void {
    // As glibc: the recorded mapping is unmapped whatever happened to it since (the loader tracks
    // its own mappings; it does not look at the kernel's).
    if (this.cacheMapping === undefined) return;
    syscall(this.proc, "munmap", this.cacheMapping.addr, this.cacheMapping.size);
    this.cacheMapping = undefined;
    this.cache = undefined;
  }

  // ---- _dl_map_object ----

  /**
   * `_dl_map_object(loader, name, type, trace_mode, mode)`: reuse a loaded object by name or soname
   * (no file access), open a name with '/' directly, or search: the RPATH chain (only when the loader
   * has no RUNPATH) and the executable's RPATH, LD_LIBRARY_PATH, the loader's own RUNPATH,
   * ld.so.cache, the system directories. Not found: a faked entry in trace mode, an error otherwise.
   */
  mapObject(loader: LinkMap | undefined, name: string, type: LinkMapType, openexec = false): LinkMap {
    const l = this.mapObjectMode(loader, name, type, openexec, {});
    // Without RTLD_NOLOAD an object is always returned (or an error thrown).
    if (l === undefined) throw new LoaderError(name, "cannot open shared object file", Errno.ENOENT);
    return l;
  }

  /** `_dl_map_object` with dlopen's mode bits: undefined only for RTLD_NOLOAD of an object not loaded. */
  mapObjectMode(
    loader: LinkMap | undefined,
    name: string,
    type: LinkMapType,
    openexec: boolean,
    mode: MapObjectMode,
  ): LinkMap | undefined {
    for (const l of this.ns.maps) {
      if (l.faked) continue;
      if (l.nameMatches(name)) return l;
      if (l.sonameAdded || l.dynamic?.soname === undefined || l.dynamic.soname !== name) continue;
      this.addNameToObject(l, name);
      l.sonameAdded = true;
      return l;
    }
    // "needed by" for DT_NEEDED; dlopen's own "dynamically loaded by" line is printed by its caller.
    if (loader && type !== "loaded" && this.debug.on("files")) {
      for (const t of fileNeededBy(name, this.dsoName(loader))) this.debug.emit("files", t);
    }
    let found: [Opened, string] | undefined;
    let failErrno: number = Errno.ENOENT;
    const st = { otherClass: false };
    if (!name.includes("/")) {
      this.libsLine(`find library=${name} [0]; searching`);
      const main = this.ns.main;
      if (loader === undefined || loader.dynamic?.runpath === undefined) {
        let didMain = false;
        for (let l = loader; l && !found; l = l.loader) {
          const dirs = this.cacheRpath(l, "rpath");
          if (dirs) {
            found = this.openPath(name, dirs, `RPATH from file ${this.dsoName(l)}`, st, { map: l, key: "rpathDirs" });
            if (!found) didMain ||= l === main;
          }
        }
        if (!found && !didMain && main && main.type !== "loaded" && main !== loader) {
          const dirs = this.cacheRpath(main, "rpath");
          if (dirs) {
            found = this.openPath(name, dirs, `RPATH from file ${this.dsoName(main)}`, st, {
              map: main,
              key: "rpathDirs",
            });
          }
        }
      }
      if (!found && this.envPath) found = this.openPath(name, this.envPath, "LD_LIBRARY_PATH", st);
      if (!found && loader) {
        const dirs = this.cacheRpath(loader, "runpath");
        if (dirs) {
          const owner = { map: loader, key: "runpathDirs" } as const;
          found = this.openPath(name, dirs, `RUNPATH from file ${this.dsoName(loader)}`, st, owner);
        }
      }
      const nodeflib = loader !== undefined && ((loader.dynamic?.flags1 ?? 0n) & DF_1_NODEFLIB) !== 0n;
      if (!found && !this.options.inhibitCache) {
        this.libsLine(` search cache=${this.profile.ldSoCache}`);
        const cached = this.cacheLookup(name);
        if (cached !== undefined && !(nodeflib && this.profile.systemDirs.some((d) => cached.startsWith(d)))) {
          this.libsLine(`  trying file=${cached}`);
          const v = this.openVerify(cached);
          if (!isSkipped(v)) found = [v, cached];
          else if (v.otherClass) st.otherClass = true;
        }
      }
      if (!found && !nodeflib) found = this.openPath(name, this.systemDirs, "system search path", st);
      this.libsLine("");
    } else {
      const [addr, realname] = loader ? this.expandDst(loader, name) : [this.malloc.malloc(name.length + 1), name];
      const v = this.openVerify(realname);
      if (!isSkipped(v)) found = [v, realname];
      else {
        failErrno = v.errno;
        if (v.otherClass) st.otherClass = true;
        this.malloc.free(addr);
      }
    }
    if (!found) {
      if (this.traceMode) {
        this.malloc.malloc(Buffer.byteLength(name, "latin1") + 1);
        const l = this.newObject(name, name, type, loader);
        l.faked = true;
        this.ns.add(l);
        return l;
      }
      if (st.otherClass) throw new LoaderError(name, "wrong ELF class: ELFCLASS32");
      throw new LoaderError(name, "cannot open shared object file", failErrno);
    }
    // __RTLD_CALLMAP: the caller's map only served the search (dl-load.c sets loader = NULL).
    return this.mapObjectFromFd(name, found[0], found[1], mode.callmap ? undefined : loader, type, openexec, mode);
  }

  /** `DSO_FILENAME`: l_name, or the program name (_dl_argv[0]) for the kernel-mapped main program. */
  private dsoName(l: LinkMap): string {
    return l.name !== "" ? l.name : this.progname;
  }

  private addNameToObject(l: LinkMap, name: string): void {
    if (l.libnames.includes(name)) return;
    this.malloc.malloc(24 + Buffer.byteLength(name, "latin1") + 1);
    l.libnames.push(name);
  }

  /**
   * `_dl_map_object_from_fd`: the file id (newfstatat) and reuse by (dev, ino), the new link map,
   * the phdrs again, `_dl_map_segments`, the dynamic section (read from the mapped image), the
   * DF_1_PIE check, then close.
   */
  private mapObjectFromFd(
    name: string,
    v: Opened,
    realname: string,
    loader: LinkMap | undefined,
    type: LinkMapType,
    openexec: boolean,
    mode: MapObjectMode = {},
  ): LinkMap | undefined {
    const { fd } = v;
    let fileId: LinkMap["fileId"];
    if (!openexec) {
      const sb = new Uint8Array(144);
      const sr = syscall(this.proc, "newfstatat", fd, "", sb, AT_EMPTY_PATH);
      if (sr !== 0n) {
        syscall(this.proc, "close", fd);
        throw new LoaderError(name, "cannot stat shared object", Number(-sr));
      }
      const dv = new DataView(sb.buffer);
      fileId = { dev: dv.getBigUint64(0, true), ino: dv.getBigUint64(8, true) };
      for (const l of this.ns.maps) {
        if (l.fileId && l.fileId.dev === fileId.dev && l.fileId.ino === fileId.ino) {
          syscall(this.proc, "close", fd);
          this.addNameToObject(l, name);
          return l;
        }
      }
    }
    if (mode.noload) {
      // "We are not supposed to load the object unless it is already loaded."
      syscall(this.proc, "close", fd);
      return undefined;
    }
    for (const t of fileGenerating(name)) this.debug.emit("files", t);
    const l = this.newObject(realname, name, type, loader, { openexec });
    l.fileId = fileId;
    const phBytes = this.readPhdrs(fd, v.head, v.phoff, v.phnum, realname);
    const phdrs = phdrsFromBytes(phBytes, v.phoff, v.phnum, realname);
    if (v.type !== ET_DYN && !openexec) {
      syscall(this.proc, "close", fd);
      throw new LoaderError(name, "cannot dynamically load executable");
    }
    let mapped: ReturnType<typeof mapSegments>;
    try {
      mapped = mapSegments(this.proc, fd, realname, phdrs, v.type);
    } catch (e) {
      syscall(this.proc, "close", fd);
      // dl-load.c: a failed _dl_map_segments zeroes l_map_start/l_map_end ("mappings can be in an
      // inconsistent state: avoid unmap") and signals with errval 0 under the requested name: the
      // segments mapped so far stay mapped, and the message carries no errno text.
      if (e instanceof LoaderError) throw new LoaderError(name, e.reason);
      throw e;
    }
    l.addr = mapped.lAddr;
    l.mapStart = mapped.mapStart;
    l.mapEnd = mapped.mapEnd;
    l.phdrs = phdrs;
    l.ld = mapped.dynamicAddr;
    this.readDynamic(l);
    if (!openexec && ((l.dynamic?.flags1 ?? 0n) & DF_1_PIE) !== 0n) {
      syscall(this.proc, "close", fd);
      throw new LoaderError(name, "cannot dynamically load position-independent executable");
    }
    // l_phdr outside every mapped segment: ld.so keeps a malloc'ed copy.
    const ph0 = phdrs.find((p) => p.type === PT_LOAD);
    const page = BigInt(this.proc.mm.pageSize);
    const inSeg = phdrs.some(
      (p) =>
        p.type === PT_LOAD &&
        (p.offset & ~(page - 1n)) <= BigInt(v.phoff) &&
        ((p.vaddr + p.filesz + page - 1n) & ~(page - 1n)) - (p.vaddr & ~(page - 1n)) + (p.offset & ~(page - 1n)) >=
          BigInt(v.phoff + v.phnum * 56),
    );
    if (ph0 && !inSeg && !phdrs.some((p) => p.type === 6)) this.malloc.malloc(v.phnum * 56);
    syscall(this.proc, "close", fd);
    this.ns.add(l);
    if (this.debug.on("files")) {
      const entry = new DataView(v.head.buffer, v.head.byteOffset).getBigUint64(24, true);
      const ph = phdrs.find((p) => p.type === 6);
      const phLoad = phdrs.find(
        (p) => p.type === PT_LOAD && p.offset <= BigInt(v.phoff) && BigInt(v.phoff) < p.offset + p.filesz,
      );
      const phdrAddr = ph ? l.addr + ph.vaddr : phLoad ? l.addr + phLoad.vaddr + BigInt(v.phoff) - phLoad.offset : 0n;
      const info = { ld: l.ld ?? 0n, addr: l.addr, size: l.mapEnd - l.mapStart, entry: l.addr + entry };
      for (const t of fileMapped({ ...info, phdr: phdrAddr, phnum: v.phnum })) this.debug.emit("files", t);
    }
    if (this.options.registerSframe) {
      // After the mapping, before relocation: see startup.ts for where this sits in glibc's sequence.
      const results = registerSframe(this.proc, { lAddr: l.addr, phdrs });
      this.sframeResults.push({ map: l, results });
      const bad = results.find((r) => r < 0n);
      if (bad !== undefined) {
        this.debug.emit("files", `  stacktrace_setup(REGISTER) for ${realname} failed: ${errnoName(Number(-bad))}`);
        if (this.options.fatalSframeRegistration) {
          // Undo as `lose` does after a successful mapping: whatever was registered, then the span.
          if (results.some((r) => r === 0n)) unregisterSframe(this.proc, { lAddr: l.addr, phdrs });
          this.forgetSframe(l);
          this.ns.remove(l);
          syscall(this.proc, "munmap", l.mapStart, l.mapEnd - l.mapStart);
          throw new LoaderError(name, "cannot register SFrame section", Number(-bad));
        }
      }
    }
    this.onMapped?.(l);
    return l;
  }

  /** Whether stacktrace_setup(REGISTER) succeeded for some segment of `l` (so it must be unregistered). */
  sframeRegistered(l: LinkMap): boolean {
    return this.sframeResults.some((r) => r.map === l && r.results.some((x) => x === 0n));
  }

  /** Drop `l`'s registration record (it was unregistered, or never succeeded). */
  forgetSframe(l: LinkMap): void {
    const i = this.sframeResults.findIndex((r) => r.map === l);
    if (i >= 0) this.sframeResults.splice(i, 1);
  }

  /** `elf_get_dynamic_info` for what the search needs, read from the process's memory. */
  readDynamic(l: LinkMap): void {
    if (l.ld === undefined) return;
    // d_ptr entries were relocated by the kernel/ld.so for ld.so itself only; others need l_addr.
    const names = readSearchDynamic(this.proc.mm, l.ld, l.addr, l.name);
    const dynPh = l.phdrs.find((p) => p.type === PT_DYNAMIC);
    l.dynamic = {
      needed: names.needed,
      soname: names.soname,
      rpath: names.runpath !== undefined ? undefined : names.rpath,
      runpath: names.runpath,
      flags1: names.flags1,
      ldnum: dynPh ? Number(dynPh.memsz / 16n) : 0,
    };
  }

  /** A link map for an object the kernel mapped (the executable, ld.so itself): from its phdrs in memory. */
  static phdrsFromMemory(proc: Process, phdrAddr: bigint, phnum: number): readonly ProgramHeader[] {
    return decodeProgramHeaders(proc.mm.readUser(Number(phdrAddr), phnum * 56), phnum, true, true);
  }
}
