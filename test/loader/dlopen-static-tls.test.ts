import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { dlclose } from "../../loader/dlclose.ts";
import { dlerror } from "../../loader/dlerror.ts";
import { dlopen } from "../../loader/dlopen.ts";
import { hostRtldProfile } from "../../loader/host-profile.ts";
import type { LinkMap } from "../../loader/link-map.ts";
import { runToMain, spawnForRun } from "../../loader/run.ts";
import { hasGcc, hasStrace } from "./build-fixtures.ts";
import { normalise, type OpResult, splitOps, straceRun, tracedSince } from "./dlopen-trace.ts";

/**
 * dlopen of libraries with initial-exec TLS (DF_STATIC_TLS, R_X86_64_TPOFF64) after startup: glibc
 * 2.36 gives each a block from the static TLS surplus (`_dl_try_allocate_static_tls`) or fails with
 * "cannot allocate memory in static TLS block"; dlclose gives the block back when it is at the end of
 * the used area (`_dl_close_worker`). Compared with the real ld.so: the answers, each variable's
 * offset from the thread pointer, and the system calls of every dlopen/dlclose.
 */
const ok = process.arch === "x64" && hasGcc() && hasStrace();
if (!ok) console.warn("dlopen static TLS parity tests skipped: not x86_64, or gcc, strace or setarch missing");

/**
 * `o:PATH:MODE` dlopen, then the library's `tls_off()` (`&v - thread pointer`, computed by its
 * initial-exec access); `c:K` dlclose of the K-th handle. Markers "@N" and answers "=N …" go
 * through write(2) so that the trace splits per operation.
 */
const DRIVER = String.raw`
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static void out(const char *s) { write(1, s, strlen(s)); }
int main(int argc, char **argv) {
  void *h[64]; int nh = 0; char buf[4096];
  for (int i = 1; i < argc; i++) {
    char *op = argv[i];
    snprintf(buf, sizeof buf, "@%d\n", i); out(buf);
    if (op[0] == 'o') {
      char *path = op + 2; char *m = strrchr(path, ':'); *m = 0;
      void *p = dlopen(path, atoi(m + 1));
      if (p) {
        h[nh++] = p;
        long (*f)(void) = (long (*)(void)) dlsym(p, "tls_off");
        long off = f ? f() : 0L;
        /* A dynamic block (TLSDESC without static room) is malloc'd, far from the thread pointer. */
        if (off < -(1L << 20) || off > (1L << 20)) snprintf(buf, sizeof buf, "=%d ok dyn\n", i);
        else {
          /* The block's first three bytes and last one, as dl_init_static_tls left them. */
          long (*g)(void) = (long (*)(void)) dlsym(p, "tls_sig");
          if (g) snprintf(buf, sizeof buf, "=%d ok %ld %lx\n", i, off, g());
          else snprintf(buf, sizeof buf, "=%d ok %ld\n", i, off);
        }
      } else { const char *e = dlerror(); snprintf(buf, sizeof buf, "=%d NULL %s\n", i, e ? e : "(null)"); }
    } else if (op[0] == 'c') {
      snprintf(buf, sizeof buf, "=%d %d\n", i, dlclose(h[atoi(op + 2)]));
    }
    out(buf);
  }
  return 0;
}
`;

/**
 * name, size, alignment, storage class ("static" gives a TPOFF64 against symbol 0), and the access
 * model: initial-exec (DF_STATIC_TLS, R_X86_64_TPOFF64) or "desc" (-mtls-dialect=gnu2, the general
 * dynamic model through R_X86_64_TLSDESC, which takes static TLS only from the optional 512 bytes).
 */
const LIBS: readonly [string, number, number, string, ("ie" | "desc")?][] = [
  ["t16", 16, 1, "static"],
  ["t512a", 512, 8, ""],
  ["t512b", 512, 8, ""],
  ["t512c", 512, 8, ""],
  ["t512d", 512, 8, ""],
  ["t1k", 1024, 16, ""],
  ["t1kb", 1024, 16, ""],
  ["t1600", 1600, 16, ""],
  ["t1700", 1700, 4, ""],
  ["t2k", 2048, 16, ""],
  ["t4k", 4096, 16, ""],
  ["s1664", 1664, 16, ""],
  ["s1672", 1672, 16, ""],
  ["a64", 100, 64, ""],
  ["a128", 48, 128, "static"],
  ["a4096", 16, 4096, ""],
  ["d16", 16, 8, "", "desc"],
  ["d400", 400, 8, "", "desc"],
  ["d400b", 400, 8, "", "desc"],
  ["d600", 600, 8, "", "desc"],
];

interface Built {
  readonly dir: string;
  readonly driver: string;
  /** library path → its R_X86_64_TPOFF64 GOT slot or R_X86_64_TLSDESC descriptor (readelf -rW). */
  readonly gotSlot: ReadonlyMap<string, { readonly offset: bigint; readonly desc: boolean; readonly size?: number }>;
}

function build(): Built {
  const dir = mkdtempSync(join(tmpdir(), "ldsim-stls-"));
  const gcc = (...a: string[]) => execFileSync("gcc", a, { cwd: dir, stdio: "pipe" });
  writeFileSync(join(dir, "driver.c"), DRIVER);
  gcc("-o", "driver", "driver.c");
  // The same driver with 40 bytes of TLS of its own (module 1): the used static area then ends at
  // 192, so that the 64-byte rounding of used + surplus pins the surplus (1664) to the byte.
  writeFileSync(
    join(dir, "driver-tls.c"),
    DRIVER.replace(
      "int main(int argc, char **argv) {",
      "__thread char mainv[40] = {1};\nint main(int argc, char **argv) { mainv[1]++;",
    ),
  );
  gcc("-o", "driver-tls", "driver-tls.c");
  const gotSlot = new Map<string, { offset: bigint; desc: boolean; size?: number }>();
  for (const [name, size, align, storage, model = "ie"] of LIBS) {
    writeFileSync(
      join(dir, `${name}.c`),
      `${storage} __thread char v[${size}] __attribute__((aligned(${align}))) = {1, 2, 3};\n` +
        "long tls_sig(void){ return v[0] | v[1] << 8 | v[2] << 16 | (long) v[sizeof v - 1] << 24; }\n" +
        "long tls_off(void){ return (char*)&v - (char*)__builtin_thread_pointer(); }\n",
    );
    const flag = model === "ie" ? "-ftls-model=initial-exec" : "-mtls-dialect=gnu2";
    gcc("-shared", "-fPIC", "-O1", flag, "-o", `lib${name}.so`, `${name}.c`);
    const relocs = execFileSync("readelf", ["-rW", `lib${name}.so`], { cwd: dir, encoding: "latin1" });
    const m = /^([0-9a-f]+) +[0-9a-f]+ +R_X86_64_(TPOFF64|TLSDESC)/m.exec(relocs);
    if (m) gotSlot.set(`./lib${name}.so`, { offset: BigInt(`0x${m[1]}`), desc: m[2] === "TLSDESC", size });
  }
  // Libraries with an initial-exec dependency (NEEDED kept with --no-as-needed): one dlopen and one
  // dlclose for the two. m1 (256 B) needs m2 (512 B); n1 (16 B) needs n2 (2 KiB, never fits); q1
  // (2 KiB) needs q2 (16 B, which fits and is given back by the failed dlopen's dlclose).
  const ie = ["-shared", "-fPIC", "-O1", "-ftls-model=initial-exec"];
  for (const [lib, size, dep] of [
    ["m2", 512, undefined],
    ["m1", 256, "m2"],
    ["n2", 2048, undefined],
    ["n1", 16, "n2"],
    ["q2", 16, undefined],
    ["q1", 2048, "q2"],
  ] as const) {
    writeFileSync(
      join(dir, `${lib}.c`),
      `__thread char v${lib}[${size}] = {1};\n` +
        `long ${dep ? "tls_off" : `${lib}_off`}(void){ return (char*)&v${lib} - (char*)__builtin_thread_pointer(); }\n`,
    );
    const link = dep ? ["-Wl,--no-as-needed", "-L.", `-l${dep}`, "-Wl,-rpath,$ORIGIN"] : [`-Wl,-soname,lib${lib}.so`];
    gcc(...ie, "-o", `lib${lib}.so`, `${lib}.c`, ...link);
    const relocs = execFileSync("readelf", ["-rW", `lib${lib}.so`], { cwd: dir, encoding: "latin1" });
    const m = /^([0-9a-f]+) +[0-9a-f]+ +R_X86_64_TPOFF64/m.exec(relocs);
    if (m) gotSlot.set(`./lib${lib}.so`, { offset: BigInt(`0x${m[1]}`), desc: false });
  }
  return { dir, driver: join(dir, "driver"), gotSlot };
}

function realRun(b: Built, args: readonly string[], driver = b.driver): OpResult[] {
  return splitOps(straceRun(b.dir, driver, args).trace).ops;
}

/**
 * The same operations in ldsim after runToMain. A success answers with what the library's
 * initial-exec access computes: the relocated GOT slot of its R_X86_64_TPOFF64, `&v - tp`.
 */
function simulated(b: Built, args: readonly string[], driver = b.driver): OpResult[] {
  const proc = spawnForRun({ cwd: b.dir });
  const run = runToMain(proc, driver, { argv: [driver], profile: hostRtldProfile() });
  expect(run.error).toBeUndefined();
  const rtld = run.rtld;
  const handles: LinkMap[] = [];
  const ops: OpResult[] = [];
  for (const a of args) {
    const from = proc.log.events.length;
    let answer: string;
    if (a.startsWith("o:")) {
      const m = /^o:(.*):(\d+)$/.exec(a);
      const path = m?.[1] ?? "";
      const h = dlopen(rtld, path, Number(m?.[2]));
      if (h) {
        handles.push(h);
        // What the library's access computes: the TPOFF64 slot, or a static TLSDESC's argument.
        const slot = b.gotSlot.get(path);
        if (slot?.desc && h.tlsOffset === undefined) answer = "ok dyn";
        else {
          const at = slot === undefined ? undefined : h.addr + slot.offset + (slot.desc ? 8n : 0n);
          const got = at === undefined ? 0n : BigInt.asIntN(64, readU64(proc.mm.readUser(Number(at), 8)));
          answer = `ok ${got}`;
          if (slot?.size !== undefined) {
            // The block at tp + offset: what dl_init_static_tls copied (the init image {1, 2, 3}, zeros).
            const block = proc.mm.readUser(Number(proc.fsBase + got), slot.size);
            const sig =
              (block[0] ?? 0) | ((block[1] ?? 0) << 8) | ((block[2] ?? 0) << 16) | ((block.at(-1) ?? 0) << 24);
            answer += ` ${sig.toString(16)}`;
          }
        }
      } else answer = `NULL ${dlerror(rtld) ?? "(null)"}`;
    } else {
      answer = String(dlclose(rtld, handles[Number(a.slice(2))] as LinkMap));
    }
    ops.push({ lines: tracedSince(proc, from), answer });
  }
  return ops;
}

const readU64 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);

describe.skipIf(!ok)("dlopen of initial-exec TLS libraries: static TLS surplus as real glibc 2.36 hands it out", () => {
  const b = ok ? build() : undefined;
  const NOW = 2;
  const o = (n: string) => `o:./lib${n}.so:${NOW}`;
  const cases: [string, string[], ("tls" | undefined)?][] = [
    ["one small block (TPOFF64 against symbol 0)", [o("t16")]],
    ["512-byte blocks until the surplus runs out", [o("t512a"), o("t512b"), o("t512c"), o("t512d")]],
    ["a large block, then a small one in what is left", [o("t1600"), o("t16")]],
    ["a block that fits only in the static size's alignment slack", [o("t1700"), o("t16")]],
    ["too large for the surplus: 2 KiB, 4 KiB", [o("t2k"), o("t4k")]],
    ["64- and 128-byte aligned blocks after an unaligned one", [o("t16"), o("a64"), o("a128")]],
    ["alignment above the static block's (4096): refused", [o("a4096"), o("t16")]],
    ["dlclose of the last block gives it back", [o("t1k"), "c:0", o("t1kb"), o("t1600")]],
    ["dlclose of an earlier block does not", [o("t512a"), o("t512b"), "c:0", o("t1k"), o("t512c")]],
    ["dlclose of both, newest first", [o("t512a"), o("t512b"), "c:1", "c:0", o("t1600")]],
    ["dlclose of both, oldest first", [o("t512a"), o("t512b"), "c:0", "c:1", o("t1600")]],
    ["reopened after dlclose: a new block", [o("t16"), o("a64"), "c:0", o("t16")]],
    ["a library and its initial-exec dependency: the dependency's block first", [o("m1"), o("t1k")]],
    ["the dependency's block does not fit: the dlopen fails, nothing is kept", [o("n1"), o("t1700"), o("n1")]],
    ["the dependency fits, the object does not: the failed dlopen gives the block back", [o("q1"), o("t1700")]],
    ["one dlclose frees a library and its dependency", [o("m1"), "c:0", o("t1600")]],
    ["dlclose of the middle one, then of the last one", [o("t16"), o("m1"), o("t512a"), "c:1", "c:2", o("t1600")]],
    ["TLSDESC: a static block from the optional surplus", [o("d16"), o("t16")]],
    ["TLSDESC under RTLD_LAZY (resolved at load)", [`o:./libd16.so:1`, o("t16")]],
    ["TLSDESC: what is left of the optional 512 bytes", [o("d400"), o("d16"), o("t16")]],
    // TRY_STATIC_TLS finds no room in the optional surplus: a dynamic descriptor, the dlopen succeeds.
    ["TLSDESC: the optional 512 bytes run out, the next block is dynamic", [o("d400"), o("d400b"), o("t16")]],
    ["TLSDESC: larger than the optional surplus, dynamic TLS", [o("d600"), o("t1600")]],
    ["program with TLS: 1664 bytes fit exactly (the surplus is 1664)", [o("s1664")], "tls"],
    ["program with TLS: 1672 bytes do not", [o("s1672"), o("t1k")], "tls"],
  ];
  for (const [what, args, driver] of cases) {
    it(what, () => {
      if (!b) return;
      const exe = driver === "tls" ? join(b.dir, "driver-tls") : b.driver;
      const real = realRun(b, args, exe);
      const mine = simulated(b, args, exe);
      expect(mine.map((r) => r.answer)).toEqual(real.map((r) => r.answer));
      expect(mine.map((r) => r.lines.map(normalise))).toEqual(real.map((r) => r.lines.map(normalise)));
    });
  }
});
