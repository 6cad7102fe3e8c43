import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { HostFs } from "../../../kernel-shim/fs/host-fs.ts";
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "../../../kernel-shim/mm/prot-flags.ts";
import { Kernel } from "../../../kernel-shim/process/kernel.ts";
import { Process } from "../../../kernel-shim/process/process.ts";
import { syscall } from "../../../kernel-shim/syscalls/dispatch.ts";

/**
 * read/pread64/write copy user memory in bounded chunks and stop at the first fault, returning what
 * was done (or EFAULT when nothing was): rwdiff.c runs a table of huge counts over three mapped pages
 * followed by a hole on the real kernel (writes to a pty that a child drains; `setarch -R` so the
 * buffer sits where the shim's does, which access_ok's buf + count ≤ TASK_SIZE check depends on),
 * and the shim must give the same results. Plus the cost side: a 2 GiB write of a fresh 2 GiB heap and a 1 GiB count over a
 * small mapping return quickly without materializing the count.
 */
const here = dirname(fileURLToPath(import.meta.url));
const hasGcc = spawnSync("gcc", ["--version"], { stdio: "ignore" }).status === 0;
const isX86 = process.arch === "x64" && process.platform === "linux";
const hasSetarch = spawnSync("setarch", ["-R", "true"], { stdio: "ignore" }).status === 0;
const reason = !isX86 ? "not x86_64 Linux" : !hasGcc ? "gcc missing" : !hasSetarch ? "setarch -R unavailable" : "";
if (reason) console.warn(`read/write chunking differential skipped: ${reason}`);

const dir = mkdtempSync(join(tmpdir(), "ldsim-rw-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const data = join(dir, "data");
writeFileSync(
  data,
  Uint8Array.from({ length: 30000 }, (_, i) => (i * 13 + 5) & 0xff),
);

const PS = 4096;
const OFFS = [0, 1, 100, 2047, 2048, 4095, 4096, 8191, 10000, 12277, 12287, 12288];

/** The shim's answers in rwdiff.c's format. */
function shimTable(): string[] {
  const p = Process.spawn(new Kernel(new HostFs(), { arch: "x86_64" }));
  const f = Number(syscall(p, "openat", -100, data, 0));
  const buf = Number(syscall(p, "mmap", 0, 4 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  p.mm.writeUser(buf, Uint8Array.of(1));
  p.mm.writeUser(buf + 5000, Uint8Array.of(2));
  syscall(p, "munmap", buf + 3 * PS, PS);
  const out: string[] = [];
  const show = (label: string, off: number, r: bigint) => out.push(`${label} ${off} ${r}`);
  const tty = 1;
  for (const o of OFFS) {
    show("write", o, syscall(p, "write", tty, buf + o, 1n << 26n));
    show("write-max", o, syscall(p, "write", tty, buf + o, 0x7ffff000n));
    show("pread", o, syscall(p, "pread64", f, buf + o, 1n << 26n, 0));
    show("pread-off", o, syscall(p, "pread64", f, buf + o, 1n << 26n, 5000));
    syscall(p, "lseek", f, 0, 0);
    show("read", o, syscall(p, "read", f, buf + o, 1n << 26n));
    show("read-pos", o, syscall(p, "lseek", f, 0, 1));
  }
  show("write-all-ones", 0, syscall(p, "write", tty, buf, -1n));
  show("write-2^40", 0, syscall(p, "write", tty, buf, 1n << 40n));
  show("write-null-0", 0, syscall(p, "write", tty, 0, 0));
  show("write-top-0", 0, syscall(p, "write", tty, 0x7ffffffff000n, 0));
  show("write-2^47-0", 0, syscall(p, "write", tty, 0x800000000000n, 0));
  show("write-top-1", 0, syscall(p, "write", tty, 0x7ffffffff000n, 1));
  show("read-2^47-0", 0, syscall(p, "read", f, 0x800000000000n, 0));
  show("read-null-0", 0, syscall(p, "read", f, 0, 0));
  show("pread-all-ones", 0, syscall(p, "pread64", f, buf, -1n, 0));
  show("pread-neg-off", 0, syscall(p, "pread64", f, buf, 10, -1n));
  show("pread-badfd-neg-off", 0, syscall(p, "pread64", 999, buf, 10, -1n));
  show("pread-badfd", 0, syscall(p, "pread64", 999, buf, 10, 0));
  show("pread-tty", 0, syscall(p, "pread64", tty, buf, 10, 0));
  show("pread-tty-badbuf", 0, syscall(p, "pread64", tty, 0x800000000000n, 10, 0));
  show("read-badfd-badbuf", 0, syscall(p, "read", 999, 0x800000000000n, 10));
  return out;
}

describe.skipIf(reason !== "")("read/pread64/write with huge counts vs the real kernel", () => {
  it("the same counts, short counts and errnos for every buffer offset", () => {
    const exe = join(dir, "rwdiff");
    execFileSync("gcc", ["-O1", "-Wall", "-o", exe, join(here, "rwdiff.c")]);
    const real = execFileSync("setarch", ["-R", exe, data], { timeout: 20000 }).toString().trim().split("\n");
    expect(shimTable()).toEqual(real);
  });
});

describe("bounded cost of huge counts", () => {
  it("a 1 GiB count over three mapped pages: short write, quick, no gigabytes", () => {
    const p = Process.spawn(new Kernel(new HostFs(), { arch: "x86_64" }));
    // Low in the address space, so that buf + 1 GiB passes access_ok.
    const buf = Number(
      syscall(p, "mmap", 0x100000000, 3 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | 0x100000, -1, 0),
    );
    expect(buf).toBe(0x100000000);
    p.mm.writeUser(buf + 10, Uint8Array.of(0x41, 0x42));
    const before = process.memoryUsage().rss;
    const t0 = performance.now();
    expect(syscall(p, "write", 1, buf, 1n << 30n)).toBe(BigInt(3 * PS));
    expect(performance.now() - t0).toBeLessThan(250);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 << 20);
    const out = Buffer.concat(p.stdout.written);
    expect(out.length).toBe(3 * PS);
    expect(out.subarray(10, 12).toString("latin1")).toBe("AB");
  });

  it("a 2 GiB write of a fresh 2 GiB heap (fuzz finding write-2gib-from-brk-heap): all of it, quickly", () => {
    const p = Process.spawn(new Kernel(new HostFs(), { arch: "x86_64" }));
    const len = 0x80000000;
    const heap = Number(
      syscall(p, "mmap", 0x100000000, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | 0x100000, -1, 0),
    );
    p.mm.writeUser(heap + len - 3, Uint8Array.of(7, 8, 9));
    const before = process.memoryUsage().rss;
    const t0 = performance.now();
    // The fuzz program's count (all ones) fails access_ok; the largest count that passes is clamped.
    expect(syscall(p, "write", 1, heap, -1n)).toBe(-14n);
    expect(syscall(p, "write", 1, heap, 0x7ffff000n)).toBe(0x7ffff000n);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(process.memoryUsage().rss - before).toBeLessThan(64 << 20);
    expect(syscall(p, "write", 1, heap + len - 4096, 4096)).toBe(4096n);
  });
});
