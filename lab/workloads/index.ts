import { fixturesWorkload } from "./fixtures.ts";
import { jitWorkload } from "./jit.ts";
import { pluginHostWorkload } from "./plugin-host.ts";
import { samplerRaceWorkload } from "./sampler-race.ts";
import { sframeQualityWorkload } from "./sframe-quality.ts";
import { startupWorkload } from "./startup.ts";
import type { Workload } from "./types.ts";

/** The named workloads of `ldsim proposals compare --workload NAME`, in table order. */
export const WORKLOADS: Readonly<Record<string, () => Workload>> = {
  startup: () => startupWorkload(),
  fixtures: () => fixturesWorkload,
  "plugin-host": () => pluginHostWorkload(),
  "sampler-race": () => samplerRaceWorkload(),
  "sampler-race-late-unregister": () => samplerRaceWorkload(50, "munmap-first"),
  jit: () => jitWorkload(),
  "sframe-quality": () => sframeQualityWorkload(),
};

export type { Workload } from "./types.ts";
