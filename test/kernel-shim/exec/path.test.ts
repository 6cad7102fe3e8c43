/**
 * resolvePath's lexical normalisation against Node's path.posix.resolve (an independent
 * implementation of the same rules: join to the base unless absolute, drop empty and "." parts,
 * ".." pops and stops at "/", no trailing slash), including the fast path for paths already normal.
 */
import { posix } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { resolvePath } from "../../../kernel-shim/exec/path.ts";

describe("resolvePath", () => {
  it("equals path.posix.resolve for any mix of parts, absolute or relative", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("/", "/tmp", "/a/b/", "/usr/lib/x86_64-linux-gnu"),
        fc.array(fc.constantFrom("", ".", "..", "a", "b.c", "..x", ".y", "lib.so.6"), { maxLength: 7 }),
        fc.boolean(),
        (cwd, parts, abs) => {
          const p = (abs ? "/" : "") + parts.join("/");
          expect(resolvePath(cwd, p)).toBe(posix.resolve(cwd, p));
        },
      ),
      { numRuns: 5000 },
    );
  });
  it("hands back an already normal absolute path unchanged", () => {
    for (const p of ["/lib/x86_64-linux-gnu/libc.so.6", "/etc/ld.so.cache", "/a..b/.c/d."]) {
      expect(resolvePath("/tmp", p)).toBe(p);
    }
    expect(resolvePath("/tmp", "/")).toBe("/");
    expect(resolvePath("/tmp", "/lib/")).toBe("/lib");
    expect(resolvePath("/tmp", "/lib/./x/../y")).toBe("/lib/y");
  });
});
