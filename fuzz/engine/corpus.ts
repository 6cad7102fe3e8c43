import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FuzzSeed, TargetName } from "./target.ts";

/** Repository root (fuzz/engine/ is two levels down). */
export const ROOT = join(import.meta.dirname, "../..");
export const CORPUS_DIR = join(ROOT, "fuzz/corpus");
export const REGRESSION_DIR = join(ROOT, "test/fixtures/fuzz-regressions");

export function shortHash(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex").slice(0, 16);
}

/** The committed corpus of a target, in name order (so runs stay deterministic). */
export function loadCorpus(target: TargetName): FuzzSeed[] {
  const dir = join(CORPUS_DIR, target);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".bin"))
    .sort()
    .map((f) => ({ name: `corpus/${target}/${f}`, bytes: new Uint8Array(readFileSync(join(dir, f))) }));
}

/** Add an input to the corpus under its content hash; returns the path. */
export function saveCorpus(target: TargetName, bytes: Uint8Array): string {
  const dir = join(CORPUS_DIR, target);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${shortHash(bytes)}.bin`);
  writeFileSync(path, bytes);
  return path;
}

/** What a regression file's sidecar records: enough to tell what broke and how it was found. */
export interface RegressionInfo {
  readonly target: TargetName;
  readonly signature: string;
  readonly detail: string;
  readonly seed: number;
  readonly index: number;
  readonly originalSize: number;
}

/** Write a minimized failing input as test/fixtures/fuzz-regressions/<target>/<hash>.bin (+ .json). */
export function saveRegression(info: RegressionInfo, bytes: Uint8Array): string {
  const dir = join(REGRESSION_DIR, info.target);
  mkdirSync(dir, { recursive: true });
  const base = join(dir, shortHash(bytes));
  writeFileSync(`${base}.bin`, bytes);
  const detail = info.detail.split(ROOT).join(".");
  writeFileSync(`${base}.json`, `${JSON.stringify({ ...info, detail, size: bytes.length }, null, 2)}\n`);
  return `${base}.bin`;
}

/** Every committed regression input of a target. */
export function loadRegressions(target: TargetName): { readonly path: string; readonly bytes: Uint8Array }[] {
  const dir = join(REGRESSION_DIR, target);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".bin"))
    .sort()
    .map((f) => ({ path: join(dir, f), bytes: new Uint8Array(readFileSync(join(dir, f))) }));
}
