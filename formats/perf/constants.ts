/**
 * perf.data constants (tools/perf/util/header.h, include/uapi/linux/perf_event.h,
 * tools/perf/util/event.h). Only the values the reader and the replay act on.
 */

/** "PERFILE2" read as a little-endian u64 (perf_header.c `__perf_magic2`). */
export const PERF_MAGIC2 = 0x32454c4946524550n;
/** The same bytes read with the other byte order: a file written on a machine of the other endianness. */
export const PERF_MAGIC2_SWAPPED = 0x50455246494c4532n;
/** "PERFFILE": the version-1 format perf stopped writing in 2010. */
export const PERF_MAGIC1 = 0x454c494646524550n;

/** sizeof(struct perf_file_header): magic, size, attr_size, attrs, data, event_types, adds_features[4]. */
export const PERF_FILE_HEADER_SIZE = 104;
/** sizeof(struct perf_event_header): u32 type, u16 misc, u16 size. */
export const PERF_EVENT_HEADER_SIZE = 8;
/** PERF_ATTR_SIZE_VER0: the smallest perf_event_attr (up to config2 was not yet there). */
export const PERF_ATTR_SIZE_VER0 = 64;

/** enum perf_event_type (kernel records) and enum perf_user_event_type (perf's own). */
export const PERF_RECORD = {
  MMAP: 1,
  LOST: 2,
  COMM: 3,
  EXIT: 4,
  THROTTLE: 5,
  UNTHROTTLE: 6,
  FORK: 7,
  READ: 8,
  SAMPLE: 9,
  MMAP2: 10,
  AUX: 11,
  ITRACE_START: 12,
  LOST_SAMPLES: 13,
  SWITCH: 14,
  SWITCH_CPU_WIDE: 15,
  NAMESPACES: 16,
  KSYMBOL: 17,
  BPF_EVENT: 18,
  CGROUP: 19,
  TEXT_POKE: 20,
  AUX_OUTPUT_HW_ID: 21,
  HEADER_ATTR: 64,
  HEADER_EVENT_TYPE: 65,
  HEADER_TRACING_DATA: 66,
  HEADER_BUILD_ID: 67,
  FINISHED_ROUND: 68,
  ID_INDEX: 69,
  AUXTRACE_INFO: 70,
  AUXTRACE: 71,
  AUXTRACE_ERROR: 72,
  THREAD_MAP: 73,
  CPU_MAP: 74,
  STAT_CONFIG: 75,
  STAT: 76,
  STAT_ROUND: 77,
  EVENT_UPDATE: 78,
  TIME_CONV: 79,
  HEADER_FEATURE: 80,
  COMPRESSED: 81,
  FINISHED_INIT: 82,
} as const;

/** Names as `perf script -D` prints them (PERF_RECORD_<name>). */
export const PERF_RECORD_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(PERF_RECORD).map(([k, v]) => [v, k]),
);

/** enum perf_event_sample_format. */
export const PERF_SAMPLE = {
  IP: 1n << 0n,
  TID: 1n << 1n,
  TIME: 1n << 2n,
  ADDR: 1n << 3n,
  READ: 1n << 4n,
  CALLCHAIN: 1n << 5n,
  ID: 1n << 6n,
  CPU: 1n << 7n,
  PERIOD: 1n << 8n,
  STREAM_ID: 1n << 9n,
  RAW: 1n << 10n,
  BRANCH_STACK: 1n << 11n,
  REGS_USER: 1n << 12n,
  STACK_USER: 1n << 13n,
  WEIGHT: 1n << 14n,
  DATA_SRC: 1n << 15n,
  IDENTIFIER: 1n << 16n,
  TRANSACTION: 1n << 17n,
  REGS_INTR: 1n << 18n,
  PHYS_ADDR: 1n << 19n,
  AUX: 1n << 20n,
  CGROUP: 1n << 21n,
  DATA_PAGE_SIZE: 1n << 22n,
  CODE_PAGE_SIZE: 1n << 23n,
  WEIGHT_STRUCT: 1n << 24n,
} as const;

/** Bits of sample_type this reader knows the layout of; a sample with any other bit cannot be parsed. */
export const PERF_SAMPLE_KNOWN = Object.values(PERF_SAMPLE).reduce((a, b) => a | b, 0n);

/** enum perf_event_read_format. */
export const PERF_FORMAT = {
  TOTAL_TIME_ENABLED: 1n << 0n,
  TOTAL_TIME_RUNNING: 1n << 1n,
  ID: 1n << 2n,
  GROUP: 1n << 3n,
  LOST: 1n << 4n,
} as const;

/** perf_event_attr flag bits (the bitfield after read_format) that the replay reads. */
export const ATTR_FLAG = {
  FREQ: 1n << 10n,
  SAMPLE_ID_ALL: 1n << 18n,
  EXCLUDE_CALLCHAIN_USER: 1n << 22n,
  MMAP2: 1n << 23n,
} as const;

/** perf_event_header.misc. */
export const PERF_RECORD_MISC = {
  CPUMODE_MASK: 0x7,
  KERNEL: 1,
  USER: 2,
  HYPERVISOR: 3,
  GUEST_KERNEL: 4,
  GUEST_USER: 5,
  /** MMAP: a data (non-exec) mapping; COMM: the comm changed by exec (same bit). */
  MMAP_DATA: 1 << 13,
  COMM_EXEC: 1 << 13,
  /** MMAP2 carries a build-id instead of maj/min/ino/ino_generation. */
  MMAP_BUILD_ID: 1 << 14,
  /** HEADER_BUILD_ID entry carries its build-id size in byte 20. */
  BUILD_ID_SIZE: 1 << 15,
} as const;

/** Callchain context markers (enum perf_callchain_context): entries ≥ PERF_CONTEXT_MAX as u64. */
export const PERF_CONTEXT = {
  HV: BigInt.asUintN(64, -32n),
  KERNEL: BigInt.asUintN(64, -128n),
  USER: BigInt.asUintN(64, -512n),
  GUEST: BigInt.asUintN(64, -2048n),
  GUEST_KERNEL: BigInt.asUintN(64, -2176n),
  GUEST_USER: BigInt.asUintN(64, -2560n),
  MAX: BigInt.asUintN(64, -4095n),
} as const;

/** enum perf_sample_regs_abi. */
export const PERF_SAMPLE_REGS_ABI = { NONE: 0n, ABI_32: 1n, ABI_64: 2n } as const;

/** Feature bits of perf_file_header.adds_features (enum in tools/perf/util/header.h). */
export const HEADER_FEAT = {
  TRACING_DATA: 1,
  BUILD_ID: 2,
  HOSTNAME: 3,
  OSRELEASE: 4,
  VERSION: 5,
  ARCH: 6,
  NRCPUS: 7,
  CPUDESC: 8,
  CPUID: 9,
  TOTAL_MEM: 10,
  CMDLINE: 11,
  EVENT_DESC: 12,
  CPU_TOPOLOGY: 13,
  NUMA_TOPOLOGY: 14,
  BRANCH_STACK: 15,
  PMU_MAPPINGS: 16,
  GROUP_DESC: 17,
  AUXTRACE: 18,
  STAT: 19,
  CACHE: 20,
  SAMPLE_TIME: 21,
  MEM_TOPOLOGY: 22,
  CLOCKID: 23,
  DIR_FORMAT: 24,
  BPF_PROG_INFO: 25,
  BPF_BTF: 26,
  COMPRESSED: 27,
  CPU_PMU_CAPS: 28,
  CLOCK_DATA: 29,
  HYBRID_TOPOLOGY: 30,
  PMU_CAPS: 31,
} as const;

/**
 * Index of each register in a REGS_USER sample, by arch (arch/x86/include/uapi/asm/perf_regs.h
 * enum perf_event_x86_regs; arch/arm64/include/uapi/asm/perf_regs.h). The sample holds the registers
 * whose bit is set in sample_regs_user, in bit order.
 */
export const PERF_REG_X86 = { BP: 6, SP: 7, IP: 8 } as const;
export const PERF_REG_ARM64 = { X29: 29, LR: 30, SP: 31, PC: 32 } as const;

/** perf's names for generic events when HEADER_EVENT_DESC is missing (evsel.c evsel__sw_names/hw_names). */
export const PERF_TYPE_HARDWARE = 0;
export const PERF_TYPE_SOFTWARE = 1;
export const SW_EVENT_NAMES: readonly string[] = [
  "cpu-clock",
  "task-clock",
  "page-faults",
  "context-switches",
  "cpu-migrations",
  "minor-faults",
  "major-faults",
  "alignment-faults",
  "emulation-faults",
  "dummy",
  "bpf-output",
  "cgroup-switches",
];
export const HW_EVENT_NAMES: readonly string[] = [
  "cycles",
  "instructions",
  "cache-references",
  "cache-misses",
  "branches",
  "branch-misses",
  "bus-cycles",
  "stalled-cycles-frontend",
  "stalled-cycles-backend",
  "ref-cycles",
];
