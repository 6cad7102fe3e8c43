import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { AT_RANDOM } from "../../../kernel-shim/exec/auxv.ts";
import { execElf } from "../../../kernel-shim/exec/binfmt-elf.ts";
import { MemFs } from "../../../kernel-shim/fs/mem-fs.ts";
import { Kernel } from "../../../kernel-shim/process/kernel.ts";
import { Process } from "../../../kernel-shim/process/process.ts";

const MAIN = new Uint8Array(readFileSync(new URL("../../fixtures/sframe/v1/x86_64/main", import.meta.url)));
const fs = () => MemFs.create({ "/bin/main": MAIN, "/lib64/ld-linux-x86-64.so.2": MAIN });

function run(aslrSeed: number | undefined, randomSeed = 0) {
  const p = Process.spawn(new Kernel(fs(), aslrSeed === undefined ? {} : { aslrSeed }));
  const r = execElf(p, "/bin/main", { randomSeed });
  if (!r.ok) throw new Error(r.errno);
  const randAddr = Number(r.image.auxv.find(([t]) => t === AT_RANDOM)?.[1] ?? 0n);
  return { p, image: r.image, random: Buffer.from(p.mm.readUser(randAddr, 16)).toString("hex") };
}

describe("seeded ASLR over the kernel's ranges", () => {
  it("is off by default (setarch -R layout) and deterministic per seed", () => {
    const off = run(undefined);
    expect(off.image.loadBias).toBe(0x555555554000);
    const a = run(7);
    const b = run(7);
    expect(a.p.mm.renderMaps()).toBe(b.p.mm.renderMaps());
    expect(a.image.sp).toBe(b.image.sp);
    const c = run(8);
    expect(c.p.mm.renderMaps()).not.toBe(a.p.mm.renderMaps());
  });

  it("keeps each randomized base inside the kernel's range", () => {
    const ELF_ET_DYN_BASE = 0x555555554aaa;
    for (let seed = 1; seed <= 20; seed++) {
      const { image, p } = run(seed);
      // load_bias = ELF_ET_DYN_BASE + arch_mmap_rnd() (28 bits of pages), aligned to p_align.
      expect(image.loadBias % 4096).toBe(0);
      expect(image.loadBias).toBeGreaterThanOrEqual(ELF_ET_DYN_BASE - 4096);
      expect(image.loadBias).toBeLessThan(ELF_ET_DYN_BASE + 2 ** 28 * 4096);
      // brk: after the bss plus a page, randomized within 32 MiB.
      const bssEnd = Math.ceil((image.loadBias + 0x3db0 + 0x298) / 4096) * 4096;
      expect(image.startBrk).toBeGreaterThanOrEqual(bssEnd + 4096);
      expect(image.startBrk).toBeLessThan(bssEnd + 4096 + 0x02000000);
      // The initial sp stays 16-byte aligned below the randomized stack top.
      expect(image.sp % 16).toBe(0);
      expect(image.sp).toBeLessThan(p.mm.layout.stackTop);
      expect(image.interpBase + 0x5000).toBeLessThanOrEqual(p.mm.layout.mmapBase);
    }
  });

  it("derives AT_RANDOM's 16 bytes from its own seed", () => {
    expect(run(undefined, 1).random).toBe(run(undefined, 1).random);
    expect(run(undefined, 1).random).not.toBe(run(undefined, 2).random);
  });
});
