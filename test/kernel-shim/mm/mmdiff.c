/*
 * Differential driver for test/kernel-shim/mm/differential.test.ts: runs a list of memory syscalls
 * against the real kernel and prints each result and the /proc/self/maps lines inside a private
 * window. Uses only raw syscalls, write(2) and static buffers after start-up, so libc creates no
 * mappings of its own while the sequence runs.
 *
 * usage: mmdiff FILE WINDOW_PAGES < ops
 * ops (one per line, numbers in hex; addresses are offsets from the window base unless marked A):
 *   M rel|A:abs len prot flags fd off    mmap (fd: 0 = none/-1, 1 = FILE O_RDWR, 2 = FILE O_RDONLY)
 *   U rel|A:abs len                      munmap
 *   P rel|A:abs len prot                 mprotect
 *   R rel                                read one byte
 *   W rel val                            write one byte
 *   B off                                brk(initial break + off)
 *   F                                    fork(); the child carries on, the parent waits and exits
 * output: "BASE <hex>", "BRK <hex>" (the initial break), then the initial full maps between "MAPS" and "END", then per op
 *   "= <hex addr or -errno>" or "r <val>|w ok|SEGV|BUS", and after mutating ops the whole maps and "--"
 *   (the whole file, not just the window: non-fixed mappings land above it, next to libc's own);
 *   finally the full maps again between "MAPS" and "END".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char out[1 << 16];
static size_t outlen;
static char mapsbuf[1 << 20];
static char inbuf[1 << 20];
static sigjmp_buf jb;
static volatile int lastsig;

static void flush(void) {
  size_t off = 0;
  while (off < outlen) {
    ssize_t n = write(1, out + off, outlen - off);
    if (n <= 0) _exit(3);
    off += (size_t)n;
  }
  outlen = 0;
}
static void puts_(const char *s) {
  size_t n = strlen(s);
  if (outlen + n > sizeof out) flush();
  if (n > sizeof out) { outlen = 0; return; }
  memcpy(out + outlen, s, n);
  outlen += n;
}
static void putx(unsigned long v) {
  char b[32];
  int i = 31;
  b[i] = 0;
  do { b[--i] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
  puts_(b + i);
}
static void putret(long r) {
  if (r < 0 && r >= -4095) { puts_("-"); putx((unsigned long)-r); }
  else putx((unsigned long)r);
}
static unsigned long parsehex(const char **p) {
  unsigned long v = 0;
  while (**p == ' ') (*p)++;
  for (;;) {
    char c = **p;
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else break;
    v = v * 16 + (unsigned long)d;
    (*p)++;
  }
  return v;
}
static unsigned long parseaddr(const char **p, unsigned long base) {
  while (**p == ' ') (*p)++;
  if (**p == 'A' && (*p)[1] == ':') { *p += 2; return parsehex(p); }
  return base + parsehex(p);
}
static size_t readmaps(void) {
  int fd = open("/proc/self/maps", O_RDONLY);
  size_t n = 0;
  ssize_t r;
  while ((r = read(fd, mapsbuf + n, sizeof mapsbuf - 1 - n)) > 0) n += (size_t)r;
  close(fd);
  mapsbuf[n] = 0;
  return n;
}
/* Print lines whose range intersects [lo, hi) (all lines when lo == hi == 0). */
static void printmaps(unsigned long lo, unsigned long hi) {
  size_t n = readmaps();
  char *line = mapsbuf;
  while (line < mapsbuf + n) {
    char *nl = strchr(line, '\n');
    if (!nl) break;
    const char *p = line;
    unsigned long s = parsehex(&p);
    p++;
    unsigned long e = parsehex(&p);
    if ((lo == 0 && hi == 0) || (s < hi && e > lo)) {
      *nl = 0;
      puts_(line);
      puts_("\n");
      *nl = '\n';
    }
    line = nl + 1;
  }
}
static void handler(int sig) { lastsig = sig; siglongjmp(jb, 1); }

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  int fdrw = open(argv[1], O_RDWR);
  int fdro = open(argv[1], O_RDONLY);
  if (fdrw < 0 || fdro < 0) return 2;
  unsigned long pages = strtoul(argv[2], 0, 16);
  unsigned long wlen = pages * 4096;
  size_t inlen = 0;
  ssize_t r;
  while ((r = read(0, inbuf + inlen, sizeof inbuf - 1 - inlen)) > 0) inlen += (size_t)r;
  inbuf[inlen] = 0;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sa.sa_flags = SA_NODEFER;
  sigaction(SIGSEGV, &sa, 0);
  sigaction(SIGBUS, &sa, 0);
  /* Reserve the window where the kernel would put it, then free it. */
  long base = syscall(SYS_mmap, 0, wlen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base < 0 && base >= -4095) return 2;
  syscall(SYS_munmap, base, wlen);
  puts_("BASE ");
  putx((unsigned long)base);
  long brk0 = syscall(SYS_brk, 0);
  puts_("\nBRK ");
  putx((unsigned long)brk0);
  puts_("\nMAPS\n");
  printmaps(0, 0);
  puts_("END\n");
  const char *p = inbuf;
  while (*p) {
    char op = *p++;
    long ret = 0;
    int mut = 1;
    if (op == 'M') {
      unsigned long a = parseaddr(&p, (unsigned long)base);
      unsigned long len = parsehex(&p), prot = parsehex(&p), flags = parsehex(&p), fd = parsehex(&p), off = parsehex(&p);
      long rfd = fd == 1 ? fdrw : fd == 2 ? fdro : -1;
      ret = syscall(SYS_mmap, a, len, prot, flags, rfd, off);
    } else if (op == 'U') {
      unsigned long a = parseaddr(&p, (unsigned long)base);
      unsigned long len = parsehex(&p);
      ret = syscall(SYS_munmap, a, len);
    } else if (op == 'P') {
      unsigned long a = parseaddr(&p, (unsigned long)base);
      unsigned long len = parsehex(&p), prot = parsehex(&p);
      ret = syscall(SYS_mprotect, a, len, prot);
    } else if (op == 'B') {
      unsigned long off = parsehex(&p);
      ret = syscall(SYS_brk, (unsigned long)brk0 + off);
    } else if (op == 'F') {
      flush();
      pid_t pid = fork();
      if (pid > 0) {
        int status = 0;
        waitpid(pid, &status, 0);
        _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 4);
      }
      ret = pid < 0 ? -1 : 0;
    } else if (op == 'R' || op == 'W') {
      unsigned long a = parseaddr(&p, (unsigned long)base);
      unsigned long val = op == 'W' ? parsehex(&p) : 0;
      mut = op == 'W';
      volatile unsigned char *ptr = (volatile unsigned char *)a;
      lastsig = 0;
      if (sigsetjmp(jb, 1) == 0) {
        if (op == 'W') { *ptr = (unsigned char)val; puts_("w ok\n"); }
        else { unsigned v = *ptr; puts_("r "); putx(v); puts_("\n"); }
      } else {
        puts_(lastsig == SIGBUS ? "BUS\n" : "SEGV\n");
      }
    } else if (op == '\n' || op == ' ') {
      continue;
    } else {
      return 2;
    }
    while (*p && *p != '\n') p++;
    if (op != 'R' && op != 'W') {
      puts_("= ");
      putret(ret < 0 ? -errno : ret);
      puts_("\n");
    }
    if (mut) {
      printmaps(0, 0);
      puts_("--\n");
    }
  }
  puts_("MAPS\n");
  printmaps(0, 0);
  puts_("END\n");
  flush();
  return 0;
}
