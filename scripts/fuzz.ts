/**
 * `npm run fuzz -- --target elf|sframe|syscalls|unwind|loader|perf|all --iterations N --seed S`
 *
 *   --replay FILE        run one input file (a corpus or regression file) and print what it did
 *   --index I            run only input I of the seed's sequence (with --seed; replays a finding,
 *                        minimizing and saving it as a regression file unless --no-save)
 *   --start K            begin at input K (split a long run into pieces)
 *   --slow-ms MS         per-input time limit (default 250)
 *   --no-minimize        report findings without minimizing them
 *   --no-save            do not write regression files for findings
 *   --corpus             also mutate the inputs in fuzz/corpus/<target>/ (off by default, so a seed's
 *                        inputs depend on the fixtures alone and stay reproducible)
 *   --save-corpus        add the first input (≤ 8 KiB) of every new error kind to fuzz/corpus/<target>/
 *   --progress N         print a progress line every N inputs
 *
 * Exit status 1 when a run had findings. Findings are minimized (byte-level delta debugging) and
 * written to test/fixtures/fuzz-regressions/<target>/, which test/fuzz/regressions.test.ts replays.
 */
import { readFileSync } from "node:fs";
import { loadCorpus, saveCorpus, saveRegression } from "../fuzz/engine/corpus.ts";
import { errorKind } from "../fuzz/engine/error-kind.ts";
import { DEFAULT_LIMITS, judge, type Limits } from "../fuzz/engine/judge.ts";
import { minimize } from "../fuzz/engine/minimize.ts";
import { formatReport, fuzz, inputAt, seedsOf } from "../fuzz/engine/run.ts";
import { TARGET_NAMES, type TargetName } from "../fuzz/engine/target.ts";
import { loadTarget } from "../fuzz/targets/index.ts";

const CORPUS_MAX_BYTES = 8192;

interface Args {
  targets: TargetName[];
  iterations: number;
  seed: number;
  start: number;
  index: number | undefined;
  replay: string | undefined;
  slowMs: number;
  minimize: boolean;
  save: boolean;
  saveCorpus: boolean;
  corpus: boolean;
  progress: number;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = {
    targets: [],
    iterations: 10_000,
    seed: 1,
    start: 0,
    index: undefined,
    replay: undefined,
    slowMs: DEFAULT_LIMITS.slowMs,
    minimize: true,
    save: true,
    saveCorpus: false,
    corpus: false,
    progress: 0,
  };
  const num = (v: string | undefined, what: string): number => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n) || n < 0) throw new Error(`${what} needs a non-negative number`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const next = () => argv[++i];
    switch (arg) {
      case "--":
        break;
      case "--target":
      case "-t": {
        const v = next() ?? "";
        for (const t of v.split(",")) {
          if (t === "all") a.targets.push(...TARGET_NAMES);
          else if ((TARGET_NAMES as readonly string[]).includes(t)) a.targets.push(t as TargetName);
          else throw new Error(`unknown target ${t} (one of ${TARGET_NAMES.join(", ")}, all)`);
        }
        break;
      }
      case "--iterations":
      case "-n":
        a.iterations = num(next(), arg);
        break;
      case "--seed":
        a.seed = num(next(), arg) >>> 0;
        break;
      case "--start":
        a.start = num(next(), arg);
        break;
      case "--index":
        a.index = num(next(), arg);
        break;
      case "--replay":
        a.replay = next();
        break;
      case "--slow-ms":
        a.slowMs = num(next(), arg);
        break;
      case "--no-minimize":
        a.minimize = false;
        break;
      case "--no-save":
        a.save = false;
        break;
      case "--save-corpus":
        a.saveCorpus = true;
        break;
      case "--corpus":
        a.corpus = true;
        break;
      case "--progress":
        a.progress = num(next(), arg);
        break;
      default:
        throw new Error(`unknown option ${arg}`);
    }
  }
  if (a.targets.length === 0) throw new Error(`--target is required (${TARGET_NAMES.join("|")}|all)`);
  return a;
}

function hexdump(b: Uint8Array, max = 64): string {
  return Buffer.from(b.subarray(0, max)).toString("hex") + (b.length > max ? "…" : "");
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const limits: Limits = { ...DEFAULT_LIMITS, slowMs: args.slowMs };
  let status = 0;
  for (const name of args.targets) {
    const target = await loadTarget(name);
    if (typeof target === "string") {
      console.log(target);
      continue;
    }
    // One input: from a file, or by (seed, index).
    if (args.replay !== undefined || args.index !== undefined) {
      const seeds = seedsOf(target, args.corpus ? loadCorpus(name) : []);
      const input =
        args.replay !== undefined
          ? new Uint8Array(readFileSync(args.replay))
          : inputAt(target, seeds, args.seed, args.index ?? 0);
      const v = judge(target, input, limits);
      console.log(`target ${name}: ${input.length}-byte input ${hexdump(input)}`);
      console.log(`  ${v.ms.toFixed(2)} ms, heap growth ${v.allocated} bytes`);
      for (const e of v.outcome?.errors ?? []) console.log(`  typed error: ${errorKind(e)}\n    ${e.message}`);
      if (v.signature !== undefined) {
        console.log(`  FINDING ${v.signature}\n    ${(v.detail ?? "").split("\n").join("\n    ")}`);
        status = 1;
        // A finding replayed by (seed, index) is minimized and saved like one found by a run.
        if (args.index !== undefined && args.save) {
          const m = args.minimize ? minimize(target, input, v.signature, limits) : { bytes: input, tests: 0 };
          const path = saveRegression(
            {
              target: name,
              signature: v.signature,
              detail: (v.detail ?? "").split("\n").slice(0, 8).join("\n"),
              seed: args.seed,
              index: args.index,
              originalSize: input.length,
            },
            m.bytes,
          );
          console.log(`  minimized ${input.length} → ${m.bytes.length} bytes (${m.tests} runs): ${path}`);
        }
      } else console.log("  no finding");
      continue;
    }
    const seeds = seedsOf(target, args.corpus ? loadCorpus(name) : []);
    console.log(`target ${name}: ${target.describe}; ${seeds.length} seeds`);
    const report = fuzz(target, seeds, {
      iterations: args.iterations,
      seed: args.seed,
      start: args.start,
      limits,
      ...(args.progress > 0
        ? {
            progressEvery: args.progress,
            onProgress: (done, r) =>
              console.log(
                `  … ${done} inputs, ${r.seconds.toFixed(0)} s, ${r.errorKinds.size} error kinds, ${r.findings.size} findings, slowest ${r.slowest.ms.toFixed(1)} ms`,
              ),
          }
        : {}),
      ...(args.saveCorpus
        ? {
            // Small inputs only: the corpus is committed.
            onNewKind: (_k: string, input: Uint8Array) => {
              if (input.length <= CORPUS_MAX_BYTES) saveCorpus(name, input);
            },
          }
        : {}),
    });
    console.log(formatReport(report));
    for (const f of report.findings.values()) {
      status = 1;
      if (!args.minimize && !args.save) continue;
      const m = args.minimize ? minimize(target, f.input, f.signature, limits) : { bytes: f.input, tests: 0 };
      console.log(`  minimized ${f.signature}: ${f.input.length} → ${m.bytes.length} bytes (${m.tests} runs)`);
      if (args.save) {
        const path = saveRegression(
          {
            target: name,
            signature: f.signature,
            detail: f.detail.split("\n").slice(0, 8).join("\n"),
            seed: args.seed,
            index: f.index,
            originalSize: f.input.length,
          },
          m.bytes,
        );
        console.log(`  regression file: ${path}`);
      }
    }
  }
  return status;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(2);
  },
);
