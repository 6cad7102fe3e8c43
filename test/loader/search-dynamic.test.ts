/**
 * readSearchDynamic (the loader's one-pass walk of l_ld) against the general readers it stands in
 * for — readDynamicFromMemory + decodeDynamic + dynamicNames over a MemoryStringTable — on every
 * object of real programs mapped by the simulated ld.so, and on arrays that fault or never end.
 */
import { describe, expect, it } from "vitest";
import {
  decodeDynamic,
  dynamicNames,
  dynamicStringsFromMemory,
  dynValue,
  readDynamicFromMemory,
} from "../../formats/elf/dynamic.ts";
import { DT_FLAGS_1 } from "../../formats/elf/dynamic-tags.ts";
import { FormatError } from "../../formats/errors.ts";
import { AddressSpace } from "../../kernel-shim/mm/address-space.ts";
import { ldd } from "../../loader/ldd.ts";
import { readSearchDynamic } from "../../loader/search-dynamic.ts";

function general(mm: AddressSpace, ld: bigint, lAddr: bigint, source: string) {
  const read = (a: bigint, n: number) => mm.readUser(Number(a), n);
  const d = decodeDynamic(readDynamicFromMemory(read, ld, true, true, { source, granule: mm.pageSize }).entries);
  const strings = dynamicStringsFromMemory(read, d, lAddr, source, mm.pageSize);
  const names = strings
    ? dynamicNames(d, strings)
    : { needed: [], soname: undefined, rpath: undefined, runpath: undefined, auxiliary: [], filter: [] };
  return { ...names, flags1: dynValue(d, DT_FLAGS_1) ?? 0n };
}

const outcome = (f: () => unknown) => {
  try {
    return { ok: f() };
  } catch (e) {
    return { error: e instanceof FormatError ? "FormatError" : (e as Error).constructor.name };
  }
};

describe("readSearchDynamic", () => {
  const programs = ["/usr/bin/curl", "/usr/bin/ssh", "/usr/bin/python3", "/usr/bin/perl"];
  it.each(programs)("equals the general readers for every object %s maps", (prog) => {
    const r = ldd(prog);
    const st = r.startup;
    expect(st).toBeDefined();
    if (!st) return;
    let compared = 0;
    for (const l of st.rtld.ns.maps) {
      if (l.ld === undefined || l.faked) continue;
      const mm = st.rtld.proc.mm;
      expect(readSearchDynamic(mm, l.ld, l.addr, l.name)).toEqual(general(mm, l.ld, l.addr, l.name));
      compared++;
    }
    expect(compared).toBeGreaterThan(3);
  });
  it("a dynamic array running into an unmapped page, or never ending, fails the same way", () => {
    const mm = AddressSpace.forArch("x86_64");
    const base = 0x10000;
    mm.mmap(base, 0x2000, 3, 0x22 | 0x10, undefined, 0);
    // 8 entries of DT_NEEDED up to the end of the mapping: the walk reads on into the unmapped page.
    const words = new Uint8Array(16 * 8);
    const v = new DataView(words.buffer);
    for (let i = 0; i < 8; i++) v.setBigUint64(i * 16, 1n, true);
    mm.writeUser(base + 0x2000 - words.length, words);
    const ld = BigInt(base + 0x2000 - words.length);
    const a = outcome(() => readSearchDynamic(mm, ld, 0n, "x"));
    const b = outcome(() => general(mm, ld, 0n, "x"));
    expect(a).toEqual(b);
    expect(a).not.toHaveProperty("ok");
    // 0x2000 bytes of DT_NEEDED and more after a remap: no DT_NULL within 4096 entries.
    const big = AddressSpace.forArch("x86_64");
    big.mmap(base, 0x11000, 3, 0x22 | 0x10, undefined, 0);
    const all = new Uint8Array(0x11000);
    const w = new DataView(all.buffer);
    for (let i = 0; i < all.length / 16; i++) w.setBigUint64(i * 16, 1n, true);
    big.writeUser(base, all);
    const c = outcome(() => readSearchDynamic(big, BigInt(base), 0n, "x"));
    expect(c).toEqual(outcome(() => general(big, BigInt(base), 0n, "x")));
    expect(c).toEqual({ error: "FormatError" });
  });
});
