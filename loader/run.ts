import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { EM_AARCH64 } from "../formats/elf/constants.ts";
import { HostFs } from "../kernel-shim/fs/host-fs.ts";
import type { KernelFs } from "../kernel-shim/fs/types.ts";
import { Kernel } from "../kernel-shim/process/kernel.ts";
import { Process } from "../kernel-shim/process/process.ts";
import { type KernelSframe, stacktraceSetupHandler } from "../kernel-shim/sframe/kernel-sframe.ts";
import { StraceLog } from "../kernel-shim/strace/log.ts";
import { syscall } from "../kernel-shim/syscalls/dispatch.ts";
import { procContents } from "../kernel-shim/syscalls/procfs.ts";
import { DEBUG_CATEGORIES, type DebugCategory, DebugLog } from "./debug.ts";
import { transferringControl } from "./debug-format.ts";
import { type InitCall, impcalls, runInitializers } from "./init-fini.ts";
import type { LinkMap } from "./link-map.ts";
import { relocateObject, relocStats } from "./relocate.ts";
import type { Rtld } from "./rtld.ts";
import { profileForMachine, type RtldProfile } from "./rtld-profile.ts";
import { type FinishedStartup, finishStartup, libcPltCall, type StartupError, startFromExec } from "./startup.ts";
import { lookupState } from "./symbol-lookup.ts";
import { foreignProgram, type SysrootMode, sysrootExecProfile, sysrootFs } from "./sysroot.ts";
import { checkAllVersions } from "./version-check.ts";

export interface RunOptions {
  /** argv (argv[0] defaults to the file as given). */
  readonly argv?: readonly string[];
  /** The environment the program is exec'd with; LD_LIBRARY_PATH, LD_BIND_NOW and LD_DEBUG are read from it as ld.so does. */
  readonly env?: Readonly<Record<string, string>>;
  readonly profile?: RtldProfile;
  /** stacktrace_setup(REGISTER) for every library ld.so maps with PT_GNU_SFRAME. */
  readonly registerSframe?: boolean;
  /** A failed registration fails the load (RtldOptions.fatalSframeRegistration). */
  readonly fatalSframeRegistration?: boolean;
  /** Skip `_dl_check_all_versions` (on by default, as ld.so does it). */
  readonly noVersionCheck?: boolean;
}

export interface RunResult {
  readonly rtld: Rtld;
  readonly main: LinkMap;
  /** glibc's message and exit status when startup stops before main (exec failure: status 126/127 as a shell reports). */
  readonly error: StartupError | undefined;
  /** Constructor calls in the order they would run (ld.so's `_dl_init`, then libc's for the program). */
  readonly initOrder: readonly InitCall[];
  readonly startup: FinishedStartup | undefined;
  /** The process's strace log (from execve) and its /proc/pid/maps, at the point main would be called. */
  readonly strace: readonly string[];
  readonly maps: string;
  /** LD_DEBUG output as ld.so prints it ("%10d:\t…" lines). */
  readonly debug: readonly string[];
  readonly proc: Process;
}

/**
 * LD_DEBUG's value → categories, as rtld.c `process_dl_debug` splits it (at ' ', ',' and ':'): "all"
 * is every category but statistics and unused; unknown names are ignored (glibc warns on stderr).
 */
export function parseLdDebug(value: string | undefined): DebugCategory[] {
  const out = new Set<DebugCategory>();
  for (const w of (value ?? "").split(/[ ,:]/)) {
    if (w === "all") {
      for (const c of DEBUG_CATEGORIES) if (c !== "statistics" && c !== "unused") out.add(c);
    } else if ((DEBUG_CATEGORIES as readonly string[]).includes(w)) out.add(w as DebugCategory);
  }
  return [...out];
}

let vdsoCache: Uint8Array | null | undefined;

/**
 * The running kernel's vDSO image, read from this (Node) process's own [vdso] mapping: ld.so reads
 * its dynamic section and version definitions, so they decide allocations the model must repeat.
 * undefined when /proc is not readable.
 */
export function hostVdsoImage(): Uint8Array | undefined {
  if (vdsoCache !== undefined) return vdsoCache ?? undefined;
  vdsoCache = null;
  try {
    const line = readFileSync("/proc/self/maps", "latin1")
      .split("\n")
      .find((l) => l.endsWith("[vdso]"));
    const m = line ? /^([0-9a-f]+)-([0-9a-f]+)/.exec(line) : null;
    if (m) {
      const start = Number.parseInt(m[1] as string, 16);
      const len = Number.parseInt(m[2] as string, 16) - start;
      const buf = new Uint8Array(len);
      const fd = openSync("/proc/self/mem", "r");
      try {
        if (readSync(fd, buf, 0, len, start) === len) vdsoCache = buf;
      } finally {
        closeSync(fd);
      }
    }
  } catch {
    vdsoCache = null;
  }
  return vdsoCache ?? undefined;
}

/**
 * A process as `setarch -R` (aslrSeed undefined) or with randomisation from `aslrSeed`, on the host's
 * file system unless another is given, ready for `runToMain`.
 */
export function spawnForRun(
  options: {
    readonly aslrSeed?: number;
    readonly cwd?: string;
    readonly fs?: KernelFs;
    /** The [vdso] image exec maps (default: this machine's, when it can be read). */
    readonly vdsoImage?: Uint8Array;
    /** A kernel implementing the RFC's stacktrace_setup (kernel-shim/sframe); without it the call is ENOSYS. */
    readonly sframeKernel?: KernelSframe;
    /**
     * A foreign tree as "/" (loader/sysroot.ts) for `program`: the kernel's architecture follows
     * the program's e_machine, and runToMain then picks that machine's ld.so profile.
     */
    readonly sysroot?: { readonly dir: string; readonly program: string; readonly mode?: SysrootMode };
  } = {},
): Process {
  const sr = options.sysroot ? { dir: options.sysroot.dir, mode: options.sysroot.mode ?? "qemu" } : undefined;
  const fs = options.fs ?? (sr ? sysrootFs(sr) : new HostFs());
  const cwd = options.cwd ?? process.cwd();
  const prog = options.sysroot?.program ?? "";
  const foreign = sr ? foreignProgram(fs, prog.startsWith("/") ? prog : `${cwd}/${prog}`) : undefined;
  // The host's vDSO image belongs to the host's architecture only.
  const vdsoImage = options.vdsoImage ?? (foreign && foreign.arch !== "x86_64" ? undefined : hostVdsoImage());
  const ks = options.sframeKernel;
  const kernel = new Kernel(fs, {
    ...(options.aslrSeed !== undefined ? { aslrSeed: options.aslrSeed } : {}),
    ...(ks ? { sframe: ks, stacktraceSetup: stacktraceSetupHandler(ks) } : {}),
    ...(foreign && sr
      ? { arch: foreign.arch, exec: { profile: sysrootExecProfile(sr), ...(vdsoImage ? { vdsoImage } : {}) } }
      : vdsoImage
        ? { exec: { vdsoImage } }
        : {}),
  });
  return Process.spawn(kernel, { cwd, log: new StraceLog() });
}

/**
 * Run `file` in `proc` from execve to the point `main` would be called, as the kernel and glibc
 * 2.36's ld.so do it on this machine: execve (binfmt_elf), ld.so's startup (loader/startup.ts:
 * search, mapping, SFrame registration, versions, TLS, relocation with RELRO, libc's early init,
 * the cache unmapped), `_dl_init` and libc's constructor pass (recorded, not run: loader/init-fini.ts),
 * then "transferring control". Every kernel interaction goes through the syscall dispatcher, so the
 * process's strace log is comparable with strace of the real program.
 */
export function runToMain(proc: Process, file: string, options: RunOptions = {}): RunResult {
  const env = options.env ?? {};
  const argv = options.argv ?? [file];
  const envp = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const debug = new DebugLog(parseLdDebug(env["LD_DEBUG"]));
  const ex = syscall(proc, "execve", file, [...argv], envp);
  // LD_DEBUG=statistics' clock starts where glibc's does: at _dl_start's entry, after the kernel's
  // execve (rtld.c: rtld_timer_start in _dl_start, stopped in _dl_start_final after dl_main).
  const t0 = process.hrtime.bigint();
  const done = (r: Omit<RunResult, "strace" | "maps" | "debug" | "proc">): RunResult => {
    // The log as it is now, formatted only if asked for (most callers read a few fields): the calls
    // logged so far are fixed, later calls (a dlopen after main) are not part of this result.
    const logged = proc.log.events.length;
    let strace: readonly string[] | undefined;
    return {
      ...r,
      get strace() {
        strace ??= proc.log.lines(logged);
        return strace;
      },
      // What a read of /proc/PID/maps returns (the vsyscall gate line included on x86_64).
      maps: Buffer.from(procContents({ kind: "text", target: proc, name: "maps" })).toString("latin1"),
      debug: debug.render(proc.pid),
      proc,
    };
  };
  if (ex !== 0n) {
    throw new RunError(file, Number(-ex));
  }
  const llp = env["LD_LIBRARY_PATH"];
  // A foreign kernel (spawnForRun's sysroot): that machine's ld.so unless a profile is given.
  const foreign = proc.kernel.arch === "aarch64" ? profileForMachine(EM_AARCH64) : undefined;
  const profile = options.profile ?? foreign;
  const start = startFromExec(proc, {
    ...(profile ? { profile } : {}),
    ...(foreign ? { machine: foreign.machine ?? EM_AARCH64 } : {}),
    ...(llp !== undefined && llp !== "" ? { libraryPath: llp } : {}),
    ...(options.registerSframe ? { registerSframe: true } : {}),
    ...(options.fatalSframeRegistration ? { fatalSframeRegistration: true } : {}),
    debug,
  });
  const loadTime = process.hrtime.bigint() - t0;
  const bindNow = (env["LD_BIND_NOW"] ?? "") !== "";
  const fin = finishStartup(start, {
    bindNow,
    relocate: relocateObject,
    // print_statistics: every _dl_lookup_symbol_x call counts as a relocation (dl-lookup.c), cache hits apart.
    relocStats: (rtld) => ({ relocations: lookupState(rtld).lookups, fromCache: relocStats(rtld).fromCache }),
    startTime: t0,
    loadTime,
    ...(options.noVersionCheck ? {} : { checkVersions: (rtld: Rtld, main: LinkMap) => checkAllVersions(rtld, main) }),
  });
  if (fin.error) return done({ rtld: fin.rtld, main: fin.main, error: fin.error, initOrder: [], startup: fin });
  const initOrder = runInitializers(fin.rtld, fin.main, argv[0] ?? "");
  // __libc_start_main's audit checkpoint, a lazy PLT call into ld.so (libc startup model).
  libcPltCall(fin.rtld, "_dl_audit_preinit", !bindNow);
  impcalls(fin.rtld, transferringControl(argv[0] ?? ""));
  return done({ rtld: fin.rtld, main: fin.main, error: undefined, initOrder, startup: fin });
}

/** execve itself failed (no ld.so ran): the errno the kernel returned. */
export class RunError extends Error {
  override name = "RunError";
  constructor(
    readonly file: string,
    readonly errno: number,
  ) {
    super(`execve ${file}: errno ${errno}`);
  }
}
