import type { Command } from "commander";
import { register as registerReadelf } from "./readelf.ts";
import { register as registerSframe } from "./sframe.ts";

/** Adds every subcommand to the program. One line per command module. */
export function registerCommands(program: Command): void {
  void program;
  registerReadelf(program);
  registerSframe(program);
}
