import type { ObjectSet } from "./mapped-object.ts";
import type { UnwindTrace } from "./types.ts";

/**
 * One callchain as `perf script` prints it (tools/perf/util/evsel_fprintf.c, sample__fprintf_callchain):
 * a tab, the address right-aligned in 16 hex digits, the symbol with its offset, the object in
 * parentheses — `\t    7fdf0ea26bda __libc_start_call_main+0x6a (/usr/lib/x86_64-linux-gnu/libc.so.6)`.
 * Unresolvable addresses print as perf prints them: `[unknown] ([unknown])`.
 */
export function formatCallchain(trace: UnwindTrace, objects: ObjectSet): string[] {
  return trace.frames.map((f) => {
    const addr = f.pc.toString(16).padStart(16, " ");
    const obj = objects.at(f.pc);
    const sym = obj?.symbolize(f.pc);
    const name = sym ? `${sym.name}+0x${sym.offset.toString(16)}` : "[unknown]";
    return `\t${addr} ${name} (${obj ? obj.path : "[unknown]"})`;
  });
}

/** The sample header line perf script prints before a callchain: `comm pid time: period event:`. */
export function formatSampleHeader(comm: string, pid: number, timeSec: number, period: number, event: string): string {
  return `${comm} ${String(pid).padStart(5)} ${timeSec.toFixed(6).padStart(12)}: ${String(period).padStart(10)} ${event}: `;
}
