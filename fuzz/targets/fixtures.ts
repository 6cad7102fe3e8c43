import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { ElfFile } from "../../formats/elf/file.ts";
import { LdsimError } from "../../formats/errors.ts";
import { locateSframe } from "../../formats/sframe/locate.ts";
import { ROOT, shortHash } from "../engine/corpus.ts";
import type { FuzzSeed } from "../engine/target.ts";

const FIXTURES = join(ROOT, "test/fixtures");

function walk(dir: string, out: string[]): void {
  for (const f of readdirSync(dir).sort()) {
    const p = join(dir, f);
    const st = statSync(p);
    if (st.isDirectory()) {
      // Our own regression inputs are replayed by the regression test, not mutated further.
      if (f !== "fuzz-regressions") walk(p, out);
    } else if (st.isFile()) out.push(p);
  }
}

let elfCache: FuzzSeed[] | undefined;

/**
 * Every ELF file under test/fixtures up to `maxSize` bytes (all arches, the malformed ones too),
 * deduplicated by content, in path order. Big files only slow each input down: the 70 KiB aarch64
 * objects are mostly 64 KiB alignment padding, so the default cap keeps them.
 */
export function elfFixtures(maxSize = 72 * 1024): FuzzSeed[] {
  if (!elfCache) {
    const files: string[] = [];
    walk(FIXTURES, files);
    const seen = new Set<string>();
    elfCache = [];
    for (const p of files) {
      if (statSync(p).size > 128 * 1024) continue;
      const b = new Uint8Array(readFileSync(p));
      if (b.length < 4 || b[0] !== 0x7f || b[1] !== 0x45 || b[2] !== 0x4c || b[3] !== 0x46) continue;
      const h = shortHash(b);
      if (seen.has(h)) continue;
      seen.add(h);
      elfCache.push({ name: relative(FIXTURES, p), bytes: b });
    }
  }
  return elfCache.filter((s) => s.bytes.length <= maxSize);
}

/** A fixture's SFrame data with where it came from (the address lets lookups use real PCs). */
export interface SframeSeed extends FuzzSeed {
  readonly vaddr: bigint;
  readonly machine: number;
}

let sframeCache: SframeSeed[] | undefined;

/** The SFrame sections of every ELF fixture that has one (formats/sframe/locate.ts), deduplicated. */
export function sframeFixtures(): SframeSeed[] {
  if (!sframeCache) {
    const seen = new Set<string>();
    sframeCache = [];
    for (const s of elfFixtures(Number.MAX_SAFE_INTEGER)) {
      let loc: ReturnType<typeof locateSframe>;
      let machine = 0;
      try {
        const elf = ElfFile.fromBytes(s.bytes, s.name);
        machine = elf.header.machine;
        loc = locateSframe(elf);
      } catch (e) {
        if (e instanceof LdsimError) continue;
        throw e;
      }
      if (!loc || loc.bytes.length < 28) continue;
      const h = shortHash(loc.bytes);
      if (seen.has(h)) continue;
      seen.add(h);
      sframeCache.push({ name: `${s.name}:sframe`, bytes: loc.bytes.slice(), vaddr: loc.vaddr, machine });
    }
  }
  return sframeCache;
}
