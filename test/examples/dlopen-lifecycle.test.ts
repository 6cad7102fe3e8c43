/**
 * Example 2 (dlopen/dlclose lifecycle): the registry follows the mappings at every step, and the
 * mapping calls are the real glibc's. The parity check runs the same calls in a C program built by
 * the test, under `setarch -R strace`, and compares the mapping-related system calls between its two
 * getppid() markers with what the model made (the model's stacktrace_setup calls taken out: the real
 * glibc does not make them).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatLifecycle, LIFECYCLE_DIR, runLifecycle } from "../../examples/dlopen-lifecycle-lib.ts";
import { hasGcc, hasStrace } from "../loader/build-fixtures.ts";

const HOST_C = `#include <dlfcn.h>
#include <unistd.h>
int main(int argc, char **argv) {
  getppid();
  void *a = dlopen(argv[1], RTLD_NOW);
  void *b = dlopen("libb.so", RTLD_LAZY);
  void *f = dlsym(a, "liba_entry");
  dlclose(a);
  dlclose(b);
  void *n = dlopen(argv[1], RTLD_LAZY | RTLD_NOLOAD);
  getppid();
  return f == 0 || n != 0;
}
`;

const parity = hasGcc() && hasStrace();
if (!parity) console.warn("dlopen lifecycle example: gcc, strace or setarch missing; the strace comparison is skipped");

const work = mkdtempSync(join(tmpdir(), "ldsim-lifecycle-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * The calls compared. Not brk/getrandom: the first libc malloc of the real program (made inside its
 * first dlopen here) initialises libc's heap (tcache key, brk); the model does not run libc's malloc.
 */
const MAPPING = /^(openat|read|newfstatat|mmap|munmap|mprotect|close)\(/;

describe("example 2: dlopen/dlclose lifecycle", () => {
  const l = runLifecycle();
  const step = (prefix: string) => l.steps.find((s) => s.call.startsWith(prefix));
  const files = (s: ReturnType<typeof step>) => (s?.registry ?? []).map((r) => r.file?.split("/").at(-1)).sort();

  it("registers liba and libb once each, right after mapping them", () => {
    const open = step('dlopen("/');
    expect(files(open)).toEqual(["liba.so", "libb.so"]);
    const calls = open?.syscalls ?? [];
    const regs = calls.filter((c) => c.startsWith("stacktrace_setup(0x1,"));
    expect(regs).toHaveLength(2);
    for (const r of regs) expect(calls[calls.indexOf(r) - 1]).toMatch(/^close\(3\)/);
  });

  it("a re-open by soname and dlsym change nothing in the kernel", () => {
    for (const p of ['dlopen("libb.so"', "dlsym("]) {
      expect(step(p)?.syscalls).toEqual([]);
      expect(files(step(p))).toEqual(["liba.so", "libb.so"]);
    }
  });

  it("each dlclose unregisters exactly the object it unmaps, before the munmap", () => {
    const a = step("dlclose(handle_a)");
    expect(a?.syscalls.map((c) => c.split("(")[0])).toEqual(["stacktrace_setup", "munmap"]);
    expect(files(a)).toEqual(["libb.so"]);
    expect(a?.maps.some((m) => m.endsWith("/liba.so"))).toBe(false);
    const b = step("dlclose(handle_b)");
    expect(b?.syscalls.map((c) => c.split("(")[0])).toEqual(["stacktrace_setup", "munmap"]);
    expect(b?.registry).toEqual([]);
    expect(b?.maps).toEqual([]);
    // Every entry's text range is the r-xp mapping of its file (inclusive end = start + length, as the series keys it).
    const open = step('dlopen("/');
    for (const r of open?.registry ?? []) {
      const line = open?.maps.find((m) => m.includes(" r-xp ") && m.endsWith(r.file ?? "?"));
      expect(line?.startsWith(r.textStart.toString(16))).toBe(true);
    }
  });

  it("RTLD_NOLOAD of a closed library: NULL, nothing mapped or registered", () => {
    const n = step("dlopen(") && l.steps.at(-1);
    expect(n?.result).toMatch(/^NULL/);
    expect(n?.registry).toEqual([]);
    expect(n?.syscalls.some((c) => c.startsWith("mmap("))).toBe(false);
  });

  it("prints every step", () => {
    const text = formatLifecycle(l).join("\n");
    for (const s of l.steps) expect(text).toContain(`== ${s.call}`);
  });

  it.skipIf(!parity)("the mapping calls equal the real glibc's for the same calls (setarch -R strace)", () => {
    const src = join(work, "host.c");
    const exe = join(work, "host");
    writeFileSync(src, HOST_C);
    execFileSync("gcc", ["-o", exe, src]);
    const trace = join(work, "trace");
    const liba = join(LIFECYCLE_DIR, "liba.so");
    execFileSync("setarch", ["-R", "strace", "-o", trace, exe, liba], { stdio: "ignore" });
    const real = readFileSync(trace, "latin1").split("\n");
    const from = real.findIndex((x) => x.startsWith("getppid("));
    const to = real.findIndex((x, i) => i > from && x.startsWith("getppid("));
    // The random bytes of malloc's tcache key differ from run to run; a failed directory probe shows
    // the stat buffer on ld.so's stack, which the model's host-side buffer has no address for.
    const norm = (x: string) =>
      x
        .replace(/^getrandom\("[^"]*"/, 'getrandom("…"')
        .replace(/^(newfstatat\(AT_FDCWD, "[^"]*", )0x[0-9a-f]+/, "$1STACKPTR")
        .replace(/\) +(= -?\d)/, ") $1");
    const want = real
      .slice(from + 1, to)
      .filter((x) => MAPPING.test(x))
      .map(norm);
    const mine = runLifecycle(LIFECYCLE_DIR, exe)
      .steps.slice(1)
      .flatMap((s) => s.syscalls)
      .filter((x) => MAPPING.test(x))
      .map(norm);
    expect(mine).toEqual(want);
  });
});
