import { describe, expect, it } from "vitest";
import { AddressSpace } from "../../../kernel-shim/mm/address-space.ts";
import { MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "../../../kernel-shim/mm/prot-flags.ts";
import type { MappedInode, OpenFile } from "../../../kernel-shim/mm/vma.ts";

/**
 * vma->vm_file references: each VMA mapping a file holds one (get_file in mmap_region, __split_vma
 * and dup_mmap; fput in remove_vma and when vma_merge absorbs a VMA), so the count always equals
 * the number of VMAs that map the file — the invariant checked after every step.
 */
const PS = 4096;
const inode: MappedInode = {
  devMajor: 8,
  devMinor: 1,
  ino: 42,
  path: "/data",
  size: 64 * PS,
  read: (o, l) => new Uint8Array(Math.max(0, Math.min(l, 64 * PS - o))),
};

function counted(): { file: OpenFile; refs: () => number } {
  let n = 0;
  const file: OpenFile = {
    inode,
    readable: true,
    writable: false,
    get: () => {
      n++;
    },
    put: () => {
      n--;
    },
  };
  return { file, refs: () => n };
}

function vmasOf(as: AddressSpace, file: OpenFile): number {
  return as.vmas().filter((v) => v.file === file).length;
}

describe("vm_file references follow the VMAs", () => {
  it("mmap, merge, split by mprotect, partial and full munmap, MAP_FIXED replacement", () => {
    const as = AddressSpace.forArch("x86_64");
    const { file, refs } = counted();
    const check = () => expect(refs()).toBe(vmasOf(as, file));
    const a = as.mmap(0, 8 * PS, PROT_READ, MAP_PRIVATE, file, 0);
    check();
    expect(refs()).toBe(1);
    // The following file pages mapped right above merge with the first VMA (no new reference).
    expect(as.mmap(a + 8 * PS, 4 * PS, PROT_READ, MAP_PRIVATE | MAP_FIXED, file, 8 * PS)).toBe(a + 8 * PS);
    check();
    expect(refs()).toBe(1);
    expect(as.mprotect(a + 2 * PS, 2 * PS, PROT_READ | PROT_WRITE)).toBe(0);
    check();
    expect(refs()).toBe(3);
    // Read-only again: VM_ACCOUNT stays on the written-to-be part, so it does not merge back.
    expect(as.mprotect(a + 2 * PS, 2 * PS, PROT_READ)).toBe(0);
    check();
    expect(as.munmap(a + 6 * PS, PS)).toBe(0);
    check();
    expect(refs()).toBe(4);
    // Anonymous memory over part of it drops that part's reference.
    expect(as.mmap(a, 4 * PS, PROT_READ, MAP_PRIVATE | MAP_FIXED | 0x20, undefined, 0)).toBe(a);
    check();
    expect(refs()).toBe(2);
    expect(as.munmap(a, 12 * PS)).toBe(0);
    expect(refs()).toBe(0);
  });

  it("fork: the child's VMAs take their own references", () => {
    const as = AddressSpace.forArch("x86_64");
    const { file, refs } = counted();
    const a = as.mmap(0, 8 * PS, PROT_READ, MAP_PRIVATE, file, 0);
    as.mprotect(a, PS, PROT_READ | PROT_WRITE);
    expect(refs()).toBe(2);
    const child = as.fork();
    expect(refs()).toBe(4);
    expect(child.munmap(a, 8 * PS)).toBe(0);
    expect(refs()).toBe(2);
  });
});
