import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { armFaults } from "../../kernel-shim/fault/fault-plan.ts";
import { dlIteratePhdr } from "../../loader/dl-iterate-phdr.ts";
import { dlState } from "../../loader/dl-state.ts";
import { dladdr } from "../../loader/dladdr.ts";
import { dlclose } from "../../loader/dlclose.ts";
import { dlerror } from "../../loader/dlerror.ts";
import { dlopen } from "../../loader/dlopen.ts";
import { type DlHandle, dlvsym } from "../../loader/dlsym.ts";
import { hostRtldProfile } from "../../loader/host-profile.ts";
import type { LinkMap } from "../../loader/link-map.ts";
import { runToMain, spawnForRun } from "../../loader/run.ts";
import { hasGcc, hasStrace } from "./build-fixtures.ts";
import { normalise, type OpResult, splitOps, straceRun, tracedSince } from "./dlopen-trace.ts";

const ok = hasGcc() && hasStrace();
if (!ok) console.warn("dlopen parity tests skipped: gcc, strace or setarch missing");

/**
 * The C driver: each argument is one operation — `o:PATH:MODE` dlopen (MODE a number), `c:K` dlclose
 * of the K-th handle, `s:K:SYM` dlsym — announced by "@N" and answered by "=N RESULT" on stdout with
 * write(2), RESULT being "ok", or "NULL " + dlerror() (or "(null)"), or dlclose's status.
 */
const DRIVER = String.raw`
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void out(const char *s) { write(1, s, strlen(s)); }
static int cb(struct dl_phdr_info *info, size_t size, void *data) {
  char b[512];
  snprintf(b, sizeof b, "+P %s %p %d %llu %llu %zu\n", info->dlpi_name, (void *) info->dlpi_addr, info->dlpi_phnum,
           (unsigned long long) info->dlpi_adds, (unsigned long long) info->dlpi_subs, info->dlpi_tls_modid);
  out(b);
  return 0;
}
int main(int argc, char **argv) {
  void *h[64]; int nh = 0; char buf[4096];
  for (int i = 1; i < argc; i++) {
    char *op = argv[i];
    snprintf(buf, sizeof buf, "@%d\n", i); out(buf);
    if (op[0] == 'o') {
      char *path = op + 2; char *m = strrchr(path, ':'); *m = 0;
      void *p = dlopen(path, atoi(m + 1));
      if (p) { h[nh++] = p; snprintf(buf, sizeof buf, "=%d ok\n", i); }
      else { const char *e = dlerror(); snprintf(buf, sizeof buf, "=%d NULL %s\n", i, e ? e : "(null)"); }
    } else if (op[0] == 'c') {
      int r = dlclose(h[atoi(op + 2)]);
      snprintf(buf, sizeof buf, "=%d %d\n", i, r);
    } else if (op[0] == 's' || op[0] == 'v' || op[0] == 'a') {
      /* s:K:SYM (K = -1: RTLD_DEFAULT, -2: RTLD_NEXT), v:K:SYM:VER dlvsym, a:K:SYM dladdr of sym+1 */
      char *k = op + 2; char *sym = strchr(k, ':') + 1; char *ver = NULL;
      sym[-1] = 0;
      if (op[0] == 'v') { ver = strchr(sym, ':'); *ver++ = 0; }
      int kk = atoi(k);
      void *hd = kk == -1 ? RTLD_DEFAULT : kk == -2 ? RTLD_NEXT : h[kk];
      dlerror();
      void *p = ver ? dlvsym(hd, sym, ver) : dlsym(hd, sym);
      if (!p) { const char *e = dlerror(); snprintf(buf, sizeof buf, "=%d NULL %s\n", i, e ? e : "(null)"); }
      else if (op[0] == 'a') {
        Dl_info di;
        if (dladdr((char *) p + 1, &di)) snprintf(buf, sizeof buf, "=%d %s %p %s %p\n", i, di.dli_fname, di.dli_fbase, di.dli_sname ? di.dli_sname : "(null)", di.dli_saddr);
        else snprintf(buf, sizeof buf, "=%d 0\n", i);
      } else snprintf(buf, sizeof buf, "=%d %p\n", i, p);
    } else if (op[0] == 'i') {
      dl_iterate_phdr(cb, NULL);
      snprintf(buf, sizeof buf, "=%d done\n", i);
    }
    out(buf);
  }
  return 0;
}
`;

/** printf's %p. */
const ptr = (v: bigint | null) => (v === null || v === 0n ? "(nil)" : `0x${v.toString(16)}`);

interface Built {
  readonly dir: string;
  readonly driver: string;
  readonly i686: boolean;
}

function build(): Built {
  const dir = mkdtempSync(join(tmpdir(), "ldsim-dlopen-"));
  const gcc = (...a: string[]) => execFileSync("gcc", a, { cwd: dir, stdio: "pipe" });
  const w = (f: string, s: string) => writeFileSync(join(dir, f), s);
  w("driver.c", DRIVER);
  gcc("-o", "driver", "driver.c");
  w("foo.c", "int foo_data=42; static char foo_bss[10000]; int foo(void){return foo_data+foo_bss[3];}\n");
  gcc("-shared", "-fPIC", "-o", "libfoo.so", "foo.c");
  w("b.c", "int b_func(void){return 2;}\n");
  w("a.c", "int b_func(void); int a_func(void){return b_func()+1;}\n");
  gcc("-shared", "-fPIC", "-o", "libb.so", "b.c", "-Wl,-soname,libb.so");
  gcc("-shared", "-fPIC", "-o", "liba.so", "a.c", "-Wl,-soname,liba.so", "-L.", "-lb", "-Wl,-rpath,$ORIGIN");
  w("c.c", "int b_func(void); int c_func(void){return b_func()+3;}\n");
  gcc("-shared", "-fPIC", "-o", "libc2.so", "c.c", "-L.", "-lb", "-Wl,-rpath,$ORIGIN");
  gcc("-shared", "-fPIC", "-o", "libnd.so", "foo.c", "-Wl,-z,nodelete");
  w("u.c", "int missing_fn(void); int u(void){return missing_fn();}\n");
  gcc("-shared", "-fPIC", "-o", "libu.so", "u.c");
  w(
    "v.c",
    'int vsym_1(void){return 1;} int vsym_2(void){return 2;}\n__asm__(".symver vsym_1,vsym@VER_1");\n__asm__(".symver vsym_2,vsym@@VER_2");\n',
  );
  w("v.map", "VER_1 { global: vsym; }; VER_2 { global: vsym; } VER_1;\n");
  gcc("-shared", "-fPIC", "-o", "libv.so", "v.c", "-Wl,--version-script,v.map");
  // libneed9.so was linked against a libv.so with VER_9; the libv.so next to it has no VER_9.
  mkdirSync(join(dir, "v9"));
  w("v9.c", "int v9(void){return 9;}\n");
  w("v9.map", "VER_9 { global: v9; };\n");
  gcc("-shared", "-fPIC", "-o", "v9/libv.so", "v9.c", "-Wl,--version-script,v9.map");
  w("need9.c", "int v9(void); int need9(void){return v9();}\n");
  gcc("-shared", "-fPIC", "-o", "libneed9.so", "need9.c", "-Lv9", "-lv", "-Wl,-rpath,$ORIGIN");
  // Constructors/destructors that print their name: p NEEDED q r, q NEEDED r (init r q p, fini p q r).
  for (const [n, deps] of [
    ["r", []],
    ["q", ["r"]],
    ["p", ["q", "r"]],
  ] as [string, string[]][]) {
    w(
      `${n}.c`,
      `#include <unistd.h>\n__attribute__((constructor)) static void c(void){write(1,"i:${n}\\n",4);}\n` +
        `__attribute__((destructor)) static void d(void){write(1,"f:${n}\\n",4);}\n`,
    );
    gcc(
      "-shared",
      "-fPIC",
      "-o",
      `lib${n}.so`,
      `${n}.c`,
      `-Wl,-soname,lib${n}.so`,
      "-L.",
      "-Wl,--no-as-needed",
      ...deps.map((d) => `-l${d}`),
      "-Wl,-rpath,$ORIGIN",
    );
  }
  w("notelf.so", `${"this is not an ELF file\n".repeat(60)}`);
  w("empty.so", "");
  let i686 = false;
  try {
    execFileSync("i686-linux-gnu-gcc", ["-shared", "-fPIC", "-o", "lib32.so", "b.c"], { cwd: dir, stdio: "pipe" });
    i686 = true;
  } catch {
    // No i686 cross compiler: the wrong-class case is skipped.
  }
  mkdirSync(join(dir, "sub"));
  return { dir, driver: join(dir, "driver"), i686 };
}

function realRun(b: Built, args: string[], inject?: string): { trace: string[]; answers: string[] } {
  const { trace, stdout } = straceRun(b.dir, b.driver, args, inject);
  const answers = stdout
    .split("\n")
    .filter((l) => l.startsWith("=") || l.startsWith("+") || /^[if]:/.test(l))
    .map((l) => l.replace(/^=\d+ /, ""));
  return { trace, answers };
}

/** The same operations in ldsim, from the state the real program had at its first marker. */
function simulated(b: Built, args: string[], _realBefore: readonly string[], faults?: { mmapAfter: number }) {
  // The whole startup as ld.so does it (STARTUP's runToMain: relocation, TLS, cache unmap, init).
  const proc = spawnForRun({ cwd: b.dir });
  const run = runToMain(proc, b.driver, { argv: [b.driver], profile: hostRtldProfile() });
  expect(run.error).toBeUndefined();
  const s = { rtld: run.rtld };
  const kernel = proc.kernel;
  const mark = () => proc.log.events.length;
  if (faults) armFaults(kernel, [{ syscall: "mmap", nth: faults.mmapAfter, errno: "ENOMEM" }]);
  const handles: LinkMap[] = [];
  const ops: OpResult[] = [];
  let evPos = dlState(s.rtld).events.length;
  for (const a of args) {
    const from = mark();
    let answer: string;
    if (a.startsWith("o:")) {
      const m = /^o:(.*):(\d+)$/.exec(a);
      const h = dlopen(s.rtld, m?.[1] ?? "", Number(m?.[2]));
      if (h) {
        handles.push(h);
        answer = "ok";
      } else answer = `NULL ${dlerror(s.rtld) ?? "(null)"}`;
    } else if (a.startsWith("c:")) {
      const h = handles[Number(a.slice(2))] as LinkMap;
      answer = String(dlclose(s.rtld, h));
    } else if (a === "i") {
      const lines: string[] = [];
      dlIteratePhdr(s.rtld, (info) => {
        lines.push(
          `+P ${info.dlpi_name} ${ptr(info.dlpi_addr)} ${info.dlpi_phnum} ${info.dlpi_adds} ${info.dlpi_subs} ${info.dlpi_tls_modid}`,
        );
        return 0;
      });
      answer = [...lines, "done"].join("\n");
    } else {
      const [op, k, sym, ver] = a.split(":") as [string, string, string, string | undefined];
      const kk = Number(k);
      const handle: DlHandle = kk === -1 ? "RTLD_DEFAULT" : kk === -2 ? "RTLD_NEXT" : (handles[kk] as LinkMap);
      const p = dlvsym(s.rtld, handle, sym, op === "v" ? ver : undefined);
      if (p === null) answer = `NULL ${dlerror(s.rtld) ?? "(null)"}`;
      else if (op === "a") {
        const d = dladdr(s.rtld, p + 1n);
        answer = d ? `${d.dli_fname} ${ptr(d.dli_fbase)} ${d.dli_sname ?? "(null)"} ${ptr(d.dli_saddr)}` : "0";
      } else answer = ptr(p);
    }
    // Constructors/destructors of the test libraries print "i:NAME"/"f:NAME" before the call returns.
    const calls = dlState(s.rtld)
      .events.slice(evPos)
      .filter((e) => (e.kind === "init" || e.kind === "fini") && /\/lib[pqr]\.so$/.test(e.name))
      .map(
        (e) =>
          `${e.kind === "init" ? "i" : "f"}:${/lib([pqr])\.so$/.exec(e.kind === "init" || e.kind === "fini" ? e.name : "")?.[1]}`,
      );
    evPos = dlState(s.rtld).events.length;
    if (calls.length > 0) answer = [...calls, answer].join("\n");
    ops.push({ lines: tracedSince(proc, from), answer });
  }
  return { ops, rtld: s.rtld, proc };
}

describe.skipIf(!ok)(
  "dlopen/dlclose: the syscalls and dlerror strings of real glibc 2.36 (setarch -R strace -f)",
  () => {
    const b = ok ? build() : undefined;
    const NOW = 2;
    const LAZY = 1;
    const cases: [string, string[]][] = [
      ["RTLD_NOW then dlclose (bss tail, RELRO, one munmap)", [`o:./libfoo.so:${NOW}`, "c:0"]],
      [
        "dependency chain: LAZY, NOLOAD of the dependency, dependency kept while referenced, then GC",
        [`o:./liba.so:${LAZY}`, `o:libb.so:${NOW | 4}`, "c:0", "c:1"],
      ],
      [
        "two users of one dependency: closing one keeps it",
        [`o:./liba.so:${NOW}`, `o:./libc2.so:${NOW}`, "c:0", "c:1"],
      ],
      [
        "opened twice (LAZY, NOW | GLOBAL): one mapping, second dlclose unmaps",
        [`o:./libfoo.so:${LAZY}`, `o:./libfoo.so:${NOW | 0x100}`, "c:0", "c:1"],
      ],
      [
        "DF_1_NODELETE (-z nodelete): dlclose keeps the mapping",
        [`o:./libnd.so:${NOW}`, "c:0", `o:./libnd.so:${NOW | 4}`],
      ],
      [
        "RTLD_NODELETE: pinned, NOLOAD finds it after dlclose",
        [`o:./libfoo.so:${NOW | 0x1000}`, "c:0", `o:./libfoo.so:${NOW | 4}`],
      ],
      ["RTLD_NOLOAD of an object not loaded: NULL, no error", [`o:./libfoo.so:${NOW | 4}`]],
      ["RTLD_DEEPBIND", [`o:./liba.so:${NOW | 8}`, "c:0"]],
      [
        "errors: missing file, missing bare name, not ELF, empty, undefined symbol, invalid mode",
        [
          `o:./nope.so:${NOW}`,
          `o:libnope-ldsim.so:${NOW}`,
          `o:./notelf.so:${NOW}`,
          `o:./empty.so:${NOW}`,
          `o:./libu.so:${NOW}`,
          "o:./libfoo.so:0",
          `o:./sub:${NOW}`,
        ],
      ],
      ["undefined symbol under RTLD_LAZY loads (the PLT is not bound yet)", [`o:./libu.so:${LAZY}`, "c:0"]],
      [
        "a version a dependency lacks: the dlopen fails with glibc's message, nothing stays mapped",
        [`o:./libneed9.so:${NOW}`, `o:./libfoo.so:${NOW}`],
      ],
    ];
    if (b?.i686) cases.push(["wrong ELF class", [`o:./lib32.so:${NOW}`]]);
    cases.push(
      [
        "dlsym: handle, undefined symbol, RTLD_DEFAULT (local scope invisible, then GLOBAL), dladdr",
        [
          `o:./liba.so:${NOW}`,
          "s:0:a_func",
          "s:0:b_func",
          "s:0:nosuch",
          "s:-1:a_func",
          "a:0:a_func",
          `o:./liba.so:${NOW | 0x100}`,
          "s:-1:b_func",
          "c:0",
          "c:1",
        ],
      ],
      [
        "dlvsym / dlsym of a versioned symbol",
        [`o:./libv.so:${NOW}`, "s:0:vsym", "v:0:vsym:VER_1", "v:0:vsym:VER_2", "v:0:vsym:VER_9"],
      ],
      [
        "init/fini order of a dlopen'ed tree (constructors dependencies first, destructors dependents first)",
        [`o:./libp.so:${NOW}`, `o:./libq.so:${NOW | 4}`, "c:0", "c:1"],
      ],
      ["dl_iterate_phdr before and after a dlopen/dlclose", ["i", `o:./liba.so:${NOW}`, "i", "c:0", "i"]],
      [
        "RTLD_DEFAULT from the main program pins the object (NODELETE)",
        [`o:./libfoo.so:${NOW | 0x100}`, "s:-1:foo", "c:0", `o:./libfoo.so:${NOW | 4}`],
      ],
    );
    for (const [what, args] of cases) {
      it(what, () => {
        if (!b) return;
        const real = realRun(b, args);
        const r = splitOps(real.trace);
        const mine = simulated(b, args, r.before);
        expect(mine.ops.flatMap((o) => o.answer.split("\n"))).toEqual(real.answers);
        expect(mine.ops.map((o) => o.lines.map(normalise))).toEqual(r.ops.map((o) => o.lines.map(normalise)));
      });
    }

    it("ENOMEM from the Nth mmap of a dlopen: glibc's dlerror, and the same maps left behind", () => {
      if (!b) return;
      const args = [`o:./liba.so:${NOW}`];
      const base = splitOps(realRun(b, args).trace);
      const startupMmaps = base.before.filter((l) => l.startsWith("mmap(")).length;
      const dlopenMmaps = (base.ops[0]?.lines ?? []).filter((l) => l.startsWith("mmap(")).length;
      expect(dlopenMmaps).toBeGreaterThan(5);
      for (let k = 1; k <= dlopenMmaps; k++) {
        const real = realRun(b, args, `mmap:error=ENOMEM:when=${startupMmaps + k}`);
        const r = splitOps(real.trace);
        const mine = simulated(b, args, r.before, { mmapAfter: k });
        expect(
          mine.ops.flatMap((o) => o.answer.split("\n")),
          `mmap #${k}`,
        ).toEqual(real.answers);
        expect(
          mine.ops.map((o) => o.lines.map(normalise)),
          `mmap #${k}`,
        ).toEqual(r.ops.map((o) => o.lines.map(normalise)));
      }
    });
  },
);
