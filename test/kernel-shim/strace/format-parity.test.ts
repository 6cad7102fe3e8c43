import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatEvent } from "../../../kernel-shim/strace/format.ts";
import { parseStraceLine } from "../../../kernel-shim/strace/parse.ts";

function has(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
}
const hasStrace = has("strace") && spawnSync("strace", ["-e", "trace=none", "true"]).status === 0;
const hasGcc = has("gcc");
const hasSetarch = has("setarch");
if (!hasStrace) console.log("strace parity skipped: strace missing or ptrace not permitted");

const TRACE = "openat,mmap,mprotect,munmap,read,pread64,newfstatat,close,brk,access,arch_prctl,set_tid_address";

/** The syscall lines real strace prints for `argv` (under setarch -R when available). */
function straceLines(argv: string[], trace = TRACE): string[] {
  const cmd = hasSetarch ? ["setarch", "-R", ...argv] : argv;
  const r = spawnSync("strace", ["-qq", "-e", `trace=${trace}`, "-e", "signal=none", ...cmd], {
    encoding: "latin1",
    stdio: ["ignore", "ignore", "pipe"],
  });
  return r.stderr.split("\n").filter((l) => /^[a-z_0-9]+\(/.test(l));
}

/** Each line: parse, format, compare; returns the lines that differ. */
function mismatches(lines: string[]): { line: string; got: string }[] {
  const bad: { line: string; got: string }[] = [];
  for (const line of lines) {
    const ev = parseStraceLine(line);
    const got = ev === undefined ? "<unparsed>" : formatEvent(ev);
    if (got !== line) bad.push({ line, got });
  }
  return bad;
}

// A probe exercising flags, errors, escapes and struct printing the loader's calls do not reach.
const PROBE = `#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/syscall.h>
int main(void){
  char b[64]; struct stat st;
  access("/tmp", R_OK|W_OK|X_OK); access("/tmp", X_OK|W_OK); access("/nonexist/x", F_OK);
  access("/etc/hostname/x", F_OK);
  read(99, b, 10); read(-1, b, 10);
  int fd = open("/tmp", O_RDONLY|O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC); read(fd, b, 10); close(fd); close(fd);
  fd = openat(AT_FDCWD, "/proc/self/exe", O_RDONLY|O_NONBLOCK|O_NOCTTY); close(fd);
  fstat(0, &st); syscall(SYS_newfstatat, AT_FDCWD, "/tmp", &st, 0);
  syscall(SYS_newfstatat, AT_FDCWD, "/nonexist", &st, AT_SYMLINK_NOFOLLOW);
  syscall(SYS_newfstatat, AT_FDCWD, "/dev/null", &st, 0);
  syscall(SYS_newfstatat, AT_FDCWD, "/proc/self/exe", &st, AT_SYMLINK_NOFOLLOW);
  fd = open("/proc/self/exe", O_RDONLY); pread(fd, b, 64, 0); pread(fd, b, 5, 1); pread(fd, b, 5, 1 << 30); close(fd);
  void *p = mmap(0, 4096, PROT_NONE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0);
  mprotect(p, 4096, PROT_READ|PROT_WRITE|PROT_EXEC); munmap(p, 4096);
  mmap((void*)0x10000, 4096, PROT_READ, MAP_SHARED|MAP_FIXED_NOREPLACE|MAP_ANONYMOUS, -1, 0);
  mmap(0, 4096, PROT_READ, MAP_PRIVATE, 77, 0x3000); mprotect((void*)1, 4096, PROT_READ); munmap(0,0);
  mmap(0, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_STACK|MAP_GROWSDOWN, -1, 0);
  syscall(SYS_arch_prctl, 0x1003, b); syscall(SYS_arch_prctl, 0x3001, b);
  int pfd[2]; pipe(pfd); write(pfd[1], "a\\tb\\"\\\\\\n\\001\\0012\\377\\r\\v\\f 0123456789012345678901234567890", 48);
  read(pfd[0], b, 48);
  write(pfd[1], "\\0" "8" "\\0" "7" "\\177" "9", 6); read(pfd[0], b, 6);
  return 0;
}
`;

let tmp: string | undefined;
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("strace formatter against real strace output", () => {
  it.skipIf(!hasStrace)("reproduces /bin/true's loader calls line for line", () => {
    const lines = straceLines(["/bin/true"]);
    expect(lines.length).toBeGreaterThan(15);
    expect(mismatches(lines)).toEqual([]);
  });

  it.skipIf(!hasStrace)("reproduces ls and cat (errors, directories, reads)", () => {
    const lines = [
      ...straceLines(["/bin/ls", "/nonexist", "/tmp"]),
      ...straceLines(["/bin/cat", "/etc/hostname", "/proc/self/maps", "/nonexist"]),
    ];
    expect(lines.length).toBeGreaterThan(60);
    expect(mismatches(lines)).toEqual([]);
  });

  it.skipIf(!hasStrace || !hasGcc)("reproduces a probe of flags, errors, escapes and stat structs", () => {
    tmp = mkdtempSync(join(tmpdir(), "ldsim-strace-"));
    writeFileSync(join(tmp, "probe.c"), PROBE);
    execFileSync("gcc", ["-O0", "-w", "-o", join(tmp, "probe"), join(tmp, "probe.c")]);
    const lines = straceLines([join(tmp, "probe")], `${TRACE},write,fstat,exit_group`).filter(
      (l) => !l.startsWith("write(1"),
    );
    const probeLines = lines.slice(lines.findIndex((l) => l.startsWith('access("/tmp"')));
    expect(probeLines.length).toBeGreaterThan(30);
    expect(mismatches(probeLines)).toEqual([]);
    // The escapes and the 32-byte cut are really exercised:
    expect(probeLines.some((l) => l.includes("\\1\\0012\\377") && l.includes('"...'))).toBe(true);
    expect(probeLines.some((l) => l.includes("makedev(0x1, 0x3)"))).toBe(true);
    // Three-digit octal only before an octal digit: "\08" but "\0007".
    expect(probeLines.some((l) => l.includes('"\\08\\0007\\1779"'))).toBe(true);
  });
});
