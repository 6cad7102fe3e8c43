/**
 * Example 3: a teaching walk-through of loading a program — exec mappings, library search, mapping,
 * relocation, RELRO and constructor order, with what changed in memory at each stage.
 *
 *   npx tsx examples/loading-walkthrough.ts [PROGRAM]
 *
 * Default program: the bundled fixture test/fixtures/sframe/v3/x86_64/main (liba.so → libb.so via
 * $ORIGIN, and the machine's libc.so.6).
 */
import { formatWalkthrough, walkThrough } from "./loading-walkthrough-lib.ts";

const program = process.argv[2];
process.stdout.write(`${formatWalkthrough(walkThrough(program)).join("\n")}\n`);
