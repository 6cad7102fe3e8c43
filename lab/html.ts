import { type Comparison, tableRows } from "./compare.ts";

const esc = (s: string) =>
  s.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");

/**
 * One comparison as an HTML section (a heading, the workload's description and the side-by-side
 * table), self-contained and escaped, for the HTML report to include.
 */
export function comparisonHtml(c: Comparison): string {
  const { header, rows } = tableRows(c);
  const tr = (cells: readonly string[], tag: "th" | "td") =>
    `<tr>${cells.map((v, i) => (i === 0 || tag === "th" ? `<th>${esc(v)}</th>` : `<td>${esc(v)}</td>`)).join("")}</tr>`;
  return [
    `<section class="proposals" id="proposals-${esc(c.workload.name)}">`,
    `<h3>${esc(c.workload.name)} — ${esc(c.workload.title)}</h3>`,
    `<p>${esc(c.workload.description)}</p>`,
    "<table>",
    `<thead>${tr(header, "th")}</thead>`,
    `<tbody>${rows.map((r) => tr(r, "td")).join("")}</tbody>`,
    "</table>",
    "</section>",
  ].join("\n");
}
