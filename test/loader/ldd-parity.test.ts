import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ldd } from "../../loader/ldd.ts";
import { dynamicExecutables, madeThpSizedFileMapping, realLdd } from "../../scripts/parity-ldd.ts";
import { buildPrograms, hasGcc } from "./build-fixtures.ts";

function hasTool(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
const haveLdd = hasTool("setarch", ["-R", "true"]) && hasTool("ldd", ["--version"]);
if (!haveLdd) console.warn("ldd parity tests skipped: setarch or ldd missing");

/** Every 8th dynamic executable of /usr/bin + /usr/sbin (sorted), capped at 40: deterministic. */
function sample(): string[] {
  const all = haveLdd ? dynamicExecutables() : [];
  return all.filter((_, i) => i % 8 === 0).slice(0, 40);
}

/**
 * Programs whose libraries are 2 MiB or more (libLLVM, libicudata, libapt-pkg, libsystemd-shared,
 * libpython, …): the kernel places those file mappings PMD-aligned (ext4's thp_get_unmapped_area),
 * and so does the kernel shim. The ones present on this machine are added to the sample.
 */
const THP_SIZED = [
  "/usr/bin/llc-14",
  "/usr/bin/derb",
  "/usr/bin/gdb",
  "/usr/bin/cmake",
  "/usr/bin/apt",
  "/usr/bin/journalctl",
  "/usr/bin/curl",
  "/usr/bin/git",
  "/usr/bin/gtk-launch",
  "/usr/bin/i686-linux-gnu-lto-dump-12",
];
const thpSample = haveLdd ? THP_SIZED.filter((f) => existsSync(f)) : [];
if (haveLdd && thpSample.length === 0) console.warn("ldd parity: none of the ≥ 2 MiB-library programs is installed");

describe.skipIf(!haveLdd)("ldsim ldd = ldd under setarch -R", () => {
  const files = sample();
  it("samples at least 30 system executables", () => {
    expect(files.length).toBeGreaterThanOrEqual(30);
  });
  it.skipIf(thpSample.length === 0)("the ≥ 2 MiB-library programs make a PMD-sized file mapping", () => {
    expect(thpSample.filter((f) => madeThpSizedFileMapping(ldd(f)))).toEqual(thpSample);
  });
  for (const f of [...files, ...thpSample.filter((f) => !files.includes(f))]) {
    it(f, () => {
      const real = realLdd(f);
      const mine = ldd(f);
      expect(mine.stdout + mine.stderr).toBe(real.out);
    });
  }
});

/** Every 15th shared library of the multiarch directory (sorted), capped at 20: deterministic. */
function librarySample(): string[] {
  const dir = "/usr/lib/x86_64-linux-gnu";
  if (!haveLdd || !existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => /\.so\.\d/.test(n))
    .sort()
    .filter((_, i) => i % 15 === 0)
    .slice(0, 20)
    .map((n) => join(dir, n));
}

describe.skipIf(!haveLdd)('ldsim ldd = ldd for shared libraries (incl. "statically linked")', () => {
  for (const f of librarySample()) {
    it(f, () => {
      const real = realLdd(f);
      const mine = ldd(f);
      expect(mine.stdout + mine.stderr).toBe(real.out);
    });
  }
});

describe.skipIf(!haveLdd || !hasGcc())("test programs (RPATH, RUNPATH, $ORIGIN, LD_LIBRARY_PATH, missing)", () => {
  const b = haveLdd && hasGcc() ? buildPrograms() : undefined;
  const cases: [string, string, Record<string, string>][] = b
    ? [
        ["RPATH", b.rpath, {}],
        ["RUNPATH (indirect dep not found)", b.runpath, {}],
        ["$ORIGIN", b.origin, {}],
        ["LD_LIBRARY_PATH", b.plain, { LD_LIBRARY_PATH: b.rp }],
        ["relative LD_LIBRARY_PATH", b.plain, { LD_LIBRARY_PATH: "rp" }],
        ["no path (both not found)", b.plain, {}],
        ["missing library", b.missing, {}],
        ["a library missing for two objects (two faked entries)", b.missingTwice, {}],
        ["same file by another path (dev/ino)", b.dedup, {}],
        ["RUNPATH + LD_LIBRARY_PATH", b.runpath, { LD_LIBRARY_PATH: b.rp }],
      ]
    : [];
  for (const [what, exe, env] of cases) {
    it(`ldd: ${what}`, () => {
      const real = execFileSync("setarch", ["-R", "ldd", exe], {
        encoding: "latin1",
        cwd: b?.dir,
        env: { ...process.env, LD_LIBRARY_PATH: "", ...env },
      });
      const mine = ldd(exe, { cwd: b?.dir ?? "/", env });
      expect(mine.stdout).toBe(real);
      expect(mine.status).toBe(0);
    });
  }
  it("--list exits 127 with glibc's message on a missing library", () => {
    if (!b) return;
    let realOut = "";
    let realStatus = 0;
    try {
      execFileSync("setarch", ["-R", "/lib64/ld-linux-x86-64.so.2", "--list", b.missing], {
        encoding: "latin1",
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, LD_LIBRARY_PATH: "" },
      });
    } catch (e) {
      const err = e as { stdout: string; stderr: string; status: number };
      realOut = err.stdout + err.stderr;
      realStatus = err.status;
    }
    const mine = ldd(b.missing, { list: true, cwd: b.dir });
    expect(realStatus).toBe(127);
    expect(mine.status).toBe(127);
    expect(mine.stdout + mine.stderr).toBe(realOut);
  });
});
