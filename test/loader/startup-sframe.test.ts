import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { execElf } from "../../kernel-shim/exec/binfmt-elf.ts";
import { HostFs } from "../../kernel-shim/fs/host-fs.ts";
import { Kernel } from "../../kernel-shim/process/kernel.ts";
import { Process } from "../../kernel-shim/process/process.ts";
import { KernelSframe, stacktraceSetupHandler } from "../../kernel-shim/sframe/kernel-sframe.ts";
import { hostRtldProfile } from "../../loader/host-profile.ts";
import { startFromExec } from "../../loader/startup.ts";
import { hasGcc } from "./build-fixtures.ts";

function hasGsframe(): boolean {
  if (!hasGcc()) return false;
  try {
    execFileSync("gcc", ["-Wa,--gsframe", "-c", "-x", "c", "-o", "/dev/null", "-"], { input: "int x;" });
    return true;
  } catch {
    return false;
  }
}
const ok = hasGsframe();
if (!ok) console.warn("SFrame registration test skipped: gcc/as without --gsframe");

/** readelf -lW's PT_GNU_SFRAME and executable PT_LOAD of a file: [vaddr, memsz]. */
function segments(file: string): { sframe: [bigint, bigint]; text: [bigint, bigint][] } {
  const out = execFileSync("readelf", ["-lW", file], { encoding: "latin1" });
  const text: [bigint, bigint][] = [];
  let sframe: [bigint, bigint] = [0n, 0n];
  for (const l of out.split("\n")) {
    const f = l.trim().split(/\s+/);
    if (f[0] === "GNU_SFRAME") sframe = [BigInt(f[2] ?? 0), BigInt(f[5] ?? 0)];
    if (f[0] === "LOAD" && l.includes(" E ")) text.push([BigInt(f[2] ?? 0), BigInt(f[5] ?? 0)]);
  }
  return { sframe, text };
}

/** SFrame version of a file's .sframe section (byte 2 of the preamble), from objdump's dump. */
function sframeVersion(file: string): number {
  const out = execFileSync("objdump", ["--sframe", file], { encoding: "latin1" });
  const m = /Version: SFRAME_VERSION_(\d)/.exec(out);
  return Number(m?.[1] ?? 0);
}

describe.skipIf(!ok)("startup registers each newly mapped library's SFrame", () => {
  for (const relaxed of [false, true]) {
    it(`calls stacktrace_setup(REGISTER) once per executable segment, after the library is mapped${relaxed ? " (kernel accepting every version)" : ""}`, () => {
      const dir = mkdtempSync(join(tmpdir(), "ldsim-sframe-"));
      writeFileSync(join(dir, "sf.c"), "int sf(void){return 5;}\n");
      writeFileSync(join(dir, "m.c"), "int sf(void); int main(void){return sf();}\n");
      execFileSync("gcc", ["-shared", "-fPIC", "-Wa,--gsframe", "-o", "libsf.so", "sf.c", "-Wl,-soname,libsf.so"], {
        cwd: dir,
      });
      execFileSync("gcc", ["-o", "m", "m.c", "-L.", "-lsf", `-Wl,-rpath,${dir}`], { cwd: dir });
      const ks = new KernelSframe(relaxed ? { acceptedVersions: [1, 2, 3], requirePcrel: false } : {});
      const kernel = new Kernel(new HostFs(), { sframe: ks, stacktraceSetup: stacktraceSetupHandler(ks) });
      const proc = Process.spawn(kernel, { cwd: dir });
      const exe = join(dir, "m");
      expect(execElf(proc, exe, { argv: [exe] }).ok).toBe(true);
      const start = proc.log.events.length;
      const s = startFromExec(proc, { registerSframe: true, profile: hostRtldProfile() });
      expect(s.error).toBeUndefined();
      const lib = s.rtld.ns.maps.find((m) => m.name === join(dir, "libsf.so"));
      expect(lib).toBeDefined();
      const seg = segments(join(dir, "libsf.so"));
      const calls = proc.log.events.slice(start).filter((e) => e.name === "stacktrace_setup");
      const base = lib?.addr ?? 0n;
      expect(calls.map((e) => e.args.slice(0, 5))).toEqual(
        seg.text.map(([v, sz]) => [1n, base + seg.sframe[0], seg.sframe[1], base + v, sz]),
      );
      // The series accepts only SFrame v3: an older section is refused with EINVAL, and loading goes on.
      const version = sframeVersion(join(dir, "libsf.so"));
      const expected = relaxed || version === 3 ? 0n : -22n;
      expect(calls.map((e) => e.ret)).toEqual(calls.map(() => expected));
      // After the library's close(fd), before the next object is opened.
      const names = proc.log.events.slice(start).map((e) => e.name);
      const first = names.indexOf("stacktrace_setup");
      expect(names[first - 1]).toBe("close");
      // libc on this machine has no PT_GNU_SFRAME: nothing registered for it.
      expect(s.rtld.sframeResults.filter((r) => r.results.length > 0).map((r) => r.map.name)).toEqual([
        join(dir, "libsf.so"),
      ]);
    });
  }
});
