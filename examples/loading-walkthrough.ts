/**
 * Example 3: a teaching walk-through of loading a program — exec mappings, library search, mapping,
 * relocation, RELRO and constructor order, with what changed in memory at each stage.
 *
 *   npx tsx examples/loading-walkthrough.ts [PROGRAM]
 *
 * Default program: the bundled fixture test/fixtures/sframe/v3/x86_64/main (liba.so → libb.so via
 * $ORIGIN, and the machine's libc.so.6).
 */
import { LdsimError } from "../formats/errors.ts";
import { formatWalkthrough, walkThrough } from "./loading-walkthrough-lib.ts";

const program = process.argv[2];
try {
  process.stdout.write(`${formatWalkthrough(walkThrough(program)).join("\n")}\n`);
} catch (e) {
  // A program that cannot be exec'd or loaded: one line, as the CLI reports errors.
  if (!(e instanceof LdsimError)) throw e;
  process.stderr.write(`loading-walkthrough: ${e.message}\n`);
  process.exitCode = 1;
}
