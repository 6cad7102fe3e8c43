import { judge, type Limits } from "./judge.ts";
import type { FuzzTarget } from "./target.ts";

/**
 * Byte-level delta debugging (Zeller's ddmin, complement-only variant): remove chunks of the input,
 * halving the chunk size when nothing can be removed, keeping any smaller input that still breaks
 * the same property (same signature). Then a second pass zeroes single bytes, which keeps offsets
 * intact for formats where deletion shifts every later structure. Bounded by `maxTests` runs.
 */
export function minimize(
  target: FuzzTarget,
  input: Uint8Array,
  signature: string,
  limits: Limits,
  maxTests = 4000,
  maxMs = 60_000,
): { readonly bytes: Uint8Array; readonly tests: number } {
  let tests = 0;
  const deadline = performance.now() + maxMs;
  const fails = (b: Uint8Array): boolean => {
    tests++;
    if (performance.now() > deadline) tests = maxTests;
    return judge(target, b, limits).signature === signature;
  };
  let cur = input;
  let n = 2;
  while (cur.length >= 2 && tests < maxTests) {
    const chunk = Math.ceil(cur.length / n);
    let reduced = false;
    for (let start = 0; start < cur.length && tests < maxTests; start += chunk) {
      const cand = new Uint8Array(cur.length - Math.min(chunk, cur.length - start));
      cand.set(cur.subarray(0, start), 0);
      cand.set(cur.subarray(start + chunk), start);
      if (fails(cand)) {
        cur = cand;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (n >= cur.length) break;
      n = Math.min(cur.length, n * 2);
    }
  }
  for (let i = 0; i < cur.length && tests < maxTests; i++) {
    if (cur[i] === 0) continue;
    const cand = cur.slice();
    cand[i] = 0;
    if (fails(cand)) cur = cand;
  }
  return { bytes: cur, tests };
}
