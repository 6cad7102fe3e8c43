/*
 * Differential driver for rw-chunks.test.ts: read/pread64/write with huge counts over a buffer of
 * three mapped pages followed by an unmapped one, and the access_ok edge cases, on the real kernel.
 * Writes go to a pty slave in raw mode whose master is drained by a child (so only faults stop
 * them, as for a terminal that keeps up). Prints "label result" lines (result: count or -errno).
 *
 * usage: rwdiff FILE
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

static void show(const char *label, long off, long r) {
  printf("%s %ld %ld\n", label, off, r < 0 ? -(long)errno : r);
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  if (m < 0 || grantpt(m) || unlockpt(m)) return 2;
  int s = open(ptsname(m), O_RDWR | O_NOCTTY);
  struct termios t;
  tcgetattr(s, &t);
  cfmakeraw(&t);
  tcsetattr(s, TCSANOW, &t);
  if (fork() == 0) {
    static char buf[65536];
    close(s);
    while (read(m, buf, sizeof buf) > 0) {
    }
    _exit(0);
  }
  int f = open(argv[1], O_RDONLY);
  char *p = mmap(0, 4 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  p[0] = 1;
  p[5000] = 2;
  munmap(p + 3 * 4096, 4096);
  static const long offs[] = {0, 1, 100, 2047, 2048, 4095, 4096, 8191, 10000, 12277, 12287, 12288};
  for (unsigned i = 0; i < sizeof offs / sizeof *offs; i++) {
    show("write", offs[i], syscall(SYS_write, s, p + offs[i], 1L << 26));
    show("write-max", offs[i], syscall(SYS_write, s, p + offs[i], 0x7ffff000L));
    show("pread", offs[i], syscall(SYS_pread64, f, p + offs[i], 1L << 26, 0L));
    show("pread-off", offs[i], syscall(SYS_pread64, f, p + offs[i], 1L << 26, 5000L));
    lseek(f, 0, SEEK_SET);
    show("read", offs[i], syscall(SYS_read, f, p + offs[i], 1L << 26));
    show("read-pos", offs[i], lseek(f, 0, SEEK_CUR));
  }
  show("write-all-ones", 0, syscall(SYS_write, s, p, -1L));
  show("write-2^40", 0, syscall(SYS_write, s, p, 1L << 40));
  show("write-null-0", 0, syscall(SYS_write, s, (char *)0, 0L));
  show("write-top-0", 0, syscall(SYS_write, s, (char *)0x7ffffffff000, 0L));
  show("write-2^47-0", 0, syscall(SYS_write, s, (char *)0x800000000000, 0L));
  show("write-top-1", 0, syscall(SYS_write, s, (char *)0x7ffffffff000, 1L));
  show("read-2^47-0", 0, syscall(SYS_read, f, (char *)0x800000000000, 0L));
  show("read-null-0", 0, syscall(SYS_read, f, (char *)0, 0L));
  show("pread-all-ones", 0, syscall(SYS_pread64, f, p, -1L, 0L));
  show("pread-neg-off", 0, syscall(SYS_pread64, f, p, 10L, -1L));
  show("pread-badfd-neg-off", 0, syscall(SYS_pread64, 999, p, 10L, -1L));
  show("pread-badfd", 0, syscall(SYS_pread64, 999, p, 10L, 0L));
  show("pread-tty", 0, syscall(SYS_pread64, s, p, 10L, 0L));
  show("pread-tty-badbuf", 0, syscall(SYS_pread64, s, (char *)0x800000000000, 10L, 0L));
  show("read-badfd-badbuf", 0, syscall(SYS_read, 999, (char *)0x800000000000, 10L));
  return 0;
}
