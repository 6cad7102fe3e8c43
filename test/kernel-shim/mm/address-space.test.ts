import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Errno, KernelError, strerror } from "../../../kernel-shim/errno.ts";
import { AddressSpace, UserFault } from "../../../kernel-shim/mm/address-space.ts";
import { layoutFor } from "../../../kernel-shim/mm/layout-constants.ts";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
} from "../../../kernel-shim/mm/prot-flags.ts";
import type { OpenFile } from "../../../kernel-shim/mm/vma.ts";
import { TestInode } from "./replay.ts";

const here = dirname(fileURLToPath(import.meta.url));
const isX86 = process.arch === "x64" && process.platform === "linux";
const hasSetarch = isX86 && spawnSync("setarch", ["-R", "true"], { stdio: "ignore" }).status === 0;
const hasGcc = spawnSync("gcc", ["--version"], { stdio: "ignore" }).status === 0;
if (!hasSetarch) console.warn("mm layout check skipped: setarch -R unavailable or not x86_64 Linux");
if (!hasGcc || !isX86) console.warn("mm maps-name check skipped: gcc missing or not x86_64 Linux");

const PS = 4096;
const ANON = MAP_PRIVATE | MAP_ANONYMOUS;

function file(bytes: Uint8Array, writable = true): OpenFile {
  return { inode: new TestInode(8, 1, 77, "/lib/libx.so", bytes), readable: true, writable };
}

describe("x86_64 layout", () => {
  it.skipIf(!hasSetarch)("matches `setarch -R cat /proc/self/maps` (PIE base, mmap_base, stack top)", () => {
    const lines = execFileSync("sh", ["-c", "ulimit -s 8192; exec setarch -R cat /proc/self/maps"])
      .toString()
      .trim()
      .split("\n");
    const range = (l: string) =>
      l
        .split(" ")[0]
        ?.split("-")
        .map((x) => Number.parseInt(x, 16)) as [number, number];
    const layout = layoutFor("x86_64");
    // binfmt_elf loads a PIE at ELF_PAGESTART(ELF_ET_DYN_BASE).
    expect(range(lines[0] as string)[0]).toBe(Math.floor(layout.elfEtDynBase / PS) * PS);
    // The interpreter is the first top-down mapping: it ends at mmap_base.
    const ldso = lines.filter((l) => l.includes("ld-linux"));
    expect(range(ldso[ldso.length - 1] as string)[1]).toBe(layout.mmapBase);
    const stack = lines.find((l) => l.endsWith("[stack]")) as string;
    expect(range(stack)[1]).toBe(layout.stackTop);
  });

  it("derives the documented constants for every architecture", () => {
    expect(layoutFor("x86_64")).toMatchObject({
      taskSize: 0x7ffffffff000,
      mmapBase: 0x7ffff7fff000,
      stackTop: 0x7ffffffff000,
    });
    // arm64 48-bit VA: PIE at 0xaaaaaaaaa000 (4K) / 0xaaaaaaaa0000 (64K), mmap_base 128 MiB under 2^48.
    expect(layoutFor("aarch64")).toMatchObject({
      taskSize: 2 ** 48,
      mmapBase: 2 ** 48 - 2 ** 27,
      stackGuardGap: 256 * 4096,
    });
    expect(Math.floor(layoutFor("aarch64").elfEtDynBase / 4096) * 4096).toBe(0xaaaaaaaaa000);
    expect(Math.floor(layoutFor("aarch64", { pageSize: 65536 }).elfEtDynBase / 65536) * 65536).toBe(0xaaaaaaaa0000);
    // s390x: PIE at 0x2aa00000000, stack top 4 TiB.
    expect(layoutFor("s390x")).toMatchObject({ elfEtDynBase: 0x2aa00000000, stackTop: 2 ** 42 });
  });

  it("randomizes reproducibly from a seed, within the kernel's ranges", () => {
    const a = layoutFor("x86_64", { randomizeSeed: 5 });
    expect(layoutFor("x86_64", { randomizeSeed: 5 })).toEqual(a);
    expect(a.mmapBase).not.toBe(0x7ffff7fff000);
    expect(a.mmapBase % PS).toBe(0);
    // gap = 8 MiB + guard + 16 GiB stack randomization, plus up to 2^28 pages of mmap randomization.
    expect(a.mmapBase).toBeLessThan(0x7ffffffff000 - 16 * 2 ** 30);
    expect(a.mmapBase).toBeGreaterThan(0x7ffffffff000 - 16 * 2 ** 30 - 2 ** 40 - 2 ** 24);
  });
});

describe("other architectures", () => {
  it("aarch64 with 64 KiB pages rounds lengths and checks alignment in 64 KiB units", () => {
    const as = AddressSpace.forArch("aarch64", { pageSize: 65536 });
    const a = as.mmap(0, 1, PROT_READ, ANON);
    expect(a % 65536).toBe(0);
    expect(a + 65536).toBe(as.layout.mmapBase);
    expect(as.findVma(a)?.end).toBe(a + 65536);
    expect(as.munmap(a + 4096, 4096)).toBe(-Errno.EINVAL);
    expect(as.mmap(a + 4096, 4096, PROT_READ, ANON | MAP_FIXED)).toBe(-Errno.EINVAL);
  });

  it("aarch64 can express execute-only memory; x86_64 cannot (any access bit reads)", () => {
    for (const [arch, readable] of [
      ["aarch64", false],
      ["x86_64", true],
    ] as const) {
      const as = AddressSpace.forArch(arch);
      const a = as.mmap(0, PS, 4, ANON);
      expect(as.tryReadUser(a, 1).ok).toBe(readable);
    }
  });
});

describe("user and kernel access", () => {
  it("faults with distinct kinds and never changes memory on a faulting write", () => {
    const as = AddressSpace.forArch();
    const a = as.mmap(0, 3 * PS, PROT_READ, ANON);
    as.mprotect(a + 2 * PS, PS, 0);
    const kind = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(UserFault);
        expect(e).toBeInstanceOf(KernelError);
        expect((e as KernelError).errno).toBe(Errno.EFAULT);
        return (e as UserFault).kind;
      }
      return "none";
    };
    expect(kind(() => as.writeUser(a, Uint8Array.of(1)))).toBe("write-protected");
    expect(kind(() => as.readUser(a + 2 * PS, 1))).toBe("no-access");
    expect(kind(() => as.readUser(a + 3 * PS, 1))).toBe("unmapped");
    expect(as.readUser(a, 4)).toEqual(new Uint8Array(4));
    expect(strerror(Errno.EFAULT)).toBe("Bad address");
  });

  it("kernelWrite ignores protection on private memory (COW) but not on a read-only shared file", () => {
    const as = AddressSpace.forArch();
    const bytes = new Uint8Array(2 * PS).fill(9);
    const f = file(bytes, false);
    const p = as.mmap(0, PS, PROT_READ, MAP_PRIVATE, f, 0);
    as.kernelWrite(p + 1, Uint8Array.of(1, 2));
    expect(as.readUser(p, 4)).toEqual(Uint8Array.of(9, 1, 2, 9));
    expect(bytes[1]).toBe(9); // the file is untouched
    const s = as.mmap(0, PS, PROT_READ, MAP_SHARED, f, PS);
    expect(() => as.kernelWrite(s, Uint8Array.of(1))).toThrow(UserFault);
    expect(as.readU64(s)).toBe(0x0909090909090909n);
    expect(as.readU64(s + 4 * PS)).toBeUndefined();
  });

  it("reads zeros past EOF in the last page and faults (SIGBUS) on whole pages past it", () => {
    const as = AddressSpace.forArch();
    const p = as.mmap(0, 3 * PS, PROT_READ, MAP_PRIVATE, file(new Uint8Array(PS + 10).fill(5)), 0);
    expect(as.readUser(p + PS + 8, 4)).toEqual(Uint8Array.of(5, 5, 0, 0));
    const r = as.tryReadUser(p + 2 * PS, 1);
    expect(r.ok).toBe(false);
    if (!r.ok) expect([r.fault.kind, r.fault.signal]).toEqual(["beyond-eof", "SIGBUS"]);
  });

  it("MAP_PRIVATE pages see the file until written; MAP_SHARED stores reach the file", () => {
    const as = AddressSpace.forArch();
    const bytes = new Uint8Array(PS).fill(1);
    const f = file(bytes);
    const priv = as.mmap(0, PS, PROT_READ | PROT_WRITE, MAP_PRIVATE, f, 0);
    const shared = as.mmap(0, PS, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);
    as.writeUser(shared, Uint8Array.of(7));
    expect(bytes[0]).toBe(7);
    expect(as.readUser(priv, 1)[0]).toBe(7); // not yet copied: the page cache shows through
    as.writeUser(priv + 1, Uint8Array.of(8));
    as.writeUser(shared, Uint8Array.of(6));
    expect(as.readUser(priv, 2)).toEqual(Uint8Array.of(7, 8)); // copied at the write: isolated now
  });

  it("grows [stack] on a user access below it, within the rlimit, but not from kernelRead", () => {
    const as = AddressSpace.forArch();
    const { start, end } = as.setupStack(200);
    expect(end).toBe(0x7ffffffff000);
    expect(end - start).toBe(PS + 128 * 1024);
    expect(() => as.kernelRead(start - 100, 1)).toThrow(UserFault);
    as.writeUser(start - 100, Uint8Array.of(1));
    expect(as.findVma(start - 100)?.start).toBe(start - PS);
    expect(() => as.readUser(end - 9 * 1024 * 1024, 1)).toThrow(UserFault);
    expect(as.renderMaps()).toContain(
      "7ffffffdd000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]",
    );
  });

  it("fork copies private pages and shares MAP_SHARED ones", () => {
    const as = AddressSpace.forArch();
    const priv = as.mmap(0, PS, PROT_READ | PROT_WRITE, ANON);
    const shared = as.mmap(0, PS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS);
    as.writeUser(priv, Uint8Array.of(1));
    const child = as.fork();
    child.writeUser(priv, Uint8Array.of(2));
    child.writeUser(shared, Uint8Array.of(3));
    expect(as.readUser(priv, 1)[0]).toBe(1);
    expect(as.readUser(shared, 1)[0]).toBe(3);
    expect(child.renderMaps()).toBe(as.renderMaps());
  });

  it("mapSpecial: vvar is not accessible to FOLL_FORCE, vdso is readable", () => {
    const as = AddressSpace.forArch();
    const at = as.getUnmappedArea(4 * PS);
    expect(as.mapSpecial("[vvar]", at, 2 * PS, PROT_READ)).toBe(0);
    expect(as.mapSpecial("[vdso]", at + 2 * PS, 2 * PS, PROT_READ | 4, Uint8Array.of(0x7f, 0x45))).toBe(0);
    expect(as.mapSpecial("[vdso]", at, PS, PROT_READ)).toBe(-Errno.EEXIST);
    expect(() => as.kernelRead(at, 1)).toThrow(UserFault);
    expect(as.readUser(at + 2 * PS, 2)).toEqual(Uint8Array.of(0x7f, 0x45));
    expect(as.renderMaps().split("\n")[1]).toMatch(/ r-xp 00000000 00:00 0 +\[vdso\]$/);
  });

  it("brk: [heap] appears once the break moves and refuses to run into a mapping", () => {
    const as = AddressSpace.forArch();
    as.initBrk(0x555555560000);
    expect(as.brk(0)).toBe(0x555555560000);
    as.mmap(0x555555570000, PS, PROT_READ, ANON | MAP_FIXED);
    expect(as.brk(0x555555570000)).toBe(0x555555560000); // would touch the mapping
    expect(as.brk(0x555555561234)).toBe(0x555555561234);
    expect(as.renderMaps().split("\n")[0]).toBe(
      "555555560000-555555562000 rw-p 00000000 00:00 0                          [heap]",
    );
  });
});

describe.skipIf(!hasGcc || !isX86)("maps names against the kernel", () => {
  it("prints '(deleted)' for an unlinked file and [anon:NAME] when the kernel names VMAs", () => {
    const dir = mkdtempSync(join(tmpdir(), "ldsim-names-"));
    try {
      const exe = join(dir, "names");
      execFileSync("gcc", ["-o", exe, join(here, "names.c")]);
      const path = join(dir, "lib with space.so");
      writeFileSync(path, new Uint8Array(100).fill(1));
      const st = statSync(path, { bigint: true });
      const out = execFileSync(exe, [path]).toString().trim().split("\n");
      const [, aHex, rcText] = (out[0] as string).split(" ");
      const fAddr = Number.parseInt((out[1] as string).split(" ")[1] as string, 16);
      const aAddr = Number.parseInt(aHex as string, 16);
      const dev = st.dev;
      const inode = new TestInode(
        Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn)),
        Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn)),
        Number(st.ino),
        path,
        new Uint8Array(100),
      );
      const deleted = Object.assign(Object.create(Object.getPrototypeOf(inode)), inode, { deleted: true }) as TestInode;
      const as = AddressSpace.forArch();
      as.mmap(fAddr, PS, PROT_READ, MAP_PRIVATE | MAP_FIXED, { inode: deleted, readable: true, writable: false }, 0);
      const rc = Number(rcText);
      expect(as.setAnonName(aAddr, PS, "x")).toBe(-Errno.ENOMEM); // nothing mapped there yet
      as.mmap(aAddr, 3 * PS, PROT_READ | PROT_WRITE, ANON | MAP_FIXED);
      if (rc === 0) expect(as.setAnonName(aAddr + PS, PS, "ldsim test")).toBe(0);
      else console.warn("kernel without CONFIG_ANON_VMA_NAME: [anon:NAME] not compared");
      const real = out.slice(2);
      const mine = as.renderMaps().trim().split("\n");
      expect(mine[0]).toBe(real.find((l) => l.startsWith(fAddr.toString(16))));
      if (rc === 0) expect(mine.slice(1)).toEqual(real.filter((l) => !l.startsWith(fAddr.toString(16))));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
