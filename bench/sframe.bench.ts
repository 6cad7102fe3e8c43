/**
 * SFrame FRE lookup: ns per `findFre` (formats/sframe/find-fre.ts) on the fixture sections and on a
 * synthetic section of 50,000 functions built with the encoder, next to libsframe's own
 * `sframe_find_fre` timed on the same V1 bytes and the same PCs in the same run (bench/native/
 * sframe-lookup.c, built here with gcc against Debian's binutils-dev; the host libsframe is 2.40,
 * which reads V1 only). Both sides also report a checksum over the rows found, so the comparison is
 * between two lookups that gave the same answers.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ElfFile } from "../formats/elf/file.ts";
import { decodeSframe, type SframeSection, signExtend } from "../formats/sframe/decode.ts";
import {
  encodeSframe,
  type SframeDescription,
  type SframeFreDescription,
  type SframeFunctionDescription,
} from "../formats/sframe/encode.ts";
import { findFdeIndex, findFre } from "../formats/sframe/find-fre.ts";
import { locateSframe } from "../formats/sframe/locate.ts";

const ROOT = join(import.meta.dirname, "..");
const BUILD = join(ROOT, ".bench-build");
const FIXTURES = join(ROOT, "test/fixtures/sframe");
const NATIVE_SRC = join(import.meta.dirname, "native/sframe-lookup.c");
const NATIVE_BIN = join(BUILD, "sframe-lookup");

/** mulberry32: deterministic PCs, so every run measures the same lookups. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 50,000 gas-shaped x86-64 functions (push rbp; mov rbp,rsp; …; leave; ret), sorted, as ld writes them. */
export function syntheticDescription(version: 1 | 3, count = 50_000): SframeDescription {
  const functions: SframeFunctionDescription[] = [];
  // Text below the section, as in a linked object: starts are negative section-relative offsets.
  const textStart = -0x800000;
  const r = rng(42);
  let at = textStart;
  for (let i = 0; i < count; i++) {
    const size = 24 + Math.floor(r() * 200);
    const body = size - 2;
    const fres: SframeFreDescription[] = [
      { startOffset: 0, cfaBaseReg: 1, dataWords: [8] },
      { startOffset: 1, cfaBaseReg: 1, dataWords: [16, -16] },
      { startOffset: 4, cfaBaseReg: 0, dataWords: [16, -16] },
      { startOffset: body, cfaBaseReg: 1, dataWords: [8, -16] },
    ];
    functions.push({ start: at, size, fres });
    at += size + (i % 3 === 0 ? 16 - (size % 16) : 0);
  }
  return {
    version,
    littleEndian: true,
    // V1: SORTED (binutils 2.40 ld); V3: SORTED | PCREL (2.46 ld).
    flags: version === 1 ? 0x1 : 0x5,
    abiArch: 3,
    cfaFixedFpOffset: 0,
    cfaFixedRaOffset: -8,
    functions,
  };
}

/** Random section-relative PCs inside the section's functions. */
function pcsInside(section: SframeSection, n: number, seed: number): Int32Array {
  const r = rng(seed);
  const out = new Int32Array(n);
  const fdes = section.header.numFdes;
  for (let k = 0; k < n; k++) {
    const i = Math.floor(r() * fdes);
    const size = section.funcSizeAt(i);
    out[k] = section.funcStartAt(i) + Math.floor(r() * Math.max(size, 1));
  }
  return out;
}

interface Measured {
  readonly nsPerLookup: number;
  /** ldsim only: ns of the FDE binary search (findFdeIndex) alone. */
  readonly nsSearch?: number;
  readonly found: number;
  readonly checksum: number;
}

/** Time `findFre` over `pcs`, `rounds` times, after a warm-up pass that also builds the checksum. */
function measureLdsim(section: SframeSection, pcs: Int32Array, rounds: number): Measured {
  let found = 0;
  let checksum = 0;
  for (const pc of pcs) {
    const r = findFre(section, pc);
    if (r.ok) {
      found++;
      checksum += r.fre.startOffset + signExtend(r.fre.dataWords[0] ?? 0, r.fre.dataWordSize);
    }
  }
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < rounds; k++) {
    for (const pc of pcs) {
      const r = findFre(section, pc);
      if (r.ok) sink += r.fre.startOffset;
    }
  }
  const ns = Number(process.hrtime.bigint() - t0);
  // The FDE binary search alone, for where the time goes.
  const t1 = process.hrtime.bigint();
  for (let k = 0; k < rounds; k++) {
    for (const pc of pcs) sink += findFdeIndex(section, pc);
  }
  const nsSearch = Number(process.hrtime.bigint() - t1);
  if (sink === -1) process.stdout.write("");
  return { nsPerLookup: ns / (pcs.length * rounds), found, checksum, nsSearch: nsSearch / (pcs.length * rounds) };
}

/** Build the native harness; returns why not when it cannot be built. */
function buildNative(): string | undefined {
  if (!existsSync("/usr/include/sframe-api.h")) {
    return "/usr/include/sframe-api.h missing (Debian package binutils-dev)";
  }
  mkdirSync(BUILD, { recursive: true });
  try {
    execFileSync("gcc", ["-O2", "-o", NATIVE_BIN, NATIVE_SRC, "-lsframe"], { stdio: ["ignore", "pipe", "pipe"] });
    return undefined;
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    return `gcc failed: ${(err.stderr?.toString() || err.message).trim().split("\n")[0]}`;
  }
}

function measureNative(bytes: Uint8Array, pcs: Int32Array, rounds: number, tag: string): Measured | string {
  const secFile = join(BUILD, `${tag}.sframe`);
  const pcFile = join(BUILD, `${tag}.pcs`);
  writeFileSync(secFile, bytes);
  const le = new Uint8Array(pcs.length * 4);
  const dv = new DataView(le.buffer);
  pcs.forEach((pc, i) => {
    dv.setInt32(i * 4, pc, true);
  });
  writeFileSync(pcFile, le);
  try {
    const out = execFileSync(NATIVE_BIN, [secFile, pcFile, String(rounds)], { stdio: ["ignore", "pipe", "pipe"] });
    const j = JSON.parse(out.toString()) as { ns_per_lookup: number; found: number; checksum: number };
    return { nsPerLookup: j.ns_per_lookup, found: j.found, checksum: j.checksum };
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    return `native run failed: ${(err.stderr?.toString() || err.message).trim().split("\n")[0]}`;
  }
}

function fmt(n: number): string {
  return n.toFixed(1).padStart(8);
}

function row(name: string, ldsim: Measured, native: Measured | string | undefined): string {
  let nat = "";
  if (typeof native === "string") nat = `  native: ${native}`;
  else if (native) {
    const agree = native.found === ldsim.found && native.checksum === ldsim.checksum ? "same rows" : "ROWS DIFFER";
    nat = `  libsframe ${fmt(native.nsPerLookup)} ns  ratio ${(ldsim.nsPerLookup / native.nsPerLookup).toFixed(2)}x  (${agree})`;
  }
  const search = ldsim.nsSearch === undefined ? "" : ` (FDE search ${fmt(ldsim.nsSearch).trim()})`;
  return `${name.padEnd(28)} ldsim ${fmt(ldsim.nsPerLookup)} ns${search}  found ${ldsim.found}${nat}\n`;
}

export async function run(): Promise<void> {
  const why = buildNative();
  const native = why === undefined;
  if (!native) process.stdout.write(`native libsframe harness not built: ${why}; printing ldsim figures only\n`);
  process.stdout.write("SFrame findFre, ns per lookup (section-relative PCs, same PCs and bytes on both sides)\n");

  // Synthetic: 50,000 functions.
  for (const version of [1, 3] as const) {
    const bytes = encodeSframe(syntheticDescription(version));
    const section = decodeSframe(bytes);
    const pcs = pcsInside(section, 200_000, 7);
    const ldsim = measureLdsim(section, pcs, 10);
    const nat = native && version === 1 ? measureNative(bytes, pcs, 10, `synthetic-v${version}`) : undefined;
    process.stdout.write(row(`synthetic V${version} 50k fns (${bytes.length} B)`, ldsim, nat));
  }

  // Fixtures (linked objects: sorted). V1 ones also on libsframe 2.40.
  for (const ver of ["v1", "v3"]) {
    for (const arch of readdirSync(join(FIXTURES, ver)).sort()) {
      for (const f of ["liba.so", "libb.so", "main"]) {
        const path = join(FIXTURES, ver, arch, f);
        if (!existsSync(path)) continue;
        const elf = ElfFile.fromBytes(new Uint8Array(readFileSync(path)), path);
        const loc = locateSframe(elf);
        if (!loc) continue;
        const section = decodeSframe(loc.bytes);
        const pcs = pcsInside(section, 20_000, 11);
        const ldsim = measureLdsim(section, pcs, 20);
        const nat = native && ver === "v1" ? measureNative(loc.bytes, pcs, 20, `${ver}-${arch}-${f}`) : undefined;
        process.stdout.write(row(`${ver}/${arch}/${f}`, ldsim, nat));
      }
    }
  }
}

if (process.argv[1] !== undefined && /sframe\.bench\.ts$/.test(process.argv[1])) await run();
