import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { KernelSframe } from "../../kernel-shim/sframe/kernel-sframe.ts";
import { ldd } from "../../loader/ldd.ts";
import { DEBIAN12_AARCH64, profileForMachine, profileFromLdSoHelp } from "../../loader/rtld-profile.ts";
import { runToMain, spawnForRun } from "../../loader/run.ts";
import {
  buildLdSoCache,
  dropQemuListLine,
  hasQemu,
  hasSysroot,
  maskHex,
  maskTrace,
  modelStartupCalls,
  qemuDebugToMain,
  qemuLdd,
  qemuStartupCalls,
  qemuStrace,
  REPO,
  readTranscript,
  SYSROOT,
  TRANSCRIPTS,
} from "./sysroot-harness.ts";

const sysroot = hasSysroot();
const qemu = sysroot && hasQemu();
if (!sysroot) console.warn(`sysroot tests skipped: ${SYSROOT} missing (Debian package libc6-arm64-cross)`);
else if (!qemu) console.warn("qemu sysroot parity skipped: qemu-aarch64 missing (Debian package qemu-user)");

const model = (object: string, list: boolean) => {
  const r = ldd(object, { sysroot: SYSROOT, cwd: REPO, list });
  return { stdout: maskTrace(r.stdout), status: r.status };
};

describe("the aarch64 ld.so profile", () => {
  it("DEBIAN12_AARCH64 holds what ld-linux-aarch64.so.1 --help prints under qemu", () => {
    const help = readFileSync(join(TRANSCRIPTS, "ld-so-help.txt"), "latin1");
    const parsed = profileFromLdSoHelp(help, DEBIAN12_AARCH64);
    expect(parsed.glibcHwcaps).toEqual(DEBIAN12_AARCH64.glibcHwcaps);
    expect(parsed.legacyCaps).toEqual(DEBIAN12_AARCH64.legacyCaps);
    expect(parsed.platform).toBe(DEBIAN12_AARCH64.platform);
    const dirs = [...help.matchAll(/^ {2}(\/\S*) \(system search path\)$/gm)].map((m) => `${m[1]}/`);
    expect(dirs).toEqual(DEBIAN12_AARCH64.systemDirs);
    expect(help).toContain("No subdirectories of glibc-hwcaps directories are searched.");
    expect(profileForMachine(183)).toBe(DEBIAN12_AARCH64);
  });
});

describe("ldd --sysroot against the committed qemu-aarch64 transcripts (no qemu needed)", () => {
  const ldds = readTranscript("ldd.txt");
  const lists = readTranscript("list.txt");

  it.skipIf(!sysroot)(`ldd: every object of ldd.txt (${ldds.length}) resolves as under qemu`, () => {
    expect(ldds.length).toBeGreaterThan(20);
    for (const t of ldds) {
      expect(model(t.object, false), t.object).toEqual({ stdout: maskTrace(t.stdout, "<ROOT>"), status: t.status });
    }
  });

  it.skipIf(!sysroot)(`ld.so --list: every object of list.txt (${lists.length})`, () => {
    for (const t of lists) {
      const want = { stdout: dropQemuListLine(maskTrace(t.stdout, "<ROOT>")), status: t.status };
      expect(model(t.object, true), t.object).toEqual(want);
    }
  });

  it.skipIf(!sysroot)("$LIB and $PLATFORM in LD_LIBRARY_PATH expand as aarch64's ld.so does", () => {
    const [t] = readTranscript("libs-dst.txt");
    if (!t) throw new Error("libs-dst.txt is empty");
    const env = { LD_LIBRARY_PATH: "/opt/$LIB:/opt/$PLATFORM" };
    const r = ldd(t.object, { sysroot: SYSROOT, cwd: REPO, env });
    expect(t.stdout).toContain("/opt/lib/aarch64-linux-gnu/tls/aarch64/atomics:");
    expect((r.startup?.rtld.debugLibs.join("\n") ?? "").trimEnd()).toBe(t.stdout.trimEnd());
  });

  for (const v of ["v1", "v3"]) {
    for (const bindNow of [false, true]) {
      it.skipIf(!sysroot)(`${v}/aarch64/main: LD_DEBUG=all${bindNow ? " LD_BIND_NOW=1" : ""} up to main`, () => {
        const dir = join(REPO, "test", "fixtures", "sframe", v, "aarch64");
        const proc = spawnForRun({ cwd: dir, sysroot: { dir: SYSROOT, program: "./main" } });
        const env: Record<string, string> = { LD_DEBUG: "all", ...(bindNow ? { LD_BIND_NOW: "1" } : {}) };
        const r = runToMain(proc, "./main", { env });
        const name = `debug-${bindNow ? "now" : "lazy"}-${v}-main.txt`;
        const text = readFileSync(join(TRANSCRIPTS, name), "latin1").split("<ROOT>").join(REPO).split("\n");
        // Under lazy binding two lookups come from code the model does not run (see qemuDebugToMain).
        const want = qemuDebugToMain(text, bindNow ? [] : ["__getauxval", "__libc_start_main"]);
        const mine = r.debug.map((l) => l.replace(/^ *\d+:\t/, ""));
        expect(want.length).toBeGreaterThan(400);
        expect(maskHex(mine)).toEqual(maskHex(want));
      });
    }
  }

  const libs = readTranscript("libs.txt");
  it.skipIf(!sysroot)(`LD_DEBUG=libs (search order, every probe): ${libs.length} objects`, () => {
    for (const t of libs) {
      const r = ldd(t.object, { sysroot: SYSROOT, cwd: REPO });
      const mine = maskTrace(r.startup?.rtld.debugLibs.join("\n") ?? "");
      expect(mine.trimEnd(), t.object).toBe(maskTrace(t.stdout, "<ROOT>").trimEnd());
    }
  });

  for (const v of ["v1", "v3"]) {
    it.skipIf(!sysroot)(`${v}/aarch64/main: the startup system calls qemu -strace recorded`, () => {
      const dir = join(REPO, "test", "fixtures", "sframe", v, "aarch64");
      const proc = spawnForRun({ cwd: dir, sysroot: { dir: SYSROOT, program: "./main" } });
      const r = runToMain(proc, "./main");
      expect(r.error).toBeUndefined();
      const text = readFileSync(join(TRANSCRIPTS, `strace-${v}-main.txt`), "latin1")
        .split("<ROOT>")
        .join(REPO);
      // readlink("/proc/self/exe") returns the length of the program's path, which depends on where
      // the checkout is: the transcript's value is for the checkout it was recorded in.
      const exeLength = Buffer.byteLength(join(dir, "main"));
      const lines = text
        .split("\n")
        .map((l) => (l.startsWith('readlinkat(AT_FDCWD,"/proc/self/exe"') ? l.replace(/= \d+$/, `= ${exeLength}`) : l));
      expect(modelStartupCalls(r.strace)).toEqual(qemuStartupCalls(lines));
    });
  }
});

describe("ldd --sysroot against qemu-aarch64 now", () => {
  const objects = readTranscript("ldd.txt").map((t) => t.object);

  it.skipIf(!qemu)(`ldd and ld.so --list: ${objects.length} objects`, () => {
    for (const o of objects) {
      const q = qemuLdd(o, false);
      expect(model(o, false), o).toEqual({ stdout: maskTrace(q.stdout), status: q.status });
      const ql = qemuLdd(o, true);
      expect(model(o, true), `--list ${o}`).toEqual({
        stdout: dropQemuListLine(maskTrace(ql.stdout)),
        status: ql.status,
      });
    }
  });

  it.skipIf(!qemu)("missing libraries: 'not found' (ldd), exit 127 and the message (--list), as under qemu", () => {
    // main alone in a directory: its RPATH ($ORIGIN) has no liba.so, nor does the sysroot.
    const dir = mkdtempSync(join(tmpdir(), "ldsim-sysroot-"));
    try {
      copyFileSync(join(REPO, "test", "fixtures", "sframe", "v3", "aarch64", "main"), join(dir, "main"));
      for (const list of [false, true]) {
        const q = spawnSync(
          "qemu-aarch64",
          [
            "-L",
            SYSROOT,
            "-0",
            "/lib/ld-linux-aarch64.so.1",
            ...(list ? [] : ["-E", "LD_TRACE_LOADED_OBJECTS=1"]),
            join(SYSROOT, "lib", "ld-linux-aarch64.so.1"),
            ...(list ? ["--list"] : []),
            "./main",
          ],
          { cwd: dir, encoding: "latin1" },
        );
        const r = ldd("./main", { sysroot: SYSROOT, cwd: dir, list });
        expect({ stdout: maskTrace(r.stdout, dir), stderr: r.stderr, status: r.status }).toEqual({
          stdout: list ? dropQemuListLine(maskTrace(q.stdout, dir)) : maskTrace(q.stdout, dir),
          stderr: q.stderr,
          status: q.status,
        });
        if (!list) expect(r.stdout).toContain("liba.so => not found");
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(!qemu)(
    "a tree with its own ld.so.cache: aarch64 entries (0x0a03) are used, x86_64 ones (0x0303) not",
    () => {
      // T/lib = the cross libraries, T/opt/app/liba.so (RPATH $ORIGIN, no libb.so there), T/opt/cached/libb.so
      // reachable only through T/etc/ld.so.cache. ld.so under qemu -L T reads T's cache, as the model does.
      const t = mkdtempSync(join(tmpdir(), "ldsim-sysroot-cache-"));
      try {
        for (const d of ["etc", "lib", "opt/app", "opt/cached"]) mkdirSync(join(t, d), { recursive: true });
        for (const f of readdirSync(join(SYSROOT, "lib"))) copyFileSync(join(SYSROOT, "lib", f), join(t, "lib", f));
        const v3 = join(REPO, "test", "fixtures", "sframe", "v3", "aarch64");
        copyFileSync(join(v3, "liba.so"), join(t, "opt/app/liba.so"));
        copyFileSync(join(v3, "libb.so"), join(t, "opt/cached/libb.so"));
        for (const flags of [0x0a03, 0x0303]) {
          writeFileSync(
            join(t, "etc/ld.so.cache"),
            buildLdSoCache([{ flags, key: "libb.so", value: "/opt/cached/libb.so" }]),
          );
          const q = spawnSync(
            "qemu-aarch64",
            [
              "-L",
              t,
              "-0",
              "/lib/ld-linux-aarch64.so.1",
              "-E",
              "LD_TRACE_LOADED_OBJECTS=1",
              join(t, "lib/ld-linux-aarch64.so.1"),
              "/opt/app/liba.so",
            ],
            { encoding: "latin1" },
          );
          const r = ldd("/opt/app/liba.so", { sysroot: t, cwd: "/" });
          expect(maskTrace(r.stdout), `flags ${flags.toString(16)}`).toBe(maskTrace(q.stdout));
          expect(r.stdout).toContain(flags === 0x0a03 ? "libb.so => /opt/cached/libb.so" : "libb.so => not found");
        }
      } finally {
        rmSync(t, { recursive: true, force: true });
      }
    },
  );

  it.skipIf(!qemu)("kernel-started main: startup system calls identical to qemu -strace (layout masked)", () => {
    for (const v of ["v1", "v3"]) {
      const dir = join(REPO, "test", "fixtures", "sframe", v, "aarch64");
      const proc = spawnForRun({ cwd: dir, sysroot: { dir: SYSROOT, program: "./main" } });
      const r = runToMain(proc, "./main");
      expect(modelStartupCalls(r.strace), v).toEqual(qemuStartupCalls(qemuStrace("./main", dir)));
    }
  });
});

describe("--sysroot-mode chroot", () => {
  it.skipIf(!sysroot)("the tree is the whole file system: a vDSO is mapped, host paths do not exist", () => {
    const r = ldd("/lib/libm.so.6", { sysroot: SYSROOT, sysrootMode: "chroot", cwd: "/" });
    expect(maskTrace(r.stdout)).toBe(
      "\tlinux-vdso.so.1 (ADDR)\n\tlibc.so.6 => /lib/libc.so.6 (ADDR)\n\t/lib/ld-linux-aarch64.so.1 (ADDR)\n",
    );
    // No /etc/ld.so.cache in Debian's cross tree: the cache open fails and the system directories are searched.
    expect(r.log.lines().some((l) => l.startsWith('openat(AT_FDCWD, "/etc/ld.so.cache"') && l.includes("ENOENT"))).toBe(
      true,
    );
    const prog = join(REPO, "test", "fixtures", "sframe", "v3", "aarch64", "main");
    expect(() => ldd(prog, { sysroot: SYSROOT, sysrootMode: "chroot" })).toThrow(/cannot open \(ENOENT\)/);
  });
});

describe("SFrame under a sysroot", () => {
  for (const v of ["v1", "v3"]) {
    it.skipIf(!sysroot)(`${v}: ld.so registers liba.so's and libb.so's PT_GNU_SFRAME (stacktrace_setup)`, () => {
      const dir = join(REPO, "test", "fixtures", "sframe", v, "aarch64");
      const ks = new KernelSframe();
      const proc = spawnForRun({ cwd: dir, sysroot: { dir: SYSROOT, program: "./main" }, sframeKernel: ks });
      const r = runToMain(proc, "./main", { registerSframe: true });
      expect(r.error).toBeUndefined();
      expect(proc.kernel.arch).toBe("aarch64");
      const registered = r.rtld.sframeResults.filter((s) => s.results.length > 0);
      expect(registered.map((s) => s.map.name.replace(`${dir}/`, ""))).toEqual(["liba.so", "libb.so"]);
      // The kernel series accepts SFrame v3 only: a v1 section is refused with EINVAL (as on x86_64).
      for (const s of registered) expect(s.results).toEqual([v === "v3" ? 0n : -22n]);
      // One stacktrace_setup per library, right after its mapping (before the next openat).
      const calls = r.strace.filter((l) => l.startsWith("stacktrace_setup("));
      expect(calls).toHaveLength(2);
      // libc.so.6 of Debian 12 has no .sframe: nothing to register.
      expect(r.rtld.sframeResults.find((s) => s.map.name === "/lib/libc.so.6")?.results).toEqual([]);
    });
  }
});
