import { existsSync } from "node:fs";
import { sampleFixtureChain } from "./chain.ts";
import { HOST_LIBC, LIBA, LIBB, MAIN } from "./fixture-files.ts";
import type { Workload } from "./types.ts";

/**
 * The fixture program (main → liba.so → libb.so → main) as the RFC experiment runs it: exec, ld.so
 * maps liba.so, the machine's libc.so.6 and libb.so (breadth-first DT_NEEDED order) with its own
 * syscall sequence, each followed by the design's registration; then 20 samples of the deepest chain.
 */
export const fixturesWorkload: Workload = {
  name: "fixtures",
  title: "Fixture program (exec + 3 libraries, 20 samples of an 8-frame chain)",
  description:
    "exec of test/fixtures/sframe/v3/x86_64/main, ld.so's mapping of liba.so, libc.so.6 (this machine's, no SFrame) and libb.so, then 20 samples in main_callback unwound through main → liba (FP) → libb (no FP) → main.",
  run(w) {
    w.exec(MAIN, [MAIN]);
    // The machine's libc only adds mappings without SFrame; a machine without it at this path skips it.
    for (const p of [LIBA, HOST_LIBC, LIBB]) if (p !== HOST_LIBC || existsSync(p)) w.load(p);
    for (let i = 0; i < 20; i++) sampleFixtureChain(w);
  },
};
