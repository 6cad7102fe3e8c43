import { Errno } from "../errno.ts";
import type { AddressSpace } from "./address-space.ts";
import { pageAlignU64, toU64 } from "./uword.ts";

/**
 * munmap(2) as do_vmi_munmap: the start must be page aligned and the range inside TASK_SIZE; the
 * length is rounded up to pages and must not be zero. Unmapping nothing succeeds. VMAs straddling
 * the edges are split (never merged afterwards); their pages are dropped.
 */
export function sysMunmap(as: AddressSpace, addrArg: number | bigint, lengthArg: number | bigint): number {
  const ps = as.pageSize;
  const start64 = toU64(addrArg);
  const len64 = toU64(lengthArg);
  const taskSize = BigInt(as.layout.taskSize);
  if (start64 % BigInt(ps) !== 0n || start64 > taskSize || len64 > taskSize - start64) return -Errno.EINVAL;
  const alignedLen = pageAlignU64(len64, ps);
  if (alignedLen === 0n) return -Errno.EINVAL;
  const start = Number(start64);
  const end = start + Number(alignedLen);
  return unmapRange(as, start, end);
}

/** do_vmi_align_munmap for an aligned, checked range: 0 or -ENOMEM when a split would exceed max_map_count. */
export function unmapRange(as: AddressSpace, start: number, end: number): number {
  const first = as.tree.firstIntersecting(start, end);
  if (!first) return 0;
  // vms_gather_munmap_vmas: splitting one VMA in two would add a mapping.
  if (first.start < start && end < first.end && as.tree.size >= as.maxMapCount) return -Errno.ENOMEM;
  as.tree.removeRange(start, end, ps(as));
  as.pages.dropRange(start, end);
  return 0;
}

function ps(as: AddressSpace): number {
  return as.pageSize;
}
