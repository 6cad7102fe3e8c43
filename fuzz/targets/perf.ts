import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BufferSource } from "../../formats/bytes/source.ts";
import { LdsimError } from "../../formats/errors.ts";
import { PerfData } from "../../formats/perf/perf-data.ts";
import { RecordingSource } from "../../test/support/elf-probes.ts";
import { ROOT } from "../engine/corpus.ts";
import { mutateBytes } from "../engine/mutate-bytes.ts";
import type { Rng } from "../engine/rng.ts";
import { type FuzzSeed, type FuzzTarget, Steps } from "../engine/target.ts";

/** Bound on records drained per input: a mutated size field must not turn one input into a long walk. */
const MAX_RECORDS = 20_000;

interface PerfSeed extends FuzzSeed {
  /** Offsets of the records (from a clean read of the seed) and the data section's start. */
  readonly records: readonly number[];
}

let cache: PerfSeed[] | undefined;

/**
 * spin.perf.data (a real `perf record -g --call-graph` file) whole, and cut after its first 24
 * records (feature sections lost: the warning path), so most inputs stay small.
 */
function perfSeeds(): PerfSeed[] {
  if (!cache) {
    const bytes = new Uint8Array(readFileSync(join(ROOT, "test/fixtures/perf/spin.perf.data")));
    const records = [...PerfData.open(new BufferSource(bytes)).records()].map((r) => r.offset);
    const cutAt = records[24] ?? bytes.length;
    cache = [
      { name: "perf/spin.perf.data", bytes, records },
      { name: "perf/spin.perf.data[:24 records]", bytes: bytes.slice(0, cutAt), records: records.slice(0, 24) },
    ];
  }
  return cache;
}

const put = (b: Uint8Array, at: number, w: number, v: bigint): void => {
  let x = BigInt.asUintN(w * 8, v);
  for (let i = 0; i < w && at + i < b.length; i++) {
    b[at + i] = Number(x & 0xffn);
    x >>= 8n;
  }
};

/** perf.data-aware damage: file-header sections and feature bits, record headers, sample payload words. */
function mutatePerf(seed: PerfSeed, rng: Rng): Uint8Array {
  const b = seed.bytes.slice();
  const count = 1 + rng.below(3);
  const boundary = [0n, 1n, 7n, 8n, 0xffffn, 0x7fffffffn, 0xffffffffn, (1n << 63n) - 1n, (1n << 64n) - 1n];
  for (let k = 0; k < count; k++) {
    const rec = seed.records.length > 0 ? rng.pick(seed.records) : 104;
    switch (rng.below(6)) {
      case 0: // header: attr_size, attrs/data/event_types offset+size (at 16..63)
        put(
          b,
          rng.pick([16, 24, 32, 40, 48, 56, 64]),
          8,
          rng.chance(0.5) ? rng.pick(boundary) : BigInt(rng.below(b.length * 2)),
        );
        break;
      case 1: // feature bitmap
        b[72 + rng.below(32)] = rng.below(256);
        break;
      case 2: // record type
        put(b, rec, 4, BigInt(rng.pick([0, 1, 2, 3, 4, 5, 7, 9, 10, 68, 69, 70, 71, 81, 82, 0xffff, rng.below(100)])));
        break;
      case 3: // record size
        put(b, rec + 6, 2, BigInt(rng.pick([0, 1, 7, 8, 9, 16, 0xffff, rng.below(0x10000)])));
        break;
      case 4: // a word of a record's payload (nr of callchain entries, regs abi, sizes)
        put(b, rec + 8 + 8 * rng.below(16), 8, rng.pick(boundary));
        break;
      default:
        return rng.chance(0.5) ? b.subarray(0, rng.below(b.length)) : mutateBytes(b, rng);
    }
  }
  return b;
}

/**
 * perf.data files (formats/perf): header, attrs, features, every record streamed and in time order,
 * event names. Extra property: no single read larger than the input.
 */
export const perfTarget: FuzzTarget = {
  name: "perf",
  describe: "formats/perf PerfData: header, attrs, features, records() and ordered()",
  seeds: () => perfSeeds(),
  generate(rng: Rng, seeds: readonly FuzzSeed[]): Uint8Array {
    const own = perfSeeds();
    const s = rng.chance(0.8) ? (own[1] as PerfSeed) : (own[0] as PerfSeed);
    if (seeds.length > own.length && rng.chance(0.2)) return mutateBytes(rng.pick(seeds).bytes, rng);
    return mutatePerf(s, rng);
  },
  execute(input: Uint8Array): ReturnType<FuzzTarget["execute"]> {
    const steps = new Steps((e) => e instanceof LdsimError);
    const src = new RecordingSource(new BufferSource(input, "fuzz.perf.data"));
    const data = steps.run(() => PerfData.open(src));
    if (data) {
      for (let i = 0; i < data.attrs.length; i++) steps.run(() => data.eventName(i));
      for (const w of data.warnings) steps.answer("warning", w);
      steps.run(() => {
        let n = 0;
        for (const _ of data.records()) if (++n >= MAX_RECORDS) break;
      });
      steps.run(() => {
        let n = 0;
        for (const _ of data.ordered()) if (++n >= MAX_RECORDS) break;
      });
    }
    if (src.maxRead > Math.max(src.size, 1 << 20)) {
      steps.violation(`read of ${src.maxRead} bytes from a ${src.size}-byte input`);
    }
    return steps.outcome();
  },
};
