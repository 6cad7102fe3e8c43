import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { LIBA, LIBB, MAIN } from "../../lab/workloads/fixture-files.ts";
import { runCli } from "../support/run-cli.ts";

describe("ldsim proposals compare", () => {
  it("prints a side-by-side table for a named workload", async () => {
    const r = await runCli(["proposals", "compare", "--workload", "fixtures"]);
    expect(r.code).toBe(0);
    const header = r.stdout.split("\n").find((l) => l.trimStart().startsWith("syscall"));
    expect(header?.trim().split(/\s+/)).toEqual(["syscall", "prctl", "mmap-detect", "lazy", "none"]);
    expect(r.stdout).toMatch(/^syscalls added\s+2\s+2\s+0\s+0\s+0$/m);
  });

  it("--json with --design and a workload FILE", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ldsim-proposals-"));
    const file = join(dir, "w.json");
    writeFileSync(
      file,
      JSON.stringify({
        name: "two-cycles",
        steps: [
          { exec: MAIN },
          {
            repeat: 2,
            steps: [
              { dlopen: LIBB, as: "b" },
              { dlopen: LIBA, as: "a" },
              { sample: "fixture-chain" },
              { dlclose: "a" },
              { dlclose: "b" },
            ],
          },
        ],
      }),
    );
    const r = await runCli(["proposals", "compare", "--workload", file, "--design", "syscall,none", "--json"]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as {
      workload: { name: string };
      runs: { design: string; syscalls: { added: number }; samples: { full: number } }[];
    };
    expect(j.workload.name).toBe("two-cycles");
    expect(j.runs.map((x) => [x.design, x.syscalls.added, x.samples.full])).toEqual([
      ["syscall", 8, 2],
      ["none", 0, 0],
    ]);
  });

  it("an unknown design or workload is one error line and status 1", async () => {
    expect((await runCli(["proposals", "compare", "--design", "ioctl"])).code).toBe(1);
    const r = await runCli(["proposals", "compare", "--workload", "nope"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown workload "nope"/);
  });
});
