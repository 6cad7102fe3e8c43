import { AddressSpace } from "./address-space.ts";
import { VM_DONTCOPY, VM_WIPEONFORK } from "./prot-flags.ts";

export type ForkResult = AddressSpace;

/**
 * dup_mmap: copy every VMA but VM_DONTCOPY ones; private pages are copied now (the visible effect
 * of copy-on-write), VM_WIPEONFORK ones start empty, MAP_SHARED objects are shared. A child VMA with
 * an anon_vma gets its own (anon_vma_fork) and merges under the "uncowed parents" restriction.
 */
export function forkAddressSpace(parent: AddressSpace): AddressSpace {
  const child = new AddressSpace(parent.layout, { maxMapCount: parent.maxMapCount });
  child.startBrk = parent.startBrk;
  child.brkValue = parent.brkValue;
  child.startStack = parent.startStack;
  child.nextShmemIno = parent.nextShmemIno;
  for (const v of parent.tree.entries()) {
    if (v.flags & VM_DONTCOPY) continue;
    // anon_vma_fork: each child VMA gets its own new anon_vma chained to the parent's, so child VMAs
    // never share one and are marked as having "uncowed parents".
    // VM_WIPEONFORK starts clean: no anon_vma until its first fault in the child (dup_mmap).
    const inherited = v.anonVma !== 0 && !(v.flags & VM_WIPEONFORK);
    child.tree.insert({ ...v, anonVma: inherited ? child.nextAnonVma++ : 0, uncowedParents: inherited });
    if (!(v.flags & VM_WIPEONFORK)) parent.pages.copyRangeTo(child.pages, v.start, v.end);
  }
  return child;
}
