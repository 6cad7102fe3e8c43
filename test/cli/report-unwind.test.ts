/**
 * `ldsim unwind` and `ldsim report` end to end through the CLI entry point: the text is the RFC
 * experiment's two perf-script samples, `--json` carries each frame's method and the stop reasons,
 * the report is one self-contained page, bad option values are one line on stderr and exit 1.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../support/run-cli.ts";

const LIBC = "/lib/x86_64-linux-gnu/libc.so.6";
const hasLibc = existsSync(LIBC) && existsSync("/usr/lib/debug/.build-id");
if (!hasLibc) console.warn(`skipping ldsim unwind/report: needs ${LIBC} and its debug symbols (Debian libc6-dbg)`);

const run = (...argv: string[]) => runCli(argv);

const dir = mkdtempSync(join(tmpdir(), "ldsim-report-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("bad option values", () => {
  it("are one line on stderr and exit 1", async () => {
    const r = await run("unwind", "--register-rules", "everywhere");
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("ldsim: unknown --register-rules 'everywhere' (expected kernel or unwound-sp-fp)\n");
    const q = await run("report", "--libc-sframe", "yes", "-o", join(dir, "x.html"));
    expect(q.code).toBe(1);
    expect(q.stderr.split("\n")).toHaveLength(2);
    expect(existsSync(join(dir, "x.html"))).toBe(false);
  });
});

describe.skipIf(!hasLibc)("ldsim unwind / report on the RFC experiment", () => {
  it("unwind prints two perf-script samples; only the relaxed rules with glibc SFrame reach _start", async () => {
    const a = await run("unwind");
    expect(a.code).toBe(0);
    const samples = a.stdout.split("\n\n").filter((s) => s.length > 0);
    expect(samples).toHaveLength(2);
    for (const s of samples) {
      const [header, ...lines] = s.split("\n");
      expect(header).toMatch(/^main {2}1000 {5}[12]\.000000: {5}250000 cpu-clock: $/);
      for (const l of lines) expect(l).toMatch(/^\t {4}[0-9a-f]{12} \S+ \(.+\)$/);
    }
    expect(a.stdout).not.toContain(" _start+");
    const b = await run("unwind", "--register-rules", "unwound-sp-fp", "--libc-sframe", "from-eh-frame");
    expect(b.stdout.split("\n\n")[0]).toMatch(/\t {4}[0-9a-f]{12} _start\+0x[0-9a-f]+ \(.*\/main\)$/);
  });

  it("unwind --json gives frames with their method and each trace's stop reason", async () => {
    const r = await run("unwind", "--json");
    const j = JSON.parse(r.stdout) as {
      traces: {
        name: string;
        frames: { pc: string; symbol: string | null; method: string | null }[];
        stop: { kind: string; detail: string };
      }[];
      registrations: string[];
    };
    expect(j.traces.map((t) => t.name)).toEqual(["registered", "unregistered"]);
    expect(j.traces[0]?.frames.map((f) => f.symbol)).toEqual(["main_callback", "libb_deep", "libb_aligned"]);
    expect(j.traces[0]?.stop.kind).toBe("sframe-step-failed");
    expect(j.traces[1]?.frames.some((f) => f.method === "fp")).toBe(true);
    expect(j.registrations).toHaveLength(2);
  });

  it("report writes one self-contained HTML page", async () => {
    const file = join(dir, "rfc.html");
    const r = await run("report", "-o", file);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^wrote .*rfc\.html \(\d+ bytes\)\n$/);
    const html = readFileSync(file, "utf8");
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain("<svg");
    expect(html).toContain('<table class="timeline">');
    expect(html.match(/<article class="trace"/g)).toHaveLength(2);
    expect(html).not.toMatch(/<link\b|\bsrc=|href="http/);
  });

  it("report --json prints the page's data: the maps with libb.so's text, the registrations, two traces", async () => {
    const r = await run("report", "--json");
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout) as {
      regions: { perms: string; name: string }[];
      timeline: unknown[];
      traces: unknown[];
    };
    expect(d.regions.some((x) => x.perms === "r-xp" && x.name.endsWith("/libb.so"))).toBe(true);
    expect(JSON.stringify(d.timeline)).toContain("stacktrace_setup");
    expect(d.traces).toHaveLength(2);
  });

  it("report --proposals adds the lab's comparison table for each workload", async () => {
    const file = join(dir, "lab.html");
    const r = await run("report", "-o", file, "--proposals", "fixtures");
    expect(r.code).toBe(0);
    const html = readFileSync(file, "utf8");
    expect(html).toContain('<section id="appendix">');
    const table = /<section class="proposals" id="proposals-fixtures">[\s\S]*?<thead>([\s\S]*?)<\/thead>/.exec(html);
    for (const d of ["syscall", "prctl", "mmap-detect", "lazy", "none"]) expect(table?.[1]).toContain(`>${d}<`);
    const bad = await run("report", "-o", file, "--proposals", "nope");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/unknown workload 'nope'/);
  });
});
