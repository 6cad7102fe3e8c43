/**
 * SFrame FRE lookup: ns per lookup on the fixture sections and on a synthetic section of 50,000
 * functions built with the encoder, next to libsframe's own `sframe_find_fre` timed on the same V1
 * bytes and the same PCs in the same run (bench/native/sframe-lookup.c, built here with gcc against
 * Debian's binutils-dev; the host libsframe is 2.40, which reads V1 only).
 *
 * Two ldsim figures per row: `findFreInto` (formats/sframe/find-fre.ts), the like-for-like peer of
 * `sframe_find_fre` — both fill a caller-owned row record (start address, info byte, data words
 * copied out) — and `findFre`, which answers with the section's memoised FDE/FRE records.
 *
 * Fairness: every side looks up the same PCs the same number of times and consumes every answer (a
 * sum over the rows found); a checksum over the rows (FRE start + CFA offset) must agree between the
 * three before a ratio is printed ("same rows"). Times are CPU time (process.cpuUsage() here, which
 * also counts V8's GC/compiler threads against ldsim; CLOCK_PROCESS_CPUTIME_ID in the harness), so
 * time spent descheduled on a busy machine counts on neither side. Each row is measured REPS times,
 * alternating native and ldsim runs, and the medians are printed.
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
import { findFre, findFreInto, SframeFreHit } from "../formats/sframe/find-fre.ts";
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

/** Measurements per row (medians over REPS alternating runs). */
const REPS = 5;

interface Measured {
  readonly nsPerLookup: number;
  readonly found: number;
  readonly checksum: number;
}

/** CPU time of the process in ns (µs resolution; every timed run lasts tens of ms or more). */
function cpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

/** Rows found and the checksum the native harness also computes: sum of FRE start + CFA offset. */
function checkInto(section: SframeSection, pcs: Int32Array): { found: number; checksum: number } {
  const hit = new SframeFreHit();
  let found = 0;
  let checksum = 0;
  for (const pc of pcs) {
    if (findFreInto(section, pc, hit)) {
      found++;
      checksum +=
        hit.startOffset + (hit.dataWordCount > 0 ? signExtend(hit.dataWords[0] as number, hit.dataWordSize) : 0);
    }
  }
  return { found, checksum };
}

function checkRecords(section: SframeSection, pcs: Int32Array): { found: number; checksum: number } {
  let found = 0;
  let checksum = 0;
  for (const pc of pcs) {
    const r = findFre(section, pc);
    if (r.ok) {
      found++;
      checksum += r.fre.startOffset + signExtend(r.fre.dataWords[0] ?? 0, r.fre.dataWordSize);
    }
  }
  return { found, checksum };
}

// The timed loops: `rounds` passes over `pcs`, every answer consumed, as the native harness does.
function loopInto(section: SframeSection, pcs: Int32Array, rounds: number, hit: SframeFreHit): number {
  let sink = 0;
  for (let k = 0; k < rounds; k++) {
    for (let i = 0; i < pcs.length; i++) {
      if (findFreInto(section, pcs[i] as number, hit)) sink += hit.startOffset;
    }
  }
  return sink;
}

function loopRecords(section: SframeSection, pcs: Int32Array, rounds: number): number {
  let sink = 0;
  for (let k = 0; k < rounds; k++) {
    for (let i = 0; i < pcs.length; i++) {
      const r = findFre(section, pcs[i] as number);
      if (r.ok) sink += r.fre.startOffset;
    }
  }
  return sink;
}

let sink = 0;

/** ns per lookup of one timed run (after the checking pass, which also warms the section and JIT). */
function timeInto(section: SframeSection, pcs: Int32Array, rounds: number): number {
  const hit = new SframeFreHit();
  const t0 = cpuNs();
  sink += loopInto(section, pcs, rounds, hit);
  return (cpuNs() - t0) / (pcs.length * rounds);
}

function timeRecords(section: SframeSection, pcs: Int32Array, rounds: number): number {
  const t0 = cpuNs();
  sink += loopRecords(section, pcs, rounds);
  return (cpuNs() - t0) / (pcs.length * rounds);
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

/** Write the section and PCs for the harness once per row. */
function nativeInputs(bytes: Uint8Array, pcs: Int32Array, tag: string): [string, string] {
  const secFile = join(BUILD, `${tag}.sframe`);
  const pcFile = join(BUILD, `${tag}.pcs`);
  writeFileSync(secFile, bytes);
  const le = new Uint8Array(pcs.length * 4);
  const dv = new DataView(le.buffer);
  pcs.forEach((pc, i) => {
    dv.setInt32(i * 4, pc, true);
  });
  writeFileSync(pcFile, le);
  return [secFile, pcFile];
}

function runNative(files: [string, string], rounds: number): Measured | string {
  try {
    const out = execFileSync(NATIVE_BIN, [...files, String(rounds)], { stdio: ["ignore", "pipe", "pipe"] });
    const j = JSON.parse(out.toString()) as { ns_per_lookup: number; found: number; checksum: number };
    return { nsPerLookup: j.ns_per_lookup, found: j.found, checksum: j.checksum };
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    return `native run failed: ${(err.stderr?.toString() || err.message).trim().split("\n")[0]}`;
  }
}

interface RowFigures {
  readonly into: Measured;
  readonly records: Measured;
  readonly native: Measured | string | undefined;
}

/** REPS alternating runs of libsframe (when `native`), findFreInto and findFre; medians. */
function measureRow(
  section: SframeSection,
  pcs: Int32Array,
  rounds: number,
  native: [string, string] | undefined,
): RowFigures {
  const intoCheck = checkInto(section, pcs);
  const recCheck = checkRecords(section, pcs);
  const tInto: number[] = [];
  const tRec: number[] = [];
  const tNat: number[] = [];
  let nat: Measured | string | undefined;
  for (let r = 0; r < REPS; r++) {
    if (native && typeof nat !== "string") {
      nat = runNative(native, rounds);
      if (typeof nat !== "string") tNat.push(nat.nsPerLookup);
    }
    tInto.push(timeInto(section, pcs, rounds));
    tRec.push(timeRecords(section, pcs, rounds));
  }
  if (nat !== undefined && typeof nat !== "string") nat = { ...nat, nsPerLookup: median(tNat) };
  return {
    into: { nsPerLookup: median(tInto), ...intoCheck },
    records: { nsPerLookup: median(tRec), ...recCheck },
    native: nat,
  };
}

function fmt(n: number): string {
  return n.toFixed(1).padStart(8);
}

function row(name: string, f: RowFigures): string {
  const same = (m: Measured, n: Measured) => m.found === n.found && m.checksum === n.checksum;
  let text = `${name.padEnd(30)} ${fmt(f.into.nsPerLookup)} ${fmt(f.records.nsPerLookup)}`;
  if (!same(f.into, f.records)) text += "  findFre/findFreInto ROWS DIFFER";
  const n = f.native;
  if (typeof n === "string") text += `  native: ${n}`;
  else if (n) {
    const ratio = (m: Measured) => (m.nsPerLookup / n.nsPerLookup).toFixed(2).padStart(6);
    text += ` ${fmt(n.nsPerLookup)} ${ratio(f.into)}x ${ratio(f.records)}x  ${same(f.into, n) ? "same rows" : "ROWS DIFFER"}`;
  }
  return `${text}  (${f.into.found} found)\n`;
}

export async function run(): Promise<void> {
  const why = buildNative();
  const native = why === undefined;
  if (!native) process.stdout.write(`native libsframe harness not built: ${why}; printing ldsim figures only\n`);
  process.stdout.write(
    `SFrame FRE lookup, CPU ns per lookup, median of ${REPS} alternating runs (section-relative PCs, same PCs and bytes on every side)\n`,
  );
  process.stdout.write(
    `${"section".padEnd(30)} ${"Into".padStart(8)} ${"findFre".padStart(8)} ${"libsframe".padStart(8)} ${"Into/lib".padStart(7)} ${"fF/lib".padStart(7)}\n`,
  );

  // Synthetic: 50,000 functions.
  for (const version of [1, 3] as const) {
    const bytes = encodeSframe(syntheticDescription(version));
    const section = decodeSframe(bytes);
    const pcs = pcsInside(section, 200_000, 7);
    const files = native && version === 1 ? nativeInputs(bytes, pcs, `synthetic-v${version}`) : undefined;
    process.stdout.write(row(`synthetic V${version} 50k fns (${bytes.length} B)`, measureRow(section, pcs, 5, files)));
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
        const files = native && ver === "v1" ? nativeInputs(loc.bytes, pcs, `${ver}-${arch}-${f}`) : undefined;
        process.stdout.write(row(`${ver}/${arch}/${f}`, measureRow(section, pcs, 50, files)));
      }
    }
  }
  if (sink === -1) process.stdout.write("\n");
}

if (process.argv[1] !== undefined && /sframe\.bench\.ts$/.test(process.argv[1])) await run();
