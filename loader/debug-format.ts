import type { LinkMap } from "./link-map.ts";

/**
 * glibc 2.36's LD_DEBUG texts that the startup code and the object loader print (the pid prefix is
 * added by DebugLog.render). `_dl_debug_printf` starts a new "PID:\t" line after every '\n', so a
 * format with embedded or trailing newlines is several lines here, empty ones included.
 */

/** `%0*lx` with width 16, as `sizeof (void *) * 2` gives on 64-bit targets. */
export function hex16(v: bigint): string {
  return `0x${BigInt.asUintN(64, v).toString(16).padStart(16, "0")}`;
}

/**
 * `DSO_FILENAME (l->l_name)` as the debug lines use it: the main program started by the kernel has
 * an empty l_name and is shown by `_dl_argv[0]` (RTLD_PROGNAME).
 */
export function dsoName(l: LinkMap, progname: string): string {
  return l.name !== "" ? l.name : progname;
}

/** `_dl_map_object`: "\nfile=%s [%lu];  needed by %s [%lu]\n" (or "dynamically loaded by" for dlopen). */
export function fileNeededBy(name: string, loaderName: string, dlopen = false, ns = 0): string[] {
  return ["", `file=${name} [${ns}];  ${dlopen ? "dynamically loaded by" : "needed by"} ${loaderName} [${ns}]`];
}

/** `_dl_map_object_from_fd`: "file=%s [%lu];  generating link map\n". */
export function fileGenerating(name: string, ns = 0): string[] {
  return [`file=${name} [${ns}];  generating link map`];
}

/** `_dl_map_object_from_fd` once the object is in the namespace: dynamic/base/size, entry/phdr/phnum, "\n\n". */
export function fileMapped(l: {
  readonly ld: bigint;
  readonly addr: bigint;
  readonly size: bigint;
  readonly entry: bigint;
  readonly phdr: bigint;
  readonly phnum: number;
}): string[] {
  return [
    `  dynamic: ${hex16(l.ld)}  base: ${hex16(l.addr)}   size: ${hex16(l.size)}`,
    `    entry: ${hex16(l.entry)}  phdr: ${hex16(l.phdr)}  phnum:   ${String(l.phnum).padStart(16)}`,
    "",
  ];
}

/** `_dl_show_scope (l, from)`: "object=NAME [ns]", one " scope N: a b c" line per scope or " no scope", then "". */
export function showScope(l: LinkMap, progname: string, from = 0, ns = 0): string[] {
  const out = [`object=${dsoName(l, progname)} [${ns}]`];
  if (l.scope.length > 0) {
    for (let i = from; i < l.scope.length; i++) {
      const names = (l.scope[i] ?? []).map((m) => ` ${dsoName(m, progname)}`).join("");
      out.push(` scope ${i}:${names}`);
    }
  } else out.push(" no scope");
  out.push("");
  return out;
}

/** `_dl_init`/`call_init`: "\ncalling init: %s\n\n" (the main program: "\ninitialize program: %s\n\n"). */
export function callingInit(name: string, what: "calling init" | "calling preinit" | "initialize program"): string[] {
  return ["", `${what}: ${name}`, ""];
}

/** `_dl_start_user` via `_dl_debug_printf ("\ntransferring control: %s\n\n", _dl_argv[0])`. */
export function transferringControl(progname: string): string[] {
  return ["", `transferring control: ${progname}`, ""];
}

/** rtld.c `print_statistics` at startup (cycle counts are the model's own timing, in nanoseconds). */
export function statistics(s: {
  readonly totalCycles: bigint;
  readonly relocCycles: bigint;
  readonly loadCycles: bigint;
  readonly relocations: number;
  readonly cacheRelocations: number;
  readonly relativeRelocations: number;
}): string[] {
  const pct = (part: bigint) => {
    if (s.totalCycles === 0n) return "0.0";
    // glibc prints tenths of a percent computed in integers (rtld.c print_statistics_item).
    // print_statistics_item copies 3, 2 or 1 digits with a '.' before the last: 88 → "8.8", 5 → ".5".
    const d = ((part * 1000n) / s.totalCycles).toString();
    return d.length > 3 ? "" : `${d.slice(0, -1)}.${d.slice(-1)}`;
  };
  return [
    "",
    "runtime linker statistics:",
    `  total startup time in dynamic loader: ${s.totalCycles} cycles`,
    `            time needed for relocation: ${s.relocCycles} cycles (${pct(s.relocCycles)}%)`,
    `                 number of relocations: ${s.relocations}`,
    `      number of relocations from cache: ${s.cacheRelocations}`,
    `        number of relative relocations: ${s.relativeRelocations}`,
    `           time needed to load objects: ${s.loadCycles} cycles (${pct(s.loadCycles)}%)`,
  ];
}
