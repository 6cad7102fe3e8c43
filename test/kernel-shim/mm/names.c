/* Prints the maps lines of a named anonymous mapping and of a mapping of an unlinked file, for
 * test/kernel-shim/mm/address-space.test.ts. usage: names FILE (FILE is unlinked here). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  char *a = mmap(0, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  /* PR_SET_VMA (0x53564d41), PR_SET_VMA_ANON_NAME (0): name the middle page only. */
  int rc = prctl(0x53564d41, 0, (unsigned long)(a + 4096), 4096, (unsigned long)"ldsim test");
  int fd = open(argv[1], O_RDONLY);
  char *f = mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
  unlink(argv[1]);
  printf("A %lx %d\nF %lx\n", (unsigned long)a, rc, (unsigned long)f);
  fflush(stdout);
  FILE *m = fopen("/proc/self/maps", "r");
  char line[512];
  while (fgets(line, sizeof line, m)) {
    unsigned long s = strtoul(line, 0, 16);
    if ((s >= (unsigned long)a && s < (unsigned long)a + 3 * 4096) || s == (unsigned long)f) fputs(line, stdout);
  }
  return 0;
}
