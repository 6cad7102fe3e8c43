import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";
import { execElf } from "../../kernel-shim/exec/binfmt-elf.ts";
import { HostFs } from "../../kernel-shim/fs/host-fs.ts";
import { Kernel } from "../../kernel-shim/process/kernel.ts";
import { Process } from "../../kernel-shim/process/process.ts";
import { StraceLog } from "../../kernel-shim/strace/log.ts";
import { hostRtldProfile } from "../../loader/host-profile.ts";
import { LinkMap } from "../../loader/link-map.ts";
import { sortMaps } from "../../loader/sort-maps.ts";
import { startFromExec } from "../../loader/startup.ts";
import { hasGcc } from "./build-fixtures.ts";

const ok = hasGcc();
if (!ok) console.warn("sort-maps parity skipped: gcc missing");

/**
 * Libraries whose constructors and destructors write their name; DT_NEEDED graphs with a diamond and
 * cycles (one through the root's first dependency), built with --no-as-needed so the edges are
 * exactly the ones listed. Cycles are made by linking a first version without the back edge.
 */
function buildGraph(graph: Record<string, string[]>, mainNeeds: string[]): { dir: string; exe: string } {
  const dir = mkdtempSync(join(tmpdir(), "ldsim-sort-"));
  const gcc = (...a: string[]) => execFileSync("gcc", a, { cwd: dir, stdio: "pipe" });
  const src = (n: string) => {
    const f = join(dir, `${n}.c`);
    writeFileSync(
      f,
      `#include <unistd.h>\n__attribute__((constructor)) static void c(void){write(1,"i:${n}\\n",${n.length + 3});}\n` +
        `__attribute__((destructor)) static void d(void){write(1,"f:${n}\\n",${n.length + 3});}\n`,
    );
    return f;
  };
  const lib = (n: string, deps: string[]) =>
    gcc(
      "-shared",
      "-fPIC",
      "-o",
      `lib${n}.so`,
      src(n),
      `-Wl,-soname,lib${n}.so`,
      "-L.",
      "-Wl,--no-as-needed",
      ...deps.map((d) => `-l${d}`),
    );
  // First pass: no dependencies (so every -l resolves), second pass: the real edges, in an order
  // where each dependency already exists.
  for (const n of Object.keys(graph)) lib(n, []);
  for (const n of Object.keys(graph)) lib(n, graph[n] ?? []);
  writeFileSync(join(dir, "m.c"), "int main(void){return 0;}\n");
  gcc(
    "-o",
    "m",
    "m.c",
    "-L.",
    "-Wl,--no-as-needed",
    ...mainNeeds.map((d) => `-l${d}`),
    `-Wl,--disable-new-dtags,-rpath,${dir}`,
  );
  return { dir, exe: join(dir, "m") };
}

function realOrder(dir: string, exe: string): { init: string[]; fini: string[] } {
  const out = execFileSync(exe, [], { cwd: dir, encoding: "latin1" }).split("\n");
  return {
    init: out.filter((l) => l.startsWith("i:")).map((l) => l.slice(2)),
    fini: out.filter((l) => l.startsWith("f:")).map((l) => l.slice(2)),
  };
}

function modelOrder(dir: string, exe: string, names: string[]): { init: string[]; fini: string[] } {
  const kernel = new Kernel(new HostFs());
  const proc = Process.spawn(kernel, { cwd: dir, log: new StraceLog({ trace: new Set() }) });
  expect(execElf(proc, exe, { argv: [exe], envp: [] }).ok).toBe(true);
  const s = startFromExec(proc, { profile: hostRtldProfile() });
  expect(s.error).toBeUndefined();
  const label = (m: LinkMap) => /^lib(.*)\.so$/.exec(basename(m.name))?.[1] ?? "";
  const ours = (m: LinkMap) => names.includes(label(m));
  // dl-deps.c: the root's l_initfini is its search list sorted; _dl_init runs it from the end.
  const initfini = sortMaps([...(s.main.searchlist ?? [])], false);
  const init = [...initfini].reverse().filter(ours).map(label);
  // dl-fini.c: every map of the namespace in l_next order, sorted for fini, run from the start.
  const fini = sortMaps([...s.rtld.ns.maps], true)
    .filter(ours)
    .map(label);
  return { init, fini };
}

describe.skipIf(!ok)("_dl_sort_maps (dfs) = the init/fini order of real programs", () => {
  const cases: [string, Record<string, string[]>, string[]][] = [
    ["diamond", { a: ["k", "d"], b: ["d"], k: [], d: ["e"], e: [] }, ["a", "b"]],
    ["cycle a->d->e->a and b->a", { a: ["x", "d"], b: ["d", "a"], x: [], d: ["e"], e: ["a"] }, ["a", "b"]],
    ["chain with shortcut", { p: ["q", "r", "s"], q: ["r"], r: ["s"], s: [] }, ["s", "p"]],
    ["two-cycle among leaves", { u: ["v"], v: ["w"], w: ["v"], z: ["w", "u"] }, ["z", "u"]],
  ];
  for (const [what, graph, mainNeeds] of cases) {
    it(what, () => {
      const { dir, exe } = buildGraph(graph, mainNeeds);
      const real = realOrder(dir, exe);
      const mine = modelOrder(dir, exe, Object.keys(graph));
      expect(real.init.length).toBe(Object.keys(graph).length);
      expect(mine).toEqual(real);
    });
  }
});

describe("sortMaps on hand-made maps", () => {
  const mk = (n: string, type: LinkMap["type"] = "loaded") => new LinkMap(n, n, type, undefined);
  it("reldeps order fini only, and DT_NEEDED wins over a reldep cycle", () => {
    const a = mk("a");
    const b = mk("b");
    a.initfini = [a];
    b.initfini = [b, a];
    // a bound a symbol in b at run time: a reldep a -> b, a cycle with b's DT_NEEDED on a.
    a.reldeps.push(b);
    const main = mk("main", "executable");
    main.initfini = [main];
    expect(sortMaps([main, a, b], false).map((m) => m.name)).toEqual(["main", "b", "a"]);
    expect(sortMaps([main, a, b], true).map((m) => m.name)).toEqual(["main", "b", "a"]);
  });
  it("empty and single", () => {
    expect(sortMaps([], true)).toEqual([]);
    const a = mk("a");
    expect(sortMaps([a], false)).toEqual([a]);
  });
});
