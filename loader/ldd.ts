import { execElf } from "../kernel-shim/exec/binfmt-elf.ts";
import { HostFs } from "../kernel-shim/fs/host-fs.ts";
import type { KernelFs } from "../kernel-shim/fs/types.ts";
import { Kernel } from "../kernel-shim/process/kernel.ts";
import { Process } from "../kernel-shim/process/process.ts";
import { StraceLog } from "../kernel-shim/strace/log.ts";
import { hostRtldProfile } from "./host-profile.ts";
import type { LinkMap } from "./link-map.ts";
import type { RtldProfile } from "./rtld-profile.ts";
import { type StartupResult, startFromExec } from "./startup.ts";
import { DEFAULT_INTERP, foreignProgram, type SysrootMode, sysrootExecProfile, sysrootFs } from "./sysroot.ts";

export const DEFAULT_RTLD = "/lib64/ld-linux-x86-64.so.2";

export interface LddOptions {
  /** `ld.so --list` (exit 127 on a missing library) instead of ldd's trace mode. */
  readonly list?: boolean;
  readonly rtld?: string;
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly fs?: KernelFs;
  /** The simulated machine; default: the host's (`ld.so --help`), as ldd is compared with the host. */
  readonly profile?: RtldProfile;
  /** strace -e trace= filter for the returned log. */
  readonly trace?: ReadonlySet<string>;
  /**
   * A foreign tree as "/" (loader/sysroot.ts): the machine (kernel arch, ld.so profile) follows
   * FILE's e_machine and the interpreter is FILE's PT_INTERP inside the tree (`rtld` overrides it).
   */
  readonly sysroot?: string;
  /** How the tree stands in for "/" (default "qemu": as qemu-user -L DIR). */
  readonly sysrootMode?: SysrootMode;
}

export interface LddResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly status: number;
  readonly startup: StartupResult | undefined;
  readonly log: StraceLog;
}

const hex16 = (v: bigint) => `0x${v.toString(16).padStart(16, "0")}`;

/**
 * The lines rtld.c prints in trace/list mode: every object after the main one in chain order —
 * `name => not found`, `name (0x…)` when l_libname equals l_name (vDSO, ld.so), else `name => path (0x…)`.
 */
export function formatTrace(maps: readonly LinkMap[]): string {
  let out = "";
  for (const l of maps.slice(1)) {
    const libname = l.libnames[0] ?? "";
    if (l.faked) out += `\t${libname} => not found\n`;
    else if (libname === l.name) out += `\t${libname} (${hex16(l.mapStart)})\n`;
    else out += `\t${libname} => ${l.name} (${hex16(l.mapStart)})\n`;
  }
  return out;
}

/**
 * `ldd FILE` as /usr/bin/ldd runs it: `ld.so FILE` (a name without '/' becomes `./FILE`) with
 * LD_TRACE_LOADED_OBJECTS=1, in a fresh simulated process (ASLR off, as under `setarch -R`), or
 * `ld.so --list FILE`. The loader does all its work through the simulated kernel.
 */
export function ldd(file: string, options: LddOptions = {}): LddResult {
  const cwd = options.cwd ?? process.cwd();
  const path = file.includes("/") ? file : `./${file}`;
  const sr = options.sysroot !== undefined ? { dir: options.sysroot, mode: options.sysrootMode ?? "qemu" } : undefined;
  const fs = options.fs ?? (sr ? sysrootFs(sr) : new HostFs());
  const foreign = sr ? foreignProgram(fs, path.startsWith("/") ? path : `${cwd}/${path}`) : undefined;
  const rtldPath = options.rtld ?? (foreign ? (foreign.interp ?? DEFAULT_INTERP[foreign.arch]) : DEFAULT_RTLD);
  const kernel = new Kernel(fs, foreign && sr ? { arch: foreign.arch, exec: { profile: sysrootExecProfile(sr) } } : {});
  const log = new StraceLog(options.trace ? { trace: options.trace } : {});
  const proc = Process.spawn(kernel, { cwd, log });
  const env = options.env ?? {};
  const envp = [
    ...(options.list
      ? []
      : ["LD_TRACE_LOADED_OBJECTS=1", "LD_WARN=", "LD_BIND_NOW=", "LD_LIBRARY_VERSION=0", "LD_VERBOSE="]),
    ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
  ];
  const argv = options.list ? [rtldPath, "--list", path] : [rtldPath, path];
  const ex = execElf(proc, rtldPath, { ...kernel.execOptions, argv, envp });
  if (!ex.ok)
    return { stdout: "", stderr: `ldd: cannot execute ${rtldPath}: ${ex.errno}\n`, status: 1, startup: undefined, log };
  // ld.so's argument parsing: `--list` is consumed, the program is the next argument.
  if (options.list && proc.image) proc.image = { ...proc.image, argv: [rtldPath, path] };
  const startup = startFromExec(proc, {
    traceMode: !options.list,
    ...(env["LD_LIBRARY_PATH"] !== undefined ? { libraryPath: env["LD_LIBRARY_PATH"] } : {}),
    profile: options.profile ?? foreign?.profile ?? hostRtldProfile(rtldPath),
    ...(foreign ? { machine: foreign.machine } : {}),
  });
  if (startup.error) return { stdout: "", stderr: `${startup.error.message}\n`, status: 127, startup, log };
  // rtld.c: a main object without DT_NEEDED is reported as "statically linked".
  if ((startup.main.dynamic?.needed.length ?? 0) === 0) {
    return { stdout: "\tstatically linked\n", stderr: "", status: 0, startup, log };
  }
  return { stdout: formatTrace(startup.rtld.ns.maps), stderr: "", status: 0, startup, log };
}
