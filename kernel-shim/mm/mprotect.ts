import { Errno } from "../errno.ts";
import type { AddressSpace } from "./address-space.ts";
import { modifyRange } from "./merge.ts";
import {
  PROT_EXEC,
  PROT_GROWSDOWN,
  PROT_GROWSUP,
  PROT_READ,
  PROT_SEM,
  PROT_WRITE,
  protToVm,
  VM_ACCESS_FLAGS,
  VM_ACCOUNT,
  VM_GROWSDOWN,
  VM_NORESERVE,
  VM_SHARED,
  VM_WRITE,
} from "./prot-flags.ts";
import { flagsArg, pageAlignU64, toU64 } from "./uword.ts";
import type { MutableVma } from "./vma.ts";

/**
 * mprotect(2) as do_mprotect_pkey + mprotect_fixup (mm/mprotect.c). VMAs are changed one at a time
 * in address order; a hole stops the walk with ENOMEM after the earlier VMAs were changed, exactly as
 * Linux leaves them.
 */
export function sysMprotect(
  as: AddressSpace,
  addrArg: number | bigint,
  lengthArg: number | bigint,
  protArg: number,
): number {
  const psz = as.pageSize;
  const start64 = toU64(addrArg);
  const len64 = toU64(lengthArg);
  let prot = flagsArg(protArg);
  const grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
  prot &= ~(PROT_GROWSDOWN | PROT_GROWSUP);
  if (grows === (PROT_GROWSDOWN | PROT_GROWSUP)) return -Errno.EINVAL;
  if (start64 % BigInt(psz) !== 0n) return -Errno.EINVAL;
  if (len64 === 0n) return 0;
  const alignedLen = pageAlignU64(len64, psz);
  const end64 = start64 + alignedLen;
  if (end64 >= 1n << 64n || end64 <= start64) return -Errno.ENOMEM;
  // arch_validate_prot (generic): only READ/WRITE/EXEC/SEM.
  if (prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM)) return -Errno.EINVAL;
  // Ranges above TASK_SIZE find no VMA: ENOMEM.
  if (start64 >= BigInt(as.layout.taskSize)) return -Errno.ENOMEM;
  let start = Number(start64);
  const end = Number(end64);

  let vma = as.tree.firstIntersecting(start, end);
  if (!vma) return -Errno.ENOMEM;
  if (grows & PROT_GROWSDOWN) {
    if (vma.start >= end) return -Errno.ENOMEM;
    start = vma.start;
    if (!(vma.flags & VM_GROWSDOWN)) return -Errno.EINVAL;
  } else if (vma.start > start) {
    return -Errno.ENOMEM;
  }
  let nstart = start;
  let tmp = vma.start;
  for (;;) {
    if (!vma || vma.start >= end) break;
    if (vma.start !== tmp) return -Errno.ENOMEM;
    const newflags = protToVm(prot) | (vma.flags & ~VM_ACCESS_FLAGS);
    // newflags >> 4 puts VM_MAY* where VM_* are: asking for a right the VMA may not have is EACCES.
    if (newflags & ~(newflags >> 4) & VM_ACCESS_FLAGS) return -Errno.EACCES;
    tmp = Math.min(vma.end, end);
    const result = mprotectFixup(as, vma, nstart, tmp, newflags);
    tmp = result.end;
    nstart = tmp;
    vma = as.tree.firstEndingAfter(nstart);
  }
  if (tmp < end) return -Errno.ENOMEM;
  return 0;
}

/** mprotect_fixup: accounting flag changes, then vma_modify_flags (merge or split). */
function mprotectFixup(as: AddressSpace, vma: MutableVma, start: number, end: number, newflagsIn: number): MutableVma {
  const oldflags = vma.flags;
  let newflags = newflagsIn;
  if (newflags === oldflags) return vma;
  if (newflags & VM_WRITE) {
    // Turning private memory writable charges it: VM_ACCOUNT, which then also decides merging.
    if (!(oldflags & (VM_ACCOUNT | VM_WRITE | VM_SHARED | VM_NORESERVE))) newflags |= VM_ACCOUNT;
  } else if (oldflags & VM_ACCOUNT && vma.file === undefined && vma.anonVma === 0) {
    // An anonymous VMA never written loses its charge when it stops being writable.
    newflags &= ~VM_ACCOUNT;
  }
  return modifyRange(as, vma, start, end, { flags: newflags, anonName: vma.anonName });
}
