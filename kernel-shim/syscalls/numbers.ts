import type { MmArch } from "../mm/layout-constants.ts";

/**
 * Syscall numbers of the calls the shim implements (arch/x86/entry/syscalls/syscall_64.tbl,
 * include/uapi/asm-generic/unistd.h for arm64, arch/s390/kernel/syscalls/syscall.tbl). 472 is the
 * number this project reserves for the RFC's `stacktrace_setup` on every architecture (the syscall
 * is not upstream; the next free slot of the unified table at the time of writing).
 */
export const STACKTRACE_SETUP_NR = 472;

export const SYSCALL_NUMBERS: Readonly<Record<MmArch, Readonly<Record<string, number>>>> = {
  x86_64: {
    read: 0,
    write: 1,
    open: 2,
    close: 3,
    stat: 4,
    fstat: 5,
    lstat: 6,
    lseek: 8,
    mmap: 9,
    mprotect: 10,
    munmap: 11,
    brk: 12,
    pread64: 17,
    access: 21,
    getpid: 39,
    getppid: 110,
    fork: 57,
    execve: 59,
    exit: 60,
    readlink: 89,
    prctl: 157,
    arch_prctl: 158,
    gettid: 186,
    set_tid_address: 218,
    exit_group: 231,
    set_robust_list: 273,
    prlimit64: 302,
    rseq: 334,
    openat: 257,
    newfstatat: 262,
    readlinkat: 267,
    faccessat: 269,
    faccessat2: 439,
    stacktrace_setup: STACKTRACE_SETUP_NR,
  },
  aarch64: {
    faccessat: 48,
    openat: 56,
    close: 57,
    lseek: 62,
    read: 63,
    write: 64,
    pread64: 67,
    readlinkat: 78,
    newfstatat: 79,
    fstat: 80,
    exit: 93,
    exit_group: 94,
    set_tid_address: 96,
    set_robust_list: 99,
    prctl: 167,
    getpid: 172,
    getppid: 173,
    gettid: 178,
    brk: 214,
    munmap: 215,
    // arm64 has no fork: clone(SIGCHLD, 0) is dispatched as fork.
    clone: 220,
    execve: 221,
    mmap: 222,
    mprotect: 226,
    prlimit64: 261,
    rseq: 293,
    faccessat2: 439,
    stacktrace_setup: STACKTRACE_SETUP_NR,
  },
  s390x: {
    exit: 1,
    fork: 2,
    read: 3,
    write: 4,
    open: 5,
    close: 6,
    execve: 11,
    lseek: 19,
    getpid: 20,
    access: 33,
    brk: 45,
    readlink: 85,
    // s390x's mmap is old_mmap: one pointer to a block of six longs (sys_s390_mmap / old_mmap).
    mmap: 90,
    munmap: 91,
    stat: 106,
    lstat: 107,
    fstat: 108,
    mprotect: 125,
    prctl: 172,
    pread64: 180,
    gettid: 236,
    exit_group: 248,
    set_tid_address: 252,
    openat: 288,
    newfstatat: 293,
    readlinkat: 298,
    faccessat: 300,
    faccessat2: 439,
    stacktrace_setup: STACKTRACE_SETUP_NR,
  },
};

const BY_NUMBER = new Map<MmArch, ReadonlyMap<number, string>>(
  (Object.keys(SYSCALL_NUMBERS) as MmArch[]).map((arch) => [
    arch,
    new Map(Object.entries(SYSCALL_NUMBERS[arch]).map(([name, nr]) => [nr, name])),
  ]),
);

export function syscallName(arch: MmArch, nr: number): string | undefined {
  return BY_NUMBER.get(arch)?.get(nr);
}

export function syscallNumber(arch: MmArch, name: string): number | undefined {
  return SYSCALL_NUMBERS[arch][name];
}
