/** Auxiliary vector entry types (include/uapi/linux/auxvec.h, arch/x86/include/uapi/asm/auxvec.h). */
export const AT_NULL = 0;
export const AT_IGNORE = 1;
export const AT_EXECFD = 2;
export const AT_PHDR = 3;
export const AT_PHENT = 4;
export const AT_PHNUM = 5;
export const AT_PAGESZ = 6;
export const AT_BASE = 7;
export const AT_FLAGS = 8;
export const AT_ENTRY = 9;
export const AT_NOTELF = 10;
export const AT_UID = 11;
export const AT_EUID = 12;
export const AT_GID = 13;
export const AT_EGID = 14;
export const AT_PLATFORM = 15;
export const AT_HWCAP = 16;
export const AT_CLKTCK = 17;
export const AT_SECURE = 23;
export const AT_BASE_PLATFORM = 24;
export const AT_RANDOM = 25;
export const AT_HWCAP2 = 26;
export const AT_RSEQ_FEATURE_SIZE = 27;
export const AT_RSEQ_ALIGN = 28;
export const AT_HWCAP3 = 29;
export const AT_HWCAP4 = 30;
export const AT_EXECFN = 31;
export const AT_SYSINFO_EHDR = 33;
export const AT_MINSIGSTKSZ = 51;

/** Names as glibc's LD_SHOW_AUXV prints them (unknown types print as `AT_??? (0x1b)`). */
export const AUXV_NAMES: Readonly<Record<number, string>> = {
  [AT_EXECFD]: "AT_EXECFD",
  [AT_PHDR]: "AT_PHDR",
  [AT_PHENT]: "AT_PHENT",
  [AT_PHNUM]: "AT_PHNUM",
  [AT_PAGESZ]: "AT_PAGESZ",
  [AT_BASE]: "AT_BASE",
  [AT_FLAGS]: "AT_FLAGS",
  [AT_ENTRY]: "AT_ENTRY",
  [AT_NOTELF]: "AT_NOTELF",
  [AT_UID]: "AT_UID",
  [AT_EUID]: "AT_EUID",
  [AT_GID]: "AT_GID",
  [AT_EGID]: "AT_EGID",
  [AT_PLATFORM]: "AT_PLATFORM",
  [AT_HWCAP]: "AT_HWCAP",
  [AT_CLKTCK]: "AT_CLKTCK",
  [AT_SECURE]: "AT_SECURE",
  [AT_BASE_PLATFORM]: "AT_BASE_PLATFORM",
  [AT_RANDOM]: "AT_RANDOM",
  [AT_HWCAP2]: "AT_HWCAP2",
  [AT_EXECFN]: "AT_EXECFN",
  [AT_SYSINFO_EHDR]: "AT_SYSINFO_EHDR",
  [AT_MINSIGSTKSZ]: "AT_MINSIGSTKSZ",
};
