import { writeFileSync } from "node:fs";
import type { Command } from "commander";
import { renderReport } from "../../report/html.ts";
import { rfcOptionsFrom, rfcReportData } from "../../report/rfc-report.ts";

/**
 * `ldsim report [-o FILE.html] [--register-rules kernel|unwound-sp-fp] [--libc-sframe none|from-eh-frame]`
 * — run the RFC experiment and write one self-contained HTML page: the address space to scale, the
 * timeline of syscalls and SFrame registrations, and both unwind traces.
 */

interface ReportOptions {
  output: string;
  registerRules: string;
  libcSframe: string;
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
    .action((o: ReportOptions) => {
      const options = rfcOptionsFrom({ registerRules: o.registerRules, libcSframe: o.libcSframe });
      const html = renderReport(rfcReportData(options));
      writeFileSync(o.output, html);
      process.stdout.write(`wrote ${o.output} (${html.length} bytes)\n`);
    });
}
