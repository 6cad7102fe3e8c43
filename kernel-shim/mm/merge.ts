import type { AddressSpace } from "./address-space.ts";
import { VM_ACCESS_FLAGS, VM_IGNORE_MERGE, VM_SPECIAL } from "./prot-flags.ts";
import type { MutableVma, OpenFile } from "./vma.ts";

/**
 * VMA merging as mm/vma.c (Linux 6.12+: vma_merge_new_range, vma_merge_existing_range) decides it.
 * Two neighbours merge when their vm_flags match (VM_SOFTDIRTY aside), they map the same struct file
 * with continuous pgoff, share the anon_vma name, and their anon_vmas are compatible: at most one is
 * set, or both are the same (is_mergeable_anon_vma; fork's "uncowed parents" are not modelled).
 */

/** The attributes a new or modified range would have. */
export interface RangeAttrs {
  readonly flags: number;
  readonly file: OpenFile | undefined;
  readonly anonName: string | undefined;
  readonly anonVma: number;
  /** The existing VMA being modified has an anon_vma inherited over fork (vma_had_uncowed_parents). */
  readonly uncowedParents?: boolean;
}

function sameAttrs(v: MutableVma, a: RangeAttrs): boolean {
  if (a.flags & VM_SPECIAL) return false;
  return ((v.flags ^ a.flags) & ~VM_IGNORE_MERGE) === 0 && v.file === a.file && v.anonName === a.anonName;
}

export function anonCompatible(a: number, b: number): boolean {
  return a === 0 || b === 0 || a === b;
}

/**
 * is_mergeable_anon_vma (mm/vma.c): the target neighbour `tgt` and the range's anon_vma. When only
 * one side has an anon_vma the other adopts it — unless that side inherited it over fork (its
 * anon_vma_chain is not singular: "uncowed parents"); when both have one, they must be the same.
 */
function anonMergeable(tgt: MutableVma, a: RangeAttrs): boolean {
  if (tgt.anonVma === 0 && a.anonVma !== 0) return !a.uncowedParents;
  if (tgt.anonVma !== 0 && a.anonVma === 0) return !tgt.uncowedParents;
  return tgt.anonVma === a.anonVma;
}

/** can_vma_merge_after: `prev` ends at `start` and the range [start, …) with `pgoff` can extend it. */
export function canMergeAfter(
  prev: MutableVma | undefined,
  start: number,
  pgoff: number,
  a: RangeAttrs,
  ps: number,
): boolean {
  return (
    prev !== undefined &&
    prev.end === start &&
    sameAttrs(prev, a) &&
    anonMergeable(prev, a) &&
    prev.pgoff + (prev.end - prev.start) / ps === pgoff
  );
}

/** can_vma_merge_before: `next` starts at `end` and continues the range [start, end) with `pgoff`. */
export function canMergeBefore(
  next: MutableVma | undefined,
  start: number,
  end: number,
  pgoff: number,
  a: RangeAttrs,
  ps: number,
): boolean {
  return (
    next !== undefined &&
    next.start === end &&
    sameAttrs(next, a) &&
    anonMergeable(next, a) &&
    next.pgoff === pgoff + (end - start) / ps
  );
}

/**
 * vma_merge_new_range + __mmap_new_vma: place a brand-new range [start, end) (the hole is already
 * empty), merging into prev and/or next when allowed. Returns the VMA now covering the range.
 */
export function insertMerged(
  as: AddressSpace,
  start: number,
  end: number,
  pgoff: number,
  a: RangeAttrs,
  special?: string,
): MutableVma {
  const ps = as.pageSize;
  const tree = as.tree;
  const i = tree.indexEndingAfter(start);
  const prev = tree.at(i - 1);
  const next = tree.at(i);
  if (special === undefined) {
    const left = canMergeAfter(prev, start, pgoff, a, ps);
    let right = canMergeBefore(next, start, end, pgoff, a, ps);
    // Merging both: prev and next must also be compatible with each other (are_anon_vmas_compatible).
    if (left && right && !anonCompatible((prev as MutableVma).anonVma, (next as MutableVma).anonVma)) right = false;
    if (left && right) {
      const p = prev as MutableVma;
      const n = next as MutableVma;
      p.end = n.end;
      p.anonVma = p.anonVma || n.anonVma || a.anonVma;
      p.uncowedParents = p.uncowedParents || n.uncowedParents;
      tree.splice(i, 1);
      return p;
    }
    if (left) {
      const p = prev as MutableVma;
      p.end = end;
      p.anonVma = p.anonVma || a.anonVma;
      return p;
    }
    if (right) {
      const n = next as MutableVma;
      n.start = start;
      n.pgoff = pgoff;
      n.anonVma = n.anonVma || a.anonVma;
      return n;
    }
  }
  const vma: MutableVma = {
    start,
    end,
    flags: a.flags,
    file: a.file,
    pgoff,
    special,
    anonName: a.anonName,
    anonVma: a.anonVma,
  };
  tree.splice(i, 0, vma);
  return vma;
}

/**
 * vma_modify: give [start, end) — inside the single VMA `middle` — new flags/name, merging with the
 * left neighbour when the range starts at middle's start, with the right one when it ends at
 * middle's end, and otherwise splitting middle. Returns the VMA covering the range afterwards.
 */
export function modifyRange(
  as: AddressSpace,
  middle: MutableVma,
  start: number,
  end: number,
  change: { readonly flags: number; readonly anonName: string | undefined },
): MutableVma {
  const ps = as.pageSize;
  const tree = as.tree;
  const i = tree.indexOf(middle);
  const prev = tree.at(i - 1);
  const next = tree.at(i + 1);
  const a: RangeAttrs = {
    flags: change.flags,
    file: middle.file,
    anonName: change.anonName,
    anonVma: middle.anonVma,
    uncowedParents: middle.uncowedParents === true,
  };
  const pgoff = middle.pgoff + (start - middle.start) / ps;
  const leftSide = start === middle.start;
  const rightSide = end === middle.end;
  const left = leftSide && canMergeAfter(prev, start, pgoff, a, ps);
  let right = rightSide && canMergeBefore(next, start, end, pgoff, a, ps);
  if (left && right && !anonCompatible((prev as MutableVma).anonVma, (next as MutableVma).anonVma)) right = false;
  if (left && right) {
    const p = prev as MutableVma;
    const n = next as MutableVma;
    p.end = n.end;
    p.anonVma = p.anonVma || middle.anonVma || n.anonVma;
    p.uncowedParents = p.uncowedParents || middle.uncowedParents || n.uncowedParents;
    tree.splice(i, 2);
    return p;
  }
  if (left) {
    const p = prev as MutableVma;
    p.end = end;
    p.anonVma = p.anonVma || middle.anonVma;
    p.uncowedParents = p.uncowedParents || middle.uncowedParents;
    if (rightSide) tree.splice(i, 1);
    else {
      middle.pgoff += (end - middle.start) / ps;
      middle.start = end;
    }
    return p;
  }
  if (right) {
    const n = next as MutableVma;
    n.start = start;
    n.pgoff = pgoff;
    n.anonVma = n.anonVma || middle.anonVma;
    n.uncowedParents = n.uncowedParents || middle.uncowedParents;
    if (leftSide) tree.splice(i, 1);
    else middle.end = start;
    return n;
  }
  if (!leftSide) tree.splitAt(start, ps);
  if (!rightSide) tree.splitAt(end, ps);
  const target = tree.containing(start) as MutableVma;
  target.flags = change.flags;
  target.anonName = change.anonName;
  return target;
}

/** anon_vma_compatible (mm/rmap.c): neighbours that could share an anon_vma. */
function anonVmaCompatible(a: MutableVma, b: MutableVma, ps: number): boolean {
  return (
    a.end === b.start &&
    a.file === b.file &&
    ((a.flags ^ b.flags) & ~(VM_ACCESS_FLAGS | VM_IGNORE_MERGE)) === 0 &&
    b.pgoff === a.pgoff + (b.start - a.start) / ps
  );
}

/**
 * anon_vma_prepare at a private write fault: reuse a neighbour's anon_vma when
 * find_mergeable_anon_vma allows (next first, then prev), else allocate a new one.
 */
export function anonVmaPrepare(as: AddressSpace, vma: MutableVma): void {
  if (vma.anonVma !== 0) return;
  const i = as.tree.indexOf(vma);
  const next = as.tree.at(i + 1);
  const prev = as.tree.at(i - 1);
  // reusable_anon_vma also needs the neighbour's anon_vma_chain to be singular (not inherited over fork).
  if (next && next.anonVma !== 0 && !next.uncowedParents && anonVmaCompatible(vma, next, as.pageSize))
    vma.anonVma = next.anonVma;
  else if (prev && prev.anonVma !== 0 && !prev.uncowedParents && anonVmaCompatible(prev, vma, as.pageSize))
    vma.anonVma = prev.anonVma;
  else vma.anonVma = as.nextAnonVma++;
}
