import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { errnoName } from "../../../kernel-shim/errno.ts";
import { generateOps, type Op, opText, prng } from "./ops.ts";
import { replay, TestInode } from "./replay.ts";

/**
 * Differential test against the running kernel: mmdiff.c performs a seeded random sequence of
 * mmap/munmap/mprotect (and one-byte reads/writes, which fault pages in and give VMAs an anon_vma)
 * and prints every return value and the whole /proc/self/maps after each step; ldsim replays the
 * same sequence from the same starting maps. Everything must agree line for line.
 */
const here = dirname(fileURLToPath(import.meta.url));

function has(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: "ignore" }).status === 0;
}
const hasGcc = has("gcc", ["--version"]);
const isX86 = process.arch === "x64" && process.platform === "linux";
// setarch -R gives the no-ASLR layout ldsim's default matches (mmap_base 0x7ffff7fff000).
const hasSetarch = hasGcc && isX86 && has("setarch", ["-R", "true"]);
const reason = !isX86 ? "not x86_64 Linux" : !hasGcc ? "gcc missing" : !hasSetarch ? "setarch -R unavailable" : "";
if (reason) console.warn(`differential mm test skipped: ${reason}`);

const WINDOW_PAGES = 0x1000;

/** MMDIFF_SEEDS / MMDIFF_SEED0 / MMDIFF_OPS widen the run for exploration (defaults: 12 seeds × 300 ops). */
function envNum(name: string, fallback: number): number {
  const v = process.env[name];
  return v === undefined ? fallback : Number(v);
}
const FILE_SIZE = 22000; // 5 pages and a partial one: pages 6..7 of a mapping at offset 0 are past EOF

describe.skipIf(reason !== "")("mm differential vs the real kernel", () => {
  const dir = mkdtempSync(join(tmpdir(), "ldsim-mmdiff-"));
  // What the kernel answered, over all seeds: shows the sequences reach every errno and fault kind.
  const tally = new Map<string, number>();
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    console.log(`mm differential outcomes: ${[...tally].map(([k, v]) => `${k}×${v}`).join(" ")}`);
  });
  const exe = join(dir, "mmdiff");
  if (reason === "") execFileSync("gcc", ["-O1", "-Wall", "-o", exe, join(here, "mmdiff.c")]);

  /** Run `ops` on the kernel and on ldsim; fail at the first differing output line. */
  function compareWithKernel(seed: number, ops: readonly Op[]): void {
    const file = join(dir, `data-${seed}`);
    const rnd = prng(seed * 7919);
    const content = Uint8Array.from({ length: FILE_SIZE }, () => 1 + Math.floor(rnd() * 255));
    writeFileSync(file, content);
    const real = execFileSync(
      "sh",
      ["-c", `ulimit -s 8192; exec setarch -R "$0" "$1" "$2"`, exe, file, WINDOW_PAGES.toString(16)],
      {
        input: `${ops.map(opText).join("\n")}\n`,
        maxBuffer: 256 * 1024 * 1024,
      },
    )
      .toString()
      .split("\n")
      .slice(0, -1);
    const initialMaps = real.slice(real.indexOf("MAPS") + 1, real.indexOf("END"));
    const st = statSync(file, { bigint: true });
    const dev = st.dev;
    const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
    const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
    const inode = new TestInode(major, minor, Number(st.ino), file, content.slice());
    const brkLine = real.find((l) => l.startsWith("BRK ")) ?? "BRK 0";
    const mine = replay({
      initialMaps,
      brk: Number.parseInt(brkLine.slice(4), 16),
      windowPages: WINDOW_PAGES,
      rw: { inode, readable: true, writable: true },
      ro: { inode, readable: true, writable: false },
      ops,
    });
    for (const l of real) {
      const m = /^(= -[0-9a-f]+|= [0-9a-f]+|r |w ok|SEGV|BUS)/.exec(l);
      if (!m) continue;
      const k = (m[1] as string).startsWith("= -")
        ? `-${errnoName(Number.parseInt((m[1] as string).slice(3), 16))}`
        : (m[1] as string).startsWith("= ")
          ? "ok"
          : (m[1] as string).trim();
      tally.set(k, (tally.get(k) ?? 0) + 1);
    }
    // The shmem inode number of MAP_SHARED|MAP_ANONYMOUS is the kernel's; mask it on both sides.
    const mask = (l: string) => l.replace(/ 00:01 \d+ +\/dev\/zero \(deleted\)$/, " 00:01 * /dev/zero (deleted)");
    const a = real.map(mask);
    const b = mine.map(mask);
    let opIndex = -1;
    const firstEnd = a.indexOf("END");
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (i > firstEnd && /^(= |r |w ok$|SEGV$|BUS$)/.test(a[i] ?? "")) opIndex++;
      if (a[i] !== b[i]) {
        const op = ops[opIndex];
        const ctx = (xs: string[]) => xs.slice(Math.max(0, i - 30), i + 3).join("\n");
        expect.fail(
          `seed ${seed}: first difference at output line ${i}, after op #${opIndex} ${op ? opText(op) : "(end)"}\n` +
            `kernel:\n${ctx(a)}\nldsim:\n${ctx(b)}`,
        );
      }
    }
    // The file's bytes after MAP_SHARED stores agree too.
    expect(Buffer.from(inode.bytes).equals(readFileSync(file))).toBe(true);
  }

  for (const seed of Array.from({ length: envNum("MMDIFF_SEEDS", 12) }, (_, i) => i + 1 + envNum("MMDIFF_SEED0", 0))) {
    it(`seed ${seed}: 300 ops, return values, faults and maps agree`, () => {
      compareWithKernel(seed, generateOps(seed, envNum("MMDIFF_OPS", 300), WINDOW_PAGES));
    });
  }

  // Hand-made sequences for the anon_vma rules that decide merges (mm/vma.c is_mergeable_anon_vma,
  // mm/rmap.c find_mergeable_anon_vma) and for mprotect's VM_ACCOUNT changes.
  const P = 0x1000n;
  const at = (n: bigint) => ({ rel: n * P });
  const mapA = (page: bigint, pages: bigint, prot = 3): Op => ({
    op: "M",
    addr: at(page),
    len: pages * P,
    prot,
    flags: 0x32,
    fd: 0,
    off: 0n,
  });
  const write = (page: bigint): Op => ({ op: "W", addr: at(page), val: 1 });
  const protect = (page: bigint, pages: bigint, prot: number): Op => ({
    op: "P",
    addr: at(page),
    len: pages * P,
    prot,
  });
  const SCENARIOS: Record<string, Op[]> = {
    // Two written VMAs with different anon_vmas: a new VMA between them merges with the left one only.
    "new VMA between two different anon_vmas": [mapA(0n, 1n), write(0n), mapA(2n, 1n), write(2n), mapA(1n, 1n)],
    // Written next to a written neighbour: anon_vma_prepare reuses it, so a later mprotect merges all.
    "anon_vma reused from a neighbour, then merged by mprotect": [
      mapA(0n, 1n),
      write(0n),
      mapA(1n, 1n, 1),
      protect(1n, 1n, 3),
      write(1n),
      protect(0n, 2n, 1),
      protect(0n, 2n, 3),
    ],
    // A never-written anonymous VMA loses VM_ACCOUNT when made read-only; a written one keeps it.
    "VM_ACCOUNT after read-only and back": [
      mapA(0n, 2n),
      write(0n),
      protect(0n, 1n, 1),
      mapA(4n, 2n),
      protect(4n, 1n, 1),
      mapA(3n, 1n, 1),
      mapA(6n, 1n, 1),
      protect(0n, 8n, 3),
    ],
    // Splitting a written VMA and unmapping the middle keeps one anon_vma: remapping merges back.
    // In a fork child written VMAs have anon_vmas with "uncowed parents": no merging with fresh memory,
    // no anon_vma reuse by neighbours, and split halves get different anon_vmas.
    "fork child: inherited anon_vmas do not merge": [
      mapA(0n, 3n),
      write(0n),
      protect(1n, 1n, 1),
      { op: "F" },
      mapA(3n, 1n),
      protect(1n, 1n, 3),
      mapA(5n, 1n),
      write(5n),
      mapA(4n, 1n),
      write(4n),
      mapA(8n, 1n),
      mapA(7n, 1n),
      write(7n),
    ],
    "split halves share their anon_vma": [
      mapA(0n, 3n),
      write(0n),
      write(2n),
      { op: "U", addr: at(1n), len: P },
      mapA(1n, 1n),
      write(1n),
    ],
  };
  for (const [name, ops] of Object.entries(SCENARIOS)) {
    it(`scenario: ${name}`, () => compareWithKernel(1000, ops));
  }
});
