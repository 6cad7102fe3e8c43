import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { addressReuse } from "../../examples/validate-proposal-lib.ts";
import { renderReport } from "../../report/html.ts";
import type { ReportData } from "../../report/model.ts";
import { rfcOptionsFrom, rfcReportData } from "../../report/rfc-report.ts";

const LIBC = "/lib/x86_64-linux-gnu/libc.so.6";
const hasLibc = existsSync(LIBC) && existsSync("/usr/lib/debug/.build-id");
if (!hasLibc) console.warn(`skipping the RFC report: needs ${LIBC} and its debug symbols (Debian libc6-dbg)`);

const CHROMIUM = "chromium";
const hasChromium = spawnSync(CHROMIUM, ["--version"], { encoding: "utf8" }).status === 0;
if (!hasChromium) {
  console.warn(
    "skipping the headless-Chromium checks: no `chromium` on PATH (Debian package chromium; .ci/run installs it)",
  );
}

const OUT = resolve(".report-screenshots");

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page's structure as the data model says it must be, checked on the HTML text. */
function checkPage(html: string, data: ReportData): void {
  expect(html.startsWith("<!DOCTYPE html>")).toBe(true);
  // Self-contained: no external scripts, styles, images or fonts.
  expect(html).not.toMatch(/<link\b|<img\b|\bsrc=|@import|url\((?!#)|href="http/);
  expect(html.match(/<svg\b/g)).toHaveLength(1);
  expect(html.match(/<rect class="region"/g)).toHaveLength(data.regions.length);
  for (const r of data.regions)
    expect(html).toContain(`data-lo="0x${r.start.toString(16)}" data-hi="0x${r.end.toString(16)}"`);
  expect(html.match(/<g class="sframe-range"/g) ?? []).toHaveLength(data.sframe.length);
  const tbody = /<tbody>([\s\S]*?)<\/tbody>/.exec(html)?.[1] ?? "";
  expect(tbody.match(/<tr /g)).toHaveLength(data.timeline.length);
  for (const e of data.timeline) expect(tbody).toContain(esc(e.text));
  expect(html.match(/<article class="trace"/g)).toHaveLength(data.traces.length);
  for (const t of data.traces) for (const l of t.lines) expect(html).toContain(esc(l.replace(/^\t/, "")));
}

function chromium(args: string[]): { status: number | null; stdout: string } {
  const profile = join(OUT, `profile-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const r = spawnSync(
    CHROMIUM,
    [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-dev-shm-usage",
      `--user-data-dir=${profile}`,
      ...args,
    ],
    { encoding: "utf8", timeout: 60_000, maxBuffer: 64 << 20 },
  );
  spawnSync("rm", ["-rf", profile]);
  return { status: r.status, stdout: r.stdout };
}

/** Write the page, let Chromium parse it (DOM after scripts) and screenshot it. */
function openInChromium(name: string, html: string, data: ReportData): void {
  mkdirSync(OUT, { recursive: true });
  const page = join(OUT, `${name}.html`);
  const png = join(OUT, `${name}.png`);
  writeFileSync(page, html);
  const url = pathToFileURL(page).href;
  const dom = chromium(["--dump-dom", url]);
  expect(dom.status).toBe(0);
  expect(dom.stdout.match(/<rect class="region"/g)).toHaveLength(data.regions.length);
  expect(dom.stdout.match(/<div class="frame"/g)?.length).toBe(data.traces.reduce((n, t) => n + t.lines.length, 0));
  const shot = chromium([`--screenshot=${png}`, "--window-size=1400,2000", url]);
  expect(shot.status).toBe(0);
  const bytes = readFileSync(png);
  // PNG IHDR: the window size, and far more than a blank page's few kilobytes.
  expect(bytes.readUInt32BE(16)).toBe(1400);
  expect(bytes.readUInt32BE(20)).toBe(2000);
  expect(statSync(png).size).toBeGreaterThan(60_000);
  console.log(`report screenshot: ${png}`);
}

describe("ldsim report page", () => {
  it("an edge case (address reuse) renders every region, registration, timeline row and trace", () => {
    const data = addressReuse().report();
    const html = renderReport(data);
    checkPage(html, data);
    // The stale libb.so entry is drawn as still registered over liba.so's text.
    expect(data.sframe.map((s) => s.state)).toEqual(["unregistered", "registered"]);
  });

  it.skipIf(!hasChromium)(
    "headless Chromium parses the edge-case page and screenshots it",
    () => {
      const data = addressReuse().report();
      openInChromium("address-reuse", renderReport(data), data);
    },
    120_000,
  );

  describe.skipIf(!hasLibc)("the RFC experiment's report", () => {
    const data = rfcReportData(rfcOptionsFrom({ registerRules: "unwound-sp-fp", libcSframe: "from-eh-frame" }));
    const html = renderReport(data);

    it("has the map, the timeline of syscalls and registrations, and both traces", () => {
      checkPage(html, data);
      expect(data.traces).toHaveLength(2);
      expect(data.traces[0]?.lines.at(-1)).toMatch(/ _start\+0x[0-9a-f]+ /);
      // main (exec), liba.so, libb.so (unregistered at the end), glibc's derived section.
      expect(data.sframe.map((s) => s.state)).toEqual(["registered", "registered", "unregistered", "registered"]);
      const kinds = data.timeline.map((e) => e.kind);
      expect(kinds.filter((k) => k === "register")).toHaveLength(4);
      expect(kinds.filter((k) => k === "unregister")).toHaveLength(1);
      expect(kinds.indexOf("note")).toBeLessThan(kinds.indexOf("unregister"));
      expect(html).toContain("libc.so.6</tspan>");
    });

    it.skipIf(!hasChromium)(
      "headless Chromium parses it and screenshots it",
      () => {
        openInChromium("rfc-report", html, data);
      },
      120_000,
    );
  });
});
