/**
 * Test driver for the relocation parity tests: run a program's startup in the kernel shim up to the
 * end of relocation, in glibc 2.36 rtld.c's order, and run the real program with LD_DEBUG to compare.
 *
 * Simulated (rtld.c `dl_main` after `_dl_map_object_deps`): the version check of every object
 * (`version_check_doit`), `_dl_relocate_object` for main's l_initfini from last to first (ld.so
 * skipped), `__rtld_malloc_init_real` (libc's calloc/free/malloc/realloc looked up with version
 * GLIBC_2.2.5 from the main map), then ld.so itself, never lazily.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sysvHash } from "../../formats/elf/hash-function.ts";
import { execElf } from "../../kernel-shim/exec/binfmt-elf.ts";
import { HostFs } from "../../kernel-shim/fs/host-fs.ts";
import { Kernel } from "../../kernel-shim/process/kernel.ts";
import { Process } from "../../kernel-shim/process/process.ts";
import type { StraceLog } from "../../kernel-shim/strace/log.ts";
import { type DebugCategory, DebugLog } from "../../loader/debug.ts";
import { dynamicInfo } from "../../loader/dynamic-info.ts";
import { hostRtldProfile } from "../../loader/host-profile.ts";
import type { LinkMap } from "../../loader/link-map.ts";
import { LoaderError } from "../../loader/map-object.ts";
import { relocateObject } from "../../loader/relocate.ts";
import type { Rtld } from "../../loader/rtld.ts";
import { sortMaps } from "../../loader/sort-maps.ts";
import { startFromExec } from "../../loader/startup.ts";
import { lookupSymbol } from "../../loader/symbol-lookup.ts";
import { checkAllVersions, VersionCheckError } from "../../loader/version-check.ts";
import { runs } from "./build-fixtures.ts";

export function hasSetarch(): boolean {
  return runs("setarch", ["-R", "true"]);
}

export interface SimRun {
  readonly rtld: Rtld;
  readonly main: LinkMap;
  readonly proc: Process;
  /** LD_DEBUG lines (text after "PID:\t"). */
  readonly lines: string[];
  /** What ld.so would print and its exit status, when startup fails. */
  readonly error: { readonly stderr: string[]; readonly status: number } | undefined;
}

export interface RunOptions {
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly categories?: readonly DebugCategory[];
  readonly bindNow?: boolean;
  /** A strace log for the shim process (cleared after exec, as strace shows ld.so's calls only). */
  readonly log?: StraceLog;
}

/** The startup of `exe` in the shim, through relocation (see the file comment). */
export function simulateStartup(exe: string, o: RunOptions = {}): SimRun {
  const kernel = new Kernel(new HostFs());
  const proc = Process.spawn(kernel, { cwd: o.cwd ?? process.cwd(), ...(o.log ? { log: o.log } : {}) });
  const env: Record<string, string> = { ...(o.env ?? {}), ...(o.bindNow ? { LD_BIND_NOW: "1" } : {}) };
  const envp = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const r = execElf(proc, exe, { argv: [exe], envp });
  if (!r.ok) throw new Error(`exec ${exe} failed`);
  o.log?.clear();
  const debug = new DebugLog(o.categories ?? ["bindings", "symbols", "versions", "reloc"]);
  const llp = env["LD_LIBRARY_PATH"];
  const s = startFromExec(proc, {
    profile: hostRtldProfile(),
    debug,
    ...(llp !== undefined ? { libraryPath: llp } : {}),
  });
  const rtld = s.rtld;
  const main = s.main;
  const lines = () => debug.lines.filter((l) => l.category !== "libs" && l.category !== "files").map((l) => l.text);
  if (s.error) return { rtld, main, proc, lines: lines(), error: { stderr: [s.error.message], status: 127 } };
  const sl = main.searchlist ?? [main];
  // l_scope as _dl_new_object and _dl_map_object_from_fd set it: the global scope (main's search
  // list), preceded by the object alone when it has DT_SYMBOLIC.
  for (const m of rtld.ns.maps) {
    if (m.scope.length === 0) m.scope = !m.isRtld && m !== main && dynamicInfo(rtld, m).symbolic ? [[m], sl] : [sl];
  }
  try {
    checkAllVersions(rtld, main);
    const order = sortMaps(sl, false);
    const lazy = !o.bindNow;
    for (let i = order.length - 1; i >= 0; i--) {
      const m = order[i] as LinkMap;
      if (!m.isRtld) relocateObject(rtld, m, m.scope, { lazy });
    }
    const v = "GLIBC_2.2.5";
    for (const name of ["calloc", "free", "malloc", "realloc"]) {
      lookupSymbol(rtld, main, name, main.scope, { name: v, hash: sysvHash(v), hidden: false, filename: undefined });
    }
    relocateObject(rtld, rtld.rtldMap, main.scope, { lazy: false });
  } catch (e) {
    if (e instanceof VersionCheckError) {
      return { rtld, main, proc, lines: lines(), error: { stderr: [...e.stderr], status: 1 } };
    }
    if (e instanceof LoaderError) {
      const occasion = (e as { occasion?: string }).occasion ?? "error while loading shared libraries";
      return {
        rtld,
        main,
        proc,
        lines: lines(),
        error: { stderr: [`${rtld.progname}: ${occasion}: ${e.object}: ${e.reason}`], status: 127 },
      };
    }
    throw e;
  }
  return { rtld, main, proc, lines: lines(), error: undefined };
}

export interface RealRun {
  readonly lines: string[];
  readonly stdout: string;
  readonly stderr: string;
  readonly status: number;
}

/** The real program under `setarch -R` with LD_DEBUG (LD_DEBUG_OUTPUT to a file), its output and status. */
export function realRun(exe: string, o: RunOptions = {}): RealRun {
  const dir = mkdtempSync(join(tmpdir(), "ldsim-reloc-"));
  const cats = (o.categories ?? ["bindings", "symbols", "versions", "reloc"]).join(",");
  const env: Record<string, string> = {
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    ...(o.env ?? {}),
    ...(o.bindNow ? { LD_BIND_NOW: "1" } : {}),
  };
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  let stdout = "";
  let stderr = "";
  let status = 0;
  try {
    stdout = execFileSync(
      "setarch",
      ["-R", "env", ...envArgs, `LD_DEBUG=${cats}`, `LD_DEBUG_OUTPUT=${join(dir, "dbg")}`, exe],
      { cwd: o.cwd ?? process.cwd(), encoding: "latin1", stdio: ["ignore", "pipe", "pipe"], env },
    );
  } catch (e) {
    const x = e as { status: number; stdout: string; stderr: string };
    status = x.status;
    stdout = x.stdout;
    stderr = x.stderr;
  }
  const files = readdirSync(dir).filter((f) => f.startsWith("dbg."));
  const text = files.length > 0 ? readFileSync(join(dir, files[0] as string), "latin1") : "";
  const lines = text
    .split("\n")
    .slice(0, -1)
    .map((l) => l.replace(/^ *\d+:\t/, ""));
  return { lines, stdout, stderr, status };
}

/**
 * The part of a real LD_DEBUG log the model covers: without the vDSO's own lookups (setup_vdso,
 * not modelled by the shim), up to the end of ld.so's relocation block (what follows is init,
 * lazy binding at run time and exit).
 */
export function startupPart(lines: readonly string[], rtldName: string): string[] {
  const out: string[] = [];
  let inRtld = false;
  let pending: string[] = [];
  for (const l of lines) {
    if (/^symbol=[^;]*; {2}lookup in file=linux-vdso\.so\.1 \[0\]$/.test(l)) continue;
    if (l.startsWith("binding file linux-vdso.so.1 [0] to linux-vdso.so.1 [0]")) continue;
    if (inRtld) {
      // ld.so's own block ends at a blank line, or where a lazy PLT binding of another object
      // (run-time code after relocation) begins.
      if (l === "" || l.startsWith("calling init")) break;
      if (l.startsWith("symbol=")) {
        pending.push(l);
        continue;
      }
      if (!l.startsWith(`binding file ${rtldName} [0] `)) break;
      out.push(...pending, l);
      pending = [];
      continue;
    }
    if (l === `relocation processing: ${rtldName}`) inRtld = true;
    out.push(l);
  }
  return out;
}
