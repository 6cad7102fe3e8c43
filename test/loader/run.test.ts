import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ElfFile } from "../../formats/elf/file.ts";
import { hostRtldProfile } from "../../loader/host-profile.ts";
import { type RunResult, runToMain, spawnForRun } from "../../loader/run.ts";
import { hasGcc, hasStrace } from "./build-fixtures.ts";
import { buildStartupPrograms, normaliseStrace, realRun } from "./startup-fixtures.ts";

const ok = hasGcc() && hasStrace();
if (!ok) console.warn("startup parity tests (run.test.ts) skipped: gcc, strace or setarch missing");

const ENV = { PATH: "/usr/bin:/bin" };

function sim(exe: string, env: Record<string, string>, cwd: string, argv: string[] = [exe]): RunResult {
  const proc = spawnForRun({ cwd });
  return runToMain(proc, exe, { argv, env, profile: hostRtldProfile() });
}

/** The real trace up to main: everything before the marker `openat(/proc/self/maps)` main starts with. */
function untilMain(lines: readonly string[]): string[] {
  const i = lines.findIndex((l) => l.startsWith('openat(AT_FDCWD, "/proc/self/maps"'));
  return i < 0 ? [...lines] : lines.slice(0, i);
}

describe.skipIf(!ok)("strace from execve to main = strace of the real program (setarch -R)", () => {
  const b = ok ? buildStartupPrograms() : undefined;
  const cases: [string, string, Record<string, string>][] = b
    ? [
        ["libc only", b.maps, ENV],
        ["libc only, LD_BIND_NOW=1", b.maps, { ...ENV, LD_BIND_NOW: "1" }],
        ["dependency diamond with constructors, RPATH $ORIGIN", b.diamond, ENV],
        ["initial-exec TLS in a library and the program, preinit array", b.tls, ENV],
        ["-z now, RELR, libm", b.now, ENV],
        ["LD_LIBRARY_PATH", b.maps, { ...ENV, LD_LIBRARY_PATH: `${b.dir}/lib` }],
      ]
    : [];
  for (const [what, exe, env] of cases) {
    it(`${what} (up to the marker syscall main starts with)`, () => {
      const dir = b?.dir ?? "/";
      const real = realRun(exe, [exe], env, dir);
      // Constructors run before main; their write() calls are the program's, not the loader's.
      const realPre = untilMain(real.strace).filter((l) => !l.startsWith("write(1, "));
      const mine = sim(exe, env, dir);
      expect(mine.error).toBeUndefined();
      expect(mine.strace.map(normaliseStrace)).toEqual(realPre.map(normaliseStrace));
    });
  }
  it("an undefined symbol under LD_BIND_NOW: 'symbol lookup error', exit status 127, the same calls up to its write", () => {
    const dir = b?.dir ?? "/";
    const exe = b?.symbolMissing ?? "";
    const env = { ...ENV, LD_BIND_NOW: "1" };
    const real = realRun(exe, [exe], env, dir);
    const mine = sim(exe, env, dir);
    let stderr = "";
    let status = 0;
    try {
      execFileSync("setarch", ["-R", exe], { cwd: dir, env, stdio: ["ignore", "ignore", "pipe"] });
    } catch (e) {
      stderr = String((e as { stderr: Buffer }).stderr);
      status = (e as { status: number }).status;
    }
    expect(status).toBe(127);
    expect(mine.error).toEqual({ message: stderr.trimEnd(), status });
    const n = mine.strace.length;
    expect(mine.strace.map(normaliseStrace)).toEqual(real.strace.slice(0, n).map(normaliseStrace));
    expect(real.strace[n]).toMatch(/^write(v)?\(2, /);
  });
  it("a required version missing: ld.so's message, exit status 1, the same calls up to its write", () => {
    const dir = b?.dir ?? "/";
    const exe = b?.versionMissing ?? "";
    const real = realRun(exe, [exe], ENV, dir);
    const mine = sim(exe, ENV, dir);
    let stderr = "";
    let status = 0;
    try {
      execFileSync("setarch", ["-R", exe], { cwd: dir, env: ENV, stdio: ["ignore", "ignore", "pipe"] });
    } catch (e) {
      stderr = String((e as { stderr: Buffer }).stderr);
      status = (e as { status: number }).status;
    }
    expect(mine.error).toEqual({ message: stderr.trimEnd(), status });
    expect(status).toBe(1);
    const n = mine.strace.length;
    expect(mine.strace.map(normaliseStrace)).toEqual(real.strace.slice(0, n).map(normaliseStrace));
    expect(real.strace[n]).toMatch(/^write(v)?\(2, /);
  });
  // System programs have no marker: the simulated run must be a prefix of the real trace (what
  // follows is libc's or the program's own work: getrandom for malloc, libselinux's constructor, …).
  // apt-config is C++: libstdc++'s STB_GNU_UNIQUE symbols make ld.so's unique table grow in its minimal malloc.
  const system = ["true", "cat", "grep", "sed", "python3", "git", "perl", "bash", "strace", "ssh", "curl", "apt-config"]
    .map((p) => `/usr/bin/${p}`)
    .filter((p) => {
      try {
        return ElfFile.fromBytes(readFileSync(p), p).programHeaders.some((h) => h.type === 3);
      } catch {
        return false;
      }
    });
  it.each(system)("%s --version: the simulated execve → main is the real trace's prefix", (exe) => {
    const real = realRun(exe, [exe, "--version"], ENV, "/tmp");
    const mine = sim(exe, ENV, "/tmp", [exe, "--version"]);
    expect(mine.error).toBeUndefined();
    const n = mine.strace.length;
    expect(n).toBeGreaterThan(25);
    expect(mine.strace.map(normaliseStrace)).toEqual(real.strace.slice(0, n).map(normaliseStrace));
    expect(mine.strace[n - 1]).toMatch(/^munmap\(/);
  });
});

describe.skipIf(!ok)("/proc/self/maps at main = what the real program prints first thing in main", () => {
  const b = ok ? buildStartupPrograms() : undefined;
  const cases: [string, string][] = b
    ? [
        ["libc only", b.maps],
        ["diamond", b.diamond],
        ["TLS", b.tls],
        ["-z now, RELR, libm", b.now],
      ]
    : [];
  for (const [what, exe] of cases) {
    it(what, () => {
      const dir = b?.dir ?? "/";
      const real = realRun(exe, [exe], ENV, dir);
      const realMaps = real.stdout.split("\n").filter((l) => /^[0-9a-f]+-[0-9a-f]+ /.test(l));
      const mine = sim(exe, ENV, dir);
      expect(mine.maps.split("\n").filter((l) => l !== "")).toEqual(realMaps);
    });
  }
});

/**
 * The real debug output up to main: through "transferring control: X" and its blank line; for
 * statistics alone (no impcalls lines), up to the second report, which _dl_fini prints at exit.
 */
function debugUntilMain(lines: readonly string[]): string[] {
  const i = lines.findIndex((l) => l.startsWith("PID:\ttransferring control: "));
  if (i >= 0) return lines.slice(0, i + 2);
  const f = lines.findIndex((l) => l.startsWith("PID:\t           final number of relocations"));
  return f < 0 ? [...lines] : lines.slice(0, f - 2);
}
const normaliseDebug = (l: string) =>
  l
    .replace(/^ *\d+:/, "PID:")
    .replace(
      /(startup time in dynamic loader|time needed for relocation|time needed to load objects): \d+ cycles( \([\d.]+%\))?/,
      "$1: N cycles",
    );

describe.skipIf(!ok)("LD_DEBUG at main = the real ld.so's (LD_DEBUG_OUTPUT, pid normalised)", () => {
  const b = ok ? buildStartupPrograms() : undefined;
  const cats = ["libs", "files", "symbols", "bindings", "reloc", "scopes", "versions", "statistics"];
  const progs: [string, string, Record<string, string>][] = b
    ? [
        ["libc only", b.maps, {}],
        ["diamond", b.diamond, {}],
        ["TLS, preinit array", b.tls, {}],
        ["-z now, RELR, libm", b.now, {}],
        ["LD_BIND_NOW=1", b.maps, { LD_BIND_NOW: "1" }],
      ]
    : [];
  for (const [what, exe, extra] of progs) {
    for (const cat of cats) {
      it(`${cat}: ${what}`, () => {
        const dir = b?.dir ?? "/";
        const env = { ...ENV, ...extra, LD_DEBUG: cat };
        const real = debugUntilMain(realRun(exe, [exe], env, dir).debug).map(normaliseDebug);
        const mine = sim(exe, { ...env, LD_DEBUG_OUTPUT: "/dev/null" }, dir).debug.map(normaliseDebug);
        expect(real.length).toBeGreaterThan(3);
        expect(mine).toEqual(real);
      });
    }
  }
});

describe.skipIf(!ok)("init order = the order the real constructors print in (lib deps diamond)", () => {
  it("DT_INIT, DT_INIT_ARRAY of libd, then libb/libc2 as _dl_sort_maps orders them, then the program's", () => {
    const b = buildStartupPrograms();
    const real = realRun(b.diamond, [b.diamond], ENV, b.dir);
    const printed = real.stdout.split("\n").filter((l) => /^[a-z0-9-]+$/.test(l));
    const mine = sim(b.diamond, ENV, b.dir);
    // Name each recorded call by the symbol at its address (the constructors are local symbols).
    const names: string[] = [];
    for (const c of mine.initOrder) {
      const path = c.map.name === "" ? b.diamond : c.map.name;
      const elf = ElfFile.fromBytes(readFileSync(path), path);
      const out = execFileSync("readelf", ["-sW", path], { encoding: "latin1" });
      void elf;
      const want = (c.addr - c.map.addr).toString(16).padStart(16, "0");
      const m = out.split("\n").find((l) => l.includes(`${want} `) && /FUNC/.test(l) && /(ctor_|d_init)/.test(l));
      if (m) names.push((/(ctor_\w+|d_init)/.exec(m)?.[1] ?? "").replace("ctor_", "").replace("d_init", "d-init"));
    }
    expect(names).toEqual(printed);
    expect(names).toEqual(["d-init", "d", "c2", "b", "main"].filter((n) => printed.includes(n)));
  });
});
