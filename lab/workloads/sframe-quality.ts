import { sampleFixtureChain } from "./chain.ts";
import { LIBA, LIBB, MAIN } from "./fixture-files.ts";
import { type Damage, damagedLibb } from "./temp-files.ts";
import type { Workload } from "./types.ts";

const DAMAGES: readonly Damage[] = ["missing", "other-version", "corrupt-header", "corrupt-fre"];

/**
 * Libraries whose SFrame is missing, of another version, or corrupt: the fixture program with liba.so,
 * then for each damaged copy of libb.so (temp-files.ts) a dlopen, `samples` samples of the chain
 * through it, and a dlclose. Only intact SFrame counts toward the windows (damaged code is expected
 * to fall back to frame pointers); what matters here is who notices, at what cost, and whether a
 * sample ever unwinds wrongly.
 */
export function sframeQualityWorkload(samples = 5): Workload {
  const variants = new Map<string, string>();
  return {
    name: "sframe-quality",
    title: "Missing, other-version and corrupt SFrame (4 damaged copies of libb.so)",
    description: `the fixture main and liba.so, then for each damaged libb.so copy (PT_GNU_SFRAME removed; section version 2; bad magic; FRE bytes 0xff): dlopen, ${samples} samples of the 8-frame chain through it, dlclose.`,
    worldOptions() {
      if (variants.size === 0) for (const d of DAMAGES) variants.set(damagedLibb(d), LIBB);
      return {
        truthFile: (p) => variants.get(p) ?? p,
        usable: (p) => !variants.has(p) && p !== "",
      };
    },
    run(w) {
      w.exec(MAIN, [MAIN]);
      w.load(LIBA);
      for (const path of variants.keys()) {
        const x = w.load(path);
        for (let i = 0; i < samples; i++) sampleFixtureChain(w);
        w.unload(x);
      }
    },
  };
}
