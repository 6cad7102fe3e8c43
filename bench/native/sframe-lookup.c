/*
 * Native peer for bench/sframe.bench.ts: times libsframe's sframe_find_fre on a .sframe section.
 *
 * Usage: sframe-lookup SECTION_FILE PCS_FILE ROUNDS
 *   SECTION_FILE  raw .sframe bytes (as the section sits in the ELF file)
 *   PCS_FILE      little-endian int32 PCs, section-relative (what sframe_find_fre takes)
 *   ROUNDS        how many times to walk the whole PC list; 0 = no timing, print one line per PC:
 *                 `PC ok START BASE CFA FP RA` (FP/RA `u` when the getter fails) or `PC err MESSAGE`
 *
 * Prints one JSON line: lookups, found, ns_per_lookup (CPU time of the process, the clock the
 * TypeScript side reads through process.cpuUsage(), so time spent descheduled on a busy machine counts
 * on neither side), wall_ns_per_lookup, and a checksum over the answers (sum of fre_start_addr + CFA
 * offset of every row found), so the TypeScript side can check both implementations returned the
 * same rows before comparing their speed.
 *
 * Built at bench time with gcc against Debian's binutils-dev (libsframe); not part of the
 * TypeScript build.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sframe-api.h>

static char *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "sframe-lookup: %s: %s\n", path, strerror(errno));
    return NULL;
  }
  if (fseek(f, 0, SEEK_END) != 0) {
    fclose(f);
    return NULL;
  }
  long len = ftell(f);
  if (len < 0 || fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return NULL;
  }
  char *buf = malloc(len > 0 ? (size_t)len : 1);
  if (!buf || fread(buf, 1, (size_t)len, f) != (size_t)len) {
    fprintf(stderr, "sframe-lookup: %s: short read\n", path);
    free(buf);
    fclose(f);
    return NULL;
  }
  fclose(f);
  *size = (size_t)len;
  return buf;
}

static uint64_t clock_ns(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: sframe-lookup SECTION_FILE PCS_FILE ROUNDS\n");
    return 2;
  }
  size_t sec_size = 0, pcs_size = 0;
  char *sec = read_file(argv[1], &sec_size);
  char *pcs_raw = read_file(argv[2], &pcs_size);
  long rounds = strtol(argv[3], NULL, 10);
  if (!sec || !pcs_raw || rounds < 0) return 2;

  int err = 0;
  sframe_decoder_ctx *ctx = sframe_decode(sec, sec_size, &err);
  if (!ctx) {
    fprintf(stderr, "sframe-lookup: sframe_decode failed: %s\n", sframe_errmsg(err));
    return 1;
  }
  size_t npcs = pcs_size / 4;
  int32_t *pcs = malloc((npcs > 0 ? npcs : 1) * sizeof *pcs);
  if (!pcs) return 2;
  for (size_t i = 0; i < npcs; i++) {
    const unsigned char *p = (const unsigned char *)pcs_raw + 4 * i;
    pcs[i] = (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
  }

  /* Checked pass: count hits and build the checksum once. */
  uint64_t found = 0;
  int64_t checksum = 0;
  sframe_frame_row_entry fre;
  for (size_t i = 0; i < npcs; i++) {
    if (sframe_find_fre(ctx, pcs[i], &fre) == 0) {
      int e = 0;
      int32_t cfa = sframe_fre_get_cfa_offset(ctx, &fre, &e);
      found++;
      checksum += (int64_t)fre.fre_start_addr + cfa;
    }
  }

  if (rounds == 0) {
    for (size_t i = 0; i < npcs; i++) {
      if (sframe_find_fre(ctx, pcs[i], &fre) != 0) {
        printf("%" PRId32 " err\n", pcs[i]);
        continue;
      }
      int e0 = 0, e1 = 0, e2 = 0;
      unsigned int base = sframe_fre_get_base_reg_id(&fre, &e0);
      int32_t cfa = sframe_fre_get_cfa_offset(ctx, &fre, &e0);
      int32_t fp = sframe_fre_get_fp_offset(ctx, &fre, &e1);
      int32_t ra = sframe_fre_get_ra_offset(ctx, &fre, &e2);
      printf("%" PRId32 " ok %" PRIu32 " %u %" PRId32, pcs[i], fre.fre_start_addr, base, cfa);
      if (e1) printf(" u"); else printf(" %" PRId32, fp);
      if (e2) printf(" u\n"); else printf(" %" PRId32 "\n", ra);
    }
    sframe_decoder_free(&ctx);
    return 0;
  }

  /* Timed passes. The sink keeps the calls from being optimised away. */
  volatile uint32_t sink = 0;
  uint64_t w0 = clock_ns(CLOCK_MONOTONIC);
  uint64_t t0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
  for (long r = 0; r < rounds; r++) {
    for (size_t i = 0; i < npcs; i++) {
      if (sframe_find_fre(ctx, pcs[i], &fre) == 0) sink += fre.fre_start_addr;
    }
  }
  uint64_t t1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
  uint64_t w1 = clock_ns(CLOCK_MONOTONIC);
  (void)sink;
  double lookups = (double)npcs * (double)rounds;
  printf("{\"lookups\":%.0f,\"found\":%" PRIu64 ",\"pcs\":%zu,\"ns_per_lookup\":%.3f,\"wall_ns_per_lookup\":%.3f,"
         "\"checksum\":%" PRId64 "}\n",
         lookups, found, npcs, lookups > 0 ? (double)(t1 - t0) / lookups : 0.0,
         lookups > 0 ? (double)(w1 - w0) / lookups : 0.0, checksum);
  sframe_decoder_free(&ctx);
  free(pcs);
  free(pcs_raw);
  free(sec);
  return 0;
}
