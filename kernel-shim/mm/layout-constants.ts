/**
 * Address-space layout per architecture, derived the way the kernel derives it at exec
 * (arch_pick_mmap_layout → mmap_base(), binfmt_elf's ELF_ET_DYN_BASE, setup_arg_pages' stack top),
 * with ASLR off by default — what `setarch -R` shows — and an optional seeded randomization that
 * follows the same formulas with the kernel's entropy widths.
 *
 * Verified on x86_64 (Linux 6.18) with `setarch -R cat /proc/self/maps`: the executable at
 * 0x555555554000, ld.so ending at 0x7ffff7fff000 (= mmap_base), [stack] ending at 0x7ffffffff000.
 */

export type MmArch = "x86_64" | "aarch64" | "s390x";

/**
 * Which new mappings __get_unmapped_area pads and aligns to a PMD so they can use transparent huge
 * pages. It depends on the kernel version and CONFIG_TRANSPARENT_HUGEPAGE; the default is what
 * Linux 6.18 does (measured with `setarch -R` mmaps of ext4 files and anonymous memory).
 */
export interface ThpPolicy {
  /**
   * File mappings whose file system's get_unmapped_area is thp_get_unmapped_area (ext4, xfs, btrfs:
   * since 5.18 for non-DAX files too, commit "mm/readahead: Align file mappings for non-DAX").
   * A MappedInode with `thpAlign: false` (tmpfs with huge=never, procfs) opts out per file.
   */
  readonly file: boolean;
  /**
   * Private anonymous mappings without a hint: "pmd-multiple" when the length is a multiple of the
   * PMD size (6.12+, "mm, mmap: limit THP alignment of anonymous mappings to PMD-aligned sizes");
   * "pmd-or-larger" any length of at least one PMD, a free hint winning (6.7-6.11, "mm: align larger
   * anonymous mappings on THP boundaries"); "off" before 6.7 or without THP.
   */
  readonly anon: "pmd-multiple" | "pmd-or-larger" | "off";
}

/** Linux 6.18 x86_64 with CONFIG_TRANSPARENT_HUGEPAGE (this project's reference kernel). */
export const THP_LINUX_6_18: ThpPolicy = { file: true, anon: "pmd-multiple" };

export interface MmLayout {
  readonly arch: MmArch;
  /** PAGE_SIZE: 4096, or 65536 for an aarch64 64 KiB-page kernel. */
  readonly pageSize: number;
  /** TASK_SIZE: the first address user space cannot map (x86_64: 0x7ffffffff000). */
  readonly taskSize: number;
  /** Top of the initial stack: STACK_TOP minus the stack randomization (0 without ASLR). */
  readonly stackTop: number;
  /** mm->mmap_base: top-down placement searches below this (arch_get_mmap_base). */
  readonly mmapBase: number;
  /**
   * The kernel's effective mmap_min_addr: max(vm.mmap_min_addr, CONFIG_LSM_MMAP_MIN_ADDR)
   * (security/min_addr.c). A hint below it is raised to it (round_hint_to_min), searches and stack
   * growth stay above it. On the reference 6.18 kernel vm.mmap_min_addr reads 4096 but the LSM
   * floor is 65536: `mmap((void *)0x1000, …)` without MAP_FIXED returns 0x10000.
   */
  readonly mmapMinAddr: number;
  /** stack_guard_gap: 256 pages (mm/mmap.c), kept free below a VM_GROWSDOWN mapping. */
  readonly stackGuardGap: number;
  /** RLIMIT_STACK soft limit (8 MiB default); bounds stack growth and feeds mmap_base's gap. */
  readonly stackRlimit: number;
  /** ELF_ET_DYN_BASE: where binfmt_elf places a PIE executable (before its own randomization). */
  readonly elfEtDynBase: number;
  /** x86/s390 page tables cannot express write-only or exec-only pages: any access bit implies read. */
  readonly anyProtReadable: boolean;
  /** THP alignment rules of __get_unmapped_area (kernel version dependent). */
  readonly thp: ThpPolicy;
}

export interface LayoutOptions {
  /** 65536 selects arm64's 64 KiB-page configuration (only valid for aarch64). */
  readonly pageSize?: 4096 | 65536;
  /** RLIMIT_STACK; default 8 MiB. */
  readonly stackRlimit?: number;
  /**
   * Seed for ASLR as PF_RANDOMIZE does it: mmap_base gets arch_mmap_rnd() and the pad for stack
   * randomization, the stack top gets randomize_stack_top(). Omitted = `setarch -R` layout.
   */
  readonly randomizeSeed?: number;
  /** THP alignment rules; default THP_LINUX_6_18. */
  readonly thp?: ThpPolicy;
  /** Effective mmap_min_addr; default 65536 (CONFIG_LSM_MMAP_MIN_ADDR of the reference kernel). */
  readonly mmapMinAddr?: number;
}

const SIZE_128M = 128 * 1024 * 1024;

/** mulberry32: a tiny deterministic PRNG so a seed reproduces a layout. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random number of pages in [0, 2^bits), as a byte offset. */
function randomPages(rand: () => number, bits: number, pageSize: number): number {
  const hi = Math.floor(rand() * 2 ** Math.max(0, bits - 26));
  const lo = Math.floor(rand() * 2 ** Math.min(bits, 26));
  return (hi * 2 ** 26 + lo) * pageSize;
}

function pageAlign(x: number, pageSize: number): number {
  return Math.ceil(x / pageSize) * pageSize;
}

interface ArchParams {
  taskSize: number;
  stackTopMax: number;
  /** mmap_rnd_bits default (CONFIG_ARCH_MMAP_RND_BITS). */
  mmapRndBits: number;
  /** STACK_RND_MASK in pages: the stack randomization range. */
  stackRndMask: number;
  elfEtDynBase: (pageSize: number) => number;
  anyProtReadable: boolean;
}

function archParams(arch: MmArch, pageSize: number): ArchParams {
  switch (arch) {
    case "x86_64":
      // TASK_SIZE_MAX = (1 << 47) - PAGE_SIZE (the guard page below the non-canonical hole).
      // ELF_ET_DYN_BASE = DEFAULT_MAP_WINDOW / 3 * 2 (arch/x86/include/asm/elf.h).
      return {
        taskSize: 2 ** 47 - 4096,
        stackTopMax: 2 ** 47 - 4096,
        mmapRndBits: 28,
        stackRndMask: 0x3fffff,
        elfEtDynBase: () => Math.floor((2 ** 47 - 4096) / 3) * 2,
        anyProtReadable: true,
      };
    case "aarch64":
      // 48-bit VA: TASK_SIZE_64 = 1 << 48; STACK_TOP = TASK_SIZE; ELF_ET_DYN_BASE = 2 * DEFAULT_MAP_WINDOW_64 / 3.
      return {
        taskSize: 2 ** 48,
        stackTopMax: 2 ** 48,
        mmapRndBits: pageSize === 65536 ? 14 : 18,
        stackRndMask: pageSize === 65536 ? 0x3ffff >> 4 : 0x3ffff,
        elfEtDynBase: () => Math.floor((2 * 2 ** 48) / 3),
        anyProtReadable: false,
      };
    case "s390x":
      // STACK_TOP = _REGION2_SIZE (4 TiB) for 64-bit tasks; ELF_ET_DYN_BASE = (STACK_TOP / 3 * 2) & ~((1UL << 32) - 1).
      // TASK_SIZE may be raised on demand to 2^53+ by crst_table_upgrade; the model caps it at 2^53.
      return {
        taskSize: 2 ** 53,
        stackTopMax: 2 ** 42,
        mmapRndBits: 33,
        stackRndMask: 0x7ff,
        elfEtDynBase: () => Math.floor((Math.floor(2 ** 42 / 3) * 2) / 2 ** 32) * 2 ** 32,
        anyProtReadable: true,
      };
  }
}

/**
 * The layout exec gives a 64-bit process on `arch`.
 * mmap_base (arch/x86/mm/mmap.c, mm/util.c, arch/s390/mm/mmap.c share the rule):
 *   gap = RLIMIT_STACK + stack_guard_gap (+ the stack randomization range under ASLR),
 *   clamped to [128 MiB, TASK_SIZE/6*5]; mmap_base = PAGE_ALIGN(STACK_TOP - gap - rnd).
 * With 8 MiB stacks the clamp wins: x86_64 mmap_base = 0x7ffffffff000 - 128 MiB = 0x7ffff7fff000.
 */
export function layoutFor(arch: MmArch, options: LayoutOptions = {}): MmLayout {
  const pageSize = options.pageSize ?? 4096;
  if (pageSize !== 4096 && arch !== "aarch64") throw new RangeError(`${arch} has 4 KiB pages only`);
  const p = archParams(arch, pageSize);
  const stackRlimit = options.stackRlimit ?? 8 * 1024 * 1024;
  const stackGuardGap = 256 * pageSize;
  const rand = options.randomizeSeed === undefined ? undefined : prng(options.randomizeSeed);
  const stackRandomRange = rand ? p.stackRndMask * pageSize : 0;
  // randomize_stack_top: the top moves down by a page-aligned random amount within STACK_RND_MASK.
  const stackTop = rand ? p.stackTopMax - Math.floor(rand() * (p.stackRndMask + 1)) * pageSize : p.stackTopMax;
  let gap = stackRlimit + stackGuardGap + stackRandomRange;
  const gapMax = Math.floor(p.stackTopMax / 6) * 5;
  gap = Math.min(Math.max(gap, SIZE_128M), gapMax);
  const rnd = rand ? randomPages(rand, p.mmapRndBits, pageSize) : 0;
  const mmapBase = pageAlign(p.stackTopMax - gap - rnd, pageSize);
  const etDyn = p.elfEtDynBase(pageSize);
  return {
    arch,
    pageSize,
    taskSize: p.taskSize,
    stackTop,
    mmapBase,
    mmapMinAddr: options.mmapMinAddr ?? 65536,
    stackGuardGap,
    stackRlimit,
    elfEtDynBase: etDyn,
    anyProtReadable: p.anyProtReadable,
    thp: options.thp ?? THP_LINUX_6_18,
  };
}
