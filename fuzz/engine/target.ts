import type { Rng } from "./rng.ts";

/** The targets `npm run fuzz -- --target NAME` knows. */
export const TARGET_NAMES = ["elf", "sframe", "syscalls", "unwind", "loader", "perf"] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

/** A starting input: a real fixture (or part of one), or a corpus file. */
export interface FuzzSeed {
  readonly name: string;
  readonly bytes: Uint8Array;
}

/**
 * What one input did. `errors` are the typed (LdsimError) failures the code answered with — the
 * expected outcome for bad input. `violations` are broken properties other than exceptions (a
 * mapping left behind by a failed load, an unwind without a stop reason, a read larger than the
 * input): each is a finding. Any non-ldsim exception escapes `execute` and is a finding too.
 */
export interface Outcome {
  readonly errors: readonly Error[];
  readonly violations: readonly string[];
}

/**
 * One input surface. Every input is a byte string, whatever the surface (an ELF file, an SFrame
 * section, or an encoded syscall program / unwind scenario), so the corpus, replay files and the
 * byte-level minimizer work the same for every target.
 */
export interface FuzzTarget {
  readonly name: TargetName;
  /** One line on what is exercised, printed at the start of a run. */
  readonly describe: string;
  /** Seeds from the real fixtures (the runner adds fuzz/corpus/<target>/ files). */
  seeds(): readonly FuzzSeed[];
  /** Input number i of a run: derived only from `rng` and the seeds, so it replays by (seed, index). */
  generate(rng: Rng, seeds: readonly FuzzSeed[]): Uint8Array;
  /** Run the real code on `input`. Throws only when the code under test threw a non-ldsim error. */
  execute(input: Uint8Array): Outcome;
}

/** Collects LdsimErrors step by step, so one failing structure does not hide the next. */
export class Steps {
  readonly errors: Error[] = [];
  readonly violations: string[] = [];
  constructor(private readonly isTyped: (e: unknown) => boolean) {}

  run<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (e) {
      if (this.isTyped(e)) {
        this.errors.push(e as Error);
        return undefined;
      }
      throw e;
    }
  }

  /**
   * A typed answer that is returned rather than thrown (a kernel check's errno, a libsframe error
   * code): counted among the error kinds like a thrown LdsimError.
   */
  answer(kind: string, message: string): void {
    const e = new Error(message);
    e.name = kind;
    this.errors.push(e);
  }

  violation(message: string): void {
    this.violations.push(message);
  }

  outcome(): Outcome {
    return { errors: this.errors, violations: this.violations };
  }
}
