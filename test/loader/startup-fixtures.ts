import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Programs for the startup parity tests (run.test.ts): each one's `main` begins with a system call
 * that marks where main starts in strace (`openat(/proc/self/maps)`), then prints its own
 * /proc/self/maps with read/write on a static buffer (no malloc, so nothing moves before the read).
 */
export interface StartupPrograms {
  readonly dir: string;
  /** Only libc. */
  readonly maps: string;
  /** A diamond: main needs libb and libc2 (RPATH $ORIGIN/lib), both need libd; every object has a constructor printing its name, libd also a DT_INIT (-Wl,-init). */
  readonly diamond: string;
  /** Initial-exec TLS in a library and the program, a preinit array in the program. */
  readonly tls: string;
  /** Calls u2, which u/libu.so no longer defines: with LD_BIND_NOW, "symbol lookup error", exit 127. */
  readonly symbolMissing: string;
  /** Needs version VERS_2 of v/libv.so, which only defines VERS_1: "version `VERS_2' not found", exit 1. */
  readonly versionMissing: string;
  /** Linked with -z now and RELR (-z pack-relative-relocs), a dependency on libm. */
  readonly now: string;
}

const MAPS_MAIN = `
#include <fcntl.h>
#include <unistd.h>
static char buf[1 << 16];
int main(void) {
  int fd = open("/proc/self/maps", O_RDONLY);
  ssize_t n, t = 0;
  while ((n = read(fd, buf + t, sizeof buf - t)) > 0) t += n;
  write(1, buf, t);
  return 0;
}
`;

/**
 * A constructor printing its name with an inline write syscall: no PLT call, so no lazy binding the
 * model (which cannot run constructors) would have to predict in LD_DEBUG=symbols/bindings.
 */
const SAY = `static void say(const char *s, long n) {
  long r;
  __asm__ volatile("syscall" : "=a"(r) : "a"(1L), "D"(1L), "S"(s), "d"(n) : "rcx", "r11", "memory");
  (void)r;
}`;
const ctor = (name: string) => `
${SAY}
__attribute__((constructor)) static void ctor_${name}(void) { say("${name}\\n", ${name.length + 1}); }
`;

function sh(cwd: string, cmd: string, args: string[]): void {
  execFileSync(cmd, args, { cwd, stdio: "pipe" });
}

let built: StartupPrograms | undefined;

/** Builds once per test process (gcc must exist: see hasGcc in build-fixtures.ts). */
export function buildStartupPrograms(): StartupPrograms {
  if (built) return built;
  const dir = mkdtempSync(join(tmpdir(), "ldsim-startup-"));
  const lib = join(dir, "lib");
  mkdirSync(lib);
  const w = (f: string, s: string) => writeFileSync(join(dir, f), s);
  const gcc = (...a: string[]) => sh(dir, "gcc", a);
  w("maps.c", MAPS_MAIN);
  gcc("-O1", "-o", "maps", "maps.c");

  w("d.c", `${ctor("d")}\nvoid d_init(void) { say("d-init\\n", 7); }\nint d(void){return 1;}\n`);
  w("b.c", `${ctor("b")}\nint d(void); int b(void){return d();}\n`);
  w("c2.c", `${ctor("c2")}\nint d(void); int c2(void){return d();}\n`);
  w(
    "diamond.c",
    `${ctor("main")}\nint b(void); int c2(void);\n${MAPS_MAIN.replace("int main(void) {", "int main(void) { b(); c2();")}`,
  );
  gcc("-shared", "-fPIC", "-o", "lib/libd.so", "d.c", "-Wl,-soname,libd.so", "-Wl,-init,d_init");
  gcc("-shared", "-fPIC", "-o", "lib/libb.so", "b.c", "-Wl,-soname,libb.so", "-Llib", "-ld");
  gcc("-shared", "-fPIC", "-o", "lib/libc2.so", "c2.c", "-Wl,-soname,libc2.so", "-Llib", "-ld");
  // DT_RPATH (not RUNPATH): it also serves the indirect dependency libd.
  gcc(
    "-o",
    "diamond",
    "diamond.c",
    "-Llib",
    "-lb",
    "-lc2",
    "-Wl,--disable-new-dtags",
    "-Wl,-rpath,$ORIGIN/lib",
    "-Wl,-rpath-link,lib",
  );

  w(
    "t.c",
    "__thread int tl_lib = 7; __thread char tl_big[100] __attribute__((aligned(64))); int *t(void){return &tl_lib;}\n",
  );
  w(
    "tls.c",
    `${SAY}\nstatic void pre(int a, char **v, char **e){ (void)a; (void)v; (void)e; say("pre\\n", 4); }\n__attribute__((section(".preinit_array"), used)) static void (*pre_p)(int, char **, char **) = pre;\n__thread long tl_main = 5;\nextern __thread int tl_lib;\nint *t(void);\n${MAPS_MAIN.replace("int main(void) {", "int main(void) { tl_main += tl_lib + *t();")}`,
  );
  gcc("-shared", "-fPIC", "-ftls-model=initial-exec", "-o", "lib/libt.so", "t.c", "-Wl,-soname,libt.so");
  gcc("-o", "tls", "tls.c", "-Llib", "-lt", "-Wl,-rpath,$ORIGIN/lib");

  w(
    "now.c",
    `#include <math.h>\nvolatile double x = 2.0;\n${MAPS_MAIN.replace("int main(void) {", "int main(void) { x = sqrt(x) + cos(x);")}`,
  );
  try {
    gcc("-o", "now", "now.c", "-lm", "-Wl,-z,now", "-Wl,-z,pack-relative-relocs");
  } catch {
    gcc("-o", "now", "now.c", "-lm", "-Wl,-z,now");
  }
  // libv.so v1 exports VERS_1 and VERS_2; the program needs VERS_2; libv.so is then rebuilt with VERS_1 only.
  mkdirSync(join(dir, "v"), { recursive: true });
  w("v.c", "int v1(void){return 1;}\nint v2(void){return 2;}\n");
  w("v12.map", "VERS_1 { global: v1; local: *; };\nVERS_2 { global: v2; } VERS_1;\n");
  w("v1.map", "VERS_1 { global: v1; v2; local: *; };\n");
  w("vm.c", `int v2(void);\n${MAPS_MAIN.replace("int main(void) {", "int main(void) { v2();")}`);
  gcc("-shared", "-fPIC", "-o", "v/libv.so", "v.c", "-Wl,-soname,libv.so", "-Wl,--version-script,v12.map");
  gcc("-o", "vmissing", "vm.c", "-Lv", "-lv", "-Wl,-rpath,$ORIGIN/v");
  gcc("-shared", "-fPIC", "-o", "v/libv.so", "v.c", "-Wl,-soname,libv.so", "-Wl,--version-script,v1.map");
  // libu.so loses u2 after the program was linked: under LD_BIND_NOW the startup relocation fails.
  mkdirSync(join(dir, "u"), { recursive: true });
  w("u.c", "int u1(void){return 1;}\nint u2(void){return 2;}\n");
  w("u1.c", "int u1(void){return 1;}\n");
  w("um.c", `int u2(void);\n${MAPS_MAIN.replace("int main(void) {", "int main(void) { u2();")}`);
  gcc("-shared", "-fPIC", "-o", "u/libu.so", "u.c", "-Wl,-soname,libu.so");
  gcc("-o", "umissing", "um.c", "-Lu", "-lu", "-Wl,-rpath,$ORIGIN/u");
  gcc("-shared", "-fPIC", "-o", "u/libu.so", "u1.c", "-Wl,-soname,libu.so");
  built = {
    dir,
    symbolMissing: join(dir, "umissing"),
    versionMissing: join(dir, "vmissing"),
    maps: join(dir, "maps"),
    diamond: join(dir, "diamond"),
    tls: join(dir, "tls"),
    now: join(dir, "now"),
  };
  return built;
}

export interface RealRun {
  /** strace lines (pid prefix removed), up to and without the exit. */
  readonly strace: string[];
  readonly stdout: string;
  /** LD_DEBUG lines with the pid prefix normalised to "PID:". */
  readonly debug: string[];
}

/**
 * The real program under `setarch -R` with exactly `env`: strace's log, its stdout, and (with LD_DEBUG
 * in env) ld.so's debug output through LD_DEBUG_OUTPUT.
 */
export function realRun(
  exe: string,
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
  cwd: string,
  /**
   * Kill the whole run after this many seconds (coreutils `timeout` signals its process group: strace
   * and the program with every process it started, so a program that waits forever — a GUI, a JVM —
   * cannot hold the output pipe open). Without it, node's 20 s timeout kills setarch/strace only.
   */
  killAfterSeconds?: number,
): RealRun {
  const tmp = mkdtempSync(join(tmpdir(), "ldsim-real-"));
  const trace = join(tmp, "trace");
  const dbg = join(tmp, "dbg");
  // The program's environment is set by strace -E (setarch and strace themselves run without it):
  // exactly `env`, so the initial stack matches the simulated exec's.
  const e = Object.entries({ ...env, ...(env["LD_DEBUG"] !== undefined ? { LD_DEBUG_OUTPUT: dbg } : {}) });
  const eArgs = e.flatMap(([k, v]) => ["-E", `${k}=${v}`]);
  const unset = Object.keys(process.env).flatMap((k) => ["-E", k]);
  let stdout = "";
  try {
    const cmd = ["setarch", "-R", "strace", "-o", trace, ...unset, ...eArgs, exe, ...argv.slice(1)];
    const wrapped = killAfterSeconds === undefined ? cmd : ["timeout", "-s", "KILL", String(killAfterSeconds), ...cmd];
    stdout = execFileSync(wrapped[0] as string, wrapped.slice(1), {
      cwd,
      env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin" },
      encoding: "latin1",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 20_000,
    });
  } catch (e) {
    stdout = String((e as { stdout?: string }).stdout ?? "");
  }
  const strace = existsSync(trace)
    ? readFileSync(trace, "latin1")
        .split("\n")
        .filter((l) => l !== "" && !l.startsWith("+++"))
    : [];
  const dbgFile = readdirSync(tmp).find((f) => f.startsWith("dbg."));
  const debug = dbgFile
    ? readFileSync(join(tmp, dbgFile), "latin1")
        .split("\n")
        .filter((l, i, a) => i < a.length - 1 || l !== "")
        .map((l) => l.replace(/^ *\d+:/, "PID:"))
    : [];
  return { strace, stdout, debug };
}

/** The fields two runs of the same program legitimately differ in (the caller's envp pointer, the pid, ld.so's stack buffers). */
export function normaliseStrace(l: string): string {
  return l
    .replace(/^(execve\(.*\], )0x[0-9a-f]+( \/\* \d+ vars? \*\/)/, "$1ENVP$2")
    .replace(/^(set_tid_address\(0x[0-9a-f]+\)\s+= )\d+/, "$1PID")
    .replace(/^(newfstatat\(AT_FDCWD, "[^"]*", )0x[0-9a-f]+/, "$1STACKPTR")
    .replace(/^(read\(\d+, )0x[0-9a-f]+/, "$1STACKPTR");
}
