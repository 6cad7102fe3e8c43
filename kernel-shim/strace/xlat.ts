/**
 * The symbolic tables strace prints flags and constants with (strace src/xlat/*.in, x86_64 values,
 * which s390x shares; aarch64's differing O_* bits are in OPEN_FLAGS_AARCH64). Order matters: strace
 * prints set flags in table order, and multi-bit entries (O_SYNC, O_TMPFILE) come before the single
 * bits they contain.
 */

export interface XlatEntry {
  readonly name: string;
  readonly value: bigint;
}
export type Xlat = readonly XlatEntry[];

function table(entries: readonly (readonly [string, number | bigint])[]): Xlat {
  return entries.map(([name, value]) => ({ name, value: BigInt(value) }));
}

/** open_access_modes: the O_ACCMODE part. */
export const OPEN_ACCESS_MODES = table([
  ["O_RDONLY", 0],
  ["O_WRONLY", 1],
  ["O_RDWR", 2],
  ["O_ACCMODE", 3],
]);

/** open_mode_flags (generic/x86_64/s390x values). */
export const OPEN_FLAGS = table([
  ["O_CREAT", 0o100],
  ["O_EXCL", 0o200],
  ["O_NOCTTY", 0o400],
  ["O_TRUNC", 0o1000],
  ["O_APPEND", 0o2000],
  ["O_NONBLOCK", 0o4000],
  ["O_SYNC", 0o4010000],
  ["__O_SYNC", 0o4000000],
  ["O_DSYNC", 0o10000],
  ["O_DIRECT", 0o40000],
  ["O_LARGEFILE", 0o100000],
  ["O_NOFOLLOW", 0o400000],
  ["O_NOATIME", 0o1000000],
  ["O_CLOEXEC", 0o2000000],
  ["O_PATH", 0o10000000],
  ["O_TMPFILE", 0o20200000],
  ["__O_TMPFILE", 0o20000000],
  ["O_DIRECTORY", 0o200000],
  ["FASYNC", 0o20000],
]);

/** arm64 moves O_DIRECTORY, O_NOFOLLOW, O_DIRECT and O_LARGEFILE (arch/arm64/include/uapi/asm/fcntl.h). */
export const OPEN_FLAGS_AARCH64 = table([
  ["O_CREAT", 0o100],
  ["O_EXCL", 0o200],
  ["O_NOCTTY", 0o400],
  ["O_TRUNC", 0o1000],
  ["O_APPEND", 0o2000],
  ["O_NONBLOCK", 0o4000],
  ["O_SYNC", 0o4010000],
  ["__O_SYNC", 0o4000000],
  ["O_DSYNC", 0o10000],
  ["O_DIRECT", 0o200000],
  ["O_LARGEFILE", 0o400000],
  ["O_NOFOLLOW", 0o100000],
  ["O_NOATIME", 0o1000000],
  ["O_CLOEXEC", 0o2000000],
  ["O_PATH", 0o10000000],
  ["O_TMPFILE", 0o20040000],
  ["__O_TMPFILE", 0o20000000],
  ["O_DIRECTORY", 0o40000],
  ["FASYNC", 0o20000],
]);

export const MMAP_PROT = table([
  ["PROT_READ", 0x1],
  ["PROT_WRITE", 0x2],
  ["PROT_EXEC", 0x4],
  ["PROT_SEM", 0x8],
  ["PROT_GROWSDOWN", 0x01000000],
  ["PROT_GROWSUP", 0x02000000],
]);

/** mmap_flags: the map type (low bits) first, then these in table order. */
export const MMAP_TYPES = table([
  ["MAP_SHARED", 0x1],
  ["MAP_PRIVATE", 0x2],
  ["MAP_SHARED_VALIDATE", 0x3],
  ["MAP_DROPPABLE", 0x8],
]);
export const MMAP_FLAGS = table([
  ["MAP_FIXED", 0x10],
  ["MAP_ANONYMOUS", 0x20],
  ["MAP_32BIT", 0x40],
  ["MAP_ABOVE4G", 0x80],
  ["MAP_NORESERVE", 0x4000],
  ["MAP_POPULATE", 0x8000],
  ["MAP_NONBLOCK", 0x10000],
  ["MAP_GROWSDOWN", 0x100],
  ["MAP_DENYWRITE", 0x800],
  ["MAP_EXECUTABLE", 0x1000],
  ["MAP_LOCKED", 0x2000],
  ["MAP_STACK", 0x20000],
  ["MAP_HUGETLB", 0x40000],
  ["MAP_SYNC", 0x80000],
  ["MAP_UNINITIALIZED", 0x4000000],
  ["MAP_FIXED_NOREPLACE", 0x100000],
]);

export const AT_FLAGS = table([
  ["AT_SYMLINK_NOFOLLOW", 0x100],
  ["AT_REMOVEDIR", 0x200],
  ["AT_SYMLINK_FOLLOW", 0x400],
  ["AT_NO_AUTOMOUNT", 0x800],
  ["AT_EMPTY_PATH", 0x1000],
  ["AT_RECURSIVE", 0x8000],
]);

export const ACCESS_MODES = table([
  ["R_OK", 4],
  ["W_OK", 2],
  ["X_OK", 1],
]);

export const ARCH_PRCTL_CODES = table([
  ["ARCH_SET_GS", 0x1001],
  ["ARCH_SET_FS", 0x1002],
  ["ARCH_GET_FS", 0x1003],
  ["ARCH_GET_GS", 0x1004],
  ["ARCH_GET_CPUID", 0x1011],
  ["ARCH_SET_CPUID", 0x1012],
  ["ARCH_GET_XCOMP_SUPP", 0x1021],
  ["ARCH_GET_XCOMP_PERM", 0x1022],
  ["ARCH_REQ_XCOMP_PERM", 0x1023],
  ["ARCH_GET_XCOMP_GUEST_PERM", 0x1024],
  ["ARCH_REQ_XCOMP_GUEST_PERM", 0x1025],
  ["ARCH_MAP_VDSO_X32", 0x2001],
  ["ARCH_MAP_VDSO_32", 0x2002],
  ["ARCH_MAP_VDSO_64", 0x2003],
  ["ARCH_GET_UNTAG_MASK", 0x4001],
  ["ARCH_ENABLE_TAGGED_ADDR", 0x4002],
  ["ARCH_GET_MAX_TAG_BITS", 0x4003],
  ["ARCH_FORCE_TAGGED_SVA", 0x4004],
  ["ARCH_SHSTK_ENABLE", 0x5001],
  ["ARCH_SHSTK_DISABLE", 0x5002],
  ["ARCH_SHSTK_LOCK", 0x5003],
  ["ARCH_SHSTK_UNLOCK", 0x5004],
  ["ARCH_SHSTK_STATUS", 0x5005],
]);

/** File type names of `print_symbolic_mode_t`. */
export const MODE_TYPES = table([
  ["S_IFREG", 0o100000],
  ["S_IFSOCK", 0o140000],
  ["S_IFIFO", 0o010000],
  ["S_IFLNK", 0o120000],
  ["S_IFDIR", 0o040000],
  ["S_IFBLK", 0o060000],
  ["S_IFCHR", 0o020000],
]);

/** `printxval`: the name of an exact value, or undefined. */
export function xlookup(x: Xlat, value: bigint): string | undefined {
  return x.find((e) => e.value === value)?.name;
}

/**
 * `printflags`: names of the set flags in table order, each entry consuming its bits; leftover bits
 * as one hex number with strace's `/* PREFIX_??? * /` comment; `zeroName` (or "0") when nothing is set.
 */
export function printFlags(x: Xlat, flags: bigint, zeroName = "0", unknown?: string): string {
  if (flags === 0n) return zeroName;
  const parts: string[] = [];
  let rest = flags;
  for (const e of x) {
    if (e.value !== 0n && (rest & e.value) === e.value) {
      parts.push(e.name);
      rest &= ~e.value;
    }
  }
  if (rest !== 0n) parts.push(`0x${rest.toString(16)}${unknown ? ` /* ${unknown} */` : ""}`);
  return parts.join("|");
}

/** Inverse of printFlags/xlookup over several tables: `O_RDONLY|O_CLOEXEC` → 0o2000000n. */
export function parseFlags(text: string, ...tables: Xlat[]): bigint {
  let v = 0n;
  for (const part of text.replace(/\/\*.*?\*\//g, "").split("|")) {
    const p = part.trim();
    if (/^(0x[0-9a-f]+|\d+)$/i.test(p)) {
      v |= BigInt(p.startsWith("0") && !p.startsWith("0x") && p.length > 1 ? `0o${p.slice(1)}` : p);
      continue;
    }
    const e = tables.flat().find((t) => t.name === p);
    if (!e) throw new Error(`unknown flag ${p}`);
    v |= e.value;
  }
  return v;
}

/** resources (RLIMIT_*, generic/x86_64 values). */
export const RLIMIT_RESOURCES = table([
  ["RLIMIT_CPU", 0],
  ["RLIMIT_FSIZE", 1],
  ["RLIMIT_DATA", 2],
  ["RLIMIT_STACK", 3],
  ["RLIMIT_CORE", 4],
  ["RLIMIT_RSS", 5],
  ["RLIMIT_NPROC", 6],
  ["RLIMIT_NOFILE", 7],
  ["RLIMIT_MEMLOCK", 8],
  ["RLIMIT_AS", 9],
  ["RLIMIT_LOCKS", 10],
  ["RLIMIT_SIGPENDING", 11],
  ["RLIMIT_MSGQUEUE", 12],
  ["RLIMIT_NICE", 13],
  ["RLIMIT_RTPRIO", 14],
  ["RLIMIT_RTTIME", 15],
]);
