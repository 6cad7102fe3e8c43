import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeRelrWords, encodeRelr } from "../../formats/elf/relocations.ts";
import { decodeRelrOffsets } from "../../loader/dynamic-info.ts";

/**
 * decodeRelrOffsets (the relocation loop's number decoder of DT_RELR) names the same addresses, in
 * the same order, as formats/elf/relocations.ts decodeRelrWords (checked against binutils readelf by
 * the formats tests), and gives up (undefined) rather than round when an address nears 2^53.
 */
function bytesOf(words: readonly bigint[]): Uint8Array {
  const b = new Uint8Array(words.length * 8);
  const dv = new DataView(b.buffer);
  for (const [i, w] of words.entries()) dv.setBigUint64(i * 8, w, true);
  return b;
}

const word = fc.oneof(
  fc.bigInt({ min: 0n, max: 1n << 44n }).map((a) => a & ~7n),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((w) => w | 1n),
);

describe("decodeRelrOffsets", () => {
  it("equals decodeRelrWords on arbitrary word sequences (address words below 2^44)", () => {
    fc.assert(
      fc.property(fc.array(word, { maxLength: 40 }), (words) => {
        const got = decodeRelrOffsets(bytesOf(words));
        expect(got && [...got]).toEqual(decodeRelrWords(words, true).map(Number));
      }),
      { numRuns: 400 },
    );
  });

  it("equals the addresses encodeRelr packed", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 1 << 20 }), { maxLength: 300 }), (slots) => {
        const addrs = slots.map((s) => BigInt(s) * 8n + 0x4000n).sort((a, b) => (a < b ? -1 : 1));
        const got = decodeRelrOffsets(bytesOf(encodeRelr(addrs, true)));
        expect(got && [...got]).toEqual(addrs.map(Number));
      }),
      { numRuns: 200 },
    );
  });

  it("is undefined for an address near 2^53 or a partial word", () => {
    expect(decodeRelrOffsets(bytesOf([1n << 60n]))).toBeUndefined();
    expect(decodeRelrOffsets(bytesOf([(1n << 53n) - 8n, 3n]))).toBeUndefined();
    expect(decodeRelrOffsets(new Uint8Array(12))).toBeUndefined();
  });
});
