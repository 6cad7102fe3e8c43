import { NO_SFRAME_REGISTRAR } from "../../kernel-shim/exec/sframe-hook.ts";
import { KernelSframe } from "../../kernel-shim/sframe/kernel-sframe.ts";
import type { Design } from "./types.ts";

/** Today's kernels: no SFrame at all; the unwinder follows frame pointers only. */
export const noneDesign: Design = {
  name: "none",
  summary: "today's kernels: no SFrame, frame pointers only; stacktrace_setup is ENOSYS",
  create() {
    const ks = new KernelSframe({ enabled: false });
    return {
      name: "none",
      ks,
      kernelOptions: { sframe: NO_SFRAME_REGISTRAR },
      afterMap: () => {},
      beforeUnmap: () => {},
      registerJit: () => false,
      unregisterJit: () => {},
      finder: () => null,
      probe: () => ({ kind: "none" }),
      kernelBytes: () => 0,
      kernelWork: () => ({}),
    };
  },
};
