/**
 * Run one workload under every design and lay the metrics side by side.
 */
import { DESIGNS } from "./designs/index.ts";
import { DESIGN_NAMES, type DesignName } from "./designs/types.ts";
import { coverage, meanDepth, type RunMetrics } from "./metrics.ts";
import type { Workload } from "./workloads/types.ts";
import { World } from "./world.ts";

export interface Comparison {
  readonly workload: { readonly name: string; readonly title: string; readonly description: string };
  readonly runs: readonly RunMetrics[];
}

export function compareDesigns(workload: Workload, designs: readonly DesignName[] = DESIGN_NAMES): Comparison {
  const runs = designs.map((d) => {
    const w = new World(DESIGNS[d], workload.worldOptions?.() ?? {});
    workload.run(w);
    return w.finish();
  });
  return { workload: { name: workload.name, title: workload.title, description: workload.description }, runs };
}

const fmtMap = (m: Readonly<Record<string, number>>): string => {
  const e = Object.entries(m).filter(([, v]) => v !== 0);
  return e.length === 0 ? "—" : e.map(([k, v]) => `${k} ${v}`).join(", ");
};

/** The table's rows: one per figure, one column per design. */
export function tableRows(c: Comparison): { readonly header: string[]; readonly rows: string[][] } {
  const header = ["", ...c.runs.map((r) => r.design)];
  const row = (label: string, f: (r: RunMetrics) => string) => [label, ...c.runs.map(f)];
  const rows = [
    row("syscalls added", (r) => String(r.syscalls.added)),
    row("  where", (r) => fmtMap(r.syscalls.where)),
    row("  failed", (r) => fmtMap(r.syscalls.failed)),
    row("kernel work", (r) => fmtMap(r.kernelWork)),
    row("registrations (origin)", (r) => fmtMap(r.registrations)),
    row("refused (origin:errno)", (r) => fmtMap(r.registrationErrors)),
    row("uncovered live code (boundaries)", (r) => String(r.windows.uncoveredLive)),
    row("uncovered while loading/unloading", (r) => String(r.windows.uncoveredLoader)),
    row("stale entries (boundaries × entries)", (r) => String(r.windows.staleEntries)),
    row("wrong section (boundaries)", (r) => String(r.windows.wrongSection)),
    row("samples full / truncated / wrong", (r) => `${r.samples.full} / ${r.samples.truncated} / ${r.samples.wrong}`),
    row("mean depth (true depth)", (r) =>
      r.samples.count === 0
        ? "—"
        : `${meanDepth(r)} (${Math.round((10 * r.samples.truthFrames) / r.samples.count) / 10})`,
    ),
    row("frame coverage %", (r) => (r.samples.count === 0 ? "—" : String(coverage(r)))),
    row("kernel bytes peak / final", (r) => `${r.memory.peak} / ${r.memory.final}`),
    row("auto-removed on EFAULT", (r) => String(r.autoRemoved)),
    row("boundaries observed", (r) => String(r.windows.boundaries)),
  ];
  return { header, rows };
}

/** Plain text, columns padded. */
export function formatText(c: Comparison): string {
  const { header, rows } = tableRows(c);
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) =>
    r
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [
    `== ${c.workload.name}: ${c.workload.title}`,
    c.workload.description,
    "",
    line(header),
    ...rows.map(line),
    "",
  ].join("\n");
}

/** A Markdown table (for docs/proposals-table.md and the README). */
export function formatMarkdown(c: Comparison): string {
  const { header, rows } = tableRows(c);
  const esc = (v: string) => v.replaceAll("|", "\\|");
  return [
    `### \`${c.workload.name}\` — ${c.workload.title}`,
    "",
    c.workload.description,
    "",
    `| ${header.map(esc).join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
    "",
  ].join("\n");
}

/** JSON-safe form (numbers only; no bigint). */
export function toJson(c: Comparison): unknown {
  return c;
}
