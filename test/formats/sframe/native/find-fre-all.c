/*
 * Test oracle: ask the host's libsframe (Debian 12: binutils 2.40, SFrame V1) for the FRE covering
 * every section-relative PC in [LO, HI), and print one line per PC:
 *   <pc> ok <fre_start_addr> <fre_info> <cfa_offset>
 *   <pc> err
 * Usage: find-fre-all SECTION_FILE LO HI
 * Built by test/formats/sframe/libsframe-native.test.ts with `gcc ... -lsframe`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <sframe-api.h>

int main(int argc, char **argv) {
  if (argc != 4) return 2;
  FILE *f = fopen(argv[1], "rb");
  if (!f) return 2;
  static char buf[1 << 20];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  int err = 0;
  sframe_decoder_ctx *ctx = sframe_decode(buf, n, &err);
  if (!ctx) {
    printf("decode-error %d\n", err);
    return 0;
  }
  long lo = strtol(argv[2], NULL, 0), hi = strtol(argv[3], NULL, 0);
  for (long pc = lo; pc < hi; pc++) {
    sframe_frame_row_entry fre;
    if (sframe_find_fre(ctx, (int32_t)pc, &fre) == 0) {
      int e = 0;
      int32_t cfa = sframe_fre_get_cfa_offset(ctx, &fre, &e);
      printf("%ld ok %u %u %d\n", pc, fre.fre_start_addr, (unsigned)fre.fre_info, cfa);
    } else {
      printf("%ld err\n", pc);
    }
  }
  sframe_decoder_free(&ctx);
  return 0;
}
