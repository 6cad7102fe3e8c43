import type { AddressSpace } from "./address-space.ts";
import { canMergeAfter } from "./merge.ts";
import { getUnmappedArea, vmStartGap } from "./mmap.ts";
import { unmapRange } from "./munmap.ts";
import { MAP_FIXED, VM_ACCOUNT, VM_MAYBITS, VM_READ, VM_WRITE } from "./prot-flags.ts";
import { toU64 } from "./uword.ts";
import type { MutableVma } from "./vma.ts";

/**
 * brk(2) as SYSCALL_DEFINE1(brk) in mm/mmap.c (CONFIG_COMPAT_BRK off, RLIMIT_DATA unlimited):
 * below start_brk, or a growth that would run into the next mapping (or its stack guard gap),
 * returns the current break unchanged; shrinking unmaps; growing extends the heap VMA
 * (do_brk_flags: VM_DATA_DEFAULT_FLAGS | VM_ACCOUNT, merged into the VMA ending at the old break).
 * The VMA shows as [heap] while it overlaps [start_brk, brk).
 */
export function sysBrk(as: AddressSpace, addrArg: number | bigint): number {
  const ps = as.pageSize;
  const orig = as.brkValue;
  const brk64 = toU64(addrArg);
  if (brk64 < BigInt(as.startBrk)) return orig;
  if (brk64 > BigInt(as.layout.taskSize)) return orig;
  const brk = Number(brk64);
  const newbrk = Math.ceil(brk / ps) * ps;
  const oldbrk = Math.ceil(as.brkValue / ps) * ps;
  if (oldbrk === newbrk) {
    as.brkValue = brk;
    return brk;
  }
  if (brk <= as.brkValue) {
    // Shrink: the range [newbrk, oldbrk) must start inside a VMA (the heap).
    const v = as.tree.firstIntersecting(newbrk, oldbrk);
    if (!v || v.start >= oldbrk) return orig;
    as.brkValue = brk;
    if (unmapRange(as, newbrk, oldbrk) !== 0) {
      as.brkValue = orig;
      return orig;
    }
    return brk;
  }
  // check_brk_limits: get_unmapped_area(MAP_FIXED) only range-checks.
  if (getUnmappedArea(as, oldbrk, newbrk - oldbrk, MAP_FIXED, undefined, 0) < 0) return orig;
  // The next VMA must not be within a page (plus its guard gap) of the new break.
  const next = as.tree.firstIntersecting(oldbrk, newbrk + ps + as.layout.stackGuardGap);
  if (next && newbrk + ps > vmStartGap(as, next)) return orig;
  if (as.tree.size > as.maxMapCount) return orig;
  const flags = VM_READ | VM_WRITE | VM_MAYBITS | VM_ACCOUNT;
  // do_brk_flags expands the VMA ending at oldbrk (vma_prev_limit(start_brk)) when flags match,
  // else creates a new anonymous VMA.
  const idx = as.tree.indexEndingAfter(oldbrk);
  const prev = as.tree.at(idx - 1);
  const brkVma = prev && prev.start >= as.startBrk ? prev : undefined;
  const attrs = { flags, file: undefined, anonName: undefined, anonVma: 0 };
  if (canMergeAfter(brkVma, oldbrk, oldbrk / ps, attrs, ps)) {
    (brkVma as MutableVma).end = newbrk;
  } else {
    // A new VMA; brk never merges it with the VMA above.
    as.tree.insert({ start: oldbrk, end: newbrk, pgoff: oldbrk / ps, special: undefined, ...attrs });
  }
  as.brkValue = brk;
  return brk;
}
