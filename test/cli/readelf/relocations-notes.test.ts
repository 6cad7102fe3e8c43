/**
 * `ldsim readelf -r` / `-n` formatters against GNU readelf 2.40 byte for byte: the committed outputs
 * of the fixtures (wide and narrow; see test/fixtures/elf-relocs-notes/README.md), then, when the
 * host has readelf, a live comparison on system libraries (libc has .relr.dyn and versioned symbols).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { formatNotes } from "../../../cli/readelf/notes.ts";
import { formatRelocations } from "../../../cli/readelf/relocations.ts";
import { ElfFile } from "../../../formats/elf/file.ts";

const FIX = new URL("../../fixtures/elf-relocs-notes/", import.meta.url).pathname;
const SFRAME = new URL("../../fixtures/sframe/", import.meta.url).pathname;

function format(path: string, opt: "r" | "n", wide: boolean): string {
  const elf = ElfFile.fromBytes(new Uint8Array(readFileSync(path)), path);
  return opt === "r" ? formatRelocations(elf, { wide }) : formatNotes(elf, { wide });
}

const fixtures = [
  "x86_64-pie-relr",
  "i386-pie-relr",
  "x86_64-ifunc.o",
  "i386-ifunc.o",
  "x86_64-sdt.o",
  "i386-sdt.o",
  "i386-lib.so",
  "x86_64-cet.o",
  "i386-core",
  "x86_64-build-attributes.o",
  "x86_64-build-attributes.so",
];

describe("committed readelf 2.40 output", () => {
  for (const opt of ["r", "n"] as const) {
    for (const wide of [true, false]) {
      it.each(fixtures)(`-${opt}${wide ? "W" : ""} %s`, (f) => {
        const want = readFileSync(`${FIX}${f}.readelf-${opt}${wide ? "W" : ""}.txt`, "latin1");
        expect(format(`${FIX}${f}`, opt, wide)).toBe(want);
      });
    }
  }
  const sframe = [
    "v3/s390x/main",
    "v3/s390x/liba.so",
    "v3/s390x/main.o",
    "v3/aarch64/main",
    "v3/aarch64/libb.so",
    "v3/aarch64/liba.o",
    "v1/x86_64/main",
  ];
  for (const opt of ["r", "n"] as const) {
    it.each(sframe)(`-${opt}W %s (aarch64, big-endian s390x)`, (f) => {
      const want = readFileSync(`${FIX}sframe-expected/${f.replaceAll("/", "-")}.readelf-${opt}W.txt`, "latin1");
      expect(format(`${SFRAME}${f}`, opt, true)).toBe(want);
    });
  }
});

function hostReadelf(): boolean {
  try {
    return execFileSync("readelf", ["--version"], { encoding: "utf8" }).includes("2.40");
  } catch {
    return false;
  }
}
const hasReadelf = hostReadelf();
if (!hasReadelf) console.log("skipping live readelf parity: GNU readelf 2.40 not on PATH");

describe("live parity with the host readelf", () => {
  const libs = [
    "/usr/lib/x86_64-linux-gnu/libc.so.6",
    "/usr/lib/x86_64-linux-gnu/libm.so.6",
    "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
    "/usr/bin/ls",
  ].filter((p) => existsSync(p));
  for (const opt of ["r", "n"] as const) {
    it.skipIf(!hasReadelf || libs.length === 0).each(libs)(`readelf -${opt}W %s`, (f) => {
      const want = execFileSync("readelf", [`-${opt}W`, f], {
        encoding: "latin1",
        env: { ...process.env, LC_ALL: "C" },
        maxBuffer: 1 << 28,
        stdio: ["ignore", "pipe", "ignore"],
      });
      expect(format(f, opt, true)).toBe(want);
    });
  }
});
