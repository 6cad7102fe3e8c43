import type { FuzzTarget, TargetName } from "../engine/target.ts";
import { elfTarget } from "./elf.ts";
import { sframeTarget } from "./sframe.ts";

/** The targets, or why a target is not available yet. */
export async function loadTarget(name: TargetName): Promise<FuzzTarget | string> {
  switch (name) {
    case "elf":
      return elfTarget;
    case "sframe":
      return sframeTarget;
    default:
      return `target ${name}: not yet implemented`;
  }
}
