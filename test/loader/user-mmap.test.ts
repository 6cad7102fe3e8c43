/**
 * s390x's mmap takes one argument, the address of a six-long block (glibc mmap_internal.h); x86_64
 * and arm64 take six registers. The loader's mappings go through `userMmap`, so an s390x library maps
 * with the segments its program headers (GNU readelf's output, committed with the fixture) describe.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MemFs } from "../../kernel-shim/fs/mem-fs.ts";
import { Kernel } from "../../kernel-shim/process/kernel.ts";
import { Process } from "../../kernel-shim/process/process.ts";
import { syscall } from "../../kernel-shim/syscalls/dispatch.ts";
import { mapObject } from "../../loader/map-object.ts";
import { userMmap } from "../../loader/user-mmap.ts";

const fixture = (f: string) => new Uint8Array(readFileSync(new URL(`../fixtures/sframe/${f}`, import.meta.url)));

describe("userMmap", () => {
  it("s390x: an anonymous mapping through the argument block; the register form is refused (EFAULT)", () => {
    const p = Process.spawn(new Kernel(MemFs.create({}), { arch: "s390x" }));
    const addr = userMmap(p, 0, 8192, 3, 0x22, -1, 0);
    expect(addr > 0n && addr % 4096n === 0n).toBe(true);
    expect(p.mm.renderMaps()).toContain(`${addr.toString(16)}-${(addr + 8192n).toString(16)} rw-p`);
    // Six register values: the first (0) is taken as the block's address, which is unmapped.
    expect(syscall(p, "mmap", 0, 8192, 3, 0x22, -1, 0)).toBe(-14n);
  });

  it("s390x: mapObject maps libb.so's two PT_LOAD segments as readelf -l lists them", () => {
    const lib = fixture("v3/s390x/libb.so");
    const p = Process.spawn(new Kernel(MemFs.create({ "/libb.so": lib }), { arch: "s390x" }));
    const m = mapObject(p, "/libb.so");
    const ph = readFileSync(new URL("../fixtures/sframe/v3/s390x/libb.so.readelf-l.txt", import.meta.url), "latin1");
    const loads = [
      ...ph.matchAll(/^ {2}LOAD +0x([0-9a-f]+) 0x([0-9a-f]+) 0x[0-9a-f]+ 0x([0-9a-f]+) 0x([0-9a-f]+) (.{3})/gm),
    ];
    expect(loads).toHaveLength(2);
    const maps = p.mm.renderMaps();
    for (const [, , vaddr, , , flg] of loads) {
      const start = (m.lAddr + BigInt(`0x${vaddr}`)) & ~0xfffn;
      const perms = `${flg?.[0] === "R" ? "r" : "-"}${flg?.[1] === "W" ? "w" : "-"}${flg?.[2] === "E" ? "x" : "-"}p`;
      expect(maps).toMatch(new RegExp(`^${start.toString(16)}-[0-9a-f]+ ${perms} .*/libb\\.so$`, "m"));
    }
  });

  it("x86_64: the six-register form", () => {
    const p = Process.spawn(new Kernel(MemFs.create({})));
    const addr = userMmap(p, 0, 4096, 1, 0x22, -1, 0);
    expect(p.log.lines().at(-1)).toBe(
      `mmap(NULL, 4096, PROT_READ, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x${addr.toString(16)}`,
    );
  });
});
