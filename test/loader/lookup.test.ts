import { describe, expect, it } from "vitest";
import { sysvHash } from "../../formats/elf/hash-function.ts";
import { DebugLog } from "../../loader/debug.ts";
import { dynamicInfo } from "../../loader/dynamic-info.ts";
import type { LinkMap } from "../../loader/link-map.ts";
import { lookupSymbol, type SymbolMatch, takeLookupFailure, type VersionReq } from "../../loader/symbol-lookup.ts";
import { hasGcc } from "./build-fixtures.ts";
import { buildRelocPrograms, type RelocPrograms } from "./reloc-fixtures.ts";
import { hasSetarch, realRun, simulateStartup } from "./reloc-harness.ts";

const ok = hasGcc() && hasSetarch();
if (!ok) console.warn("symbol lookup tests skipped: gcc or setarch missing");

const fx: { b?: RelocPrograms } = {};
const programs = () => {
  fx.b ??= buildRelocPrograms();
  return fx.b;
};

/** "%p" as glibc prints it: "(nil)" for NULL, else 0x… */
const p = (m: SymbolMatch | undefined) => (m ? `0x${m.value.toString(16)}` : "(nil)");
const ver = (name: string) => ({ name, hash: sysvHash(name), hidden: false, filename: undefined });

describe.skipIf(!ok)("_dl_lookup_symbol_x answers = the real process's (setarch -R: same addresses)", () => {
  it("dlsym (newest version), dlvsym (VER_1 hidden, VER_2 default), RTLD_NEXT, a missing name", () => {
    const b = programs();
    const real = realRun(b.dlsym, { cwd: b.dir, categories: [] });
    expect(real.status).toBe(0);
    const sim = simulateStartup(b.dlsym, { cwd: b.dir, categories: [] });
    expect(sim.error).toBeUndefined();
    const { rtld, main } = sim;
    const scope = main.scope;
    const got = [
      p(lookupSymbol(rtld, main, "vsym", scope, undefined, { dlsym: true })),
      p(lookupSymbol(rtld, main, "vsym", scope, ver("VER_1"), { dlsym: true })),
      p(lookupSymbol(rtld, main, "vsym", scope, ver("VER_2"), { dlsym: true })),
      p(lookupSymbol(rtld, main, "vsym", scope, undefined, { dlsym: true, skip: main })),
      p(lookupSymbol(rtld, main, "only", scope, undefined, { dlsym: true })),
      p(lookupSymbol(rtld, main, "no_such_symbol", scope, undefined, { dlsym: true })),
    ];
    expect(got.join(" ")).toBe(real.stdout.trim());
    // The failed strong lookup is recorded with glibc's text (dlerror: "undefined symbol: …").
    expect(takeLookupFailure(rtld)?.message).toBe("undefined symbol: no_such_symbol");
  });

  it("an unversioned reference from an old binary binds the oldest version (index 2, even hidden)", () => {
    const b = programs();
    const real = realRun(b.oldBinary, { cwd: b.dir, categories: [] });
    expect(real.status).toBe(0);
    const sim = simulateStartup(b.oldBinary, { cwd: b.dir, categories: [], bindNow: true });
    expect(sim.error).toBeUndefined();
    const { rtld, main } = sim;
    const got = ["vsym", "only"].map((n) => p(lookupSymbol(rtld, main, n, main.scope, undefined, {})));
    expect(got.join(" ")).toBe(real.stdout.trim());
  });
});

describe.skipIf(!ok)("the indexed walk (flattened bloom filters and buckets) = the general walk", () => {
  // LD_DEBUG=symbols sends every lookup down the general do_lookup_x loop (a line per object); without
  // it, lookups go through the scope's flattened index. Both must bind every reference alike.
  for (const exe of ["/usr/bin/ssh", "/usr/bin/python3", "/usr/bin/perl"]) {
    it(`every undefined reference of every object of ${exe}`, () => {
      const sim = simulateStartup(exe, { categories: [], bindNow: true });
      expect(sim.error).toBeUndefined();
      const { rtld } = sim;
      const refs: { map: LinkMap; name: string; version: VersionReq | undefined }[] = [];
      for (const m of rtld.ns.maps) {
        const info = dynamicInfo(rtld, m);
        const versions = info.versions();
        for (let i = 1; i < info.symbolCount(); i++) {
          const s = info.symbol(i);
          if (s.shndx !== 0 || s.nameOffset === 0) continue;
          const vs = info.versym(i);
          const v = versions && vs !== undefined ? versions[vs & 0x7fff] : undefined;
          const version = v && v.hash !== 0 && v.name !== undefined ? (v as VersionReq) : undefined;
          refs.push({ map: m, name: info.string(s.nameOffset), version });
        }
      }
      expect(refs.length).toBeGreaterThan(200);
      const answers = () =>
        refs.map(({ map, name, version }) => {
          const r = lookupSymbol(rtld, map, name, map.scope, version, {});
          return r ? `${r.map.name}:${r.index}` : "-";
        });
      const indexed = answers();
      (rtld as { debug: DebugLog }).debug = new DebugLog(["symbols"]);
      const general = answers();
      expect(indexed).toEqual(general);
      expect(indexed.filter((a) => a !== "-").length).toBeGreaterThan(refs.length / 2);
    });
  }
});
