/**
 * Address-space model throughput with 10,000 VMAs live (alternating PROT_READ and
 * PROT_READ|PROT_WRITE one-page anonymous mappings, which never merge): mprotect of a whole VMA,
 * mprotect of one page inside a 64-page VMA (split in three, then merged back), munmap + MAP_FIXED mmap, top-down mmap + munmap, VMA lookup by address, and user reads.
 * Printed next to the same loops on the running kernel (bench/native/mm-ops.c, built with gcc),
 * and the heap cost per VMA measured over 100,000 VMAs.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { AddressSpace } from "../kernel-shim/mm/address-space.ts";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from "../kernel-shim/mm/prot-flags.ts";

const PAGE = 4096;
const N = 10_000;
const BASE = 0x10000000;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

function build(n: number): AddressSpace {
  const as = AddressSpace.forArch("x86_64", { maxMapCount: 2 * n });
  for (let i = 0; i < n; i++) as.mmap(BASE + i * PAGE, PAGE, protOf(i), ANON | MAP_FIXED);
  return as;
}

function protOf(i: number): number {
  return i & 1 ? PROT_READ | PROT_WRITE : PROT_READ;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s;
  };
}

function rate(label: string, ops: number, fn: () => void, native?: number): void {
  const t = performance.now();
  fn();
  const s = (performance.now() - t) / 1000;
  const r = ops / s;
  const nat =
    native === undefined
      ? ""
      : `   kernel ${Math.round(native).toLocaleString("en-US")} ops/s (ldsim/kernel ${(r / native).toFixed(2)})`;
  console.log(`  ${label.padEnd(24)} ${Math.round(r).toLocaleString("en-US").padStart(12)} ops/s${nat}`);
}

function nativeRates(): Map<string, number> | string {
  const dir = join(import.meta.dirname, "..", ".bench-build");
  const bin = join(dir, "mm-ops");
  try {
    mkdirSync(dir, { recursive: true });
    execFileSync("gcc", ["-O2", "-o", bin, join(import.meta.dirname, "native/mm-ops.c")], { stdio: "pipe" });
    const out = execFileSync(bin).toString();
    return new Map(
      out
        .trim()
        .split("\n")
        .map((l) => [l.split(" ")[0] as string, Number(l.split(" ")[1])] as const),
    );
  } catch (e) {
    return `native peer unavailable: ${(e as Error).message.split("\n")[0]}`;
  }
}

export async function run(): Promise<void> {
  const native = nativeRates();
  const nat = (k: string) => (typeof native === "string" ? undefined : native.get(k));
  if (typeof native === "string") console.log(`  (${native})`);
  const as = build(N);
  console.log(`  ${as.mapCount} VMAs live`);
  const iters = 200_000;
  let rnd = lcg(1);
  rate(
    "mprotect whole VMA",
    2 * iters,
    () => {
      for (let k = 0; k < iters; k++) {
        const i = rnd() % N;
        as.mprotect(BASE + i * PAGE, PAGE, protOf(i) ^ PROT_EXEC);
        as.mprotect(BASE + i * PAGE, PAGE, protOf(i));
      }
    },
    nat("mprotect"),
  );
  // A 64-page VMA: protecting one page inside splits it in three, restoring merges it back.
  const big64 = BASE + (N + 64) * PAGE;
  as.mmap(big64, 64 * PAGE, PROT_READ | PROT_WRITE, ANON | MAP_FIXED);
  rnd = lcg(4);
  rate(
    "mprotect split + re-merge",
    2 * iters,
    () => {
      for (let k = 0; k < iters; k++) {
        const p = big64 + (1 + (rnd() % 62)) * PAGE;
        as.mprotect(p, PAGE, PROT_READ);
        as.mprotect(p, PAGE, PROT_READ | PROT_WRITE);
      }
    },
    nat("mprotect_split_merge"),
  );
  as.munmap(big64, 64 * PAGE);
  rnd = lcg(2);
  rate(
    "munmap + mmap MAP_FIXED",
    2 * iters,
    () => {
      for (let k = 0; k < iters; k++) {
        const i = rnd() % N;
        as.munmap(BASE + i * PAGE, PAGE);
        as.mmap(BASE + i * PAGE, PAGE, protOf(i), ANON | MAP_FIXED);
      }
    },
    nat("munmap+mmap_fixed"),
  );
  rate(
    "mmap top-down + munmap",
    2 * iters,
    () => {
      for (let k = 0; k < iters; k++) as.munmap(as.mmap(0, PAGE, PROT_READ, ANON), PAGE);
    },
    nat("mmap_topdown+munmap"),
  );
  if (as.mapCount !== N) throw new Error(`bench left ${as.mapCount} VMAs`);
  rnd = lcg(3);
  let hits = 0;
  rate("findVma", 1_000_000, () => {
    for (let k = 0; k < 1_000_000; k++) if (as.findVma(BASE + (rnd() % N) * PAGE + 8)) hits++;
  });
  rate("readUser 8 bytes", 500_000, () => {
    for (let k = 0; k < 500_000; k++) as.readUser(BASE + (rnd() % N) * PAGE + 16, 8);
  });
  if (hits !== 1_000_000) throw new Error("lookup missed");

  // Heap per VMA: 100k unmergeable VMAs, measured with a forced GC when node runs with --expose-gc.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const big = build(100_000);
  gc?.();
  const after = process.memoryUsage().heapUsed;
  console.log(
    `  heap per VMA             ${((after - before) / big.mapCount).toFixed(0).padStart(12)} bytes (${big.mapCount} VMAs${gc ? "" : "; no --expose-gc, includes garbage"})`,
  );
}
