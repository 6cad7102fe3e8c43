import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { AddressSpace } from "../../../kernel-shim/mm/address-space.ts";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from "../../../kernel-shim/mm/prot-flags.ts";
import type { OpenFile } from "../../../kernel-shim/mm/vma.ts";
import { KernelSframe } from "../../../kernel-shim/sframe/kernel-sframe.ts";

const FIX = new URL("../../fixtures/sframe/v3/x86_64/libb.so", import.meta.url).pathname;

function libb(mm: AddressSpace): number {
  const bytes = readFileSync(FIX);
  const file: OpenFile = {
    inode: {
      devMajor: 0xfe,
      devMinor: 0,
      ino: 7,
      path: FIX,
      size: bytes.length,
      read: (o, l) => bytes.subarray(o, o + l),
    },
    readable: true,
    writable: false,
  };
  const base = mm.mmap(0, 0x3000, PROT_READ, MAP_PRIVATE, file, 0);
  mm.mmap(base + 0x1000, 0x1000, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_FIXED, file, 0x1000);
  return base;
}

describe("sframe_find_user: lazy validation and removal on fault", () => {
  it("finds the row for a PC inside a registered function (libb_deep: CFA = FP + 16)", () => {
    const mm = AddressSpace.forArch("x86_64");
    const ks = new KernelSframe();
    const base = libb(mm);
    expect(ks.stacktraceSetup(mm, 1, BigInt(base + 0x2120), 0x12en, BigInt(base + 0x1000), 0x2fdn)).toBe(0);
    const f = ks.finder(mm);
    const r = f?.find(BigInt(base + 0x1150));
    expect(r?.ok && r.row.cfa).toEqual({ base: "fp", regnum: 6, offset: 16, deref: false });
    // A PC in a gap between functions: EINVAL, and the section stays.
    const gap = f?.find(BigInt(base + 0x1300));
    expect(gap?.ok).toBe(false);
    expect(ks.registryOf(mm).size).toBe(1);
  });

  it("a section corrupted after registration (no full validation) is dropped at its first fault", () => {
    const mm = AddressSpace.forArch("x86_64");
    const ks = new KernelSframe();
    const base = libb(mm);
    // Copy .sframe into writable memory, register it, then corrupt the FRE area.
    const bytes = mm.readUser(base + 0x2120, 0x12e).slice();
    const at = mm.mmap(0, 0x1000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, undefined, 0);
    // PC-relative function starts must stay right: keep the same distance to the text by adjusting.
    const dv = new DataView(bytes.buffer);
    const delta = BigInt(base + 0x2120 - at);
    for (let i = 0; i < 6; i++) dv.setBigInt64(28 + i * 16, dv.getBigInt64(28 + i * 16, true) + delta, true);
    mm.writeUser(at, bytes);
    expect(ks.stacktraceSetup(mm, 1, BigInt(at), 0x12en, BigInt(base + 0x1000), 0x2fdn)).toBe(0);
    // Every FRE info byte of every function → data-word size code 3 (invalid): the lookup faults.
    const freStart = 28 + 6 * 16 + dv.getUint32(24, true) - 6 * 16;
    const corrupt = mm.readUser(at, 0x12e).slice();
    for (let o = freStart; o < 0x12e; o++) corrupt[o] = 0xff;
    mm.writeUser(at, corrupt);
    const r = ks.finder(mm)?.find(BigInt(base + 0x1150));
    expect(r?.ok).toBe(false);
    if (r && !r.ok) expect(r.errno).toBe("EFAULT");
    expect(ks.registryOf(mm).size).toBe(0);
    expect(ks.events.at(-1)).toMatchObject({ kind: "auto-remove", sframeStart: BigInt(at), removed: 1 });
  });

  it("with full validation (CONFIG_SFRAME_VALIDATION) the same corruption is refused at registration", () => {
    const mm = AddressSpace.forArch("x86_64");
    const ks = new KernelSframe({ validation: true });
    const base = libb(mm);
    const bytes = mm.readUser(base + 0x2120, 0x12e).slice();
    const at = mm.mmap(0, 0x1000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, undefined, 0);
    const dv = new DataView(bytes.buffer);
    const delta = BigInt(base + 0x2120 - at);
    for (let i = 0; i < 6; i++) dv.setBigInt64(28 + i * 16, dv.getBigInt64(28 + i * 16, true) + delta, true);
    const freStart = 28 + dv.getUint32(24, true);
    for (let o = freStart; o < 0x12e; o++) bytes[o] = 0xff;
    mm.writeUser(at, bytes);
    expect(ks.stacktraceSetup(mm, 1, BigInt(at), 0x12en, BigInt(base + 0x1000), 0x2fdn)).toBeLessThan(0);
    expect(ks.registryOf(mm).size).toBe(0);
  });

  it("munmap without unregister: the stale entry stays until a lookup faults on the unmapped section", () => {
    const mm = AddressSpace.forArch("x86_64");
    const ks = new KernelSframe();
    const base = libb(mm);
    expect(ks.stacktraceSetup(mm, 1, BigInt(base + 0x2120), 0x12en, BigInt(base + 0x1000), 0x2fdn)).toBe(0);
    mm.munmap(base, 0x3000);
    // No munmap hook in the series: the registry still holds the range.
    expect(ks.registryOf(mm).size).toBe(1);
    const r = ks.finder(mm)?.find(BigInt(base + 0x1150));
    expect(r?.ok).toBe(false);
    if (r && !r.ok) expect(r.errno).toBe("EFAULT");
    expect(ks.registryOf(mm).size).toBe(0);
  });
});
