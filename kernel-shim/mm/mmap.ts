import { Errno } from "../errno.ts";
import type { AddressSpace } from "./address-space.ts";
import { anonVmaPrepare, insertMerged } from "./merge.ts";
import {
  LEGACY_MAP_MASK,
  MAP_32BIT,
  MAP_ANONYMOUS,
  MAP_DROPPABLE,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_HUGETLB,
  MAP_LOCKED,
  MAP_NONBLOCK,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_STACK,
  MAP_TYPE,
  protToVm,
  VM_ACCOUNT,
  VM_DONTDUMP,
  VM_DROPPABLE,
  VM_EXEC,
  VM_GROWSDOWN,
  VM_LOCKED,
  VM_MAYBITS,
  VM_MAYEXEC,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_NOHUGEPAGE,
  VM_NORESERVE,
  VM_SHARED,
  VM_WIPEONFORK,
  VM_WRITE,
} from "./prot-flags.ts";
import { createShmemFile } from "./shmem.ts";
import { flagsArg, pageAlignU64, toU64 } from "./uword.ts";
import type { MutableVma, OpenFile } from "./vma.ts";

export type MmapFlags = number;

/** PMD size: the THP alignment unit (1 MiB segment on s390x, 512 MiB with arm64 64 KiB pages). */
function pmdSize(as: AddressSpace): number {
  if (as.layout.arch === "s390x") return 1 << 20;
  return as.pageSize === 65536 ? 512 * 1024 * 1024 : 2 * 1024 * 1024;
}

/** vm_start_gap: a VM_GROWSDOWN VMA keeps stack_guard_gap free below it. */
export function vmStartGap(as: AddressSpace, v: MutableVma): number {
  if (v.flags & VM_GROWSDOWN) return Math.max(0, v.start - as.layout.stackGuardGap);
  return v.start;
}

/**
 * unmapped_area_topdown (mm/vma.c): the highest `length`-byte gap in [low, high), retrying below a
 * VM_GROWSDOWN VMA whose guard gap the candidate would eat into.
 */
function unmappedAreaTopdown(as: AddressSpace, low: number, high: number, length: number): number {
  const lowLimit = Math.max(low, as.layout.mmapMinAddr);
  let highLimit = high;
  for (;;) {
    const gapEnd = as.tree.highestGapEnd(lowLimit, highLimit, length);
    if (gapEnd === undefined) return -Errno.ENOMEM;
    const gap = gapEnd - length;
    const next = as.tree.firstEndingAfter(gapEnd);
    if (next && next.flags & VM_GROWSDOWN && vmStartGap(as, next) < gapEnd && next.start >= gapEnd) {
      highLimit = vmStartGap(as, next);
      continue;
    }
    return gap;
  }
}

/** unmapped_area: the lowest gap (bottom-up legacy layout and MAP_32BIT). */
function unmappedAreaBottomup(as: AddressSpace, low: number, high: number, length: number): number {
  let lowLimit = Math.max(low, as.layout.mmapMinAddr);
  for (;;) {
    const gapStart = as.tree.lowestGapStart(lowLimit, high, length);
    if (gapStart === undefined) return -Errno.ENOMEM;
    const next = as.tree.firstEndingAfter(gapStart);
    if (next && next.flags & VM_GROWSDOWN && vmStartGap(as, next) < gapStart + length) {
      lowLimit = next.end;
      continue;
    }
    return gapStart;
  }
}

/** The hint is usable when it and its length fit below TASK_SIZE and nothing (or no guard gap) is in the way. */
function hintFree(as: AddressSpace, addr: number, length: number): boolean {
  if (addr > as.layout.taskSize - length) return false;
  const next = as.tree.firstEndingAfter(addr);
  if (as.layout.arch !== "x86_64") {
    // generic_get_unmapped_area_topdown also checks mmap_min_addr and the previous VMA's end gap.
    if (addr < as.layout.mmapMinAddr) return false;
    const prev = as.tree.at(as.tree.indexEndingAfter(addr) - 1);
    if (prev && addr < prev.end) return false;
  }
  return !next || addr + length <= vmStartGap(as, next);
}

/** x86 arch_get_unmapped_area_topdown_vmflags (or the generic one), without __get_unmapped_area's checks. */
function archGetUnmappedArea(as: AddressSpace, addr: number, length: number, flags: number): number {
  const { taskSize, mmapBase } = as.layout;
  if (length > taskSize) return -Errno.ENOMEM;
  if (flags & MAP_FIXED) return addr;
  const ps = as.pageSize;
  if (as.layout.arch === "x86_64" && flags & MAP_32BIT) {
    // find_start_end: MAP_32BIT searches bottom-up in [1 GiB, 2 GiB).
    if (addr && addr + length <= 0x80000000 && hintFree(as, addr, length)) return addr;
    return unmappedAreaBottomup(as, 0x40000000, 0x80000000, length);
  }
  if (addr) {
    const hint = Math.floor(addr / ps) * ps;
    if (hintFree(as, hint, length)) return hint;
  }
  const got = unmappedAreaTopdown(as, ps, mmapBase, length);
  if (got >= 0) return got;
  // Fall back to the legacy bottom-up search from TASK_UNMAPPED_BASE (mmap_legacy_base).
  const legacyBase = Math.ceil(taskSize / 3 / ps) * ps;
  return unmappedAreaBottomup(as, legacyBase, taskSize, length);
}

/**
 * __thp_get_unmapped_area (mm/huge_memory.c): when the mapping covers at least one PMD-aligned PMD
 * of the file (`off` is the byte offset), search for `length + pmd` bytes and move the result up so
 * that the address and the file offset are congruent modulo the PMD size. Returns 0 when it does
 * not apply or the padded search fails (the caller then searches without padding).
 */
function thpGetUnmappedAreaPadded(as: AddressSpace, addr: number, length: number, off: bigint, flags: number): number {
  const pmd = pmdSize(as);
  const size = BigInt(pmd);
  const offEnd = off + BigInt(length);
  const offAlign = ((off + size - 1n) / size) * size;
  if (offEnd <= offAlign || offEnd - offAlign < size) return 0;
  const lenPad = length + pmd;
  const ret = archGetUnmappedArea(as, addr, lenPad, flags);
  if (ret < 0) return 0;
  // A usable hint is taken as it is (it was checked with the padded length).
  if (ret === addr) return addr;
  const offSub = Number((((off - BigInt(ret)) % size) + size) % size);
  // MMF_TOPDOWN (always set here: the legacy layout is not modelled): an already aligned padded area
  // gives its upper part, keeping the padding below.
  if (offSub === 0) return ret + pmd;
  return ret + offSub;
}

/** thp_get_unmapped_area_vmflags: the padded, aligned search, or the plain one when it does not apply. */
function thpGetUnmappedArea(as: AddressSpace, addr: number, length: number, off: bigint, flags: number): number {
  const got = thpGetUnmappedAreaPadded(as, addr, length, off, flags);
  if (got) return got;
  return archGetUnmappedArea(as, addr, length, flags);
}

/**
 * __get_unmapped_area: choose (or check) the address for a new mapping of `length` bytes at page
 * offset `pgoff` of `file`. Returns the address or -ENOMEM / -EINVAL.
 *
 * THP alignment (layout.thp, Linux 6.18 by default): a file whose file system hooks
 * thp_get_unmapped_area (ext4/xfs/btrfs) is placed PMD-congruent with its offset when the mapping
 * spans a whole aligned PMD of the file; a MAP_SHARED anonymous mapping goes through
 * shmem_get_unmapped_area (no alignment with shmem_enabled=never); a private anonymous one without
 * a hint is aligned when its length is a multiple of the PMD size.
 */
export function getUnmappedArea(
  as: AddressSpace,
  addr: number,
  length: number,
  flags: number,
  file: OpenFile | undefined,
  pgoff: number | bigint,
): number {
  const { taskSize, thp } = as.layout;
  if (length > taskSize) return -Errno.ENOMEM;
  let got: number;
  if (file) {
    got =
      thp.file && file.inode.thpAlign !== false
        ? thpGetUnmappedArea(as, addr, length, BigInt(pgoff) * BigInt(as.pageSize), flags)
        : archGetUnmappedArea(as, addr, length, flags);
  } else if (flags & MAP_SHARED) {
    got = archGetUnmappedArea(as, addr, length, flags);
  } else if (thp.anon === "pmd-multiple" && !addr && length % pmdSize(as) === 0) {
    got = thpGetUnmappedArea(as, 0, length, 0n, flags);
  } else if (thp.anon === "pmd-or-larger") {
    got = thpGetUnmappedArea(as, addr, length, 0n, flags);
  } else {
    got = archGetUnmappedArea(as, addr, length, flags);
  }
  if (got < 0) return got;
  if (got > taskSize - length) return -Errno.ENOMEM;
  if (got % as.pageSize !== 0) return -Errno.EINVAL;
  return got;
}

/** accountable_mapping: private writable memory is charged and flagged VM_ACCOUNT. */
function accountable(vmFlags: number): boolean {
  return (vmFlags & (VM_NORESERVE | VM_SHARED | VM_WRITE)) === VM_WRITE;
}

/**
 * mmap(2) as arch/x86 sys_mmap → ksys_mmap_pgoff → vm_mmap_pgoff → do_mmap → mmap_region, checks in
 * the kernel's order so the first failing check decides the errno.
 */
export function sysMmap(
  as: AddressSpace,
  addrArg: number | bigint,
  lengthArg: number | bigint,
  protArg: number,
  flagsArgIn: number,
  fileIn: OpenFile | undefined,
  offsetArg: number | bigint,
): number {
  const ps = as.pageSize;
  const bps = BigInt(ps);
  const prot = flagsArg(protArg);
  let flags = flagsArg(flagsArgIn);
  let addr64 = toU64(addrArg);
  const len64 = toU64(lengthArg);
  const off64 = toU64(offsetArg);
  // sys_mmap: the byte offset must be page aligned.
  if (off64 % bps !== 0n) return -Errno.EINVAL;
  const pgoff64 = off64 / bps;
  // ksys_mmap_pgoff: a file mapping needs an open fd; hugetlb needs a hugetlbfs file or a pool.
  let file: OpenFile | undefined;
  if (!(flags & MAP_ANONYMOUS)) {
    if (!fileIn) return -Errno.EBADF;
    if (flags & MAP_HUGETLB) return -Errno.EINVAL;
    file = fileIn;
  } else if (flags & MAP_HUGETLB) {
    // No huge pages are reserved (vm.nr_hugepages = 0): hugetlb_file_setup fails.
    return -Errno.ENOMEM;
  }
  // do_mmap.
  if (len64 === 0n) return -Errno.EINVAL;
  if (flags & MAP_FIXED_NOREPLACE) flags |= MAP_FIXED;
  if (!(flags & MAP_FIXED)) {
    // round_hint_to_min
    addr64 &= ~(bps - 1n);
    if (addr64 !== 0n && addr64 < BigInt(as.layout.mmapMinAddr)) addr64 = BigInt(as.layout.mmapMinAddr);
  }
  const alignedLen = pageAlignU64(len64, ps);
  if (alignedLen === 0n) return -Errno.ENOMEM;
  if (pgoff64 + alignedLen / bps >= 1n << 64n) return -Errno.EOVERFLOW;
  if (as.tree.size > as.maxMapCount) return -Errno.ENOMEM;
  if (alignedLen > BigInt(as.layout.taskSize)) return -Errno.ENOMEM;
  const len = Number(alignedLen);
  // MAP_FIXED is taken as given: beyond TASK_SIZE it fails __get_unmapped_area's range check (ENOMEM)
  // before the alignment check (EINVAL); a hint beyond it is merely unusable.
  // __get_unmapped_area hands a MAP_FIXED address back unchecked and then tests IS_ERR_VALUE(addr):
  // an address in the top 4095 bytes of the 64-bit space comes back as "error" -(2^64 - addr).
  if (flags & MAP_FIXED && addr64 >= (1n << 64n) - 4095n) return Number(addr64 - (1n << 64n));
  const addr = getUnmappedArea(as, Number(addr64), len, flags, file, file ? pgoff64 : 0);
  if (addr < 0) return addr;
  if (flags & MAP_FIXED_NOREPLACE && as.tree.firstIntersecting(addr, addr + len)) return -Errno.EEXIST;

  // calc_vm_prot_bits | calc_vm_flag_bits | VM_MAY*.
  let vmFlags = protToVm(prot) | VM_MAYBITS;
  if (flags & MAP_GROWSDOWN) vmFlags |= VM_GROWSDOWN;
  if (flags & MAP_LOCKED) vmFlags |= VM_LOCKED;
  if (flags & MAP_STACK) vmFlags |= VM_NOHUGEPAGE;
  let pgoff = Number(pgoff64);
  const type = flags & MAP_TYPE;
  if (file) {
    // file_mmap_ok: regular files allow offsets up to MAX_LFS_FILESIZE.
    const maxSize = (1n << 63n) - 1n;
    if (pgoff64 > (maxSize - alignedLen) / bps) return -Errno.EOVERFLOW;
    if (type === MAP_SHARED || type === MAP_SHARED_VALIDATE) {
      // MAP_SHARED silently drops non-legacy flags; MAP_SHARED_VALIDATE rejects them (regular files allow no MAP_SYNC).
      if (type === MAP_SHARED) flags &= LEGACY_MAP_MASK;
      if (flags & ~LEGACY_MAP_MASK) return -Errno.EOPNOTSUPP;
      if (prot & 2 && !file.writable) return -Errno.EACCES;
      if (file.append && file.writable) return -Errno.EACCES;
      vmFlags |= VM_SHARED | VM_MAYSHARE;
      if (!file.writable) vmFlags &= ~(VM_MAYWRITE | VM_SHARED);
    } else if (type !== MAP_PRIVATE) {
      return -Errno.EINVAL;
    }
    if (!file.readable) return -Errno.EACCES;
    if (file.noexec) {
      if (vmFlags & VM_EXEC) return -Errno.EPERM;
      vmFlags &= ~VM_MAYEXEC;
    }
    if (vmFlags & VM_GROWSDOWN) return -Errno.EINVAL;
  } else if (type === MAP_SHARED) {
    // Anonymous memory has no MAP_SHARED_VALIDATE case: it is EINVAL like any unknown type.
    if (vmFlags & VM_GROWSDOWN) return -Errno.EINVAL;
    pgoff = 0;
    vmFlags |= VM_SHARED | VM_MAYSHARE;
  } else if (type === MAP_PRIVATE || type === MAP_DROPPABLE) {
    if (type === MAP_DROPPABLE) {
      // 6.12+: a locked or stack area makes no sense to be droppable; the pages are neither
      // reserved nor kept over fork or in core dumps.
      if (flags & MAP_LOCKED) return -Errno.EINVAL;
      if (vmFlags & VM_GROWSDOWN) return -Errno.EINVAL;
      vmFlags |= VM_DROPPABLE | VM_NORESERVE | VM_WIPEONFORK | VM_DONTDUMP;
    }
    // The anon_vma's pgoff follows the address.
    pgoff = addr / ps;
  } else {
    return -Errno.EINVAL;
  }
  if (flags & MAP_NORESERVE) vmFlags |= VM_NORESERVE;
  const populate = (vmFlags & VM_LOCKED) !== 0 || (flags & (MAP_POPULATE | MAP_NONBLOCK)) === MAP_POPULATE;
  return mmapRegion(as, file, addr, len, vmFlags, pgoff, populate);
}

/** mmap_region: clear the range (MAP_FIXED), account, merge or create the VMA, and populate. */
function mmapRegion(
  as: AddressSpace,
  fileIn: OpenFile | undefined,
  addr: number,
  len: number,
  vmFlagsIn: number,
  pgoff: number,
  populate: boolean,
): number {
  const end = addr + len;
  // Replacing n VMAs can need one more for a split at each edge.
  if (as.tree.firstIntersecting(addr, end)) {
    as.tree.removeRange(addr, end, as.pageSize);
    as.pages.dropRange(addr, end);
  }
  let vmFlags = vmFlagsIn;
  if (accountable(vmFlags)) vmFlags |= VM_ACCOUNT;
  let file = fileIn;
  // MAP_SHARED|MAP_ANONYMOUS: shmem_zero_setup gives the VMA its own /dev/zero shmem file (never merges).
  if (!file && vmFlags & VM_SHARED) file = createShmemFile(as, len);
  const vma = insertMerged(as, addr, end, pgoff, { flags: vmFlags, file, anonName: undefined, anonVma: 0 });
  if (populate && (vma.flags & (VM_WRITE | VM_SHARED)) === VM_WRITE) {
    // populate_vma_page_range writes (FOLL_WRITE) to private writable memory: COW breaks, anon_vma appears.
    anonVmaPrepare(as, vma);
  }
  return addr;
}
