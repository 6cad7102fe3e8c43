import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PT_GNU_SFRAME } from "../../formats/elf/constants.ts";
import { ElfFile } from "../../formats/elf/file.ts";
import { LIBB } from "./fixture-files.ts";

/** One directory per lab process for the copies and damaged variants the workloads map. */
let dir: string | undefined;
function labDir(): string {
  if (!dir) {
    const d = join(tmpdir(), `ldsim-lab-${process.pid}`);
    mkdirSync(d, { recursive: true });
    process.once("exit", () => rmSync(d, { recursive: true, force: true }));
    dir = d;
  }
  return dir;
}

/** A byte-identical copy of `src` under a new name (a distinct file: its own inode). */
export function copyOf(src: string, name: string): string {
  const p = join(labDir(), name);
  copyFileSync(src, p);
  return p;
}

/** The ways a library's SFrame can be unusable, each applied to a copy of libb.so. */
export type Damage = "missing" | "other-version" | "corrupt-header" | "corrupt-fre";

/**
 * A copy of libb.so with its SFrame damaged:
 * - missing: the PT_GNU_SFRAME program header turned into PT_NULL (as a library built without --gsframe);
 * - other-version: the section's version byte set to 2 (what binutils 2.41–2.45 emit; the series wants 3);
 * - corrupt-header: the magic overwritten;
 * - corrupt-fre: every byte of the FRE sub-section set to 0xff (header, FDE index intact).
 */
export function damagedLibb(damage: Damage): string {
  const bytes = new Uint8Array(readFileSync(LIBB));
  const elf = ElfFile.fromBytes(bytes, LIBB);
  const ph = elf.programHeaders.findIndex((p) => p.type === PT_GNU_SFRAME);
  const sf = elf.programHeaders[ph];
  if (!sf) throw new Error(`${LIBB} has no PT_GNU_SFRAME`);
  const off = Number(sf.offset);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (damage === "missing") {
    dv.setUint32(Number(elf.header.phoff) + ph * 56, 0, true);
  } else if (damage === "other-version") {
    bytes[off + 2] = 2;
  } else if (damage === "corrupt-header") {
    dv.setUint16(off, 0xbeef, true);
  } else {
    const auxLen = bytes[off + 7] as number;
    const freLen = dv.getUint32(off + 16, true);
    const freOff = dv.getUint32(off + 24, true);
    const start = off + 28 + auxLen + freOff;
    bytes.fill(0xff, start, start + freLen);
  }
  const p = join(labDir(), `libb-${damage}.so`);
  writeFileSync(p, bytes);
  return p;
}
