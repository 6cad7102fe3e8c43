import type { FuzzTarget, TargetName } from "../engine/target.ts";
import { elfTarget } from "./elf.ts";
import { loaderTarget } from "./loader.ts";
import { perfTarget } from "./perf.ts";
import { sframeTarget } from "./sframe.ts";
import { syscallsTarget } from "./syscalls.ts";
import { unwindTarget } from "./unwind.ts";

/** The targets, or why a target is not available yet. */
export async function loadTarget(name: TargetName): Promise<FuzzTarget | string> {
  switch (name) {
    case "elf":
      return elfTarget;
    case "sframe":
      return sframeTarget;
    case "syscalls":
      return syscallsTarget;
    case "loader":
      return loaderTarget;
    case "unwind":
      return unwindTarget;
    case "perf":
      return perfTarget;
  }
}
