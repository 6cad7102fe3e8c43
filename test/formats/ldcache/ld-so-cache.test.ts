import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FormatError } from "../../../formats/errors.ts";
import { cacheLibcmp, parseLdSoCache, searchCache } from "../../../formats/ldcache/ld-so-cache.ts";

const CACHE = "/etc/ld.so.cache";
function ldconfigP(): string | undefined {
  try {
    return execFileSync("/sbin/ldconfig", ["-p"], { encoding: "latin1" });
  } catch {
    return undefined;
  }
}
const listing = existsSync(CACHE) ? ldconfigP() : undefined;
if (!listing) console.warn("ld.so.cache tests against ldconfig -p skipped: no cache or no ldconfig");

const ctx = {
  defaultId: 0x0303,
  allowedHwcap: (0xfn << 48n) | (1n << 63n),
  hwcapsPriority: (s: string) => ["x86-64-v4", "x86-64-v3", "x86-64-v2"].indexOf(s) + 1,
  isaLevel: 4,
};

describe.skipIf(!listing)("parseLdSoCache on this machine's cache = ldconfig -p", () => {
  const cache = parseLdSoCache(readFileSync(CACHE));
  const lines = (listing ?? "").split("\n");
  it("has the entry count ldconfig reports", () => {
    expect(lines[0]).toBe(`${cache.entries.length} libs found in cache \`${CACHE}'`);
  });
  it("lists the same keys and paths in the same order", () => {
    const theirs = lines
      .slice(1)
      .filter((l) => l.startsWith("\t"))
      .map((l) => {
        const m = /^\t(\S+) \(([^)]*)\) => (.*)$/.exec(l);
        return m ? `${m[1]} => ${m[3]}` : l;
      });
    expect(cache.entries.map((e) => `${e.key} => ${e.value}`)).toEqual(theirs);
  });
  it("is sorted the way search_cache needs (descending by _dl_cache_libcmp)", () => {
    for (let i = 1; i < cache.entries.length; i++) {
      expect(cacheLibcmp(cache.entries[i - 1]?.key ?? "", cache.entries[i]?.key ?? "")).toBeGreaterThanOrEqual(0);
    }
  });
  it("finds every key's first x86-64 path by binary search, and misses absent names", () => {
    for (const e of cache.entries) {
      if (e.flags !== 0x0303) continue;
      const first = cache.entries.find((x) => x.key === e.key && x.flags === 0x0303);
      expect(searchCache(cache, e.key, ctx)).toBe(first?.value);
    }
    expect(searchCache(cache, "libdoes-not-exist.so.9", ctx)).toBeUndefined();
  });
  it("carries ldconfig's generator string", () => {
    expect(cache.generator ?? "").toMatch(/^ldconfig/);
  });
});

describe("parseLdSoCache on bad input", () => {
  it("rejects non-cache bytes and truncations with FormatError", () => {
    expect(() => parseLdSoCache(new Uint8Array(10))).toThrow(FormatError);
    if (existsSync(CACHE)) {
      const b = readFileSync(CACHE);
      expect(() => parseLdSoCache(b.subarray(0, 100))).toThrow(FormatError);
    }
  });
  it("never throws anything but FormatError", () => {
    const head = new TextEncoder().encode("glibc-ld.so.cache1.1");
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (tail) => {
        const bytes = new Uint8Array(head.length + tail.length);
        bytes.set(head);
        bytes.set(tail, head.length);
        try {
          parseLdSoCache(bytes);
        } catch (e) {
          if (!(e instanceof FormatError)) throw e;
        }
      }),
    );
  });
  it("version-sorts digits numerically and after non-digits", () => {
    expect(cacheLibcmp("libz.so.10", "libz.so.9")).toBeGreaterThan(0);
    expect(cacheLibcmp("libz.so.1", "libz.so.a")).toBeGreaterThan(0);
    expect(cacheLibcmp("libfoo.so", "libfoo.so")).toBe(0);
  });
});
