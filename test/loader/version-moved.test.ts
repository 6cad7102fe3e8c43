/**
 * A versioned reference whose Vernaux names a library that no longer defines the symbol, while a
 * library later in the search list does (what happened to libpthread's symbols when glibc 2.34 moved
 * them into libc: node's `pthread_join@GLIBC_2.2.5` from libpthread.so.0 binds to libc.so.6). glibc
 * up to 2.33 failed such a lookup when it reached the named library; 2.34 dropped that rule. Built
 * here: main links `moved@VER_1` from liba.so; at run time liba.so still has VER_1 but not `moved`,
 * and libb.so (after it in DT_NEEDED) defines `moved@VER_1`. The model's LD_DEBUG bindings must be
 * the real ld.so's, and both must start.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { hasGcc } from "./build-fixtures.ts";
import { hasSetarch, realRun, simulateStartup, startupPart } from "./reloc-harness.ts";

const ok = hasGcc() && hasSetarch();
if (!ok) console.warn("version-moved.test: gcc or setarch missing; skipped");

describe.skipIf(!ok)("a versioned symbol moved out of the library its Vernaux names", () => {
  const dir = mkdtempSync(join(tmpdir(), "ldsim-moved-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const build = () => {
    const cc = (args: string[]) => execFileSync("gcc", args, { cwd: dir, stdio: "pipe" });
    writeFileSync(join(dir, "a-old.c"), "int moved(void) { return 7; }\n");
    writeFileSync(join(dir, "a-new.c"), "int other(void) { return 1; }\n");
    writeFileSync(join(dir, "b.c"), "int moved(void) { return 3; }\n");
    writeFileSync(join(dir, "old.map"), "VER_1 { global: moved; local: *; };\n");
    writeFileSync(join(dir, "new.map"), "VER_1 { global: other; local: *; };\n");
    writeFileSync(join(dir, "main.c"), "extern int moved(void);\nint main(void) { return moved(); }\n");
    mkdirSync(join(dir, "link"), { recursive: true });
    mkdirSync(join(dir, "run"), { recursive: true });
    // Link time: liba.so defines moved@VER_1.
    cc(["-shared", "-fPIC", "-o", "link/liba.so", "-Wl,-soname,liba.so", "-Wl,--version-script=old.map", "a-old.c"]);
    cc(["-shared", "-fPIC", "-o", "run/libb.so", "-Wl,-soname,libb.so", "-Wl,--version-script=old.map", "b.c"]);
    cc(["-o", "main", "main.c", "-Wl,--no-as-needed", "-Llink", "-la", "-Lrun", "-lb", "-Wl,-rpath,$ORIGIN/run"]);
    // Run time: liba.so keeps VER_1 (the version check passes) but not `moved`.
    cc(["-shared", "-fPIC", "-o", "run/liba.so", "-Wl,-soname,liba.so", "-Wl,--version-script=new.map", "a-new.c"]);
    return join(dir, "main");
  };
  const exe = ok ? build() : "";
  for (const bindNow of [false, true]) {
    it(`binds to the later library, as glibc 2.36 does${bindNow ? " (LD_BIND_NOW)" : ""}`, () => {
      const real = realRun(exe, { bindNow, cwd: dir });
      const sim = simulateStartup(exe, { bindNow, cwd: dir });
      // The program ran: moved() came from libb.so (3), not liba.so's old 7.
      expect(real.status).toBe(3);
      expect(sim.error).toBeUndefined();
      const want = startupPart(real.lines, sim.rtld.rtldMap.name);
      // Under LD_BIND_NOW main's PLT reference is bound during startup (lazily it is bound at run time).
      const toLibb = /^binding file .*\/main \[0\] to .*\/run\/libb\.so \[0\]: normal symbol `moved' \[VER_1\]$/;
      if (bindNow) expect(want.filter((l) => toLibb.test(l))).toHaveLength(1);
      expect(sim.lines).toEqual(want);
    });
  }
});
