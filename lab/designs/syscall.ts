import { KernelSframe } from "../../kernel-shim/sframe/kernel-sframe.ts";
import {
  jitStacktraceSetupHandler,
  STACKTRACE_REGISTER_JIT_SFRAME_HYPOTHETICAL,
} from "../../kernel-shim/sframe/policies/jit-op.ts";
import { syscall } from "../../kernel-shim/syscalls/dispatch.ts";
import { registerSframe, unregisterSframe } from "../../loader/map-object.ts";
import { registryBytes, registryProbe } from "./common.ts";
import type { Design } from "./types.ts";

/**
 * The RFC: ld.so calls `stacktrace_setup(REGISTER)` once per executable PT_LOAD after mapping an
 * object and `stacktrace_setup(UNREGISTER)` before unmapping it; binfmt_elf registers the executable
 * and ld.so at exec. JIT code uses the HYPOTHETICAL op 3 (kernel-shim/sframe/policies/jit-op.ts).
 */
export const syscallDesign: Design = {
  name: "syscall",
  summary:
    "RFC: ld.so calls stacktrace_setup(REGISTER) per executable segment after mmap and UNREGISTER before munmap; exec registers exe + ld.so",
  create() {
    const ks = new KernelSframe();
    return {
      name: "syscall",
      ks,
      kernelOptions: { sframe: ks, stacktraceSetup: jitStacktraceSetupHandler(ks) },
      afterMap: (proc, lib) => void registerSframe(proc, lib),
      beforeUnmap: (proc, lib) => void unregisterSframe(proc, lib),
      registerJit: (proc, j) => {
        syscall(
          proc,
          "stacktrace_setup",
          STACKTRACE_REGISTER_JIT_SFRAME_HYPOTHETICAL,
          j.sframe,
          j.sframeLen,
          j.text,
          j.textLen,
        );
        return true;
      },
      unregisterJit: (proc, j) => void syscall(proc, "stacktrace_setup", 2, j.sframe, 0, 0, 0),
      finder: (mm) => ks.finder(mm),
      probe: (mm, pc) => registryProbe(ks, mm, pc),
      kernelBytes: (mm) => registryBytes(ks, mm),
      kernelWork: () => ({}),
    };
  },
};
