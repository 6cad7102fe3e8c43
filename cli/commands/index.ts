import type { Command } from "commander";
import { register as registerLdd } from "./ldd.ts";
import { register as registerPerf } from "./perf.ts";
import { register as registerProposals } from "./proposals.ts";
import { register as registerReadelf } from "./readelf.ts";
import { register as registerReport } from "./report.ts";
import { register as registerRun } from "./run.ts";
import { register as registerScenario } from "./scenario.ts";
import { register as registerSframe } from "./sframe.ts";
import { register as registerUnwind } from "./unwind.ts";

/** Adds every subcommand to the program. One line per command module. */
export function registerCommands(program: Command): void {
  void program;
  registerLdd(program);
  registerReadelf(program);
  registerSframe(program);
  registerPerf(program);
  registerReport(program);
  registerUnwind(program);
  registerProposals(program);
  registerScenario(program);
  registerRun(program);
}
