import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { Errno, isSyscallError } from "../../../kernel-shim/errno.ts";
import { AddressSpace } from "../../../kernel-shim/mm/address-space.ts";
import type { OpenFile } from "../../../kernel-shim/mm/vma.ts";
import { type Op, opText } from "./ops.ts";
import { TestInode } from "./replay.ts";

/**
 * Bad arguments return the kernel's errno and never throw. The expected errno of each call is
 * checked against the running kernel (mmdiff.c) when gcc is available, and against ldsim always.
 */
const here = dirname(fileURLToPath(import.meta.url));
const hasGcc = spawnSync("gcc", ["--version"], { stdio: "ignore" }).status === 0;
const isX86 = process.arch === "x64" && process.platform === "linux";
const kernelReason = !isX86 ? "not x86_64 Linux" : !hasGcc ? "gcc missing" : "";
if (kernelReason) console.warn(`mm bad-input kernel check skipped: ${kernelReason}`);

const MAP_SHARED = 0x1;
const MAP_PRIVATE = 0x2;
const MAP_SHARED_VALIDATE = 0x3;
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;
const MAP_FIXED_NOREPLACE = 0x100000;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;
const rel = (n: bigint) => ({ rel: n });
const abs = (n: bigint) => ({ abs: n });
const M = (
  addr: { rel: bigint } | { abs: bigint },
  len: bigint,
  prot: number,
  flags: number,
  fd: 0 | 1 | 2 = 0,
  off = 0n,
): Op => ({
  op: "M",
  addr,
  len,
  prot,
  flags,
  fd,
  off,
});
const U = (addr: { rel: bigint } | { abs: bigint }, len: bigint): Op => ({ op: "U", addr, len });
const P = (addr: { rel: bigint } | { abs: bigint }, len: bigint, prot: number): Op => ({ op: "P", addr, len, prot });

/** [what, call, expected errno (0 = success)]; the window starts empty, the first call maps 4 pages at +0. */
const CASES: readonly (readonly [string, Op, number])[] = [
  ["setup: 4 pages at the window base", M(rel(0n), 0x4000n, 3, ANON | MAP_FIXED), 0],
  ["setup: a shared read-only file page", M(rel(0x10000n), 0x1000n, 1, MAP_SHARED | MAP_FIXED, 2), 0],
  ["mmap length 0", M(rel(0n), 0n, 3, ANON), Errno.EINVAL],
  ["mmap length wraps PAGE_ALIGN", M(rel(0n), 0xffffffffffffffffn, 3, ANON), Errno.ENOMEM],
  ["mmap length above TASK_SIZE", M(rel(0n), 0x800000000000n, 3, ANON), Errno.ENOMEM],
  ["mmap MAP_FIXED unaligned", M(rel(0x20010n), 0x1000n, 3, ANON | MAP_FIXED), Errno.EINVAL],
  ["mmap MAP_FIXED at TASK_SIZE", M(abs(0x7ffffffff000n), 0x1000n, 3, ANON | MAP_FIXED), Errno.ENOMEM],
  ["mmap MAP_FIXED crossing TASK_SIZE", M(abs(0x7fffffffe000n), 0x2000n, 3, ANON | MAP_FIXED), Errno.ENOMEM],
  ["mmap MAP_FIXED kernel half", M(abs(0xffffffffff600000n), 0x1000n, 3, ANON | MAP_FIXED), Errno.ENOMEM],
  [
    "mmap MAP_FIXED unaligned in the kernel half",
    M(abs(0xffffffffff600010n), 0x1000n, 3, ANON | MAP_FIXED),
    Errno.ENOMEM,
  ],
  // The kernel returns a MAP_FIXED address in the last 4095 bytes as is, and IS_ERR_VALUE makes it an "errno".
  ["mmap MAP_FIXED in the IS_ERR_VALUE range", M(abs(0xfffffffffffff010n), 0x1000n, 3, ANON | MAP_FIXED), 4080],
  [
    "mmap neither SHARED nor PRIVATE (anonymous)",
    M(rel(0x20000n), 0x1000n, 3, MAP_ANONYMOUS | MAP_FIXED),
    Errno.EINVAL,
  ],
  ["mmap neither SHARED nor PRIVATE (file)", M(rel(0x20000n), 0x1000n, 1, MAP_FIXED, 1), Errno.EINVAL],
  ["mmap file without an fd", M(rel(0x20000n), 0x1000n, 1, MAP_PRIVATE | MAP_FIXED, 0), Errno.EBADF],
  ["mmap offset not page aligned", M(rel(0x20000n), 0x1000n, 1, MAP_PRIVATE | MAP_FIXED, 1, 0x10n), Errno.EINVAL],
  [
    "mmap offset beyond MAX_LFS_FILESIZE",
    M(rel(0x20000n), 0x1000n, 1, MAP_PRIVATE | MAP_FIXED, 1, 0x7ffffffffffff000n),
    Errno.EOVERFLOW,
  ],
  [
    "mmap MAP_SHARED_VALIDATE unknown flag",
    M(rel(0x20000n), 0x1000n, 1, MAP_SHARED_VALIDATE | MAP_FIXED | 0x400000, 1),
    Errno.EOPNOTSUPP,
  ],
  [
    "mmap MAP_SHARED ignores the same unknown flag",
    M(rel(0x20000n), 0x1000n, 1, MAP_SHARED | MAP_FIXED | 0x400000, 1),
    0,
  ],
  [
    "mmap MAP_SHARED PROT_WRITE on an O_RDONLY fd",
    M(rel(0x21000n), 0x1000n, 3, MAP_SHARED | MAP_FIXED, 2),
    Errno.EACCES,
  ],
  ["mmap MAP_PRIVATE PROT_WRITE on an O_RDONLY fd", M(rel(0x21000n), 0x1000n, 3, MAP_PRIVATE | MAP_FIXED, 2), 0],
  ["mmap MAP_FIXED_NOREPLACE over a mapping", M(rel(0x2000n), 0x4000n, 3, ANON | MAP_FIXED_NOREPLACE), Errno.EEXIST],
  ["mmap MAP_DENYWRITE|MAP_NORESERVE accepted", M(rel(0x30000n), 0x1000n, 1, ANON | MAP_FIXED | 0x800 | 0x4000), 0],
  ["mmap MAP_GROWSDOWN on a file", M(rel(0x31000n), 0x1000n, 1, MAP_PRIVATE | MAP_FIXED | 0x100, 1), Errno.EINVAL],
  [
    "mmap MAP_GROWSDOWN on shared anonymous",
    M(rel(0x31000n), 0x1000n, 1, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED | 0x100),
    Errno.EINVAL,
  ],
  [
    "mmap anonymous MAP_SHARED_VALIDATE",
    M(rel(0x32000n), 0x1000n, 3, MAP_SHARED_VALIDATE | MAP_ANONYMOUS),
    Errno.EINVAL,
  ],
  [
    "mmap MAP_SHARED_VALIDATE|MAP_SYNC on a regular file",
    M(rel(0x32000n), 0x1000n, 1, MAP_SHARED_VALIDATE | 0x80000, 1),
    Errno.EOPNOTSUPP,
  ],
  ["mmap MAP_SYNC ignored for private anonymous", M(rel(0x32000n), 0x1000n, 3, ANON | MAP_FIXED | 0x80000), 0],
  ["mmap MAP_DROPPABLE anonymous", M(rel(0x34000n), 0x1000n, 3, 0x08 | MAP_ANONYMOUS | MAP_FIXED), 0],
  ["mmap MAP_DROPPABLE|MAP_LOCKED", M(rel(0x35000n), 0x1000n, 3, 0x08 | MAP_ANONYMOUS | 0x2000), Errno.EINVAL],
  ["mmap MAP_HUGETLB on a regular file", M(rel(0x35000n), 0x1000n, 3, MAP_PRIVATE | 0x40000, 1), Errno.EINVAL],
  ["mmap MAP_HUGETLB anonymous, no huge pages reserved", M(rel(0x35000n), 0x1000n, 3, ANON | 0x40000), Errno.ENOMEM],
  ["mmap unknown type without MAP_ANONYMOUS or fd", M(rel(0x35000n), 0x1000n, 3, 0x0a), Errno.EBADF],
  ["munmap unaligned", U(rel(0x800n), 0x1000n), Errno.EINVAL],
  ["munmap length 0", U(rel(0n), 0n), Errno.EINVAL],
  ["munmap at TASK_SIZE", U(abs(0x7ffffffff000n), 0x1000n), Errno.EINVAL],
  ["munmap kernel half", U(abs(0xffffffffffff0000n), 0x1000n), Errno.EINVAL],
  ["munmap length overflowing", U(rel(0n), 0xffffffffffff0000n), Errno.EINVAL],
  ["munmap nothing mapped", U(rel(0x50000n), 0x3000n), 0],
  ["mprotect unaligned", P(rel(0x10n), 0x1000n, 1), Errno.EINVAL],
  ["mprotect length 0", P(rel(0x50000n), 0n, 1), 0],
  ["mprotect unmapped", P(rel(0x50000n), 0x1000n, 1), Errno.ENOMEM],
  ["mprotect running past the mapping", P(rel(0x3000n), 0x2000n, 1), Errno.ENOMEM],
  ["mprotect unknown prot bit", P(rel(0n), 0x1000n, 0x10), Errno.EINVAL],
  ["mprotect PROT_GROWSDOWN|PROT_GROWSUP", P(rel(0n), 0x1000n, 0x03000001), Errno.EINVAL],
  ["mprotect PROT_GROWSDOWN on a non-stack VMA", P(rel(0n), 0x1000n, 0x01000001), Errno.EINVAL],
  ["mprotect kernel half", P(abs(0xffffffffff600000n), 0x1000n, 1), Errno.ENOMEM],
  ["mprotect end wrapping", P(abs(0xfffffffffffff000n), 0x2000n, 1), Errno.ENOMEM],
  ["mprotect PROT_WRITE on a read-only-opened MAP_SHARED", P(rel(0x10000n), 0x1000n, 3), Errno.EACCES],
];

const FILE_BYTES = new Uint8Array(3 * 4096).fill(7);

function ldsimResults(): number[] {
  const as = AddressSpace.forArch("x86_64");
  const inode = new TestInode(8, 1, 99, "/tmp/bad-input", FILE_BYTES.slice());
  const rw: OpenFile = { inode, readable: true, writable: true };
  const ro: OpenFile = { inode, readable: true, writable: false };
  const base = 0x10000000n;
  const at = (a: { rel: bigint } | { abs: bigint }) => ("abs" in a ? a.abs : base + a.rel);
  return CASES.map(([, o]) => {
    let r: number;
    if (o.op === "M")
      r = as.mmap(at(o.addr), o.len, o.prot, o.flags, o.fd === 1 ? rw : o.fd === 2 ? ro : undefined, o.off);
    else if (o.op === "U") r = as.munmap(at(o.addr), o.len);
    else if (o.op === "P") r = as.mprotect(at(o.addr), o.len, o.prot);
    else throw new Error("unused");
    return isSyscallError(r) ? -r : 0;
  });
}

describe("memory syscalls with bad arguments", () => {
  it("ldsim returns the kernel's errno for each bad call", () => {
    const got = ldsimResults();
    expect(CASES.map(([what], i) => `${what}: ${got[i]}`)).toEqual(CASES.map(([what, , e]) => `${what}: ${e}`));
  });

  describe.skipIf(kernelReason !== "")("the same calls on the running kernel", () => {
    const dir = mkdtempSync(join(tmpdir(), "ldsim-mmbad-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    it("return the errnos in the table", () => {
      const exe = join(dir, "mmdiff");
      execFileSync("gcc", ["-O1", "-o", exe, join(here, "mmdiff.c")]);
      const file = join(dir, "data");
      writeFileSync(file, FILE_BYTES);
      const out = execFileSync(exe, [file, "1000"], { input: `${CASES.map(([, o]) => opText(o)).join("\n")}\n` })
        .toString()
        .split("\n")
        .filter((l) => l.startsWith("= "))
        .map((l) => (l.startsWith("= -") ? Number.parseInt(l.slice(3), 16) : 0));
      expect(CASES.map(([what], i) => `${what}: ${out[i]}`)).toEqual(CASES.map(([what, , e]) => `${what}: ${e}`));
    });
  });

  it("arbitrary 64-bit arguments never throw and give a result or a known errno", () => {
    const u64 = fc.oneof(
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      fc.constantFrom(
        0n,
        1n,
        0xfffn,
        0x1000n,
        0x7ffffffff000n,
        0x800000000000n,
        (1n << 64n) - 1n,
        (1n << 64n) - 0x1000n,
      ),
      fc.integer({ min: -5, max: 0x100000 }).map(BigInt),
    );
    const known = new Set<number>([
      Errno.EINVAL,
      Errno.ENOMEM,
      Errno.EEXIST,
      Errno.EBADF,
      Errno.EACCES,
      Errno.EOVERFLOW,
      Errno.EOPNOTSUPP,
    ]);
    const inode = new TestInode(8, 1, 99, "/tmp/bad-input", FILE_BYTES.slice());
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.constantFrom("M", "U", "P", "B"), u64, u64, fc.integer(), fc.integer(), u64, fc.boolean()),
          { maxLength: 30 },
        ),
        (calls) => {
          const as = AddressSpace.forArch("x86_64");
          as.initBrk(0x555555560000);
          for (const [k, a, l, prot, flags, off, withFile] of calls) {
            const r =
              k === "M"
                ? as.mmap(a, l, prot, flags, withFile ? { inode, readable: true, writable: true } : undefined, off)
                : k === "U"
                  ? as.munmap(a, l)
                  : k === "P"
                    ? as.mprotect(a, l, prot)
                    : as.brk(a);
            // (-r > 4000: a MAP_FIXED address in the IS_ERR_VALUE range, returned as is.)
            if (isSyscallError(r)) expect(known.has(-r) || -r > 4000).toBe(true);
            else expect(r).toBeLessThanOrEqual(as.layout.taskSize);
          }
          as.renderMaps();
        },
      ),
      { numRuns: 500, seed: 3 },
    );
  });
});
