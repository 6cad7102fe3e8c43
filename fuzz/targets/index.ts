import type { FuzzTarget, TargetName } from "../engine/target.ts";

/**
 * The target called `name`. Each is imported on demand, so a run of one target loads only the code
 * that target exercises (and a module being edited elsewhere does not stop the others).
 */
export async function loadTarget(name: TargetName): Promise<FuzzTarget | string> {
  switch (name) {
    case "elf":
      return (await import("./elf.ts")).elfTarget;
    case "sframe":
      return (await import("./sframe.ts")).sframeTarget;
    case "syscalls":
      return (await import("./syscalls.ts")).syscallsTarget;
    case "unwind":
      return (await import("./unwind.ts")).unwindTarget;
    case "loader":
      return (await import("./loader.ts")).loaderTarget;
    case "perf": {
      const { existsSync } = await import("node:fs");
      if (!existsSync(new URL("../../formats/perf/perf-data.ts", import.meta.url))) {
        return "target perf: not yet (formats/perf/perf-data.ts does not exist)";
      }
      return (await import("./perf.ts")).perfTarget;
    }
  }
}
