import type { ErrnoName } from "../kernel-shim/errno.ts";
import type { FaultRule } from "../kernel-shim/fault/fault-plan.ts";
import type { DlHookPoint } from "../loader/dl-state.ts";

/**
 * The scenario file format (JSON). A scenario boots one process (exec + ld.so startup) and runs
 * steps against it; `ldsim scenario FILE` prints what the kernel sees at each step. Paths are
 * relative to the scenario file; `$ROOT` is the repository root.
 *
 * ```json
 * {
 *   "description": "text",
 *   "exec": "/usr/bin/true",                         // the program to exec (its DT_NEEDED load at startup)
 *   "kernel": { "acceptedVersions": [3], "forkKeepsSframe": false },
 *   "loader": { "registerSframe": true, "unregisterAfterMunmap": false, "fatalRegistration": false },
 *   "faults": [{ "syscall": "mmap", "nth": 2, "errno": "ENOMEM" }],   // armed after startup
 *   "steps": [
 *     { "op": "dlopen", "file": "lib.so", "mode": "RTLD_NOW|RTLD_GLOBAL", "as": "h" },
 *     { "op": "dlsym", "handle": "h", "symbol": "f" },               // handle: a name, "RTLD_DEFAULT" or "RTLD_NEXT"
 *     { "op": "sample", "chain": ["libb_leaf", "liba_mid", "liba_entry"] },  // innermost first
 *     { "op": "dlclose", "handle": "h",
 *       "interleave": { "at": "after-munmap", "thread": 2, "steps": [ ... ] } },
 *     { "op": "fork" }, { "op": "exit", "status": 0 },
 *     { "op": "assert", "registry": { "size": 0 }, "maps": { "absent": ["lib.so"] }, "dlerror": null }
 *   ]
 * }
 * ```
 *
 * `interleave` runs another thread's steps at a point inside the step (DlHookPoint: "mapped",
 * "before-unregister", "after-unregister", "before-munmap", "after-munmap"); a dlopen/dlclose there
 * waits for dl_load_lock and runs when the outer call has returned, as in glibc.
 */
export interface Scenario {
  readonly description?: string;
  readonly exec: string;
  readonly argv?: readonly string[];
  readonly cwd?: string;
  readonly kernel?: {
    readonly acceptedVersions?: readonly number[];
    readonly requirePcrel?: boolean;
    readonly forkKeepsSframe?: boolean;
  };
  readonly loader?: {
    readonly registerSframe?: boolean;
    readonly unregisterAfterMunmap?: boolean;
    readonly fatalRegistration?: boolean;
    readonly libraryPath?: string;
    /**
     * dl_load_lock (default true): a dlopen/dlclose of another thread inside a step waits for the
     * outer call. false models code that maps outside ld.so's lock (a second loader, a JIT).
     */
    readonly loadLock?: boolean;
  };
  readonly faults?: readonly FaultRule[];
  readonly steps: readonly Step[];
}

export interface Interleave {
  readonly at: DlHookPoint;
  /** Which object's hook (a file name suffix); default the first object that reaches the point. */
  readonly object?: string;
  readonly thread?: number;
  readonly steps: readonly Step[];
}

export type Step =
  | {
      readonly op: "dlopen";
      readonly file: string | null;
      readonly mode?: string | number;
      readonly as?: string;
      readonly interleave?: Interleave;
    }
  | { readonly op: "dlclose"; readonly handle: string; readonly interleave?: Interleave }
  | { readonly op: "dlsym"; readonly handle: string; readonly symbol: string; readonly version?: string }
  | {
      readonly op: "sample";
      /** Function names, innermost first: the sampled function, then each caller. */
      readonly chain: readonly string[];
      /** Byte offset of the sampled PC into the innermost function (default 1). */
      readonly offset?: number;
    }
  | { readonly op: "fork" }
  | { readonly op: "exit"; readonly status?: number }
  | ({ readonly op: "assert"; readonly label?: string } & Assertion);

export interface Assertion {
  /** The kernel's registry for the process: entry count, file names that must / must not be covered. */
  readonly registry?: {
    readonly size?: number;
    readonly contains?: readonly string[];
    readonly absent?: readonly string[];
  };
  /** /proc/PID/maps: file names present / absent. */
  readonly maps?: { readonly contains?: readonly string[]; readonly absent?: readonly string[] };
  /** What dlerror() returns now (null: no error), consumed as dlerror does. */
  readonly dlerror?: string | null;
  /** The result of the last syscall of that name (errno name, or "0"/"ok"). */
  readonly lastSyscall?: { readonly name: string; readonly errno: ErrnoName | "ok" };
  /** The last sample's frame count and/or stop kind. */
  readonly sample?: { readonly frames?: number; readonly stop?: string };
  /** Loaded objects (link map names, suffix match). */
  readonly loaded?: { readonly contains?: readonly string[]; readonly absent?: readonly string[] };
}
