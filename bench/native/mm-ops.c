/*
 * Native peer for bench/mm.bench.ts: the same operation loops on the running kernel, with 10,000
 * VMAs live (alternating PROT_READ / PROT_READ|PROT_WRITE one-page mappings, so none merge).
 * Prints "name ops_per_second" lines.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

#define N 10000
#define PAGE 4096UL

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void) {
  char *base = mmap(0, (N + 160) * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) return 1;
  for (unsigned long i = 0; i < N; i++)
    mmap(base + i * PAGE, PAGE, (i & 1) ? PROT_READ | PROT_WRITE : PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  unsigned long seed = 1;
  int iters = 200000;
  double t = now();
  for (int k = 0; k < iters; k++) {
    seed = seed * 6364136223846793005UL + 1442695040888963407UL;
    unsigned long i = (seed >> 33) % N;
    int prot = (i & 1) ? PROT_READ | PROT_WRITE : PROT_READ;
    mprotect(base + i * PAGE, PAGE, prot ^ PROT_EXEC);
    mprotect(base + i * PAGE, PAGE, prot);
  }
  printf("mprotect %.0f\n", 2 * iters / (now() - t));
  char *big = base + (N + 64) * PAGE;
  mmap(big, 64 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  t = now();
  for (int k = 0; k < iters; k++) {
    seed = seed * 6364136223846793005UL + 1442695040888963407UL;
    char *p = big + (1 + (seed >> 33) % 62) * PAGE;
    mprotect(p, PAGE, PROT_READ);
    mprotect(p, PAGE, PROT_READ | PROT_WRITE);
  }
  printf("mprotect_split_merge %.0f\n", 2 * iters / (now() - t));
  munmap(big, 64 * PAGE);
  t = now();
  for (int k = 0; k < iters; k++) {
    seed = seed * 6364136223846793005UL + 1442695040888963407UL;
    unsigned long i = (seed >> 33) % N;
    int prot = (i & 1) ? PROT_READ | PROT_WRITE : PROT_READ;
    munmap(base + i * PAGE, PAGE);
    mmap(base + i * PAGE, PAGE, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  }
  printf("munmap+mmap_fixed %.0f\n", 2 * iters / (now() - t));
  t = now();
  for (int k = 0; k < iters; k++) {
    char *p = mmap(0, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(p, PAGE);
  }
  printf("mmap_topdown+munmap %.0f\n", 2 * iters / (now() - t));
  return 0;
}
