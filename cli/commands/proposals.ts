import { existsSync } from "node:fs";
import type { Command } from "commander";
import { LdsimError } from "../../formats/errors.ts";
import { compareDesigns, formatMarkdown, formatText } from "../../lab/compare.ts";
import { DESIGN_NAMES, type DesignName } from "../../lab/designs/types.ts";
import { workloadFromFile } from "../../lab/workloads/from-file.ts";
import { WORKLOADS } from "../../lab/workloads/index.ts";

/**
 * `ldsim proposals compare [--workload NAME|FILE] [--design D,…] [--json|--markdown]` — run a workload
 * under each SFrame registration design (syscall, prctl, mmap-detect, lazy, none) and print the
 * metrics side by side. Without --workload every named workload runs, one table each.
 */
interface CompareOptions {
  workload?: string;
  design?: string;
  json?: boolean;
  markdown?: boolean;
  cycles?: string;
}

export function register(program: Command): void {
  const proposals = program
    .command("proposals")
    .description("compare ways of telling the kernel about SFrame on the same workloads");
  proposals
    .command("compare")
    .description(`run workloads under each registration design (${DESIGN_NAMES.join(", ")}) and compare`)
    .option("--workload <name|file>", `a named workload (${Object.keys(WORKLOADS).join(", ")}) or a JSON workload file`)
    .option("--design <list>", "comma-separated designs (default: all)")
    .option("--cycles <n>", "rounds of the cyclic workloads (plugin-host, sampler races, jit)")
    .option("--json", "print JSON")
    .option("--markdown", "print Markdown tables")
    .action((o: CompareOptions) => {
      const designs = (o.design?.split(",").map((d) => d.trim()) ?? [...DESIGN_NAMES]) as DesignName[];
      for (const d of designs) {
        if (!DESIGN_NAMES.includes(d)) throw new LdsimError(`unknown design "${d}" (${DESIGN_NAMES.join(", ")})`);
      }
      const cycles = o.cycles === undefined ? undefined : Number(o.cycles);
      if (cycles !== undefined && (!Number.isInteger(cycles) || cycles < 1 || cycles > 1_000_000)) {
        throw new LdsimError(`--cycles must be an integer from 1 to 1000000, not "${o.cycles}"`);
      }
      const names = o.workload === undefined ? Object.keys(WORKLOADS) : [o.workload];
      const comparisons = names.map((n) => {
        const make = WORKLOADS[n];
        if (make) return compareDesigns(make(cycles), designs);
        if (existsSync(n)) return compareDesigns(workloadFromFile(n), designs);
        throw new LdsimError(`unknown workload "${n}" (${Object.keys(WORKLOADS).join(", ")}, or a JSON file)`);
      });
      if (o.json === true) {
        process.stdout.write(`${JSON.stringify(comparisons.length === 1 ? comparisons[0] : comparisons, null, 2)}\n`);
        return;
      }
      const fmt = o.markdown === true ? formatMarkdown : formatText;
      process.stdout.write(comparisons.map(fmt).join("\n"));
    });
}
