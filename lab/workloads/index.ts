import { fixturesWorkload } from "./fixtures.ts";
import { jitWorkload } from "./jit.ts";
import { pluginHostWorkload } from "./plugin-host.ts";
import { samplerRaceWorkload } from "./sampler-race.ts";
import { sframeQualityWorkload } from "./sframe-quality.ts";
import { startupWorkload } from "./startup.ts";
import type { Workload } from "./types.ts";

/**
 * The named workloads of `ldsim proposals compare --workload NAME`, in table order. `cycles` overrides
 * the number of rounds of the cyclic ones (plugin-host 1000, sampler races 50, jit 200 by default).
 */
export const WORKLOADS: Readonly<Record<string, (cycles?: number) => Workload>> = {
  startup: () => startupWorkload(),
  fixtures: () => fixturesWorkload,
  "plugin-host": (n) => pluginHostWorkload(n),
  "sampler-race": (n) => samplerRaceWorkload(n),
  "sampler-race-late-unregister": (n) => samplerRaceWorkload(n, "munmap-first"),
  jit: (n) => jitWorkload(n),
  "sframe-quality": () => sframeQualityWorkload(),
};

export type { Workload } from "./types.ts";
