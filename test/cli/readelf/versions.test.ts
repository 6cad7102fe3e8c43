/**
 * `readelf -W -V` byte for byte against GNU readelf 2.40: committed outputs for the fixtures and
 * live runs over host libraries (libc's 40-odd Verdefs, libstdc++'s parents, ld.so).
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatVersions, verFlags } from "../../../cli/readelf/versions.ts";
import { ElfFile } from "../../../formats/elf/file.ts";
import {
  CORRUPT_FIXTURES,
  expectedOutput,
  FIXTURE_ROOT,
  HOST_LIBS,
  hasReadelf240,
  readelf,
  SYMBOL_FIXTURES,
} from "../../formats/elf/elf-symbol-fixtures.ts";

function run(path: string): string {
  const elf = ElfFile.openPath(path);
  try {
    return formatVersions(elf, { wide: true });
  } finally {
    elf.close();
  }
}

describe("readelf -W -V (committed readelf 2.40 outputs)", () => {
  for (const fx of [...SYMBOL_FIXTURES, ...CORRUPT_FIXTURES]) {
    it(fx, () => expect(run(join(FIXTURE_ROOT, fx))).toBe(expectedOutput(fx, "V")));
  }
  it("an object without version sections", () => {
    expect(expectedOutput("elf-symbols/i686/libv.o", "V")).toBe("\nNo version information found in this file.\n");
  });
  it("flag names (readelf get_ver_flags)", () => {
    expect([0, 1, 2, 3, 4, 7, 8, 9].map(verFlags)).toEqual([
      "none",
      "BASE",
      "WEAK",
      "BASE | WEAK",
      "INFO",
      "BASE | WEAK | INFO",
      "<unknown>",
      "BASE | <unknown>",
    ]);
  });
});

describe.skipIf(!hasReadelf240)("readelf -W -V vs host readelf 2.40", () => {
  if (!hasReadelf240) console.warn("skipping host readelf -V parity: GNU readelf 2.40 not found");
  for (const lib of HOST_LIBS) {
    it(lib, () => expect(run(lib)).toBe(readelf(["-V"], lib)));
  }
});
