/**
 * Example 3 (teaching walk-through): each stage shows what really happened. The facts it prints
 * about the fixture libraries are checked against GNU readelf on the same files: every word
 * relocation wrote is a relocation's offset (or the lazy-binding GOT[1]/GOT[2] slots), and the range
 * made read-only is the object's GNU_RELRO segment.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  formatWalkthrough,
  WALKTHROUGH_PROGRAM,
  type Walkthrough,
  walkThrough,
} from "../../examples/loading-walkthrough-lib.ts";

let hasReadelf = true;
try {
  execFileSync("readelf", ["--version"], { stdio: "ignore" });
} catch {
  hasReadelf = false;
  console.warn("loading walk-through: GNU readelf missing, the readelf cross-checks are skipped");
}

const DIR = join(WALKTHROUGH_PROGRAM, "..");
let cached: Walkthrough | undefined;
const w = () => {
  cached ??= walkThrough();
  return cached;
};

/** Load base of a library from the stage-2 strace: the first mmap(NULL, …) after its openat. */
function baseOf(lines: readonly string[], lib: string): bigint {
  const i = lines.findIndex((l) => l.startsWith("openat(") && l.includes(`/${lib}"`) && !l.includes("= -1"));
  const m = lines.slice(i).find((l) => l.startsWith("mmap(NULL,"));
  return BigInt(/= (0x[0-9a-f]+)$/.exec(m ?? "")?.[1] ?? "0");
}

describe("example 3: loading a program, stage by stage", () => {
  it("has the four stages, each with its syscalls", () => {
    const s = w().stages;
    expect(s.map((x) => x.title.slice(0, 2))).toEqual(["1.", "2.", "3.", "4."]);
    expect(s[0]?.syscalls[0]).toMatch(/^execve\(/);
    expect(s[0]?.newMaps.some((l) => l.endsWith("[vdso]"))).toBe(true);
    const maps = s[1]?.syscalls ?? [];
    // Each fixture library is registered right after it is mapped and its fd closed.
    for (const lib of ["liba.so", "libb.so"]) {
      const open = maps.findIndex((l) => l.includes(`/${lib}"`) && !l.includes("= -1"));
      const reg = maps.findIndex((l, i) => i > open && l.startsWith("stacktrace_setup(0x1,"));
      expect(maps[reg - 1]).toMatch(/^close\(3\)/);
      expect(maps[reg]).toMatch(/= 0$/);
    }
    expect(s[1]?.debug.some((l) => l.includes("(RPATH from file"))).toBe(true);
    expect(s[2]?.syscalls.filter((l) => l.startsWith("mprotect(")).length).toBeGreaterThanOrEqual(4);
    expect(s[2]?.syscalls.some((l) => l.startsWith("arch_prctl(ARCH_SET_FS"))).toBe(true);
  });

  it("constructors run dependencies first: libb before liba, the program's own last", () => {
    const order = (w().stages[3]?.initOrder ?? []).map((l) => l.split(" ")[0] ?? "");
    const at = (suffix: string) => order.findIndex((n) => n.endsWith(suffix));
    expect(at("libb.so")).toBeLessThan(at("liba.so"));
    expect(at("libc.so.6")).toBeLessThan(at("liba.so"));
    expect(order.at(-1)).toBe(WALKTHROUGH_PROGRAM);
  });

  it.skipIf(!hasReadelf)("relocation wrote only relocation targets and GOT[1..2]; RELRO = readelf's GNU_RELRO", () => {
    const stage2 = w().stages[1]?.syscalls ?? [];
    for (const lib of ["liba.so", "libb.so"]) {
      const path = join(DIR, lib);
      const base = baseOf(stage2, lib);
      expect(base).toBeGreaterThan(0n);
      const relocs = execFileSync("readelf", ["-rW", path], { encoding: "latin1" })
        .split("\n")
        .map((l) => /^([0-9a-f]{16}) +[0-9a-f]{16} R_X86_64_/.exec(l)?.[1])
        .filter((x): x is string => x !== undefined)
        .map((x) => base + BigInt(`0x${x}`));
      const dyn = execFileSync("readelf", ["-dW", path], { encoding: "latin1" });
      const pltgot = base + BigInt(/\(PLTGOT\) +(0x[0-9a-f]+)/.exec(dyn)?.[1] ?? "0");
      const allowed = new Set([...relocs, pltgot + 8n, pltgot + 16n]);
      const r = w().stages[2]?.relocated?.find((x) => x.name.endsWith(`/${lib}`));
      expect(r?.changes.length).toBeGreaterThan(0);
      for (const c of r?.changes ?? []) expect(allowed.has(c.addr)).toBe(true);
      const relro = /GNU_RELRO +0x[0-9a-f]+ (0x[0-9a-f]+) 0x[0-9a-f]+ 0x[0-9a-f]+ (0x[0-9a-f]+)/.exec(
        execFileSync("readelf", ["-lW", path], { encoding: "latin1" }),
      );
      expect(r?.relro).toEqual({
        start: base + BigInt(relro?.[1] ?? "0"),
        end: base + BigInt(relro?.[1] ?? "0") + BigInt(relro?.[2] ?? "0"),
      });
    }
  });

  it("prints every stage with its explanation", () => {
    const text = formatWalkthrough(w()).join("\n");
    for (const s of w().stages) expect(text).toContain(`== ${s.title}`);
    expect(text).toMatch(/relocated liba\.so: \d+ words written/);
    expect(text).toMatch(/now read-only/);
  });
});
