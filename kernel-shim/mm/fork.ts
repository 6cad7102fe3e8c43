import { AddressSpace } from "./address-space.ts";
import { VM_DONTCOPY, VM_WIPEONFORK } from "./prot-flags.ts";

export type ForkResult = AddressSpace;

/**
 * dup_mmap: copy every VMA but VM_DONTCOPY ones; private pages are copied now (the visible effect
 * of copy-on-write), VM_WIPEONFORK ones start empty, MAP_SHARED objects are shared. A child VMA with
 * an anon_vma gets its own (anon_vma_fork); the "uncowed parents" merge restriction is not modelled.
 */
export function forkAddressSpace(parent: AddressSpace): AddressSpace {
  const child = new AddressSpace(parent.layout, { maxMapCount: parent.maxMapCount });
  child.startBrk = parent.startBrk;
  child.brkValue = parent.brkValue;
  child.startStack = parent.startStack;
  child.nextShmemIno = parent.nextShmemIno;
  const remap = new Map<number, number>();
  for (const v of parent.tree.entries()) {
    if (v.flags & VM_DONTCOPY) continue;
    let anonVma = 0;
    if (v.anonVma !== 0) {
      anonVma = remap.get(v.anonVma) ?? child.nextAnonVma++;
      remap.set(v.anonVma, anonVma);
    }
    child.tree.insert({ ...v, anonVma });
    if (!(v.flags & VM_WIPEONFORK)) parent.pages.copyRangeTo(child.pages, v.start, v.end);
  }
  return child;
}
