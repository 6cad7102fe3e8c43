import { PF_X, PT_GNU_SFRAME, PT_LOAD } from "../../formats/elf/constants.ts";
import { KernelSframe } from "../../kernel-shim/sframe/kernel-sframe.ts";
import { PR_ADD_SFRAME, PR_REMOVE_SFRAME, sframePrctlHandler } from "../../kernel-shim/sframe/policies/prctl.ts";
import { syscall } from "../../kernel-shim/syscalls/dispatch.ts";
import { registryBytes, registryProbe } from "./common.ts";
import type { Design } from "./types.ts";

/**
 * The series' earlier test interface: ld.so (as in Josh Poimboeuf's glibc test patch, updated to the
 * 4-argument form) calls `prctl(PR_ADD_SFRAME, sframe_start, sframe_end, text_start, text_end)` per
 * executable PT_LOAD after mapping and `prctl(PR_REMOVE_SFRAME, sframe_start, 0, 0, 0)` before
 * unmapping; exec registration as the RFC. A JIT may use PR_ADD_SFRAME too (its checks do not ask
 * for a file).
 */
export const prctlDesign: Design = {
  name: "prctl",
  summary:
    "earlier series: ld.so calls prctl(PR_ADD_SFRAME, sframe, sframe_end, text, text_end) per executable segment, PR_REMOVE_SFRAME before munmap",
  create() {
    const ks = new KernelSframe();
    return {
      name: "prctl",
      ks,
      kernelOptions: { sframe: ks, prctl: sframePrctlHandler(ks) },
      afterMap: (proc, lib) => {
        const sf = lib.phdrs.find((p) => p.type === PT_GNU_SFRAME);
        if (!sf) return;
        const s = lib.lAddr + sf.vaddr;
        for (const p of lib.phdrs) {
          if (p.type !== PT_LOAD || (p.flags & PF_X) === 0) continue;
          const t = lib.lAddr + p.vaddr;
          syscall(proc, "prctl", PR_ADD_SFRAME, s, s + sf.memsz, t, t + p.memsz);
        }
      },
      beforeUnmap: (proc, lib) => {
        const sf = lib.phdrs.find((p) => p.type === PT_GNU_SFRAME);
        if (sf) syscall(proc, "prctl", PR_REMOVE_SFRAME, lib.lAddr + sf.vaddr, 0, 0, 0);
      },
      registerJit: (proc, j) => {
        syscall(proc, "prctl", PR_ADD_SFRAME, j.sframe, j.sframe + j.sframeLen, j.text, j.text + j.textLen);
        return true;
      },
      unregisterJit: (proc, j) => void syscall(proc, "prctl", PR_REMOVE_SFRAME, j.sframe, 0, 0, 0),
      finder: (mm) => ks.finder(mm),
      probe: (mm, pc) => registryProbe(ks, mm, pc),
      kernelBytes: (mm) => registryBytes(ks, mm),
      kernelWork: () => ({}),
    };
  },
};
