import { OTHER_PERM_COLOUR, PERM_COLOURS, renderAddressMap, STATE_COLOURS } from "./address-map-svg.ts";
import { esc, humanBytes } from "./escape.ts";
import type { ReportData, ReportTrace, TimelineEntry } from "./model.ts";

/**
 * One self-contained HTML page (inline CSS, SVG and a few lines of JS; no external assets) from a
 * ReportData: the unwind traces side by side, the address space to scale next to the timeline of
 * syscalls and SFrame registrations, and the raw /proc/pid/maps.
 */
export function renderReport(data: ReportData): string {
  const map = renderAddressMap(data.regions, data.sframe);
  const legend = [
    ...Object.entries(PERM_COLOURS).map(([p, c]) => swatch(c, `${p}`)),
    swatch(OTHER_PERM_COLOUR, "other"),
    ...Object.entries(STATE_COLOURS).map(([s, c]) => swatch(c, `SFrame text ${s}`, true)),
  ].join("");
  const scaleNote = `Regions to scale: 1 px = ${humanBytes(BigInt(Math.round(map.bytesPerPx)))} (regions below 2 px drawn 2 px). Gaps between regions on a log scale, true size written in them. Hover a region for its maps line; hover a trace line to find its region.`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(data.title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${esc(data.title)}</h1>
${data.subtitle ? `<p class="subtitle">${esc(data.subtitle)}</p>` : ""}
${(data.notes ?? []).map((n) => `<p class="note">${esc(n)}</p>`).join("\n")}
</header>
<section id="traces">
<h2>Unwind traces <span class="count">(perf script)</span></h2>
<div class="traces">
${data.traces.map(traceCard).join("\n")}
</div>
</section>
<div class="columns">
<section id="address-space">
<h2>Address space <span class="count">(${data.regions.length} regions, ${data.sframe.length} SFrame registrations)</span></h2>
<div class="legend">${legend}</div>
<p class="scale-note">${esc(scaleNote)}</p>
${map.svg}
</section>
<section id="timeline">
<h2>Timeline <span class="count">(${data.timeline.length} rows: syscalls and SFrame registry changes, in order)</span></h2>
<table class="timeline">
<thead><tr><th>#</th><th>what</th><th>call / event</th></tr></thead>
<tbody>
${data.timeline.map(timelineRow).join("\n")}
</tbody>
</table>
</section>
</div>
${data.appendix?.length ? `<section id="appendix"><h2>Registration designs compared <span class="count">(ldsim proposals compare)</span></h2>\n${data.appendix.join("\n")}\n</section>` : ""}
${data.maps !== undefined ? `<section id="maps"><details><summary>/proc/pid/maps at the end</summary><pre class="maps">${esc(data.maps)}</pre></details></section>` : ""}
<script>${JS}</script>
</body>
</html>
`;
}

function swatch(colour: string, text: string, outline = false): string {
  const style = outline ? `background:${colour};border:1px solid ${colour}` : `background:${colour}`;
  return `<span class="swatch"><i style="${style}"></i>${esc(text)}</span>`;
}

function traceCard(t: ReportTrace, i: number): string {
  const lines = t.lines
    .map((l, k) => {
      const pc = /^\t\s*([0-9a-f]+) /.exec(l)?.[1];
      const m = t.methods?.[k];
      const tag = m ? `<span class="method method-${esc(m)}">${esc(m)}</span>` : `<span class="method"></span>`;
      return `<div class="frame"${pc ? ` data-pc="0x${pc}"` : ""}>${tag}<code>${esc(l.replace(/^\t/, ""))}</code></div>`;
    })
    .join("");
  return `<article class="trace" id="trace-${i}">
<h3>${esc(t.title)} <span class="count">${t.lines.length} frames</span></h3>
${t.header !== undefined ? `<div class="sample-header"><code>${esc(t.header)}</code></div>` : ""}
<div class="callchain">${lines}</div>
<p class="stop">stop: ${esc(t.stop)}</p>
</article>`;
}

const KIND_LABEL: Readonly<Record<TimelineEntry["kind"], string>> = {
  syscall: "syscall",
  register: "register",
  unregister: "unregister",
  "auto-remove": "auto-remove",
  "mm-release": "mm release",
  note: "step",
};

function timelineRow(e: TimelineEntry, i: number): string {
  const cls = [`kind-${e.kind}`, e.ok === false ? "failed" : "", e.nested ? "nested" : ""].filter(Boolean).join(" ");
  const pid = e.pid !== undefined ? `<span class="pid">[pid ${e.pid}]</span> ` : "";
  const detail = e.detail ? `<div class="detail">${esc(e.detail)}</div>` : "";
  const text = e.kind === "syscall" ? `<code>${esc(e.text)}</code>` : esc(e.text);
  return `<tr class="${cls}"><td class="n">${i + 1}</td><td><span class="badge">${KIND_LABEL[e.kind]}</span></td><td>${pid}${text}${detail}</td></tr>`;
}

const CSS = `
*{box-sizing:border-box}
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:16px 20px;color:#222;background:#fff}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:18px 0 8px;border-bottom:1px solid #ddd;padding-bottom:3px}
h3{font-size:14px;margin:0 0 6px}
.subtitle{margin:0 0 6px;color:#555}
.note{margin:2px 0;color:#444;max-width:1300px}
.count{font-weight:normal;color:#888;font-size:12px}
code,pre,.address-map text{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace}
.traces{display:grid;grid-template-columns:repeat(auto-fit,minmax(560px,1fr));gap:12px}
.trace{border:1px solid #ddd;border-radius:6px;padding:8px 10px;background:#fcfcfc;min-width:0}
.callchain{font-size:10.5px;overflow-x:auto}
.frame{white-space:pre;display:flex;gap:6px;align-items:baseline;padding:0 2px;border-radius:3px}
.frame:hover,.frame.hl{background:#fff3c4}
.sample-header{font-size:11.5px;color:#666;white-space:pre}
.method{display:inline-block;width:46px;flex:none;font-size:10px;text-align:center;border-radius:3px;color:#fff}
.method-sframe{background:#c2185b}.method-fp{background:#1565c0}
.stop{margin:6px 0 0;font-size:12px;color:#a33}
.columns{display:grid;grid-template-columns:minmax(0,820px) minmax(0,1fr);gap:20px;align-items:start}
@media (max-width:1300px){.columns{grid-template-columns:minmax(0,1fr)}}
.legend{display:flex;flex-wrap:wrap;gap:4px 12px;font-size:12px}
.swatch{display:inline-flex;align-items:center;gap:4px}
.swatch i{display:inline-block;width:14px;height:11px;border-radius:2px}
.scale-note{font-size:11.5px;color:#666;margin:4px 0}
.address-map{display:block;max-width:100%;height:auto}
.address-map .axis{font-size:10px;fill:#555}
.address-map .axis-title{font-size:10px;fill:#888}
.address-map .gap-label{font-size:9.5px;fill:#888;font-style:italic}
.address-map .label{font-size:10.5px;fill:#333}
.address-map rect.region.hl{stroke:#000;stroke-width:3}
table.timeline{border-collapse:collapse;width:100%;font-size:12px}
.timeline th{text-align:left;color:#666;font-weight:normal;border-bottom:1px solid #ccc}
.timeline td{padding:2px 6px;vertical-align:top;border-bottom:1px solid #f0f0f0}
.timeline td.n{color:#999;text-align:right;width:30px}
.timeline code{font-size:11.5px;word-break:break-all}
.badge{display:inline-block;min-width:76px;text-align:center;font-size:10.5px;border-radius:3px;padding:0 4px;background:#eceff1;color:#455a64}
.kind-register .badge{background:#c2185b;color:#fff}
.kind-unregister .badge{background:#6d4c41;color:#fff}
.kind-auto-remove .badge{background:#ef6c00;color:#fff}
.kind-mm-release .badge{background:#37474f;color:#fff}
.kind-note td{background:#f3f7ff;font-weight:600}
.kind-note .badge{background:#1565c0;color:#fff}
tr.nested td:nth-child(3){padding-left:26px}
tr.nested td:nth-child(3)::before{content:"↳ kernel: ";color:#999}
tr.failed td:nth-child(3){color:#b71c1c}
.detail{font-size:11px;color:#b71c1c;font-style:italic}
.pid{color:#777}
pre.maps{font-size:11px;background:#f7f7f7;padding:8px;overflow-x:auto}
`;

const JS = `
(function(){
  var regions=[].slice.call(document.querySelectorAll('rect.region'));
  function find(pc){return regions.filter(function(r){var lo=BigInt(r.dataset.lo),hi=BigInt(r.dataset.hi);return pc>=lo&&pc<hi;});}
  document.querySelectorAll('.frame[data-pc]').forEach(function(f){
    var pc=BigInt(f.dataset.pc);
    f.addEventListener('mouseenter',function(){find(pc).forEach(function(r){r.classList.add('hl');});});
    f.addEventListener('mouseleave',function(){find(pc).forEach(function(r){r.classList.remove('hl');});});
  });
  regions.forEach(function(r){
    r.addEventListener('mouseenter',function(){var lo=BigInt(r.dataset.lo),hi=BigInt(r.dataset.hi);
      document.querySelectorAll('.frame[data-pc]').forEach(function(f){var pc=BigInt(f.dataset.pc);if(pc>=lo&&pc<hi)f.classList.add('hl');});});
    r.addEventListener('mouseleave',function(){document.querySelectorAll('.frame.hl').forEach(function(f){f.classList.remove('hl');});});
  });
})();
`;
