import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildPrograms, hasGcc } from "../loader/build-fixtures.ts";
import { runCli } from "../support/run-cli.ts";

const run = (argv: string[]) => runCli(argv);

/** The real command under setarch -R: stdout, stderr, status. */
function real(cmd: string, args: string[]) {
  const r = spawnSync("setarch", ["-R", cmd, ...args], {
    encoding: "latin1",
    env: { ...process.env, LD_LIBRARY_PATH: "" },
  });
  return { stdout: r.stdout, stderr: r.stderr, code: r.status ?? -1 };
}

let haveLdd = true;
try {
  execFileSync("setarch", ["-R", "ldd", "--version"], { stdio: "ignore" });
} catch {
  haveLdd = false;
}
if (!haveLdd) console.warn("ldsim ldd command tests skipped: setarch or ldd missing");

describe.skipIf(!haveLdd)("ldsim ldd (command line) = ldd", () => {
  it("one file: the same lines and status", async () => {
    const r = await run(["ldd", "/usr/bin/ls"]);
    expect(r).toEqual(real("ldd", ["/usr/bin/ls"]));
  });
  it("several files get a header each", async () => {
    const r = await run(["ldd", "/usr/bin/ls", "/usr/bin/cat"]);
    expect(r).toEqual(real("ldd", ["/usr/bin/ls", "/usr/bin/cat"]));
  });
  it("a missing file and a non-ELF file fail as ldd does", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ldsim-ldd-"));
    const text = join(dir, "notes.txt");
    writeFileSync(text, "hello\n");
    expect(await run(["ldd", join(dir, "absent")])).toEqual(real("ldd", [join(dir, "absent")]));
    expect(await run(["ldd", text])).toEqual(real("ldd", [text]));
  });
  it.skipIf(!hasGcc())("--list: exit 127 and glibc's message on a missing library", async () => {
    const b = buildPrograms();
    const r = await run(["ldd", "--list", b.missing]);
    expect(r).toEqual(real("/lib64/ld-linux-x86-64.so.2", ["--list", b.missing]));
    expect(r.code).toBe(127);
    const t = await run(["ldd", b.missing]);
    expect(t).toEqual(real("ldd", [b.missing]));
  });
  it("--json lists the objects ldd prints, with the same paths and addresses", async () => {
    const r = await run(["ldd", "--json", "/usr/bin/ls"]);
    expect(r.code).toBe(0);
    const [doc] = JSON.parse(r.stdout) as { objects: { name: string; path: string; address: string }[] }[];
    const want = real("ldd", ["/usr/bin/ls"])
      .stdout.split("\n")
      .filter(Boolean)
      .map((l) => {
        const m = /^\t(\S+)(?: => (\S+))? \((0x[0-9a-f]+)\)$/.exec(l);
        return { name: m?.[1], path: m?.[2] ?? m?.[1], address: m?.[3] };
      });
    expect(doc?.objects).toEqual(want);
  });
});
