import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The project's own SFrame v3 x86_64 fixtures (test/fixtures/sframe/README.md). */
export const FIXTURE_DIR = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "test",
  "fixtures",
  "sframe",
  "v3",
  "x86_64",
);
export const MAIN = join(FIXTURE_DIR, "main");
export const LIBA = join(FIXTURE_DIR, "liba.so");
export const LIBB = join(FIXTURE_DIR, "libb.so");
/** The machine's C library (no PT_GNU_SFRAME on Debian 12): "missing SFrame" as found in the wild. */
export const HOST_LIBC = "/lib/x86_64-linux-gnu/libc.so.6";
