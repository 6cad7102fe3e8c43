import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { AddressSpace } from "../../../kernel-shim/mm/address-space.ts";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
} from "../../../kernel-shim/mm/prot-flags.ts";
import type { OpenFile } from "../../../kernel-shim/mm/vma.ts";
import { KernelSframe } from "../../../kernel-shim/sframe/kernel-sframe.ts";

const FIX = new URL("../../fixtures/sframe/", import.meta.url).pathname;
const EINVAL = -22;
const EFAULT = -14;
const ENOMEM = -12;
const EEXIST = -17;
const ENOSYS = -38;

function openFile(path: string, ino: number): OpenFile {
  const bytes = readFileSync(path);
  return {
    inode: {
      devMajor: 0xfe,
      devMinor: 0,
      ino,
      path,
      size: bytes.length,
      read: (o, l) => bytes.subarray(o, o + l),
    },
    readable: true,
    writable: false,
  };
}

/**
 * Map libb.so (v3, x86_64) as ld.so would: LOAD 0 R [0,0x1000), LOAD 1 R-X [0x1000,0x2000),
 * LOAD 2 R [0x2000,0x3000) holding .sframe at 0x2120 (0x12e bytes). Returns the base.
 */
function mapLib(mm: AddressSpace, file: OpenFile): number {
  const base = mm.mmap(0, 0x4000, PROT_READ, MAP_PRIVATE, file, 0);
  expect(base).toBeGreaterThan(0);
  mm.mmap(base + 0x1000, 0x1000, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, file, 0x1000);
  mm.mmap(base + 0x2000, 0x1000, PROT_READ, MAP_PRIVATE | MAP_FIXED, file, 0x2000);
  mm.munmap(base + 0x3000, 0x1000);
  return base;
}

function setup(options: ConstructorParameters<typeof KernelSframe>[0] = {}) {
  const mm = AddressSpace.forArch("x86_64");
  const ks = new KernelSframe(options);
  const base = mapLib(mm, openFile(`${FIX}v3/x86_64/libb.so`, 11));
  const sf = BigInt(base + 0x2120);
  const text = BigInt(base + 0x1000);
  const reg = (a: bigint, l: bigint, t: bigint, tl: bigint) => ks.stacktraceSetup(mm, 1, a, l, t, tl);
  return { mm, ks, base, sf, text, reg };
}

/** Copy the fixture's .sframe into a fresh RW anonymous page, patch it, and return its address. */
function patchedCopy(mm: AddressSpace, sf: bigint, patch: (b: Uint8Array, dv: DataView) => void): bigint {
  const bytes = mm.readUser(Number(sf), 0x12e).slice();
  patch(bytes, new DataView(bytes.buffer));
  const at = mm.mmap(0, 0x1000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, undefined, 0);
  mm.writeUser(at, bytes);
  return BigInt(at);
}

describe("stacktrace_setup: every check of sframe_add_section, in the kernel's order", () => {
  it("registers a valid v3 section and unregisters it by section start", () => {
    const { ks, mm, sf, text, reg } = setup();
    expect(reg(sf, 0x12en, text, 0x2fdn)).toBe(0);
    const entries = ks.registryOf(mm).list();
    expect(entries).toHaveLength(1);
    expect(entries[0]?.textEnd).toBe(text + 0x2fdn);
    expect(entries[0]?.numFdes).toBe(6);
    expect(ks.stacktraceSetup(mm, 2, sf, 0n, 0n, 0n)).toBe(0);
    expect(ks.stacktraceSetup(mm, 2, sf, 0n, 0n, 0n)).toBe(EINVAL);
  });

  it("1: any zero argument → EINVAL before anything is read", () => {
    const { ks, sf, text, reg } = setup();
    expect(reg(0n, 0x12en, text, 0x2fdn)).toBe(EINVAL);
    expect(reg(sf, 0x12en, 0n, 0x2fdn)).toBe(EINVAL);
    // sframe_end wraps to 0: addr + len = 2^64.
    expect(reg(sf, (1n << 64n) - sf, text, 0x2fdn)).toBe(EINVAL);
    expect(ks.events.map((e) => (e.kind === "register" ? e.check : ""))).toEqual([
      "zero argument",
      "zero argument",
      "zero argument",
    ]);
  });

  it("2: the section must lie inside one VMA", () => {
    const { ks, base, sf, text, reg } = setup();
    expect(reg(BigInt(base + 0x3000), 0x12en, text, 0x2fdn)).toBe(EINVAL); // unmapped hole
    expect(reg(sf, 0x1000n, text, 0x2fdn)).toBe(EINVAL); // runs past the R segment into the hole
    expect(ks.events.every((e) => e.kind === "register" && e.check === "sframe VMA")).toBe(true);
  });

  it("3: the text must lie inside one executable VMA", () => {
    const { ks, base, sf, text, reg } = setup();
    expect(reg(sf, 0x12en, BigInt(base + 0x2000), 0x100n)).toBe(EINVAL); // not VM_EXEC
    expect(reg(sf, 0x12en, text, 0x1001n)).toBe(EINVAL); // spans into the next VMA
    expect(ks.events.every((e) => e.kind === "register" && e.check === "text VMA")).toBe(true);
  });

  it("4: allocation failure → ENOMEM, and it comes before the header is read", () => {
    const { mm, sf, text, reg } = setup({ failAllocation: () => true });
    expect(reg(sf, 0x12en, text, 0x2fdn)).toBe(ENOMEM);
    const bad = patchedCopy(mm, sf, (b) => {
      b[2] = 2; // version 2: would be EINVAL at the header check
    });
    expect(reg(bad, 0x12en, text, 0x2fdn)).toBe(ENOMEM);
  });

  it("5: an unreadable header (PROT_NONE) → EFAULT: the VMA check has no permission test", () => {
    const { mm, base, text, reg } = setup();
    mm.mprotect(base + 0x2000, 0x1000, PROT_NONE);
    expect(reg(BigInt(base + 0x2120), 0x12en, text, 0x2fdn)).toBe(EFAULT);
  });

  it("6–9: header contents → EINVAL, each named", () => {
    const { ks, mm, sf, text, reg } = setup();
    const cases: Array<[string, (b: Uint8Array, dv: DataView) => void]> = [
      ["magic", (_b, dv) => dv.setUint16(0, 0xdee3, true)],
      ["version", (b) => (b[2] = 2)],
      ["sorted flag", (b) => (b[3] = (b[3] as number) & ~1)],
      ["pcrel flag", (b) => (b[3] = (b[3] as number) & ~4)],
      ["aux header", (b) => (b[7] = 4)],
      ["num_fdes", (_b, dv) => dv.setUint32(8, 0, true)],
      ["num_fres", (_b, dv) => dv.setUint32(12, 0, true)],
      ["fre_len", (_b, dv) => dv.setUint32(16, 0x10000, true)],
    ];
    for (const [, patch] of cases) expect(reg(patchedCopy(mm, sf, patch), 0x12en, text, 0x2fdn)).toBe(EINVAL);
    // 8: the header alone (len 28) leaves no room: header_end >= sframe_end.
    expect(reg(sf, 28n, text, 0x2fdn)).toBe(EINVAL);
    const checks = ks.events.map((e) => (e.kind === "register" ? e.check : ""));
    expect(new Set(checks).size).toBeGreaterThan(3);
    expect(ks.registryOf(mm).size).toBe(0);
  });

  it("a version-1 section is refused by the default kernel and accepted when v1 is allowed", () => {
    const v1 = (acceptedVersions: number[]) => {
      const mm = AddressSpace.forArch("x86_64");
      const ks = new KernelSframe({ acceptedVersions, requirePcrel: false });
      const base = mapLib(mm, openFile(`${FIX}v1/x86_64/libb.so`, 12));
      return ks.stacktraceSetup(mm, 1, BigInt(base + 0x2120), 0xafn, BigInt(base + 0x1000), 0x200n);
    };
    expect(v1([3])).toBe(EINVAL);
    expect(v1([1, 2, 3])).toBe(0);
  });

  it("11: overlapping text → EEXIST, with the maple tree's inclusive end", () => {
    const { mm, ks, sf, text, reg } = setup();
    expect(reg(sf, 0x12en, text, 0x100n)).toBe(0);
    expect(reg(sf, 0x12en, text + 0x80n, 0x10n)).toBe(EEXIST);
    // Ends at text+0x100 inclusive: a range starting exactly there collides.
    expect(reg(sf, 0x12en, text + 0x100n, 0x10n)).toBe(EEXIST);
    expect(reg(sf, 0x12en, text + 0x101n, 0x10n)).toBe(0);
    // Removal by section start drops both entries registered for it.
    expect(ks.stacktraceSetup(mm, 2, sf, 0n, 0n, 0n)).toBe(0);
    expect(ks.registryOf(mm).size).toBe(0);
  });

  it("the first failing check wins: a section failing the VMA check and the header check reports the VMA check", () => {
    const { ks, mm, base, sf, reg } = setup();
    const bad = patchedCopy(mm, sf, (b) => (b[2] = 1));
    expect(reg(bad, 0x12en, BigInt(base + 0x2000), 0x10n)).toBe(EINVAL);
    const last = ks.events.at(-1);
    expect(last?.kind === "register" && last.check).toBe("text VMA");
  });

  it("unknown op → EINVAL; a kernel without SFrame support → ENOSYS", () => {
    const { mm, ks, sf, text } = setup();
    expect(ks.stacktraceSetup(mm, 3, sf, 0x12en, text, 0x2fdn)).toBe(EINVAL);
    expect(ks.stacktraceSetup(mm, 0, sf, 0x12en, text, 0x2fdn)).toBe(EINVAL);
    const off = new KernelSframe({ enabled: false });
    expect(off.stacktraceSetup(mm, 1, sf, 0x12en, text, 0x2fdn)).toBe(ENOSYS);
  });

  it("full validation at registration (CONFIG_SFRAME_VALIDATION) rejects what the header check lets through", () => {
    const corrupt = (validation: boolean) => {
      const { mm, sf, text, reg } = setup({ validation });
      // Make FDE 1's function start unsorted relative to FDE 0 (V3 index entries: i64 start at +0).
      const bad = patchedCopy(mm, sf, (_b, dv) => {
        const fdes = 28;
        dv.setBigInt64(fdes + 16, dv.getBigInt64(fdes, true) - 0x100n, true);
      });
      return reg(bad, 0x12en, text, 0x2fdn);
    };
    expect(corrupt(false)).toBe(0);
    expect(corrupt(true)).not.toBe(0);
  });
});
