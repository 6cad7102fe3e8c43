/**
 * mmap/mprotect ABI constants (include/uapi/asm-generic/mman-common.h, mman.h; x86_64 adds MAP_32BIT)
 * and the kernel's internal vm_flags bits (include/linux/mm.h) that decide merging and what
 * /proc/pid/maps prints. Values are the kernel's, so a raw register value can be passed through.
 */

export const PROT_NONE = 0x0;
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const PROT_EXEC = 0x4;
export const PROT_SEM = 0x8;
export const PROT_GROWSDOWN = 0x01000000;
export const PROT_GROWSUP = 0x02000000;

export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_SHARED_VALIDATE = 0x03;
/** Linux 6.12 MAP_DROPPABLE; a fourth mapping type. */
export const MAP_DROPPABLE = 0x08;
export const MAP_TYPE = 0x0f;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;
/** x86_64 only: place in the first 2 GiB. */
export const MAP_32BIT = 0x40;
export const MAP_GROWSDOWN = 0x0100;
export const MAP_DENYWRITE = 0x0800;
export const MAP_EXECUTABLE = 0x1000;
export const MAP_LOCKED = 0x2000;
export const MAP_NORESERVE = 0x4000;
export const MAP_POPULATE = 0x8000;
export const MAP_NONBLOCK = 0x10000;
export const MAP_STACK = 0x20000;
export const MAP_HUGETLB = 0x40000;
export const MAP_SYNC = 0x80000;
export const MAP_FIXED_NOREPLACE = 0x100000;
export const MAP_UNINITIALIZED = 0x4000000;

/**
 * Flags mmap(MAP_SHARED_VALIDATE) accepts (LEGACY_MAP_MASK in mman-common.h plus MAP_SYNC):
 * anything else there is EOPNOTSUPP, while plain MAP_SHARED/MAP_PRIVATE ignore unknown bits.
 */
export const LEGACY_MAP_MASK =
  MAP_SHARED |
  MAP_PRIVATE |
  MAP_FIXED |
  MAP_ANONYMOUS |
  MAP_DENYWRITE |
  MAP_EXECUTABLE |
  MAP_UNINITIALIZED |
  MAP_GROWSDOWN |
  MAP_LOCKED |
  MAP_NORESERVE |
  MAP_POPULATE |
  MAP_NONBLOCK |
  MAP_STACK |
  MAP_HUGETLB;

// vm_flags (include/linux/mm.h). VM_READ..VM_EXEC equal PROT_READ..PROT_EXEC, as calc_vm_prot_bits relies on.
export const VM_NONE = 0x0;
export const VM_READ = 0x1;
export const VM_WRITE = 0x2;
export const VM_EXEC = 0x4;
export const VM_SHARED = 0x8;
export const VM_MAYREAD = 0x10;
export const VM_MAYWRITE = 0x20;
export const VM_MAYEXEC = 0x40;
export const VM_MAYSHARE = 0x80;
export const VM_GROWSDOWN = 0x100;
export const VM_PFNMAP = 0x400;
export const VM_LOCKED = 0x2000;
export const VM_IO = 0x4000;
export const VM_DONTCOPY = 0x20000;
export const VM_DONTEXPAND = 0x40000;
export const VM_ACCOUNT = 0x100000;
export const VM_NORESERVE = 0x200000;
export const VM_HUGETLB = 0x400000;
export const VM_WIPEONFORK = 0x2000000;
export const VM_DONTDUMP = 0x4000000;
export const VM_SOFTDIRTY = 0x8000000;
export const VM_MIXEDMAP = 0x10000000;
export const VM_NOHUGEPAGE = 0x40000000;
/**
 * VM_DROPPABLE (MAP_DROPPABLE, 6.12+). Linux keeps it in a high vm_flags bit (VM_HIGH_ARCH_4) that
 * does not fit a 32-bit JS bitmask; the model uses the otherwise unused 0x1000 — only its
 * distinctness matters (it stops merging with ordinary memory).
 */
export const VM_DROPPABLE = 0x1000;

export const VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC;
export const VM_MAYBITS = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
/** The flags mmap() gives every mapping before the type-specific adjustments (do_mmap). */
export const VM_DEFAULT_MAY = VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
/** vm_flags bits that merging ignores (VM_IGNORE_MERGE = VM_SOFTDIRTY in mm/vma.c). */
export const VM_IGNORE_MERGE = VM_SOFTDIRTY;
/** Mappings the merge code never touches (VM_SPECIAL in include/linux/mm.h). */
export const VM_SPECIAL = VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP;

/** calc_vm_prot_bits: PROT_* → VM_* access bits. */
export function protToVm(prot: number): number {
  return prot & (PROT_READ | PROT_WRITE | PROT_EXEC);
}

/** The PROT_* view of a VMA's flags. */
export function vmToProt(vmFlags: number): number {
  return vmFlags & VM_ACCESS_FLAGS;
}
