/**
 * BestSymbols reads ELF64 little-endian tables raw (names decoded only where needed); it must make
 * the same choice among aliases as its generic build through SymbolTable.symbol, whose names the CLI
 * parity tests check against `perf script`. Checked at every function address of the committed
 * fixtures and of this machine's libc and ld.so (when present).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ElfFile } from "../../../formats/elf/file.ts";
import { dynamicSymbols, staticSymbols } from "../../../formats/elf/symbols.ts";
import { BestSymbols } from "../../../kernel-shim/replay/best-symbol.ts";

const V3 = join(import.meta.dirname, "..", "..", "fixtures", "sframe", "v3", "x86_64");
const HOST = ["/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"];
const host = HOST.filter((p) => existsSync(p));
if (host.length < HOST.length) console.log(`best-symbol: not on this machine: ${HOST.filter((p) => !existsSync(p))}`);
const files = [join(V3, "main"), join(V3, "liba.so"), join(V3, "libb.so"), ...host].filter((p) => existsSync(p));

describe("BestSymbols", () => {
  for (const path of files) {
    it(`${path.split("/").at(-1)}: the raw reader chooses the names the generic build does`, () => {
      const elf = ElfFile.openPath(path);
      const raw = new BestSymbols(elf);
      const generic = new BestSymbols(elf, true);
      const addrs = new Set<bigint>([0n, 1n]);
      for (const t of [staticSymbols(elf), dynamicSymbols(elf)]) {
        for (const s of t ?? []) addrs.add(s.value).add(s.value + 1n);
      }
      let named = 0;
      for (const a of addrs) {
        const want = generic.nameAt(a);
        if (want !== undefined) named++;
        expect(raw.nameAt(a), `0x${a.toString(16)}`).toBe(want);
      }
      expect(named).toBeGreaterThan(0);
      elf.close();
    });
  }
});
