import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AddressSpace, UserFault } from "../../../kernel-shim/mm/address-space.ts";
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED } from "../../../kernel-shim/mm/prot-flags.ts";
import { addUserWords, readUserView, WordWriter, writeUserWords } from "../../../kernel-shim/mm/user-access.ts";
import type { OpenFile } from "../../../kernel-shim/mm/vma.ts";
import { TestInode } from "./replay.ts";

/**
 * Differential property: the batched word accesses the relocation loop uses (writeUserWords,
 * addUserWords) leave the address space exactly as the same slots written one at a time with
 * writeUser (readUser + writeUser for the add) — same bytes, same pages copied, same anon_vmas —
 * and stop at the same first fault (kind and address), over random layouts of private/shared,
 * file/anonymous, writable/read-only/PROT_NONE mappings with holes and a file shorter than its map.
 */
const PS = 4096;
const BASE = 0x10000000;
const PAGES = 12;

interface PageSpec {
  readonly kind: "hole" | "anon" | "file" | "shared";
  readonly prot: number;
  readonly touched: boolean;
}

function build(specs: readonly PageSpec[], fileSize: number): { as: AddressSpace; inode: TestInode } {
  const as = AddressSpace.forArch("x86_64");
  const bytes = new Uint8Array(fileSize);
  for (let i = 0; i < fileSize; i++) bytes[i] = (i * 31 + 7) & 0xff;
  const inode = new TestInode(8, 1, 7, "/words/file", bytes);
  const file = (write: boolean): OpenFile => ({ inode, readable: true, writable: write });
  specs.forEach((s, i) => {
    const addr = BASE + i * PS;
    if (s.kind === "hole") return;
    const flags =
      MAP_FIXED | (s.kind === "shared" ? MAP_SHARED : MAP_PRIVATE) | (s.kind === "anon" ? MAP_ANONYMOUS : 0);
    const r = as.mmap(
      addr,
      PS,
      s.prot | 2,
      flags,
      s.kind === "anon" ? undefined : file(true),
      s.kind === "anon" ? 0 : i * PS,
    );
    expect(r).toBe(addr);
    if (s.touched) as.tryWriteUser(addr + 16, new Uint8Array([1, 2, 3]));
    if (as.mprotect(addr, PS, s.prot) !== 0) throw new Error("mprotect");
  });
  return { as, inode };
}

function snapshot(as: AddressSpace, inode: TestInode): unknown {
  const pages: [number, number[]][] = [];
  for (let i = 0; i < PAGES; i++) {
    const p = as.pages.get(BASE / PS + i);
    if (p) pages.push([i, [...p]]);
  }
  return { pages, file: [...inode.bytes], vmas: as.vmas().map((v) => ({ ...v, file: v.file ? "f" : undefined })) };
}

function faultOf(f: () => void): unknown {
  try {
    f();
    return undefined;
  } catch (e) {
    if (e instanceof UserFault) return { kind: e.kind, addr: e.addr, write: e.write };
    throw e;
  }
}

const pageSpec = fc.record({
  kind: fc.constantFrom("hole", "anon", "anon", "file", "file", "shared") as fc.Arbitrary<PageSpec["kind"]>,
  prot: fc.constantFrom(0, 1, 3, 3, 3, 5),
  touched: fc.boolean(),
});
const slot = fc.oneof(
  fc.integer({ min: 0, max: (PAGES * PS) / 8 - 1 }).map((k) => BASE + k * 8),
  fc.integer({ min: -8, max: PAGES * PS }).map((o) => BASE + o),
  fc.constantFrom(-8, 2 ** 53 + 8, 0x7fff_ffff_f000 + 4096),
);

describe("writeUserWords / addUserWords / WordWriter", () => {
  it("equal writeUser (and readUser + writeUser) slot by slot: bytes, pages, VMAs, first fault", () => {
    fc.assert(
      fc.property(
        fc.array(pageSpec, { minLength: PAGES, maxLength: PAGES }),
        fc.integer({ min: 0, max: PAGES * PS }),
        fc.array(fc.tuple(slot, fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff })), {
          maxLength: 40,
        }),
        fc.constantFrom("words", "add", "one"),
        fc.boolean(),
        (specs, fileSize, slots, mode, sorted) => {
          const add = mode === "add";
          const list = sorted ? [...slots].sort((a, b) => a[0] - b[0]) : slots;
          const one = build(specs, fileSize);
          const batch = build(specs, fileSize);
          const addrs = new Float64Array(list.map((s) => s[0]));
          const delta = new Uint32Array([0x89abcdef, 0x1234]);
          const expectedFault = faultOf(() => {
            for (const [a, lo, hi] of list) {
              const v = new Uint8Array(8);
              const dv = new DataView(v.buffer);
              if (add) {
                const old = one.as.readUser(a, 8);
                const o = new DataView(old.buffer, old.byteOffset, 8).getBigUint64(0, true);
                dv.setBigUint64(0, BigInt.asUintN(64, o + 0x1234_89abcdefn), true);
              } else {
                dv.setUint32(0, lo, true);
                dv.setUint32(4, hi, true);
              }
              one.as.writeUser(a, v);
            }
          });
          const fault = faultOf(() => {
            if (add) addUserWords(batch.as, addrs, delta, list.length);
            else if (mode === "one") {
              const writer = new WordWriter(batch.as);
              for (const [a, lo, hi] of list) writer.write(a, lo, hi);
            } else writeUserWords(batch.as, addrs, new Uint32Array(list.flatMap((s) => [s[1], s[2]])), list.length);
          });
          expect(fault).toEqual(expectedFault);
          expect(snapshot(batch.as, batch.inode)).toEqual(snapshot(one.as, one.inode));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("WordWriter equals writeUser slot by slot while mprotect, munmap and mmap change pages between slots", () => {
    // Slots and changes mostly in the first pages, so that a page written again after a change is common.
    const near = fc
      .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: PS / 8 - 1 }))
      .map(([pg, k]) => BASE + pg * PS + k * 8);
    const page = fc.integer({ min: 0, max: 3 });
    const op = fc
      .oneof(
        { arbitrary: fc.tuple(fc.oneof(near, near, slot), fc.nat(0xffffffff), fc.nat(0xffffffff)), weight: 4 },
        fc.tuple(page, fc.constantFrom(0, 1, 3, 5)),
        page,
        fc.tuple(page, fc.constant("mmap")),
      )
      .map((x) =>
        typeof x === "number"
          ? { kind: "munmap" as const, page: x }
          : x.length === 3
            ? { kind: "write" as const, a: x[0], lo: x[1], hi: x[2] }
            : x[1] === "mmap"
              ? { kind: "mmap" as const, page: x[0] }
              : { kind: "mprotect" as const, page: x[0], prot: x[1] },
      );
    fc.assert(
      fc.property(
        fc.array(pageSpec, { minLength: PAGES, maxLength: PAGES }),
        fc.integer({ min: 0, max: PAGES * PS }),
        fc.array(op, { maxLength: 60 }),
        (specs, fileSize, ops) => {
          const one = build(specs, fileSize);
          const batch = build(specs, fileSize);
          const writer = new WordWriter(batch.as);
          const mm = (as: AddressSpace, o: (typeof ops)[number]): void => {
            const addr = BASE + (o.kind === "write" ? 0 : o.page * PS);
            if (o.kind === "mprotect") as.mprotect(addr, PS, o.prot);
            else if (o.kind === "munmap") as.munmap(addr, PS);
            else if (o.kind === "mmap") as.mmap(addr, PS, 3, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS);
          };
          const expectedFault = faultOf(() => {
            for (const o of ops) {
              if (o.kind !== "write") mm(one.as, o);
              else {
                const v = new Uint8Array(8);
                const dv = new DataView(v.buffer);
                dv.setUint32(0, o.lo, true);
                dv.setUint32(4, o.hi, true);
                one.as.writeUser(o.a, v);
              }
            }
          });
          const fault = faultOf(() => {
            for (const o of ops) {
              if (o.kind !== "write") mm(batch.as, o);
              else writer.write(o.a, o.lo, o.hi);
            }
          });
          expect(fault).toEqual(expectedFault);
          expect(snapshot(batch.as, batch.inode)).toEqual(snapshot(one.as, one.inode));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("readUserView: the bytes and first fault of readUser for any range", () => {
    fc.assert(
      fc.property(
        fc.array(pageSpec, { minLength: PAGES, maxLength: PAGES }),
        fc.integer({ min: 0, max: PAGES * PS }),
        fc.integer({ min: -16, max: PAGES * PS }),
        fc.integer({ min: 0, max: 3 * PS }),
        (specs, fileSize, off, len) => {
          const { as } = build(specs, fileSize);
          const addr = BASE + off;
          let expected: unknown;
          let got: unknown;
          const f1 = faultOf(() => {
            expected = [...as.readUser(addr, len)];
          });
          const f2 = faultOf(() => {
            got = [...readUserView(as, addr, len)];
          });
          expect(f2).toEqual(f1);
          expect(got).toEqual(expected);
        },
      ),
      { numRuns: 400 },
    );
  });
});
