import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../scenario/run.ts";
import { runCli } from "../support/run-cli.ts";

const ok = existsSync("/usr/bin/true");
if (!ok) console.warn("scenario command tests skipped: /usr/bin/true missing");

describe.skipIf(!ok)("ldsim scenario FILE [--json]", () => {
  it("prints the timeline (syscalls, kernel registrations, unwinds) and passes the example's assertions", async () => {
    const r = await runCli(["scenario", join(REPO_ROOT, "scenario/examples/race-sample-after-munmap.json")]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("[T1] syscall stacktrace_setup(0x1, ");
    expect(r.stdout).toContain("[T2] kernel  sframe auto-remove ");
    expect(r.stdout).toContain("[T2] unwind  ");
    expect(r.stdout.trimEnd().endsWith("all assertions passed")).toBe(true);
  });

  it("--json, and exit status 1 when an assertion fails", async () => {
    const f = join(mkdtempSync(join(tmpdir(), "ldsim-sc-")), "s.json");
    writeFileSync(
      f,
      JSON.stringify({
        exec: "/usr/bin/true",
        steps: [
          { op: "dlopen", file: "./nope.so", mode: "RTLD_NOW" },
          { op: "assert", label: "error text", dlerror: "wrong" },
        ],
      }),
    );
    const r = await runCli(["scenario", f, "--json"]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout) as { failures: string[] };
    expect(j.failures).toEqual([
      `error text: dlerror() = "${join(f, "..", "nope.so")}: cannot open shared object file: No such file or directory", expected "wrong"`,
    ]);
  });
});
