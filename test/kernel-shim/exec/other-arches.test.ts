import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { AT_ENTRY, AT_PHDR, AT_PLATFORM } from "../../../kernel-shim/exec/auxv.ts";
import { execElf } from "../../../kernel-shim/exec/binfmt-elf.ts";
import { MemFs } from "../../../kernel-shim/fs/mem-fs.ts";
import { Kernel } from "../../../kernel-shim/process/kernel.ts";
import { Process } from "../../../kernel-shim/process/process.ts";

/**
 * arm64 (little-endian, 64 KiB p_align) and s390x (big-endian) executables from the SFrame fixtures,
 * exec'd in a memfs sysroot whose interpreter is a copy of the program. No host kernel to compare
 * with here: the checks are the layout constants (ELF_ET_DYN_BASE per architecture) and that the
 * headers are read in the kernel's byte order.
 */
const fixture = (f: string) => new Uint8Array(readFileSync(new URL(`../../fixtures/sframe/${f}`, import.meta.url)));

describe("exec on aarch64 and s390x", () => {
  it("aarch64: PIE at ELF_ET_DYN_BASE aligned to 64 KiB, x86_64 binary refused", () => {
    const main = fixture("v3/aarch64/main");
    const k = new Kernel(
      MemFs.create({ "/main": main, "/lib/ld-linux-aarch64.so.1": main, "/x86": fixture("v3/x86_64/main") }),
      {
        arch: "aarch64",
      },
    );
    const p = Process.spawn(k);
    const r = execElf(p, "/main");
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.image.loadBias).toBe(0xaaaaaaaa0000);
    expect(r.image.phdrAddr).toBe(0xaaaaaaaa0040);
    const aux = new Map(r.image.auxv);
    expect(aux.get(AT_PHDR)).toBe(0xaaaaaaaa0040n);
    expect(aux.get(AT_ENTRY)).toBe(BigInt(r.image.entry));
    expect(aux.has(AT_PLATFORM)).toBe(true);
    expect(execElf(Process.spawn(k), "/x86")).toMatchObject({ ok: false, errno: "ENOEXEC", stage: "elf_check_arch" });
  });

  it("s390x: big-endian headers, PIE at 0x2aa00000000, stack below 4 TiB", () => {
    const main = fixture("v3/s390x/main");
    const k = new Kernel(MemFs.create({ "/main": main, "/lib/ld64.so.1": main }), { arch: "s390x" });
    const p = Process.spawn(k);
    const r = execElf(p, "/main");
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.image.loadBias).toBe(0x2aa00000000);
    expect(p.mm.renderMaps()).toMatch(/^3ffff[0-9a-f]+-40000000000 rw-p .*\[stack\]$/m);
    // argc is a big-endian word at sp.
    const argc = p.mm.readUser(r.image.sp, 8);
    expect(new DataView(argc.buffer, argc.byteOffset, 8).getBigUint64(0, false)).toBe(1n);
  });
});
