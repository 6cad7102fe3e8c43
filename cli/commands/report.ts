import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { EDGE_CASE_BY_ID } from "../../examples/validate-proposal-lib.ts";
import { LdsimError } from "../../formats/errors.ts";
import { compareDesigns } from "../../lab/compare.ts";
import { comparisonHtml } from "../../lab/html.ts";
import { WORKLOADS } from "../../lab/workloads/index.ts";
import { renderReport } from "../../report/html.ts";
import type { ReportData } from "../../report/model.ts";
import { rfcOptionsFrom, rfcReportData } from "../../report/rfc-report.ts";

/**
 * `ldsim report [-o FILE.html] [--register-rules kernel|unwound-sp-fp] [--libc-sframe none|from-eh-frame]`
 * — run the RFC experiment and write one self-contained HTML page: the address space to scale, the
 * timeline of syscalls and SFrame registrations, and both unwind traces. `--case ID` writes the
 * page of one of example 4's edge cases (examples/validate-proposal-lib.ts) instead.
 */

interface ReportOptions {
  output: string;
  registerRules: string;
  libcSframe: string;
  case?: string;
  json?: boolean;
  proposals?: string;
}

export function register(program: Command): void {
  program
    .command("report")
    .description("run the RFC experiment and write a self-contained HTML report (address space, timeline, traces)")
    .option("-o, --output <file>", "where to write the page", "ldsim-report.html")
    .option(
      "--register-rules <rules>",
      "register-based SFrame rules below the top frame: kernel or unwound-sp-fp",
      "kernel",
    )
    .option("--libc-sframe <how>", "SFrame for the machine's glibc: none or from-eh-frame", "none")
    .option("--case <id>", `an edge case of example 4 instead: ${Object.keys(EDGE_CASE_BY_ID).join(", ")}`)
    .option(
      "--proposals <workloads>",
      `add the proposal lab's comparison for these workloads (comma-separated: ${Object.keys(WORKLOADS).join(", ")})`,
    )
    .option("--json", "print the report's data (regions, timeline, traces) as JSON instead of writing the page")
    .action((o: ReportOptions) => {
      const options = rfcOptionsFrom({ registerRules: o.registerRules, libcSframe: o.libcSframe });
      let data: ReportData;
      if (o.case !== undefined) {
        const make = EDGE_CASE_BY_ID[o.case];
        if (!make) {
          throw new LdsimError(
            `report: unknown --case '${o.case}' (expected ${Object.keys(EDGE_CASE_BY_ID).join(", ")})`,
          );
        }
        data = make().report();
      } else data = rfcReportData(options);
      if (o.proposals !== undefined) {
        const appendix = o.proposals.split(",").map((name) => {
          const make = WORKLOADS[name.trim()];
          if (!make) {
            throw new LdsimError(`report: unknown workload '${name}' (expected ${Object.keys(WORKLOADS).join(", ")})`);
          }
          return comparisonHtml(compareDesigns(make()));
        });
        data = { ...data, appendix };
      }
      if (o.json === true) {
        const replacer = (_k: string, v: unknown) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v);
        process.stdout.write(`${JSON.stringify(data, replacer, 2)}\n`);
        return;
      }
      const html = renderReport(data);
      writeFileSync(o.output, html);
      process.stdout.write(`wrote ${o.output} (${html.length} bytes)\n`);
    });
}
