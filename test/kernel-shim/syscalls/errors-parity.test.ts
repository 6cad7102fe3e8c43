import { afterAll, describe, expect, it } from "vitest";
import { execElf } from "../../../kernel-shim/exec/binfmt-elf.ts";
import { HostFs } from "../../../kernel-shim/fs/host-fs.ts";
import { Kernel } from "../../../kernel-shim/process/kernel.ts";
import { Process } from "../../../kernel-shim/process/process.ts";
import { replayStrace } from "../../../kernel-shim/strace/replay.ts";
import { HAS_GCC, HAS_SETARCH, HAS_STRACE, IS_X86_64, straceRun, TempDir, vdsoFixture } from "../helpers/host.ts";

/**
 * Bad fds, bad paths, bad flags: a probe makes each mistake on the real kernel under strace; ldsim
 * execs the same probe and replays the trace through its dispatcher. Every line (errno included)
 * must come out identical — the real kernel is the oracle for each errno.
 */
const PROBE = `#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <sys/syscall.h>
int main(void) {
  char b[64]; struct stat st;
  read(99, b, 10); read(-1, b, 10); close(99); close(-5); pread(99, b, 10, 0);
  openat(AT_FDCWD, "/nonexistent/file", O_RDONLY);
  openat(AT_FDCWD, "/etc/hostname/x", O_RDONLY);
  openat(AT_FDCWD, "/etc/hostname", O_RDONLY | O_DIRECTORY);
  openat(AT_FDCWD, "/tmp", O_WRONLY);
  openat(AT_FDCWD, "/tmp", O_RDONLY | O_TMPFILE);
  openat(AT_FDCWD, "/bin", O_RDONLY | O_NOFOLLOW);
  openat(99, "relative", O_RDONLY);
  openat(AT_FDCWD, "", O_RDONLY);
  int f = open("/etc/hostname", O_RDONLY);
  openat(f, "relative", O_RDONLY);
  int d = open("/etc", O_RDONLY | O_DIRECTORY);
  int g = openat(d, "hostname", O_RDONLY | O_CLOEXEC);
  read(d, b, 10); read(f, b, 0);
  pread(f, b, 10, -1); pread(f, b, 10, 1LL << 40); pread(g, b, 3, 1);
  lseek(f, 0, 7); lseek(f, -10, SEEK_SET); lseek(f, 2, SEEK_SET); read(f, b, 64); lseek(f, 0, SEEK_END);
  syscall(SYS_newfstatat, AT_FDCWD, "/etc/hostname", &st, 0x4000);
  syscall(SYS_newfstatat, AT_FDCWD, "", &st, 0);
  syscall(SYS_newfstatat, 99, "", &st, AT_EMPTY_PATH);
  syscall(SYS_newfstatat, f, "", &st, AT_EMPTY_PATH);
  syscall(SYS_newfstatat, d, "hostname", &st, 0);
  syscall(SYS_newfstatat, AT_FDCWD, "/etc/hostname/x", &st, 0);
  syscall(SYS_newfstatat, AT_FDCWD, "/proc/self/exe", &st, AT_SYMLINK_NOFOLLOW);
  access("/etc/hostname", 8); access("/nonexistent", F_OK); access("/etc/hostname/x", R_OK); access("/etc", X_OK);
  readlink("/etc/hostname", b, 64); readlink("/proc/self/exe", b, 0); readlink("/nonexistent", b, 64);
  readlink("/proc/self/exe", b, 64); readlink("/proc/self/exe", b, 4);
  mmap(0, 4096, PROT_READ, MAP_PRIVATE, 99, 0);
  int m = open("/proc/self/maps", O_RDONLY);
  mmap(0, 4096, PROT_READ, MAP_PRIVATE, m, 0);
  mmap(0, 4096, PROT_READ, MAP_PRIVATE, f, 1);
  mmap(0, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  mmap(0, 4096, PROT_READ, MAP_ANONYMOUS, -1, 0);
  void *p = mmap(0, 4096, PROT_READ, MAP_PRIVATE, f, 0);
  munmap(p, 4096);
  munmap((void *)1, 4096); mprotect((void *)1, 4096, PROT_READ); mprotect((void *)0x10000, 4096, PROT_READ);
  syscall(SYS_arch_prctl, 0x9999, 0); syscall(SYS_arch_prctl, 0x1002, 0xffff800000000000UL);
  close(m); close(g); close(d); close(f); close(f);
  return 0;
}
`;

const usable = HAS_GCC && HAS_SETARCH && HAS_STRACE && IS_X86_64;
if (!usable) console.log("syscall errno parity skipped: needs x86_64 Linux with gcc, setarch and strace");
const dir = usable ? new TempDir() : undefined;
afterAll(() => dir?.remove());

describe("syscall errors against the real kernel", () => {
  it.skipIf(!usable)("bad fds, paths and flags give the kernel's errno, line for line", () => {
    const d = dir as TempDir;
    const exe = d.compile("probe", PROBE, ["-O0", "-w"]);
    const real = straceRun(d, [exe]);
    const kernel = new Kernel(new HostFs(), real.pid === undefined ? {} : { firstPid: real.pid });
    const proc = Process.spawn(kernel);
    const r = execElf(proc, exe, { argv: [exe], envp: [], vdsoImage: vdsoFixture() });
    expect(r.ok).toBe(true);
    const steps = replayStrace(proc, real.trace, { maxStrlen: 65536 });
    const stdio = /^(newfstatat|fstat|ioctl)\([012],/;
    const differing = steps.filter((s) => s.line !== s.replayed && !stdio.test(s.line));
    expect(differing.map((s) => ({ real: s.line, sim: s.replayed }))).toEqual([]);
    // The probe's own calls really were errors of every kind.
    const errnos = new Set(steps.map((s) => /= -1 (E[A-Z]+)/.exec(s.line)?.[1]).filter((e) => e !== undefined));
    for (const e of ["EBADF", "ENOENT", "ENOTDIR", "EISDIR", "EINVAL", "ENODEV", "ENOMEM", "EPERM"]) {
      expect(errnos.has(e), e).toBe(true);
    }
    expect(steps.length).toBeGreaterThan(70);
  });
});
