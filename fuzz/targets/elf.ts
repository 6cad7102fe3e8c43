import { formatReadelf, requestFromArgs } from "../../cli/readelf/index.ts";
import { formatSframeDump } from "../../cli/sframe/dump.ts";
import { ElfFile } from "../../formats/elf/file.ts";
import { LdsimError } from "../../formats/errors.ts";
import { probeElf } from "../../test/support/elf-probes.ts";
import { mutateBytes } from "../engine/mutate-bytes.ts";
import { makeSeed, mutate, type Seed } from "../engine/mutate-elf.ts";
import type { Rng } from "../engine/rng.ts";
import { type FuzzSeed, type FuzzTarget, Steps } from "../engine/target.ts";
import { elfFixtures } from "./fixtures.ts";

/**
 * One readelf option at a time (GNU readelf's -h -S -g -l -d -r -u -s --dyn-syms -I -V -n -A), so a
 * formatter that fails does not hide the next; -W for all, plus the narrow -S and -s layouts.
 */
const READELF_RUNS: readonly (readonly string[])[] = [
  ["-h"],
  ["-S", "-W"],
  ["-S"],
  ["-g"],
  ["-l", "-W"],
  ["-d", "-W"],
  ["-r", "-W"],
  ["-u"],
  ["-s", "-W"],
  ["-s"],
  ["--dyn-syms", "-W"],
  ["-I"],
  ["-V", "-W"],
  ["-n", "-W"],
  ["-A"],
].map((args) => args);

const REQUESTS = READELF_RUNS.map((a) => requestFromArgs(a));

const shapes = new WeakMap<FuzzSeed, Seed>();
function shaped(s: FuzzSeed): Seed {
  let m = shapes.get(s);
  if (!m) {
    m = makeSeed(s.name, s.bytes);
    shapes.set(s, m);
  }
  return m;
}

/**
 * ELF files: ElfFile and every reader (dynamic, symbols, versions, hash lookup, relocations, notes:
 * test/support/elf-probes.ts), every readelf formatter (cli/readelf) and the SFrame dump on the same
 * mutated bytes. Extra property: no single read is larger than the input.
 */
export const elfTarget: FuzzTarget = {
  name: "elf",
  describe: "ElfFile + dynamic/symbols/versions/hash/relocations/notes readers + readelf formatters + SFrame dump",
  seeds: () => elfFixtures(),
  generate(rng: Rng, seeds: readonly FuzzSeed[]): Uint8Array {
    const s = rng.pick(seeds);
    if (rng.chance(0.15)) return mutateBytes(s.bytes, rng, rng.pick(seeds).bytes);
    return mutate(shaped(s), rng).bytes;
  },
  execute(input: Uint8Array): ReturnType<FuzzTarget["execute"]> {
    const steps = new Steps((e) => e instanceof LdsimError);
    const report = probeElf(input, "fuzz.elf");
    steps.errors.push(...report.thrown);
    if (report.maxRead > report.size)
      steps.violation(`read of ${report.maxRead} bytes from a ${report.size}-byte input`);
    const elf = steps.run(() => ElfFile.fromBytes(input, "fuzz.elf"));
    if (!elf) return steps.outcome();
    for (const req of REQUESTS) steps.run(() => formatReadelf(elf, req));
    steps.run(() => formatSframeDump(elf));
    return steps.outcome();
  },
};
