/**
 * The fuzzer's only source of randomness. Every input is derived from `(runSeed, index)` through
 * `inputRng`, so any one input replays without generating the ones before it.
 */

/** mulberry32: small, fast, good enough for mutation choices. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform integer in [0, n). */
  below(n: number): number {
    return n <= 0 ? 0 : Math.floor((this.u32() / 0x100000000) * n);
  }
  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error("pick from empty list");
    return xs[this.below(xs.length)] as T;
  }
  chance(p: number): boolean {
    return this.u32() / 0x100000000 < p;
  }
}

/** splitmix-style mix of two 32-bit words: decorrelates the per-input streams of neighbouring indices. */
export function mixSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** The generator of input `index` of a run seeded with `seed`. */
export function inputRng(seed: number, index: number): Rng {
  return new Rng(mixSeed(seed, index));
}
