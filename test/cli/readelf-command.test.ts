/**
 * The `ldsim readelf` command end to end (argument parsing, several files, errors, --json), run
 * in-process through cli/main.ts and compared with GNU readelf -W on the same arguments.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { runCli } from "../support/run-cli.ts";

const hasReadelf = spawnSync("readelf", ["--version"]).status === 0;
if (!hasReadelf) console.warn("readelf-command: GNU readelf not found; parity cases skipped");

const FIX = join(import.meta.dirname, "..", "fixtures");
const LIB = join(FIX, "readelf/x86_64/libfull.so");
const EXE = join(FIX, "readelf/i686/main-pie");
const OBJ = join(FIX, "sframe/v3/s390x/liba.o");

/** Run `ldsim …` in-process; stdout as latin1 text (the bytes written). */
async function ldsim(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await runCli(args);
  return { code: r.code, out: r.stdout, err: r.stderr };
}

function readelf(args: string[]): string {
  return spawnSync("readelf", args, { encoding: "latin1" }).stdout;
}

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

describe.skipIf(!hasReadelf)("ldsim readelf command against readelf -W", () => {
  const cases: string[][] = [
    ["-h", "-l", "-S", "-d"],
    ["-d", "-S"],
    ["-hlSd"],
    ["--file-header", "--segments", "--sections", "--dynamic"],
    ["-e"],
    ["-l"],
    ["-a"],
    ["-g", "-u", "-I", "-A"],
  ];
  for (const opts of cases) {
    it(`${opts.join(" ")} over three files (File: banners, readelf's part order)`, async () => {
      const r = await ldsim(["readelf", "-W", ...opts, LIB, EXE, OBJ]);
      expect(r.code).toBe(0);
      expect(r.out).toBe(readelf(["-W", ...opts, LIB, EXE, OBJ]));
    });
  }
  it("one file: no File: banner", async () => {
    const r = await ldsim(["readelf", "-d", LIB]);
    expect(r.out).toBe(readelf(["-W", "-d", LIB]));
    expect(r.out).not.toContain("File:");
  });
});

describe("ldsim readelf errors and JSON", () => {
  it("a missing file: exit 1 and one line on stderr", async () => {
    const r = await ldsim(["readelf", "-h", join(FIX, "does-not-exist.so")]);
    expect(r.code).toBe(1);
    expect(r.err.trim().split("\n")).toHaveLength(1);
  });
  it("not an ELF file: exit 1 and one line naming it", async () => {
    const r = await ldsim(["readelf", "-h", join(FIX, "readelf/build.sh")]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^ldsim: .*build\.sh: not an ELF file/);
    expect(r.err.trim().split("\n")).toHaveLength(1);
  });
  it("no display option: exit 1", async () => {
    const r = await ldsim(["readelf", LIB]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no display option/);
  });
  it.skipIf(!hasReadelf)("--json: the same records readelf prints", async () => {
    const r = await ldsim(["readelf", "--json", "-h", "-l", "-S", "-d", LIB]);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out) as {
      header: { machineName: string; typeName: string };
      sections: { name: string; typeName: string }[];
      programHeaders: { typeName: string }[];
      dynamic: { offset: number; rows: { type: string; text: string }[] };
    };
    const text = readelf(["-W", "-h", "-l", "-S", "-d", LIB]);
    expect(text).toContain(`Machine:                           ${j.header.machineName}\n`);
    expect(text).toContain(`Type:                              ${j.header.typeName}\n`);
    for (const s of j.sections.slice(1))
      expect(text).toMatch(new RegExp(`\\] ${s.name.replaceAll(".", "\\.")}\\s+${s.typeName} `));
    for (const p of j.programHeaders) expect(text).toContain(`  ${p.typeName.padEnd(14)} 0x`);
    expect(text).toContain(
      `Dynamic section at offset 0x${j.dynamic.offset.toString(16)} contains ${j.dynamic.rows.length} entries`,
    );
    for (const row of j.dynamic.rows) expect(text).toContain(`(${row.type})`);
    for (const row of j.dynamic.rows.filter((x) => x.text.length > 0)) expect(text).toContain(row.text);
  });
});
