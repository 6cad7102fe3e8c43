/**
 * The floor under the startup bench's symbol lookups: how fast glibc's lookup algorithm runs in
 * this language at all, next to the real ld.so's whole startup of the same program.
 *
 * The model starts the largest program (gdb, 60 objects) once, untimed. Then the lookups its
 * relocation makes are replayed: every RELA entry naming a global symbol (JMPREL too when the object
 * binds now; a repeat of the previous symbol and type class skipped, as l_lookup_cache skips it),
 * looked up with do_lookup_x's steps — bloom filter, bucket, chain, string compare — over the scope's
 * tables copied into plain typed arrays. Nothing else of the model is in the loop: no versions, no
 * memory model, no record per lookup, caches hot (best of 10 rounds). The native figure is the real
 * ld.so's LD_DEBUG=statistics "total startup time in dynamic loader", which includes its lookups.
 *
 * If the floor alone is above five times the native startup, no implementation of the model in
 * this language meets the startup bench's ≤ 5× target for this program.
 */
import { existsSync } from "node:fs";
import { type DynamicInfo, dynamicInfo } from "../loader/dynamic-info.ts";
import { hostRtldProfile } from "../loader/host-profile.ts";
import type { LinkMap } from "../loader/link-map.ts";
import { archRelocator, relocStats } from "../loader/relocate.ts";
import { runToMain, spawnForRun } from "../loader/run.ts";
import { cpuMhz, nativeStartupCycles } from "./startup.bench.ts";

const PROGRAM = ["/usr/bin/gdb", "/usr/bin/gtk-launch", "/usr/bin/curl"].find((p) => existsSync(p));
const ROUNDS = 10;

/**
 * The scope's GNU hash tables flattened (as loader/scope-blooms.ts does, with the chains and the
 * symbols' st_name too): per object `META` numbers in `meta` — bloom offset, idxbits, shift, bucket
 * offset, nbuckets, chain offset minus symbias — and its DT_STRTAB in `strtabs`.
 */
const META = 6;
interface Flat {
  readonly n: number;
  readonly meta: Int32Array;
  readonly blooms: Uint32Array;
  readonly buckets: Uint32Array;
  readonly chains: Uint32Array;
  /** st_name of each chain entry (same index as `chains`). */
  readonly stNames: Uint32Array;
  readonly strtabs: readonly Uint8Array[];
}

/** The position in the scope of the first object defining the name at `off` of `t` (hash `h`), or -1. */
function lookup(f: Flat, t: Uint8Array, off: number, h: number): number {
  const u = h >>> 0;
  const word = h >>> 6;
  const b1 = h & 63;
  const { meta, blooms, buckets, chains, stNames } = f;
  for (let k = 0; k < f.n; k++) {
    const m = META * k;
    const w = (meta[m] as number) + (word & (meta[m + 1] as number)) * 2;
    const b2 = (h >>> (meta[m + 2] as number)) & 63;
    if (
      (((blooms[w + (b1 >>> 5)] as number) >>> (b1 & 31)) & ((blooms[w + (b2 >>> 5)] as number) >>> (b2 & 31)) & 1) ===
      0
    )
      continue;
    const nb = meta[m + 4] as number;
    let c = buckets[(meta[m + 3] as number) + (u - Math.floor(u / nb) * nb)] as number;
    if (c === 0) continue;
    const base = meta[m + 5] as number;
    for (; ; c++) {
      const cw = chains[base + c] as number;
      if ((cw ^ h) >>> 1 === 0) {
        const st = f.strtabs[k] as Uint8Array;
        let a = stNames[base + c] as number;
        let b = off;
        while (st[a] === t[b] && t[b] !== 0) {
          a++;
          b++;
        }
        if (st[a] === t[b]) return k;
      }
      if (cw & 1) break;
    }
  }
  return -1;
}

export async function run(): Promise<void> {
  if (!PROGRAM) {
    console.log("skipped: none of gdb, gtk-launch, curl is installed");
    return;
  }
  const r = runToMain(spawnForRun({ cwd: "/tmp" }), PROGRAM, {
    argv: [PROGRAM, "--version"],
    env: { PATH: "/usr/bin:/bin" },
    profile: hostRtldProfile(),
  });
  const { rtld, main } = r;
  const arch = archRelocator(rtld);
  const tables: { g: NonNullable<DynamicInfo["gnu"]>; chain: Uint32Array; stName: Uint32Array; strtab: Uint8Array }[] =
    [];
  for (const m of main.searchlist ?? []) {
    const info = dynamicInfo(rtld, m);
    const g = info.gnu;
    const chain = info.gnuChainWords();
    if (!g || !chain) continue;
    const stName = new Uint32Array(chain.length);
    for (let i = 0; i < chain.length; i++) stName[i] = info.symbol(g.symbias + i).nameOffset;
    tables.push({ g, chain, stName, strtab: info.strtab });
  }
  const sum = (k: (x: (typeof tables)[number]) => number) => tables.reduce((a, x) => a + k(x), 0);
  const flat: Flat = {
    n: tables.length,
    meta: new Int32Array(tables.length * META),
    blooms: new Uint32Array(sum((x) => x.g.bitmask.length)),
    buckets: new Uint32Array(sum((x) => x.g.buckets.length)),
    chains: new Uint32Array(sum((x) => x.chain.length)),
    stNames: new Uint32Array(sum((x) => x.chain.length)),
    strtabs: tables.map((x) => x.strtab),
  };
  let bo = 0;
  let ko = 0;
  let co = 0;
  tables.forEach((x, k) => {
    flat.blooms.set(x.g.bitmask, bo);
    flat.buckets.set(x.g.buckets, ko);
    flat.chains.set(x.chain, co);
    flat.stNames.set(x.stName, co);
    flat.meta.set([bo, x.g.idxbits, x.g.shift, ko, x.g.buckets.length, co - x.g.symbias], META * k);
    bo += x.g.bitmask.length;
    ko += x.g.buckets.length;
    co += x.chain.length;
  });
  // The lookup sequence relocation makes (relocate.ts: RESOLVE_MAP with l_lookup_cache).
  const names: { t: Uint8Array; off: number; h: number }[] = [];
  for (const m of rtld.ns.maps as LinkMap[]) {
    const info = dynamicInfo(rtld, m);
    const ranges = [info.relaRange, info.bindNow ? info.jmprelRange : undefined];
    let prev = -1;
    let prevClass = -1;
    for (const range of ranges) {
      if (!range) continue;
      for (const rec of info.rela(range.start, range.size)) {
        if (rec.sym === 0 || rec.type === arch.relative || rec.type === arch.irelative) continue;
        const s = info.symbol(rec.sym);
        const vis = s.other & 3;
        if (s.bind === 0 || vis === 1 || vis === 2) continue;
        const tc = arch.typeClass(rec.type);
        if (rec.sym === prev && tc === prevClass) continue;
        prev = rec.sym;
        prevClass = tc;
        names.push({ t: info.strtab, off: s.nameOffset, h: info.nameHash(s.nameOffset) });
      }
    }
  }
  let found = 0;
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < ROUNDS; round++) {
    const t0 = performance.now();
    found = 0;
    for (const n of names) if (lookup(flat, n.t, n.off, n.h) >= 0) found++;
    best = Math.min(best, performance.now() - t0);
  }
  const mhz = cpuMhz();
  const cycles = nativeStartupCycles(PROGRAM, 5);
  const nativeMs = cycles !== undefined && mhz ? cycles / (mhz * 1000) : Number.NaN;
  console.log(
    `${PROGRAM}: ${names.length} lookups replayed (the model's startup made ${relocStats(rtld).relocations}), ${found} found, over ${flat.n} objects`,
  );
  console.log(
    `lookup floor in this language: ${best.toFixed(2)} ms (${((best * 1e6) / names.length).toFixed(0)} ns per lookup, best of ${ROUNDS});` +
      ` native ld.so whole startup ${nativeMs.toFixed(3)} ms: the floor alone is ${(best / nativeMs).toFixed(1)}× it`,
  );
}
