import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HostFs } from "../../../kernel-shim/fs/host-fs.ts";
import { MAP_PRIVATE, PROT_READ } from "../../../kernel-shim/mm/prot-flags.ts";
import { Kernel } from "../../../kernel-shim/process/kernel.ts";
import { Process } from "../../../kernel-shim/process/process.ts";
import { syscall } from "../../../kernel-shim/syscalls/dispatch.ts";

/**
 * A private file mapping stays readable after close(fd): the VMA holds its own reference to the
 * file (vma->vm_file), as ld.so relies on when it maps /etc/ld.so.cache, closes it and then searches
 * it (_dl_sysdep_read_whole_file). On the real kernel `cat /proc/self/maps`-style reads and the
 * bytes are the file's; here they are compared with the host file read directly.
 */
const dir = mkdtempSync(join(tmpdir(), "ldsim-vmfile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const AT_FDCWD = -100;

function spawn(): Process {
  return Process.spawn(new Kernel(new HostFs(), { arch: "x86_64" }));
}
function mapWhole(p: Process, path: string, size: number): number {
  const fd = syscall(p, "openat", AT_FDCWD, path, 0);
  expect(fd).toBeGreaterThanOrEqual(0n);
  const addr = syscall(p, "mmap", 0, size, PROT_READ, MAP_PRIVATE, fd, 0);
  expect(addr).toBeGreaterThan(0n);
  expect(syscall(p, "close", fd)).toBe(0n);
  return Number(addr);
}

describe("file mappings after close(fd)", () => {
  const file = join(dir, "data");
  const content = Uint8Array.from({ length: 3 * 4096 + 100 }, (_, i) => (i * 7 + 1) & 0xff);
  writeFileSync(file, content);

  it("openat, mmap PROT_READ MAP_PRIVATE, close, read: the file's bytes, not zeros", () => {
    const p = spawn();
    const addr = mapWhole(p, file, content.length);
    expect(Buffer.from(p.mm.readUser(addr, content.length)).equals(Buffer.from(content))).toBe(true);
  });

  it.skipIf(!existsSafe("/etc/ld.so.cache"))("/etc/ld.so.cache as ld.so maps it", () => {
    const real = readFileSync("/etc/ld.so.cache");
    const p = spawn();
    const addr = mapWhole(p, "/etc/ld.so.cache", real.length);
    expect(Buffer.from(p.mm.readUser(addr, real.length)).equals(real)).toBe(true);
  });

  it("an inode first opened by a since-closed fd still fills its page cache through a later open", () => {
    const p = spawn();
    const fd = syscall(p, "openat", AT_FDCWD, file, 0);
    expect(syscall(p, "close", fd)).toBe(0n);
    const addr = mapWhole(p, file, content.length);
    expect(p.mm.readUser(addr + 4096, 16)).toEqual(content.subarray(4096, 4112));
    // And in another process of the same kernel, after both of this one's opens are gone.
    const q = Process.spawn(p.kernel);
    const a2 = mapWhole(q, file, content.length);
    expect(q.mm.readUser(a2 + 2 * 4096, 16)).toEqual(content.subarray(2 * 4096, 2 * 4096 + 16));
  });

  it("a dup'ed fd keeps the description: close of one fd, then read through the mapping and read(2)", () => {
    const p = spawn();
    const fd = syscall(p, "openat", AT_FDCWD, file, 0);
    const addr = Number(syscall(p, "mmap", 0, content.length, PROT_READ, MAP_PRIVATE, fd, 0));
    const fd2 = syscall(p, "dup", fd);
    if (fd2 < 0n) return; // dup not modelled by the dispatcher: nothing more to check
    expect(syscall(p, "close", fd)).toBe(0n);
    expect(p.mm.readUser(addr, 8)).toEqual(content.subarray(0, 8));
    expect(syscall(p, "close", fd2)).toBe(0n);
    expect(p.mm.readUser(addr + 8, 8)).toEqual(content.subarray(8, 16));
  });
});

function existsSafe(path: string): boolean {
  try {
    readFileSync(path, { flag: "r" });
    return true;
  } catch {
    return false;
  }
}
