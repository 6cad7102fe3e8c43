import type { Process } from "../kernel-shim/process/process.ts";
import { procContents } from "../kernel-shim/syscalls/procfs.ts";

/** /proc/PID/maps as a read of the file returns it, one line per VMA (the vsyscall gate included). */
export function mapsLines(proc: Process): string[] {
  return Buffer.from(procContents({ kind: "text", target: proc, name: "maps" }))
    .toString("latin1")
    .split("\n")
    .filter(Boolean);
}
