/**
 * Damaged inputs: mutants of the relocation/note fixtures (fuzz/engine/mutate-elf.ts, fixed seed) must
 * never make the -r / -n formatters throw anything but an LdsimError (and only ElfFile's own header
 * checks do). When GNU readelf 2.40 is on the host, every mutant ElfFile can open is also compared
 * with readelf's stdout byte for byte: readelf's handling of corrupt sh_entsize, unreadable header
 * tables, unterminated name tables and overrunning notes is part of what is modelled.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatNotes } from "../../../cli/readelf/notes.ts";
import { formatRelocations } from "../../../cli/readelf/relocations.ts";
import { ElfFile } from "../../../formats/elf/file.ts";
import { LdsimError } from "../../../formats/errors.ts";
import { makeSeed, mutate } from "../../../fuzz/engine/mutate-elf.ts";
import { Rng } from "../../../fuzz/engine/rng.ts";

const FIX = new URL("../../fixtures/elf-relocs-notes/", import.meta.url).pathname;
const SEEDS = [
  "x86_64-pie-relr",
  "i386-pie-relr",
  "x86_64-ifunc.o",
  "i386-ifunc.o",
  "x86_64-sdt.o",
  "i386-lib.so",
  "i386-core",
  "x86_64-build-attributes.so",
].map((f) => makeSeed(f, new Uint8Array(readFileSync(`${FIX}${f}`))));

function hostReadelf(): boolean {
  try {
    return execFileSync("readelf", ["--version"], { encoding: "utf8" }).includes("2.40");
  } catch {
    return false;
  }
}
const hasReadelf = hostReadelf();
if (!hasReadelf) console.log("relocations-notes-fuzz: GNU readelf 2.40 not on PATH, checking exceptions only");

function readelf(opt: string, path: string): string {
  try {
    return execFileSync("readelf", [opt, path], {
      encoding: "latin1",
      env: { ...process.env, LC_ALL: "C" },
      stdio: ["ignore", "pipe", "ignore"],
    });
  } catch (e) {
    return (e as { stdout?: string }).stdout ?? "";
  }
}

describe("mutated fixtures", () => {
  it("format without stray exceptions, and as readelf 2.40 does", () => {
    const rng = new Rng(20261125);
    const dir = mkdtempSync(join(tmpdir(), "ldsim-relocs-notes-"));
    const mismatches: string[] = [];
    try {
      for (let i = 0; i < 160; i++) {
        const seed = SEEDS[i % SEEDS.length];
        if (!seed) continue;
        const m = mutate(seed, rng);
        let elf: ElfFile;
        try {
          elf = ElfFile.fromBytes(m.bytes, `${seed.name}#${i}`);
        } catch (e) {
          expect(e).toBeInstanceOf(LdsimError);
          continue;
        }
        const path = join(dir, "m");
        if (hasReadelf) writeFileSync(path, m.bytes);
        for (const [opt, fmt] of [
          ["-rW", formatRelocations],
          ["-nW", formatNotes],
        ] as const) {
          let ours: string;
          try {
            ours = fmt(elf, { wide: true });
          } catch (e) {
            expect(e, `${seed.name}#${i} ${opt} ${m.kinds.join(",")}`).toBeInstanceOf(LdsimError);
            continue;
          }
          if (hasReadelf && ours !== readelf(opt, path))
            mismatches.push(`${seed.name}#${i} ${opt} ${m.kinds.join(",")}`);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(mismatches).toEqual([]);
  });
});
