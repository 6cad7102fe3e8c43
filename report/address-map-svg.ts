import { esc, hex, humanBytes } from "./escape.ts";
import type { ReportRegion, ReportSframeRange, SframeRangeState } from "./model.ts";

/**
 * The address space as one SVG column, high addresses at the top (as /proc/pid/maps reads bottom-up).
 * Each region's height is linear in its size on one scale for the whole picture (1 px = N bytes),
 * so regions compare to scale; the gaps between regions — up to 128 TiB — are drawn on a log scale
 * with their true size written in them. Regions smaller than MIN_REGION_PX are drawn that tall so
 * they stay visible. Registered SFrame text ranges are bars beside the column (one lane per
 * overlapping range) and a hatched overlay on the text they cover; their section's location is a
 * bar on the column's right edge. Every region is labelled in a callout column.
 */

export const PERM_COLOURS: Readonly<Record<string, string>> = {
  "r-x": "#e4572e",
  rwx: "#9b59b6",
  "rw-": "#43a047",
  "r--": "#5b8def",
  "---": "#c7c7c7",
};
export const OTHER_PERM_COLOUR = "#8e8e8e";

export const STATE_COLOURS: Readonly<Record<SframeRangeState, string>> = {
  registered: "#c2185b",
  unregistered: "#6d4c41",
  "auto-removed": "#ef6c00",
  stale: "#212121",
};

const TOP = 24;
const AXIS_X = 150;
const LANE_W = 9;
const COL_X = 200;
const COL_W = 110;
const LABEL_X = 350;
const LABEL_H = 14;
const MIN_REGION_PX = 2;
const TARGET_PX = 860;

/** A region to draw: a VMA, or a ghost — unmapped pages an SFrame registration still names. */
type Drawn = ReportRegion & { readonly ghost?: boolean };

interface Seg {
  readonly lo: bigint;
  readonly hi: bigint;
  readonly y0: number;
  readonly y1: number;
  readonly region?: Drawn;
}

const PAGE = 4096n;

/**
 * The pages of registered text or sections that no VMA covers (a stale entry after munmap), so they
 * are drawn in place, to scale, instead of vanishing into a gap.
 */
function ghostRegions(regions: readonly ReportRegion[], sframe: readonly ReportSframeRange[]): Drawn[] {
  const ghosts: { start: bigint; end: bigint }[] = [];
  for (const f of sframe) {
    for (const [lo, hi] of [
      [f.textStart, f.textEnd],
      [f.sframeStart, f.sframeEnd],
    ] as const) {
      const g = { start: lo & ~(PAGE - 1n), end: (hi + PAGE - 1n) & ~(PAGE - 1n) };
      if (g.end <= g.start || regions.some((r) => r.start < g.end && g.start < r.end)) continue;
      const near = ghosts.find((x) => x.start <= g.end && g.start <= x.end);
      if (near) {
        near.start = near.start < g.start ? near.start : g.start;
        near.end = near.end > g.end ? near.end : g.end;
      } else ghosts.push(g);
    }
  }
  return ghosts.map((g) => ({ start: g.start, end: g.end, perms: "", offset: 0n, ghost: true }));
}

export interface AddressMapLayout {
  readonly svg: string;
  readonly width: number;
  readonly height: number;
  /** Bytes per vertical pixel inside regions. */
  readonly bytesPerPx: number;
}

const permColour = (perms: string) => PERM_COLOURS[perms.slice(0, 3)] ?? OTHER_PERM_COLOUR;

function baseName(name: string | undefined): string {
  if (name === undefined) return "[anon]";
  if (name.startsWith("[")) return name;
  return name.slice(name.lastIndexOf("/") + 1);
}

function gapPx(bytes: bigint): number {
  const pages = Number(bytes) / 4096;
  return Math.min(64, 10 + 3.2 * Math.log2(1 + pages));
}

export function renderAddressMap(
  regionsIn: readonly ReportRegion[],
  sframe: readonly ReportSframeRange[],
  width = 820,
): AddressMapLayout {
  const regions = [...regionsIn, ...ghostRegions(regionsIn, sframe)].sort((a, b) =>
    a.start < b.start ? 1 : a.start > b.start ? -1 : 0,
  );
  const total = regions.reduce((n, r) => n + Number(r.end - r.start), 0);
  // One scale for every region: as fine as 20 px per page, as coarse as the picture needs.
  const bytesPerPx = Math.max(4096 / 20, total / TARGET_PX);

  const segs: Seg[] = [];
  let y = TOP;
  let prev: Drawn | undefined;
  for (const r of regions) {
    if (prev && prev.start > r.end) {
      const h = gapPx(prev.start - r.end);
      segs.push({ lo: r.end, hi: prev.start, y0: y, y1: y + h });
      y += h;
    }
    const h = Math.max(MIN_REGION_PX, Number(r.end - r.start) / bytesPerPx);
    segs.push({ lo: r.start, hi: r.end, y0: y, y1: y + h, region: r });
    y += h;
    prev = r;
  }
  const columnBottom = y;

  const yOf = (addr: bigint): number => {
    for (const s of segs) {
      if (addr >= s.lo && addr <= s.hi) {
        const span = Number(s.hi - s.lo);
        return span === 0 ? s.y0 : s.y0 + (Number(s.hi - addr) / span) * (s.y1 - s.y0);
      }
    }
    const first = segs[0];
    if (!first) return TOP;
    return addr > first.hi ? TOP - 6 : columnBottom + 6;
  };

  const parts: string[] = [];
  parts.push(
    `<defs><pattern id="gapHatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#fafafa"/><line x1="0" y1="0" x2="0" y2="6" stroke="#ddd" stroke-width="2"/></pattern>`,
  );
  for (const [state, colour] of Object.entries(STATE_COLOURS)) {
    parts.push(
      `<pattern id="sf-${state}" width="5" height="5" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)"><line x1="0" y1="0" x2="0" y2="5" stroke="${colour}" stroke-width="1.6" stroke-opacity="0.75"/></pattern>`,
    );
  }
  parts.push("</defs>");

  // Regions and gaps.
  for (const s of segs) {
    const h = Math.max(0.5, s.y1 - s.y0);
    if (s.region?.ghost) {
      const r = s.region;
      parts.push(
        `<rect class="ghost" x="${COL_X}" y="${s.y0.toFixed(2)}" width="${COL_W}" height="${h.toFixed(2)}" fill="#fff" stroke="#888" stroke-dasharray="4 3"><title>${esc(`${hex(r.start)}-${hex(r.end)}: not mapped (named by an SFrame registration)`)}</title></rect>`,
      );
    } else if (s.region) {
      const r = s.region;
      const tip = `${hex(r.start)}-${hex(r.end)} ${r.perms} ${r.name ?? "[anon]"} (${humanBytes(r.end - r.start)})`;
      parts.push(
        `<rect class="region" data-lo="${hex(r.start)}" data-hi="${hex(r.end)}" data-perms="${esc(r.perms)}" x="${COL_X}" y="${s.y0.toFixed(2)}" width="${COL_W}" height="${h.toFixed(2)}" fill="${permColour(r.perms)}" stroke="#fff" stroke-width="0.6"><title>${esc(tip)}</title></rect>`,
      );
    } else {
      parts.push(
        `<rect class="gap" x="${COL_X}" y="${s.y0.toFixed(2)}" width="${COL_W}" height="${h.toFixed(2)}" fill="url(#gapHatch)" stroke="#ccc" stroke-dasharray="3 2"/>`,
      );
      if (h >= 11) {
        parts.push(
          `<text class="gap-label" x="${COL_X + COL_W / 2}" y="${((s.y0 + s.y1) / 2 + 3.5).toFixed(2)}" text-anchor="middle">gap ${esc(humanBytes(s.hi - s.lo))}</text>`,
        );
      }
    }
  }

  // Address axis: the top and bottom address of every run of adjacent regions.
  let runTop: Seg | undefined;
  let lastAxisY = -100;
  const axisLabel = (yy: number, addr: bigint) => {
    if (yy - lastAxisY < 11) yy = lastAxisY + 11;
    lastAxisY = yy;
    parts.push(
      `<text class="axis" x="${AXIS_X - 6}" y="${(yy + 3.5).toFixed(2)}" text-anchor="end">${hex(addr)}</text>`,
    );
  };
  segs.forEach((s, i) => {
    if (!s.region) return;
    if (!runTop) runTop = s;
    const next = segs[i + 1];
    if (!next?.region) {
      axisLabel(runTop.y0, runTop.hi);
      if (s.y1 - runTop.y0 >= 22) axisLabel(s.y1, s.lo);
      runTop = undefined;
    }
  });

  // SFrame text ranges: lanes so overlapping ranges stay distinguishable.
  const lanes: number[][] = [];
  const laneOf = (y0: number, y1: number): number => {
    for (let l = 0; ; l++) {
      const used = lanes[l] ?? [];
      if (!used.some((v, k) => k % 2 === 0 && !(y1 < v || y0 > (used[k + 1] as number)))) {
        used.push(y0, y1);
        lanes[l] = used;
        return l;
      }
    }
  };
  for (const r of sframe) {
    const y0 = yOf(r.textEnd);
    const y1 = Math.max(y0 + 2, yOf(r.textStart));
    const lane = Math.min(3, laneOf(y0, y1));
    const x = COL_X - 12 - lane * (LANE_W + 2);
    const colour = STATE_COLOURS[r.state];
    const dash = r.state === "registered" ? "" : ` stroke-dasharray="3 2"`;
    const tip = `SFrame ${r.state} (${r.origin}${r.label ? `, ${r.label}` : ""}): text [${hex(r.textStart)}, ${hex(r.textEnd)}) — section [${hex(r.sframeStart)}, ${hex(r.sframeEnd)})`;
    parts.push(
      `<g class="sframe-range" data-state="${r.state}"><title>${esc(tip)}</title>` +
        `<rect x="${x}" y="${y0.toFixed(2)}" width="${LANE_W}" height="${(y1 - y0).toFixed(2)}" fill="${r.state === "registered" ? colour : "#fff"}" stroke="${colour}" stroke-width="1.4"${dash}/>` +
        `<rect x="${COL_X}" y="${y0.toFixed(2)}" width="${COL_W}" height="${(y1 - y0).toFixed(2)}" fill="url(#sf-${r.state})" stroke="${colour}" stroke-width="1"${dash}/>`,
    );
    const s0 = yOf(r.sframeEnd);
    const s1 = Math.max(s0 + 2, yOf(r.sframeStart));
    parts.push(
      `<rect class="sframe-section" x="${COL_X + COL_W + 2}" y="${s0.toFixed(2)}" width="6" height="${(s1 - s0).toFixed(2)}" fill="${colour}"${dash}/></g>`,
    );
  }

  // Callout labels, pushed down so they never overlap, with leader lines to their region.
  interface Callout {
    readonly y: number;
    readonly lines: number;
    readonly html: string;
  }
  const callouts: Callout[] = [];
  for (const s of segs) {
    const r = s.region;
    if (!r) continue;
    const inRegion = sframe.filter((f) => f.textStart >= r.start && f.textStart < r.end);
    // Registrations go on a second line, so long labels never run off the picture.
    const marks = inRegion
      .map(
        (f) =>
          `<tspan fill="${STATE_COLOURS[f.state]}" font-weight="bold">${f.state}${f.origin === "exec" ? " (at exec)" : ""}</tspan>`,
      )
      .join(", ");
    const second = inRegion.length
      ? `<tspan x="${LABEL_X + 12}" dy="12" fill="#555">◀ SFrame text ${marks}</tspan>`
      : "";
    const name = r.ghost
      ? `<tspan fill="#777" font-style="italic">not mapped</tspan>`
      : `<tspan font-weight="bold">${esc(baseName(r.name))}</tspan>`;
    callouts.push({
      y: (s.y0 + s.y1) / 2,
      lines: inRegion.length ? 2 : 1,
      html: `${r.start.toString(16)}-${r.end.toString(16)} ${r.perms ? `${esc(r.perms)} ` : ""}${name} <tspan fill="#777">${esc(humanBytes(r.end - r.start))}</tspan>${second}`,
    });
  }
  for (const f of sframe) {
    if (regions.some((r) => f.textStart >= r.start && f.textStart < r.end)) continue;
    callouts.push({
      y: (yOf(f.textStart) + yOf(f.textEnd)) / 2,
      lines: 1,
      html: `<tspan fill="${STATE_COLOURS[f.state]}" font-weight="bold">SFrame text [${f.textStart.toString(16)}, ${f.textEnd.toString(16)}) ${f.state}: no mapping there${f.label ? ` (${esc(f.label)})` : ""}</tspan>`,
    });
  }
  callouts.sort((a, b) => a.y - b.y);
  let nextFree = TOP;
  for (const c of callouts) {
    const ly = Math.max(c.y, nextFree);
    nextFree = ly + LABEL_H + (c.lines - 1) * 12;
    parts.push(
      `<path class="leader" d="M${COL_X + COL_W + 9} ${c.y.toFixed(2)} L${LABEL_X - 14} ${c.y.toFixed(2)} L${LABEL_X - 4} ${ly.toFixed(2)}" fill="none" stroke="#aaa" stroke-width="0.7"/>`,
      `<text class="label" x="${LABEL_X}" y="${(ly + 4).toFixed(2)}">${c.html}</text>`,
    );
  }

  const height = Math.ceil(Math.max(columnBottom, nextFree) + 16);
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" class="address-map" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="address space">` +
    `<text class="axis-title" x="${COL_X}" y="14">high addresses ↑</text>` +
    parts.join("") +
    "</svg>";
  return { svg, width, height, bytesPerPx };
}
