import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isSyscallError } from "../../../kernel-shim/errno.ts";
import { AddressSpace } from "../../../kernel-shim/mm/address-space.ts";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_PRIVATE,
  MAP_SHARED,
  VM_MAYSHARE,
} from "../../../kernel-shim/mm/prot-flags.ts";
import type { OpenFile } from "../../../kernel-shim/mm/vma.ts";
import { TestInode } from "./replay.ts";

/**
 * Property: after every one of 10k random mmap/munmap/mprotect/write operations, the VMA model's
 * page-by-page view (protection, sharing, backing object and offset) equals a naive reference that
 * keeps one record per page, and the bytes read back equal the reference's bytes.
 */
const PS = 4096;
const BASE = 0x10000000;
const PAGES = 64;
const FILE_PAGES = 6;

/** One page of the reference: what backs it and its private bytes once written. */
interface RefPage {
  prot: number;
  shared: boolean;
  /** "anon", or the file page index. */
  backing: "anon" | number;
  /** Which mapping call created it (anonymous pages of different calls are different memory). */
  gen: number;
  data: Uint8Array | undefined;
}

type Op =
  | {
      k: "map";
      page: number;
      pages: number;
      prot: number;
      kind: "anon" | "fpriv" | "fshared";
      fpage: number;
      place: "fixed" | "noreplace" | "any";
    }
  | { k: "unmap"; page: number; pages: number }
  | { k: "protect"; page: number; pages: number; prot: number }
  | { k: "write"; page: number; off: number; val: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      k: fc.constant("map" as const),
      page: fc.nat(PAGES - 1),
      pages: fc.integer({ min: 1, max: 8 }),
      prot: fc.constantFrom(0, 1, 3, 5, 7),
      kind: fc.constantFrom("anon" as const, "fpriv" as const, "fshared" as const),
      fpage: fc.nat(FILE_PAGES - 1),
      place: fc.constantFrom("fixed" as const, "fixed" as const, "noreplace" as const, "any" as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("unmap" as const),
      page: fc.nat(PAGES - 1),
      pages: fc.integer({ min: 1, max: 8 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant("protect" as const),
      page: fc.nat(PAGES - 1),
      pages: fc.integer({ min: 1, max: 8 }),
      prot: fc.constantFrom(0, 1, 3, 5, 7),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("write" as const),
      page: fc.nat(PAGES - 1),
      off: fc.nat(PS - 1),
      val: fc.integer({ min: 1, max: 255 }),
    }),
  },
);

function run(ops: readonly Op[], checkEvery: number): void {
  const as = AddressSpace.forArch("x86_64");
  const inode = new TestInode(8, 1, 42, "/ref/file", new Uint8Array(FILE_PAGES * PS));
  const file: OpenFile = { inode, readable: true, writable: true };
  const ref = new Map<number, RefPage>();
  let gen = 0;
  for (const [i, op] of ops.entries()) {
    const addr = BASE + op.page * PS;
    if (op.k === "map") {
      const len = op.pages * PS;
      const flags =
        (op.kind === "anon" ? MAP_PRIVATE | MAP_ANONYMOUS : op.kind === "fpriv" ? MAP_PRIVATE : MAP_SHARED) |
        (op.place === "fixed" ? MAP_FIXED : op.place === "noreplace" ? MAP_FIXED_NOREPLACE : 0);
      const r = as.mmap(
        op.place === "any" ? 0 : addr,
        len,
        op.prot,
        flags,
        op.kind === "anon" ? undefined : file,
        op.fpage * PS,
      );
      if (isSyscallError(r)) {
        expect(op.place).toBe("noreplace");
        continue;
      }
      if (op.place !== "fixed") for (let p = 0; p < op.pages; p++) expect(ref.has(r / PS + p)).toBe(false);
      else expect(r).toBe(addr);
      gen++;
      for (let p = 0; p < op.pages; p++) {
        ref.set(r / PS + p, {
          prot: op.prot,
          shared: op.kind === "fshared",
          backing: op.kind === "anon" ? "anon" : op.fpage + p,
          gen,
          data: undefined,
        });
      }
    } else if (op.k === "unmap") {
      expect(as.munmap(addr, op.pages * PS)).toBe(0);
      for (let p = 0; p < op.pages; p++) ref.delete(addr / PS + p);
    } else if (op.k === "protect") {
      // Pages change in order until the first hole; a hole anywhere makes the call ENOMEM.
      let hole = false;
      for (let p = 0; p < op.pages; p++) {
        const pg = ref.get(addr / PS + p);
        if (!pg) {
          hole = true;
          break;
        }
        pg.prot = op.prot;
      }
      expect(as.mprotect(addr, op.pages * PS, op.prot)).toBe(hole ? -12 : 0);
    } else {
      const pg = ref.get(op.page + BASE / PS);
      const r = as.tryWriteUser(addr + op.off, Uint8Array.of(op.val));
      const beyondEof = pg !== undefined && pg.backing !== "anon" && pg.backing >= FILE_PAGES && !pg.data;
      if (!pg || !(pg.prot & 2) || beyondEof) {
        expect(r.ok).toBe(false);
      } else {
        expect(r.ok).toBe(true);
        if (pg.shared) inode.bytes[(pg.backing as number) * PS + op.off] = op.val;
        else {
          if (!pg.data) pg.data = pageBytes(pg, inode);
          pg.data[op.off] = op.val;
        }
      }
    }
    if (i % checkEvery === 0 || i === ops.length - 1) compare(as, ref, inode, i === ops.length - 1);
  }
}

function pageBytes(pg: RefPage, inode: TestInode): Uint8Array {
  if (pg.data) return pg.data.slice();
  if (pg.backing === "anon" || pg.backing >= FILE_PAGES) return new Uint8Array(PS);
  return inode.bytes.slice(pg.backing * PS, (pg.backing + 1) * PS);
}

function compare(as: AddressSpace, ref: Map<number, RefPage>, inode: TestInode, withBytes: boolean): void {
  // Plain comparisons; expect() only on a mismatch (it is slow at this volume).
  const seen = new Map<number, string>();
  let lastEnd = 0;
  for (const v of as.tree.entries()) {
    if (v.start >= v.end || v.start < lastEnd) expect.fail(`VMA order broken at 0x${v.start.toString(16)}`);
    lastEnd = v.end;
    for (let a = v.start; a < v.end; a += PS) {
      const backing = v.file ? v.pgoff + (a - v.start) / PS : "anon";
      seen.set(a / PS, `${v.flags & 7} ${(v.flags & VM_MAYSHARE) !== 0} ${backing}`);
    }
  }
  if (seen.size !== ref.size) expect(seen.size).toBe(ref.size);
  for (const [vpn, pg] of ref) {
    const want = `${pg.prot} ${pg.shared} ${pg.backing}`;
    if (seen.get(vpn) !== want) expect(seen.get(vpn), `page 0x${(vpn * PS).toString(16)}`).toBe(want);
    if (withBytes && (pg.backing === "anon" || pg.backing < FILE_PAGES || pg.data)) {
      if (!Buffer.from(as.kernelRead(vpn * PS, PS)).equals(Buffer.from(pageBytes(pg, inode))))
        expect.fail(`bytes of page 0x${(vpn * PS).toString(16)} differ`);
    }
  }
}

describe("AddressSpace vs a page-by-page reference", () => {
  it("10k random operations keep the same per-page view and bytes", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 10_000, maxLength: 10_000 }), (ops) => run(ops, 25)),
      { numRuns: 3, seed: 20261125, endOnFailure: true },
    );
  });
  it("short sequences, checked after every step", () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 60 }), (ops) => run(ops, 1)),
      { numRuns: 300, seed: 7 },
    );
  });
});
