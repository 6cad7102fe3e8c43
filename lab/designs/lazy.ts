import { NO_SFRAME_REGISTRAR } from "../../kernel-shim/exec/sframe-hook.ts";
import { KernelSframe } from "../../kernel-shim/sframe/kernel-sframe.ts";
import { LazySframe } from "../../kernel-shim/sframe/policies/lazy.ts";
import { registryBytes } from "./common.ts";
import type { Design } from "./types.ts";

/** Nothing up front (not even at exec): an unwind miss reads the VMA's file and registers then. */
export const lazyDesign: Design = {
  name: "lazy",
  summary:
    "nothing registered up front: on an unwind miss the kernel reads the VMA's file (verdict cached per file) and registers its SFrame then",
  create() {
    const ks = new KernelSframe();
    const lazy = new LazySframe(ks);
    return {
      name: "lazy",
      ks,
      kernelOptions: { sframe: NO_SFRAME_REGISTRAR },
      afterMap: () => {},
      beforeUnmap: () => {},
      registerJit: () => false,
      unregisterJit: () => {},
      finder: (mm) => lazy.finder(mm),
      probe: (mm, pc) => {
        const p = lazy.probe(mm, pc);
        if (p === "none") return { kind: "none" };
        if (p === "resolve") return { kind: "resolve" };
        const sec = ks.registryOf(mm).lookup(pc);
        return sec ? { kind: "section", sframeStart: sec.sframeStart } : { kind: "none" };
      },
      kernelBytes: (mm) => registryBytes(ks, mm) + lazy.cacheBytes,
      kernelWork: () => ({
        "unwind misses": lazy.stats.misses,
        "file header reads": lazy.stats.fileReads,
        "header bytes read": lazy.stats.headerBytesRead,
        "stale dropped": lazy.stats.staleDropped,
      }),
    };
  },
};
