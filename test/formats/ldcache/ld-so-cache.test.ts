import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

/** A cache with glibc-hwcaps entries, written by the real ldconfig (-C FILE -f /dev/null DIR). */
function buildHwcapsCache(): { cache: string; listing: string; help: string } | undefined {
  try {
    const dir = mkdtempSync(join(tmpdir(), "ldsim-ldcache-"));
    const lib = join(dir, "lib");
    mkdirSync(join(lib, "glibc-hwcaps/x86-64-v2"), { recursive: true });
    mkdirSync(join(lib, "glibc-hwcaps/x86-64-v3"), { recursive: true });
    writeFileSync(join(dir, "hw.c"), "int hw(void){return 1;}\n");
    execFileSync("gcc", [
      "-shared",
      "-fPIC",
      "-o",
      join(lib, "libhw.so.1"),
      join(dir, "hw.c"),
      "-Wl,-soname,libhw.so.1",
    ]);
    copyFileSync(join(lib, "libhw.so.1"), join(lib, "glibc-hwcaps/x86-64-v2/libhw.so.1"));
    copyFileSync(join(lib, "libhw.so.1"), join(lib, "glibc-hwcaps/x86-64-v3/libhw.so.1"));
    const cache = join(dir, "ld.so.cache");
    execFileSync("/sbin/ldconfig", ["-X", "-C", cache, "-f", "/dev/null", lib], { stdio: "ignore" });
    const listing = execFileSync("/sbin/ldconfig", ["-p", "-C", cache], { encoding: "latin1" });
    const help = execFileSync("/lib64/ld-linux-x86-64.so.2", ["--help"], { encoding: "latin1" });
    return { cache, listing, help };
  } catch {
    return undefined;
  }
}

describe("glibc-hwcaps entries (extension tag 1) as ldconfig writes them", () => {
  const built = buildHwcapsCache();
  if (!built) console.warn("hwcaps cache test skipped: gcc or ldconfig -C unavailable");
  it.skipIf(!built)("parses the subdirectory names and hwcap indices ldconfig -p shows", () => {
    if (!built) return;
    const cache = parseLdSoCache(readFileSync(built.cache));
    const theirs = built.listing
      .split("\n")
      .filter((l) => l.startsWith("\tlibhw.so.1 "))
      .map((l) => {
        const m = /^\t(\S+) \(libc6,x86-64(?:, hwcap: "([^"]+)")?\) => (.*)$/.exec(l);
        return `${m?.[1]} ${m?.[2] ?? "-"} ${m?.[3]}`;
      });
    const mine = cache.entries
      .filter((e) => e.key === "libhw.so.1")
      .map((e) => {
        const named = (e.hwcap & (1n << 62n)) !== 0n;
        return `${e.key} ${named ? cache.hwcapsSubdirs[Number(e.hwcap & 0xffffffffn)] : "-"} ${e.value}`;
      });
    expect(mine).toEqual(theirs);
  });
  it.skipIf(!built)("search_cache picks the best glibc-hwcaps subdirectory ld.so --help lists as searched", () => {
    if (!built) return;
    const cache = parseLdSoCache(readFileSync(built.cache));
    const i = built.help.indexOf("Subdirectories of glibc-hwcaps directories, in priority order:");
    const searched = built.help
      .slice(i)
      .split("\n")
      .slice(1)
      .filter((l) => /^ {2}\S/.test(l) && l.includes("searched"))
      .map((l) => l.trim().split(" ")[0] as string);
    const pri = (s: string) => searched.indexOf(s) + 1;
    const best = ["x86-64-v3", "x86-64-v2"].filter((s) => pri(s) > 0).sort((a, b) => pri(a) - pri(b))[0];
    const expected = best
      ? `${built.cache.replace(/ld\.so\.cache$/, "")}lib/glibc-hwcaps/${best}/libhw.so.1`
      : undefined;
    const got = searchCache(cache, "libhw.so.1", { ...ctx, hwcapsPriority: pri });
    expect(got).toBe(expected ?? `${built.cache.replace(/ld\.so\.cache$/, "")}lib/libhw.so.1`);
  });
});
