import { EM_AARCH64, EM_S390, EM_X86_64 } from "../../formats/elf/constants.ts";
import type { MmArch } from "../mm/layout-constants.ts";
import { PROT_EXEC, PROT_READ } from "../mm/prot-flags.ts";

/** One kernel special mapping of the vDSO area, lowest first. */
export interface VdsoPart {
  readonly name: string;
  readonly pages: number;
  readonly prot: number;
}

/**
 * What binfmt_elf takes from the architecture: elf_check_arch's machine, ELF_PLATFORM, ELF_HWCAP(2),
 * ARCH_DLINFO's entries, and the vDSO area arch_setup_additional_pages maps.
 *
 * vDSO placement rule (x86_64, derived from `setarch -R cat /proc/self/maps` on Linux 6.18 and
 * arch/x86/entry/vdso/vma.c `map_vdso`): after the executable and the interpreter are mapped, ONE
 * get_unmapped_area of the whole area (vvar pages + vdso pages) is taken top-down, so it lands
 * directly below the lowest mapping already in the mmap region (below ld.so, or at mmap_base for a
 * static program); inside it come [vvar] (4 pages), [vvar_vclock] (2 pages), then [vdso] (2 pages,
 * r-x), whose start is AT_SYSINFO_EHDR. Kernels before the vvar_vclock split (< 6.13) had [vvar]
 * 4 pages + [vdso] 2 pages: pass `vdso` to override.
 */
export interface ExecArchProfile {
  readonly arch: MmArch;
  readonly machine: number;
  readonly littleEndian: boolean;
  /** ELF_PLATFORM copied to the stack for AT_PLATFORM (undefined: none). */
  readonly platform: string | undefined;
  readonly hwcap: bigint;
  readonly hwcap2: bigint | undefined;
  /** AT_MINSIGSTKSZ (x86_64: the XSAVE-sized signal frame; this host reports 3632). */
  readonly minSigStkSz: number | undefined;
  /** The vDSO area, lowest part first; empty for none. */
  readonly vdso: readonly VdsoPart[];
  /** Refuse program header tables larger than a page, as kernels before the limit was dropped did. */
  readonly phdrPageLimit?: boolean;
  /** CONFIG_RSEQ: AT_RSEQ_FEATURE_SIZE (offsetof(struct rseq, end) = 28) and AT_RSEQ_ALIGN (32). */
  readonly rseq: { readonly featureSize: number; readonly align: number } | undefined;
}

const R = PROT_READ;
const RX = PROT_READ | PROT_EXEC;

export function execProfile(arch: MmArch, overrides: Partial<ExecArchProfile> = {}): ExecArchProfile {
  const base: ExecArchProfile = (() => {
    switch (arch) {
      case "x86_64":
        // hwcap/hwcap2/minsigstksz: this build host's LD_SHOW_AUXV (CPUID.1:EDX, FSGSBASE, XSAVE size).
        return {
          arch,
          machine: EM_X86_64,
          littleEndian: true,
          platform: "x86_64",
          hwcap: 0x1f8bfbffn,
          hwcap2: 0x2n,
          minSigStkSz: 3632,
          vdso: [
            { name: "[vvar]", pages: 4, prot: R },
            { name: "[vvar_vclock]", pages: 2, prot: R },
            { name: "[vdso]", pages: 2, prot: RX },
          ],
          rseq: { featureSize: 28, align: 32 },
        };
      case "aarch64":
        // Not verified on hardware: hwcap values are placeholders; vvar/vdso sizes follow 6.13+'s generic vdso.
        return {
          arch,
          machine: EM_AARCH64,
          littleEndian: true,
          platform: "aarch64",
          hwcap: 0n,
          hwcap2: 0n,
          minSigStkSz: 5184,
          vdso: [
            { name: "[vvar]", pages: 4, prot: R },
            { name: "[vvar_vclock]", pages: 2, prot: R },
            { name: "[vdso]", pages: 2, prot: RX },
          ],
          rseq: { featureSize: 28, align: 32 },
        };
      case "s390x":
        // Not verified on hardware: platform string and hwcap depend on the machine generation.
        return {
          arch,
          machine: EM_S390,
          littleEndian: false,
          platform: "z13",
          hwcap: 0n,
          hwcap2: undefined,
          minSigStkSz: undefined,
          vdso: [
            { name: "[vvar]", pages: 4, prot: R },
            { name: "[vdso]", pages: 2, prot: RX },
          ],
          rseq: { featureSize: 28, align: 32 },
        };
    }
  })();
  return { ...base, ...overrides };
}
