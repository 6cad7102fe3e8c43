import { existsSync } from "node:fs";
import { hostRtldProfile } from "../../loader/host-profile.ts";
import { startFromExec } from "../../loader/startup.ts";
import type { Workload } from "./types.ts";

/** Programs every Debian system has; those missing on a machine are skipped. */
export const STARTUP_PROGRAMS = ["/bin/true", "/bin/ls", "/bin/bash", "/usr/bin/perl"] as const;

/**
 * The real startup of programs on this machine: execve of each program (binfmt_elf), then ld.so's
 * startup (loader/startup.ts `startFromExec`: search, ld.so.cache, mapping of every DT_NEEDED
 * library). Under `syscall` the loader's own registration path runs (RtldOptions.registerSframe: one
 * stacktrace_setup per executable segment right after each library is mapped); under `prctl` the same
 * calls are made as prctl once dependency loading is done (before relocation and init, so no library
 * code has run in between). On a machine whose libraries lack PT_GNU_SFRAME this measures the cost of
 * each design when there is nothing to register.
 */
export function startupWorkload(programs: readonly string[] = STARTUP_PROGRAMS): Workload {
  const present = programs.filter((p) => existsSync(p));
  return {
    name: "startup",
    title: `Real startup of ${present.length} programs on this machine (${present.join(", ")})`,
    description: `execve + ld.so startup of ${present.join(", ")} in one process (each exec replaces the image), with this machine's libraries.`,
    run(w) {
      for (const prog of present) {
        w.exec(prog, [prog]);
        const s = w.as("ld.so map", () =>
          startFromExec(w.proc, { registerSframe: w.rt.name === "syscall", profile: hostRtldProfile() }),
        );
        if (s.error) throw new Error(s.error.message);
        for (const m of s.rtld.ns.maps) {
          if (m.type !== "library" || m === s.rtld.rtldMap || m === s.rtld.vdsoMap || m.phdrs.length === 0) continue;
          if (w.rt.name === "prctl") w.as("ld.so map", () => w.rt.afterMap(w.proc, { lAddr: m.addr, phdrs: m.phdrs }));
          if (m.name !== "") w.trackElf(m.name, m.addr);
        }
        w.observe();
      }
    },
  };
}
