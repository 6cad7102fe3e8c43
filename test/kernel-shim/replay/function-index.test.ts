/**
 * The replay's direct symbol reader gives exactly MappedObject.functions / symbolize (whose own tests
 * check them against readelf and perf), on the committed fixtures and on this machine's libc with its
 * build-id debug file when installed.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ElfFile } from "../../../formats/elf/file.ts";
import { FunctionIndex } from "../../../kernel-shim/replay/function-index.ts";
import { MappedObject } from "../../../kernel-shim/unwind/mapped-object.ts";

const V3 = join(import.meta.dirname, "..", "..", "fixtures", "sframe", "v3", "x86_64");
const LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6";
const files = [join(V3, "main"), join(V3, "liba.so"), join(V3, "libb.so"), ...(existsSync(LIBC) ? [LIBC] : [])];
if (!existsSync(LIBC)) console.log(`function-index: ${LIBC} not on this machine, fixtures only`);

describe("FunctionIndex", () => {
  for (const path of files) {
    it(`${path.split("/").at(-1)}: the same functions and the same symbolization as MappedObject`, () => {
      const elf = ElfFile.openPath(path);
      const bias = 0x7f0000000000n;
      const reference = new MappedObject(path, elf, bias);
      const index = new FunctionIndex(new MappedObject(path, elf, bias), reference.buildId, "/usr/lib/debug");
      expect(index.functions).toEqual(reference.functions);
      const names = new Map<bigint, string[]>();
      for (const g of reference.functions) names.set(g.value, [...(names.get(g.value) ?? []), g.name]);
      for (const f of reference.functions) {
        for (const d of [0n, 1n, f.size === 0n ? 0n : f.size - 1n, f.size]) {
          expect(index.symbolize(bias + f.value + d)).toEqual(reference.symbolize(bias + f.value + d));
        }
        expect(index.namesAt(f.value)).toEqual(names.get(f.value));
      }
      elf.close();
    });
  }
});
