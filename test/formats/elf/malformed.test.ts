/**
 * Each committed malformed file (test/fixtures/elf/malformed, made by scripts/make-elf-fixtures.sh)
 * must fail with a typed error naming the file and the offending structure, in the style
 * `liba.so: program header table (offset 0x40, 13 entries of 56 bytes) extends past end of file
 * (size 0x2a0)`. Sizes and offsets in the expected text were read off the files with GNU readelf
 * and `wc -c`, not computed by the reader.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SHT_DYNSYM } from "../../../formats/elf/constants.ts";
import { decodeDynamic, dynamicStringsFromFile, readDynamic } from "../../../formats/elf/dynamic.ts";
import { ElfFile } from "../../../formats/elf/file.ts";
import { dynamicSymbols } from "../../../formats/elf/symbols.ts";
import { FormatError, RangeOverflowError } from "../../../formats/errors.ts";
import { probeElf } from "../../support/elf-probes.ts";

const dir = join(import.meta.dirname, "../../fixtures/elf/malformed");
const load = (name: string) => ElfFile.fromBytes(new Uint8Array(readFileSync(join(dir, name))), name);

type Api = "open" | "programHeaders" | "sections" | "sectionData .dynsym";

/** file → the API that must fail → the message it must contain. */
const cases: readonly [file: string, api: Api, message: string, type?: typeof FormatError][] = [
  ["not-elf.txt", "open", "not-elf.txt: not an ELF file: bad magic (expected 7f 45 4c 46)"],
  ["truncated-ident.so", "open", "truncated-ident.so: file too short for an ELF header (size 0xa)"],
  ["truncated-ehdr.so", "open", "truncated-ehdr.so: ELF header (64 bytes) extends past end of file (size 0x28)"],
  ["truncated-ehdr32.so", "open", "truncated-ehdr32.so: ELF header (52 bytes) extends past end of file (size 0x1e)"],
  ["bad-class.so", "open", "bad-class.so: bad EI_CLASS 3 (expected 1 or 2)"],
  ["bad-data.so", "open", "bad-data.so: bad EI_DATA 0 (expected 1 or 2)"],
  [
    "truncated-phdrs.so",
    "programHeaders",
    "truncated-phdrs.so: program header table (offset 0x40, 5 entries of 56 bytes) extends past end of file (size 0xc8)",
  ],
  [
    "truncated-phdrs.so",
    "sections",
    "truncated-phdrs.so: section header table (offset 0x11c0, 18 entries of 64 bytes) extends past end of file (size 0xc8)",
  ],
  [
    "truncated-shdrs.so",
    "sections",
    "truncated-shdrs.so: section header table (offset 0x11c0, 18 entries of 64 bytes) extends past end of file (size 0x15dc)",
  ],
  [
    "phnum-huge.so",
    "programHeaders",
    "phnum-huge.so: program header table (offset 0x40, 65534 entries of 56 bytes) extends past end of file (size 0x1640)",
  ],
  [
    "phnum-huge32.so",
    "programHeaders",
    "phnum-huge32.so: program header table (offset 0x34, 65534 entries of 32 bytes) extends past end of file (size 0x3a90)",
  ],
  [
    "shnum-huge.so",
    "sections",
    "shnum-huge.so: section header table (offset 0x11c0, 65279 entries of 64 bytes) extends past end of file (size 0x1640)",
  ],
  [
    "phoff-past-end.so",
    "programHeaders",
    "phoff-past-end.so: program header table (offset 0x100000, 5 entries of 56 bytes) extends past end of file (size 0x1640)",
  ],
  [
    "shoff-past-end.so",
    "sections",
    "shoff-past-end.so: section header table (offset 0x1000000, 18 entries of 64 bytes) extends past end of file (size 0x1640)",
  ],
  [
    "phentsize-small.so",
    "programHeaders",
    "phentsize-small.so: program header table: entry size 16 is smaller than 56 bytes",
  ],
  [
    "shentsize-small.so",
    "sections",
    "shentsize-small.so: section header table: entry size 32 is smaller than 64 bytes",
  ],
  [
    "shsize-huge.so",
    "sectionData .dynsym",
    "shsize-huge.so: section 3 sh_size 0xffffffffffff0000 does not fit in 53 bits",
    RangeOverflowError,
  ],
  [
    "shsize-past-end.so",
    "sectionData .dynsym",
    "shsize-past-end.so: section [3] .dynsym (offset 0x1b0, 1048576 bytes) extends past end of file (size 0x1640)",
  ],
  [
    "shoffset-past-end.so",
    "sectionData .dynsym",
    "shoffset-past-end.so: section [3] .dynsym (offset 0x100000, 96 bytes) extends past end of file (size 0x1640)",
  ],
];

function call(file: string, api: Api): unknown {
  const elf = load(file);
  switch (api) {
    case "open":
      return elf;
    case "programHeaders":
      return elf.programHeaders;
    case "sections":
      return elf.sections;
    case "sectionData .dynsym": {
      const sec = elf.sections.find((s) => s.type === SHT_DYNSYM);
      if (!sec) throw new Error("fixture has no .dynsym");
      return elf.sectionData(sec);
    }
  }
}

describe("malformed ELF files", () => {
  it.each(cases)("%s: %s fails with a typed error", (file, api, message, type = FormatError) => {
    let caught: unknown;
    try {
      call(file, api);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(type);
    expect((caught as Error).message).toContain(message);
    expect((caught as FormatError).source).toBe(file);
  });

  it("a string table without any NUL: every name read from it fails, naming the offset", () => {
    const elf = load("strtab-no-nul.so");
    const dynstr = elf.section(".dynstr");
    if (!dynstr) throw new Error("fixture has no .dynstr");
    const data = elf.sectionData(dynstr);
    expect(data.includes(0)).toBe(false);
    expect(() => elf.stringAt(data, 1, Number(dynstr.offset))).toThrow(
      "strtab-no-nul.so: string at offset 0x1 is not NUL-terminated",
    );
    const syms = dynamicSymbols(elf);
    expect(() => syms?.name(1)).toThrow(/symbol name at string table offset 0x1 is not NUL-terminated/);
    const dyn = readDynamic(elf);
    if (!dyn) throw new Error("fixture has no dynamic section");
    const strings = dynamicStringsFromFile(elf, decodeDynamic(dyn.entries));
    // DT_SONAME of libtiny.so is at .dynstr offset 0x20 (readelf -p .dynstr x86_64/libtiny.so).
    expect(() => strings?.get(0x20n)).toThrow(/dynamic string at offset 0x20 is not NUL-terminated/);
  });

  it("e_shstrndx out of range: section headers still read, names empty (readelf prints none either)", () => {
    const elf = load("shstrndx-out-of-range.so");
    expect(elf.header.shstrndx).toBe(200);
    expect(elf.sections).toHaveLength(18);
    expect(elf.sections.every((s) => s.name === "")).toBe(true);
  });

  it("a symbol table linked to itself is visible as such (readelf: link should index a string section)", () => {
    const elf = load("cyclic-link.so");
    const dynsym = elf.sections[3];
    expect(dynsym?.type).toBe(SHT_DYNSYM);
    expect(dynsym?.link).toBe(3);
    expect(readFileSync(join(dir, "cyclic-link.so.readelf-stderr.txt"), "utf8")).toContain(
      "Link field (3) should index a string section",
    );
  });

  it("every reader API on every malformed file raises only LdsimErrors and reads nothing past the end", () => {
    for (const f of readdirSync(dir).filter((n) => !n.endsWith(".readelf-stderr.txt"))) {
      const bytes = new Uint8Array(readFileSync(join(dir, f)));
      const report = probeElf(bytes, f);
      expect(report.maxRead, f).toBeLessThanOrEqual(bytes.length);
      // Every malformed file except the two whose damage the readers tolerate raises something.
      if (f !== "shstrndx-out-of-range.so" && f !== "cyclic-link.so")
        expect(report.errors.length, f).toBeGreaterThan(0);
    }
  });
});
