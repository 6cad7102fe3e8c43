/**
 * vaddr → file offset through PT_LOAD, checked against the section table readelf -S prints: every
 * allocated section with file contents must map to the offset readelf shows for it.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readelfOffsetFromVma, requireOffset, vaddrToOffset } from "../../../formats/elf/address.ts";
import { ElfFile } from "../../../formats/elf/file.ts";
import { FormatError } from "../../../formats/errors.ts";

const hasReadelf = spawnSync("readelf", ["--version"]).status === 0;
if (!hasReadelf) console.warn("address.test: GNU readelf not found; checks skipped");

const FIX = join(import.meta.dirname, "..", "..", "fixtures");
const FILES = [
  "readelf/x86_64/libfull.so",
  "readelf/x86_64/librelr.so",
  "readelf/x86_64/main-nopie",
  "readelf/x86_64/tiny-static",
  "readelf/i686/liblib.so",
  "readelf/i686/main-pie",
  "sframe/v3/s390x/libb.so",
  "sframe/v3/aarch64/main",
  "/usr/bin/ls",
];

interface Row {
  name: string;
  type: string;
  addr: bigint;
  off: bigint;
  size: bigint;
  flags: string;
}

function readelfSections(path: string): Row[] {
  const out = spawnSync("readelf", ["-W", "-S", path], { encoding: "latin1" }).stdout;
  return [
    ...out.matchAll(/^\s+\[\s*\d+\] (\S*)\s+(\S+)\s+([0-9a-f]+) ([0-9a-f]+) ([0-9a-f]+) [0-9a-f]+ ([A-Za-z ]{3}) /gm),
  ].map((m) => ({
    name: m[1] as string,
    type: m[2] as string,
    addr: BigInt(`0x${m[3]}`),
    off: BigInt(`0x${m[4]}`),
    size: BigInt(`0x${m[5]}`),
    flags: (m[6] as string).trim(),
  }));
}

describe.skipIf(!hasReadelf)("vaddrToOffset against readelf -S", () => {
  for (const f of FILES) {
    it(f, () => {
      const path = f.startsWith("/") ? f : join(FIX, f);
      const rows = readelfSections(path);
      expect(rows.length).toBeGreaterThan(3);
      const elf = ElfFile.openPath(path);
      try {
        const phdrs = elf.programHeaders;
        let checked = 0;
        for (const r of rows) {
          if (!r.flags.includes("A") || r.size === 0n || r.flags.includes("T")) continue;
          if (r.type === "NOBITS") {
            // Zero-fill exists only in memory: no file offset holds it.
            expect([r.name, vaddrToOffset(phdrs, r.addr, r.size)]).toEqual([r.name, undefined]);
            continue;
          }
          expect([r.name, vaddrToOffset(phdrs, r.addr, r.size)]).toEqual([r.name, r.off]);
          expect([r.name, vaddrToOffset(phdrs, r.addr)]).toEqual([r.name, r.off]);
          expect([r.name, readelfOffsetFromVma(phdrs, r.addr, r.size)]).toEqual([r.name, r.off]);
          checked++;
        }
        expect(checked).toBeGreaterThan(0);
      } finally {
        elf.close();
      }
    });
  }
});

describe("unmapped addresses", () => {
  it("undefined from vaddrToOffset, a FormatError from requireOffset, the address itself from readelf's rule", () => {
    const elf = ElfFile.openPath(join(FIX, "readelf/x86_64/libfull.so"));
    try {
      const far = 0x5000_0000n;
      expect(vaddrToOffset(elf.programHeaders, far, 8n)).toBeUndefined();
      expect(() => requireOffset(elf.programHeaders, far, 8n, "DT_SYMTAB", elf.name)).toThrow(FormatError);
      expect(readelfOffsetFromVma(elf.programHeaders, far, 8n)).toBe(far);
      expect(vaddrToOffset([], 0x1000n)).toBeUndefined();
    } finally {
      elf.close();
    }
  });
});
