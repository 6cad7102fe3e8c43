import { existsSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { execElf } from "../../kernel-shim/exec/binfmt-elf.ts";
import { HostFs } from "../../kernel-shim/fs/host-fs.ts";
import { Kernel } from "../../kernel-shim/process/kernel.ts";
import { Process } from "../../kernel-shim/process/process.ts";
import { dstCount, dstSubstitute, isDst } from "../../loader/dst.ts";
import { LoaderError } from "../../loader/map-object.ts";
import { DEBIAN12_X86_64 } from "../../loader/rtld-profile.ts";
import { startFromExec } from "../../loader/startup.ts";

const RTLD = "/lib64/ld-linux-x86-64.so.2";
const haveRtld = existsSync(RTLD) && existsSync("/usr/bin/true");
if (!haveRtld) console.warn("search property test skipped: no host ld.so");

describe.skipIf(!haveRtld)("_dl_map_object on arbitrary names", () => {
  it("returns a map (faked in trace mode) or a LoaderError, and leaves no descriptor open", () => {
    const proc = Process.spawn(new Kernel(new HostFs()), { cwd: "/tmp" });
    expect(execElf(proc, RTLD, { argv: [RTLD, "/usr/bin/true"] }).ok).toBe(true);
    const s = startFromExec(proc, { traceMode: true, profile: DEBIAN12_X86_64 });
    expect(s.error).toBeUndefined();
    const open = proc.fds.size;
    fc.assert(
      fc.property(fc.stringMatching(/^[a-zA-Z0-9_.${}/-]{1,24}$/), (name) => {
        try {
          const l = s.rtld.mapObject(s.main, name, "library");
          expect(l.faked || l.mapEnd > l.mapStart || l.isVdso || l.isRtld).toBe(true);
        } catch (e) {
          if (!(e instanceof LoaderError)) throw e;
        }
        expect(proc.fds.size).toBe(open);
      }),
      { numRuns: 60 },
    );
  });
});

describe("dynamic string tokens (glibc is_dst / _dl_dst_substitute rules)", () => {
  const v = { origin: "/o", profile: DEBIAN12_X86_64 };
  it("recognises bare and braced names, not prefixes of longer identifiers", () => {
    expect(isDst("ORIGIN/x", 0, "ORIGIN")).toBe(6);
    expect(isDst("{ORIGIN}/x", 0, "ORIGIN")).toBe(8);
    expect(isDst("LIBx", 0, "LIB")).toBe(0);
    expect(isDst("{LIB", 0, "LIB")).toBe(0);
    expect(dstCount("$ORIGIN:$LIBx:${PLATFORM}:$FOO")).toBe(2);
  });
  it("substitutes known tokens, keeps unknown ones, drops an element whose token has no value", () => {
    expect(dstSubstitute("$ORIGIN/../lib", v)).toBe("/o/../lib");
    expect(dstSubstitute("/x/$LIB/${PLATFORM}/$FOO", v)).toBe(`/x/${v.profile.dstLib}/${v.profile.platform}/$FOO`);
    expect(dstSubstitute("/y/${LIB}z", v)).toBe(`/y/${v.profile.dstLib}z`);
    expect(dstSubstitute("$ORIGIN/a", { ...v, origin: undefined })).toBe("");
  });
  it("never loses text that is not a token", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z/]{0,20}$/), (s) => {
        expect(dstSubstitute(s, v)).toBe(s);
      }),
    );
  });
});
