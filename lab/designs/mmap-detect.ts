import { KernelSframe } from "../../kernel-shim/sframe/kernel-sframe.ts";
import { MmapDetectPolicy } from "../../kernel-shim/sframe/policies/mmap-detect.ts";
import { registryBytes, registryProbe } from "./common.ts";
import type { Design } from "./types.ts";

/** No loader change: the kernel registers PT_GNU_SFRAME at each executable file mmap, removes at munmap. */
export const mmapDetectDesign: Design = {
  name: "mmap-detect",
  summary:
    "no loader call: the kernel reads the file's program headers at each PROT_EXEC file mmap and registers PT_GNU_SFRAME; removal at munmap",
  create() {
    const ks = new KernelSframe();
    const policy = new MmapDetectPolicy(ks);
    return {
      name: "mmap-detect",
      ks,
      kernelOptions: { sframe: ks, sframeMmHooks: policy },
      afterMap: () => {},
      beforeUnmap: () => {},
      registerJit: () => false,
      unregisterJit: () => {},
      finder: (mm) => ks.finder(mm),
      probe: (mm, pc) => registryProbe(ks, mm, pc),
      kernelBytes: (mm) => registryBytes(ks, mm),
      kernelWork: () => ({
        "exec mmaps inspected": policy.stats.execMmaps,
        "header bytes read": policy.stats.headerBytesRead,
      }),
    };
  },
};
