/**
 * The STB_GNU_UNIQUE table's allocations (glibc 2.36 do_lookup_unique): 31 entries of 32 bytes at
 * the first new name, then _dl_higher_prime_number (size + 1) entries once size * 3 <= n * 4, the
 * new array allocated before the old one is freed. The end-to-end proof is the startup strace of a
 * C++ program (test/loader/run.test.ts, apt-config); this pins the arithmetic.
 */
import { describe, expect, it } from "vitest";
import { higherPrimeNumber } from "../../loader/higher-prime-number.ts";
import type { Rtld } from "../../loader/rtld.ts";
import { allocateForInsert, type UniqueTableMemory } from "../../loader/unique-table.ts";

describe("unique symbol table allocations", () => {
  it("_dl_higher_prime_number: the smallest listed prime at or above n", () => {
    expect([1, 7, 8, 14, 32, 62, 128, 252, 510, 1022].map(higherPrimeNumber)).toEqual([
      7, 7, 13, 31, 61, 127, 251, 509, 1021, 2039,
    ]);
  });
  it("inserting 200 names: calloc 992, 1952, 4064, 8032, 16288 bytes at the 1st, 25th, 47th, 97th and 190th; each old array freed after", () => {
    const calls: string[] = [];
    let next = 0x1000n;
    const malloc = {
      calloc: (n: number) => {
        calls.push(`calloc ${n}`);
        next += BigInt(n);
        return next - BigInt(n);
      },
      free: (p: bigint | undefined) => calls.push(`free ${p?.toString(16)}`),
    };
    const rtld = { malloc } as unknown as Rtld;
    const mem: UniqueTableMemory = { entries: undefined, size: 0 };
    const at: number[] = [];
    for (let held = 0; held < 200; held++) {
      const before = calls.length;
      allocateForInsert(rtld, mem, held);
      if (calls.length > before) at.push(held + 1);
    }
    expect(calls).toEqual([
      "calloc 992",
      "calloc 1952",
      "free 1000",
      "calloc 4064",
      "free 13e0",
      "calloc 8032",
      "free 1b80",
      "calloc 16288",
      "free 2b60",
    ]);
    expect(at).toEqual([1, 25, 47, 97, 190]);
    expect(mem.size).toBe(509);
  });
});
