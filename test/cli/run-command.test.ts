import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hasGcc, hasStrace } from "../loader/build-fixtures.ts";
import { buildStartupPrograms, normaliseStrace, realRun } from "../loader/startup-fixtures.ts";
import { runCli } from "../support/run-cli.ts";

const ok = hasGcc() && hasStrace();
if (!ok) console.warn("ldsim run command tests skipped: gcc, setarch or strace missing");

describe.skipIf(!ok)("ldsim run (command line)", () => {
  it("--maps prints /proc/PID/maps at main = what the real program prints first thing in main", async () => {
    const b = buildStartupPrograms();
    const real = realRun(b.maps, [b.maps], {}, b.dir);
    const r = await runCli(["run", "--maps", b.maps]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n").filter((l) => /^[0-9a-f]+-[0-9a-f]+ /.test(l));
    expect(lines).toEqual(real.stdout.split("\n").filter((l) => /^[0-9a-f]+-[0-9a-f]+ /.test(l)));
  });

  it("--trace prints strace's lines from execve to the call before main", async () => {
    const b = buildStartupPrograms();
    const real = realRun(b.maps, [b.maps], {}, b.dir);
    const r = await runCli(["run", "--trace", b.maps]);
    const lines = r.stdout.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
    const main = real.strace.findIndex((l) => l.includes('"/proc/self/maps"'));
    expect(lines.map(normaliseStrace)).toEqual(real.strace.slice(0, main).map(normaliseStrace));
  });

  it("--debug and --env: LD_DEBUG lines, the program named by argv[0]", async () => {
    const b = buildStartupPrograms();
    const r = await runCli(["run", "--debug=scopes", "--env", "X=1", b.diamond]);
    expect(r.stdout).toContain("\tInitial object scopes");
    expect(r.stdout).toMatch(new RegExp(`\\tobject=${b.diamond} \\[0\\]`));
  });

  it("--json: objects, relocation and init order, TLS", async () => {
    const b = buildStartupPrograms();
    const r = await runCli(["run", "--json", b.diamond]);
    const j = JSON.parse(r.stdout) as {
      status: number;
      relocationOrder: string[];
      initOrder: { object: string; kind: string }[];
      tls: { tcb: string } | null;
    };
    expect(j.status).toBe(0);
    expect(j.relocationOrder.at(-1)).toBe("/lib64/ld-linux-x86-64.so.2");
    expect(j.initOrder[0]).toMatchObject({ object: `${b.dir}/lib/libd.so`, kind: "DT_INIT" });
    expect(j.tls?.tcb).toMatch(/^0x7ffff7/);
  });

  it("a missing library: glibc's message on stderr and exit status 127, as the real program", async () => {
    const b = buildStartupPrograms();
    const dir = mkdtempSync(join(tmpdir(), "ldsim-run-cli-"));
    const alone = join(dir, "diamond");
    copyFileSync(b.diamond, alone);
    chmodSync(alone, 0o755);
    const real = spawnSync("setarch", ["-R", alone], { encoding: "latin1", env: {} });
    const r = await runCli(["run", alone]);
    expect(real.status).toBe(127);
    expect(r.code).toBe(127);
    expect(r.stderr).toBe(real.stderr);
    const bad = await runCli(["run", "--env", "NOEQUALS", "/usr/bin/true"]);
    expect(bad.code).toBe(2);
  });
});
