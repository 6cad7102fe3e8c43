import { EM_AARCH64, EM_X86_64 } from "../formats/elf/constants.ts";

/**
 * Facts about the machine ld.so runs on that shape its search and its allocations: the system
 * directories, the glibc-hwcaps and legacy hwcaps subdirectories (`_dl_important_hwcaps`), the DST
 * values, the cache's default flags, and the sizes of ld.so's own data structures (which decide when
 * its minimal malloc asks the kernel for pages, and so where later libraries land). Defaults are
 * Debian 12's glibc 2.36 x86_64 on a CPU with x86-64-v4 and AVX512 (AT_PLATFORM "haswell" as glibc
 * names it); `ld.so --help` prints the lists for any other machine.
 */
export interface RtldProfile {
  /** `__rtld_search_dirs` (the "system search path"), each with its trailing '/'. */
  readonly systemDirs: readonly string[];
  /** glibc-hwcaps subdirectory names, best first ("x86-64-v4", …). */
  readonly glibcHwcaps: readonly string[];
  /** Legacy hwcaps components in glibc's order: "tls", the platform, then the hwcap names. */
  readonly legacyCaps: readonly string[];
  /** `$PLATFORM` (GLRO(dl_platform)). */
  readonly platform: string;
  /** `$LIB` (DL_DST_LIB; Debian's multiarch value). */
  readonly dstLib: string;
  /** `_DL_CACHE_DEFAULT_ID`. */
  readonly cacheDefaultId: number;
  /** The ISA level of the CPU (for named-hwcaps cache entries). */
  readonly isaLevel: number;
  readonly ldSoCache: string;
  /**
   * Sizes of the allocations `_dl_important_hwcaps` makes (compute_priorities, the capstr block);
   * computed from the lists by `importantHwcapsAllocations` unless given.
   */
  readonly hwcapsAllocations?: readonly number[];
  /** sizeof(struct link_map) + sizeof(struct link_map *) + sizeof(struct libname_list) in 2.36. */
  readonly linkMapAllocBase: number;
  /** DL_NNS * sizeof(struct auditstate): reserved for the main map and the vDSO map. */
  readonly auditSpaceWorstCase: number;
  /** sizeof(struct r_search_path_elem) without the status array. */
  readonly searchPathElemSize: number;
  /** MALLOC_ALIGNMENT of ld.so's minimal malloc. */
  readonly mallocAlignment: number;
  /** e_machine ld.so accepts (elf_machine_matches_host); absent: EM_X86_64. */
  readonly machine?: number;
}

export const DEBIAN12_X86_64: RtldProfile = {
  systemDirs: ["/lib/x86_64-linux-gnu/", "/usr/lib/x86_64-linux-gnu/", "/lib/", "/usr/lib/"],
  glibcHwcaps: ["x86-64-v4", "x86-64-v3", "x86-64-v2"],
  legacyCaps: ["tls", "haswell", "avx512_1", "x86_64"],
  platform: "haswell",
  dstLib: "lib/x86_64-linux-gnu",
  cacheDefaultId: 0x0303,
  isaLevel: 4,
  ldSoCache: "/etc/ld.so.cache",
  linkMapAllocBase: 1224,
  auditSpaceWorstCase: 256,
  searchPathElemSize: 40,
  mallocAlignment: 16,
};

/**
 * Debian 12's glibc 2.36 for arm64 (libc6-arm64-cross: the same build as libc6:arm64), as its
 * `ld-linux-aarch64.so.1 --help` prints it under qemu-aarch64 7.2: no glibc-hwcaps subdirectories
 * on aarch64 in 2.36, the legacy ones "tls", AT_PLATFORM "aarch64" and "atomics" (HWCAP_ATOMICS,
 * the only HWCAP_IMPORTANT bit of sysdeps/unix/sysv/linux/aarch64/dl-procinfo.h; a CPU without
 * LSE atomics, e.g. Cortex-A72, searches no "atomics" subdirectory). The cache's default id is
 * FLAG_ELF_LIBC6 | FLAG_AARCH64_LIB64 (0x0003 | 0x0a00, sysdeps/generic/ldconfig.h), so x86_64
 * entries (0x0303) of a host cache never match. sizeof (struct link_map) is 48 bytes larger than
 * on x86_64: l_info has DT_THISPROCNUM = DT_AARCH64_NUM (6) more slots.
 */
export const DEBIAN12_AARCH64: RtldProfile = {
  systemDirs: ["/lib/aarch64-linux-gnu/", "/usr/lib/aarch64-linux-gnu/", "/lib/", "/usr/lib/"],
  glibcHwcaps: [],
  legacyCaps: ["tls", "aarch64", "atomics"],
  platform: "aarch64",
  dstLib: "lib/aarch64-linux-gnu",
  cacheDefaultId: 0x0a03,
  isaLevel: 0,
  ldSoCache: "/etc/ld.so.cache",
  linkMapAllocBase: 1224 + 48,
  auditSpaceWorstCase: 256,
  searchPathElemSize: 40,
  mallocAlignment: 16,
  machine: EM_AARCH64,
};

/** The ld.so profile for an ELF e_machine: x86_64 (62) or aarch64 (183); undefined for others. */
export function profileForMachine(machine: number): RtldProfile | undefined {
  if (machine === EM_X86_64) return DEBIAN12_X86_64;
  if (machine === EM_AARCH64) return DEBIAN12_AARCH64;
  return undefined;
}

/**
 * The subdirectories each search directory expands to, in probing order (`capstr`): the
 * glibc-hwcaps ones, then every combination of the legacy components from all of them down to none
 * (glibc 2.36 `_dl_important_hwcaps`; 2.37 dropped the legacy part). Each ends with '/' except "".
 */
export function capstrs(p: RtldProfile): readonly string[] {
  const out = p.glibcHwcaps.map((h) => `glibc-hwcaps/${h}/`);
  const n = p.legacyCaps.length;
  for (let mask = (1 << n) - 1; mask >= 0; mask--) {
    let s = "";
    for (let i = 0; i < n; i++) if (mask & (1 << (n - 1 - i))) s += `${p.legacyCaps[i]}/`;
    out.push(s);
  }
  return out;
}

/**
 * A profile from the host's `ld.so --help` text (the hwcaps and legacy lists), other facts from `base`.
 * Used by parity tests so the model probes the same subdirectories as the real loader here.
 */
export function profileFromLdSoHelp(help: string, base: RtldProfile = DEBIAN12_X86_64): RtldProfile {
  const section = (title: string) => {
    const i = help.indexOf(title);
    if (i < 0) return [];
    const lines = help
      .slice(i + title.length)
      .split("\n")
      .slice(1);
    const out: string[] = [];
    for (const l of lines) {
      const m = /^ {2}(\S+)(.*)$/.exec(l);
      if (!m) break;
      out.push(`${m[1]}${m[2]}`);
    }
    return out;
  };
  const searched = (ls: string[]) => ls.filter((l) => l.includes("searched")).map((l) => l.split(" ")[0] as string);
  const hw = searched(section("Subdirectories of glibc-hwcaps directories, in priority order:"));
  const legacyLines = section("Legacy HWCAP subdirectories under library search path directories:");
  const platformLine = legacyLines.find((l) => l.includes("AT_PLATFORM"));
  const platform = platformLine ? (platformLine.split(" ")[0] as string) : base.platform;
  const rest = searched(legacyLines.filter((l) => l !== platformLine && !l.startsWith("tls")));
  const legacy = ["tls", ...(platformLine?.includes("searched") ? [platform] : []), ...rest];
  const isa = hw.reduce((m, h) => Math.max(m, Number(/v(\d)$/.exec(h)?.[1] ?? 1)), 1);
  return { ...base, glibcHwcaps: hw, legacyCaps: legacy, platform, isaLevel: isa };
}

const GLIBC_HWCAPS_PREFIX = "glibc-hwcaps/";

/**
 * The two allocations of glibc 2.36 `_dl_important_hwcaps` (elf/dl-hwcaps.c): compute_priorities'
 * table (16 bytes per glibc-hwcaps name) and one block holding `1 << cnt` r_strlenpair entries for
 * the legacy combinations, their packed strings (`total`, computed as glibc does from the first
 * hwcap name, "tls" and the middle names) and the glibc-hwcaps entries with their prefixed names.
 */
export function importantHwcapsAllocations(p: RtldProfile): readonly number[] {
  if (p.hwcapsAllocations) return p.hwcapsAllocations;
  const n = p.glibcHwcaps.length;
  const hwcapsSz = n * 16 + p.glibcHwcaps.reduce((t, h) => t + h.length, 0) + n * (GLIBC_HWCAPS_PREFIX.length + 1);
  // temp[] in glibc's order: the hwcap names (the last one --help lists comes first), the platform, "tls".
  const rest = p.legacyCaps.filter((c) => c !== "tls");
  const hasPlatform = rest[0] === p.platform;
  const names = hasPlatform ? rest.slice(1) : rest;
  const temp = [...[...names].reverse(), ...(hasPlatform ? [p.platform] : []), "tls"];
  const cnt = temp.length;
  let total: number;
  if (cnt === 1) total = 4;
  else {
    total = (temp[0] as string).length + 3 + 2;
    if (cnt > 2) {
      total <<= 1;
      for (let i = 1; i + 1 < cnt; i++) total += (temp[i] as string).length + 1;
      if (cnt > 3) total <<= cnt - 3;
    }
  }
  return [n * 16, 16 * (1 << cnt) + total + hwcapsSz];
}
