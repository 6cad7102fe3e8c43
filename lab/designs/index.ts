import { lazyDesign } from "./lazy.ts";
import { mmapDetectDesign } from "./mmap-detect.ts";
import { noneDesign } from "./none.ts";
import { prctlDesign } from "./prctl.ts";
import { syscallDesign } from "./syscall.ts";
import type { Design, DesignName } from "./types.ts";

export const DESIGNS: Readonly<Record<DesignName, Design>> = {
  syscall: syscallDesign,
  prctl: prctlDesign,
  "mmap-detect": mmapDetectDesign,
  lazy: lazyDesign,
  none: noneDesign,
};

export type { Design, DesignName, DesignRuntime, JitBlob, Probe } from "./types.ts";
export { DESIGN_NAMES } from "./types.ts";
