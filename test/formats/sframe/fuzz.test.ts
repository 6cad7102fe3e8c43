/**
 * Robustness of the SFrame reader on hostile bytes: every truncation of every fixture, seeded random
 * corruption (fast-check, fixed seeds), and the specific malformations the kernel and libsframe must
 * survive. Properties: only typed errors (SframeFormatError from the decoder, errno results from the
 * kernel model) — never a RangeError from an out-of-bounds DataView read, a hang, or a huge allocation.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ElfFile } from "../../../formats/elf/file.ts";
import { decodeSframe, decodeSframeData, type SframeSection } from "../../../formats/sframe/decode.ts";
import { SframeFormatError } from "../../../formats/sframe/errors.ts";
import { findFre, findFreInto, SframeFreHit } from "../../../formats/sframe/find-fre.ts";
import { interpretFre } from "../../../formats/sframe/interpret.ts";
import { kernelFindFrame } from "../../../formats/sframe/kernel-find.ts";
import { locateSframe } from "../../../formats/sframe/locate.ts";
import { validateSframeForKernel } from "../../../formats/sframe/validate.ts";
import { FIXTURES } from "./fixture-files.ts";

const START = 0x7f0000100000n;

interface Sample {
  readonly name: string;
  readonly bytes: Uint8Array;
  readonly le: boolean;
}

const SAMPLES: Sample[] = ["v3/x86_64", "v3/aarch64", "v3/s390x", "v1/x86_64", "v1/aarch64"].flatMap((dir) =>
  ["main", "libb.so", "liba.o"].map((f) => {
    const elf = ElfFile.fromBytes(new Uint8Array(readFileSync(join(FIXTURES, dir, f))));
    const loc = locateSframe(elf);
    if (!loc) throw new Error(`${dir}/${f}`);
    return { name: `${dir}/${f}`, bytes: loc.bytes.slice(), le: elf.littleEndian };
  }),
);

/** Exercise every reader on `bytes`; fail on anything but a typed error. Returns what happened. */
function exercise(bytes: Uint8Array, le: boolean, pcs: readonly number[]): string {
  let outcome = "decoded";
  let sec: SframeSection | undefined;
  try {
    sec = decodeSframe(bytes, { strictFlags: false });
    const data = decodeSframeData(bytes, { strictFlags: false });
    // Everything decoded lies inside its sub-section.
    for (const fn of data.functions) {
      for (const fre of fn.fres) {
        expect(fre.offset).toBeGreaterThanOrEqual(data.layout.fresOffset);
        expect(fre.offset + fre.size).toBeLessThanOrEqual(data.layout.fresEnd);
        try {
          interpretFre(sec, fn.fde, fre);
        } catch (e) {
          if (!(e instanceof SframeFormatError)) throw e;
        }
      }
    }
  } catch (e) {
    if (!(e instanceof SframeFormatError)) throw e;
    outcome = `decode:${e.kind}`;
  }
  if (sec) {
    const hit = new SframeFreHit();
    for (const pc of pcs) {
      const r = findFre(sec, pc);
      // The allocation-free path gives the same answer (or the same failure) on hostile bytes too.
      const into = findFreInto(sec, pc, hit);
      expect(into).toBe(r.ok);
      if (r.ok) {
        expect(r.fre.startOffset).toBeLessThanOrEqual(r.pcOffset);
        expect(r.fre.offset + r.fre.size).toBeLessThanOrEqual(sec.layout.fresEnd);
        expect([hit.fdeIndex, hit.freIndex, hit.freOffset, hit.pcOffset]).toEqual([
          r.fde.index,
          r.fre.index,
          r.fre.offset,
          r.pcOffset,
        ]);
        expect(Array.from(hit.dataWords.subarray(0, hit.dataWordCount))).toEqual(r.fre.dataWords);
      } else {
        expect([hit.code, hit.message]).toEqual([r.code, r.message]);
      }
    }
  }
  const v = validateSframeForKernel(bytes, { sframeStart: START, littleEndian: le });
  if (!v.ok) {
    expect(["EINVAL", "EFAULT"]).toContain(v.errno);
    expect(v.message.length).toBeGreaterThan(0);
    expect(v.expected.length).toBeGreaterThan(0);
    return `${outcome} kernel:${v.errno}`;
  }
  // A section that passed CONFIG_SFRAME_VALIDATION never makes a lookup fault (and so is never removed).
  for (const pc of pcs) {
    const r = kernelFindFrame(bytes, v.section, START + BigInt(pc), { littleEndian: le });
    if (!r.ok) expect(r.errno).toBe("EINVAL");
  }
  return `${outcome} kernel:ok`;
}

/** PCs around the functions of a section (section-relative), plus a few wild ones. */
function pcsFor(bytes: Uint8Array): number[] {
  const pcs = [0, -1, 0x7fffffff, -0x80000000];
  try {
    const sec = decodeSframe(bytes, { strictFlags: false });
    for (let i = 0; i < Math.min(sec.numFdes, 16); i++) {
      const s = sec.funcStartAt(i);
      const n = sec.funcSizeAt(i);
      pcs.push(s - 1, s, s + 1, s + (n >> 1), s + n - 1, s + n);
    }
  } catch {
    // corrupted beyond decoding: the wild PCs are enough
  }
  return pcs;
}

describe("SFrame fuzz (deterministic)", () => {
  it("every truncation of every fixture yields a typed error or a consistent decode", () => {
    const seen = new Map<string, number>();
    for (const s of SAMPLES) {
      const pcs = pcsFor(s.bytes);
      for (let n = 0; n <= s.bytes.length; n++) {
        const o = exercise(s.bytes.subarray(0, n), s.le, pcs);
        seen.set(o, (seen.get(o) ?? 0) + 1);
      }
    }
    // Short inputs are refused by both readers.
    expect([...seen.keys()].some((k) => k.startsWith("decode:truncated"))).toBe(true);
    expect([...seen.keys()].some((k) => k.includes("kernel:EFAULT"))).toBe(true);
  });

  it("random byte corruption (seeded)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: SAMPLES.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: -0x10000, max: 0x10000 }), { maxLength: 8 }),
        (which, patches, extraPcs) => {
          const s = SAMPLES[which] as Sample;
          const b = s.bytes.slice();
          for (const [at, v] of patches) b[at % b.length] = v;
          exercise(b, s.le, [...pcsFor(s.bytes), ...extraPcs]);
        },
      ),
      { seed: 0x5f4a3e, numRuns: 1500 },
    );
  });

  it("header-field corruption: counts and offsets set to extremes", () => {
    const fields = [8, 12, 16, 20, 24]; // num_fdes, num_fres, fre_len, fdeoff, freoff
    const values = [0, 1, 2, 0x7f, 0xff, 0xffff, 0x10000, 0x7fffffff, 0xffffffff];
    for (const s of SAMPLES) {
      const pcs = pcsFor(s.bytes);
      for (const at of fields) {
        for (const v of values) {
          const b = s.bytes.slice();
          new DataView(b.buffer).setUint32(at, v, s.le);
          exercise(b, s.le, pcs);
        }
      }
    }
  });

  it("per-FDE and per-FRE malformations from the brief give typed errors", () => {
    const s = SAMPLES[0] as Sample; // v3/x86_64/main
    const sec = decodeSframe(s.bytes);
    const pcs = pcsFor(s.bytes);
    const cases: Array<[string, (b: Uint8Array, dv: DataView) => void, RegExp]> = [];
    for (let i = 0; i < sec.numFdes; i++) {
      const fde = sec.fde(i);
      if (fde.version !== 3) continue;
      const o = fde.offset;
      const a = fde.attrOffset;
      cases.push([
        `FDE ${i} start_fre_off beyond FREs`,
        (_b, dv) => dv.setUint32(o + 12, 0xfffffff0, true),
        /decode:bad-fde kernel:EINVAL/,
      ]);
      cases.push([`FDE ${i} num_fres 0xffff`, (_b, dv) => dv.setUint16(a, 0xffff, true), /kernel:EFAULT/]);
      cases.push([
        `FDE ${i} rep_size 0 with PC type MASK`,
        (b) => {
          b[a + 2] = (b[a + 2] as number) | 0x10;
          b[a + 4] = 0;
        },
        /./,
      ]);
      cases.push([
        `FDE ${i} FRE type 3`,
        (b) => {
          b[a + 2] = ((b[a + 2] as number) & 0xf0) | 3;
        },
        /kernel:EFAULT/,
      ]);
      cases.push([
        `FDE ${i} FDE type 31`,
        (b) => {
          b[a + 3] = 0x1f;
        },
        /./,
      ]);
      cases.push([
        `FDE ${i} overlaps its predecessor`,
        (_b, dv) => dv.setBigInt64(o, dv.getBigInt64(o, true) - 16n - 2n, true),
        /./,
      ]);
      cases.push([`FDE ${i} func_size 0xffffffff`, (_b, dv) => dv.setUint32(o + 8, 0xffffffff, true), /./]);
      for (const fre of sec.fres(fde)) {
        const info = fre.offset + 1;
        cases.push([
          `FDE ${i} FRE ${fre.index} offset count 15`,
          (b) => {
            b[info] = (fre.info & ~0x1e) | (15 << 1);
          },
          /./,
        ]);
        cases.push([
          `FDE ${i} FRE ${fre.index} data-word size code 3`,
          (b) => {
            b[info] = fre.info | 0x60;
          },
          /kernel:EFAULT/,
        ]);
        // Only PC-INC FREs are bounded by the function size (MASK starts are offsets in the block).
        cases.push([
          `FDE ${i} FRE ${fre.index} start beyond the function`,
          (b) => {
            b[fre.offset] = 0xff;
          },
          fde.pcType === "inc" ? /kernel:EFAULT/ : /./,
        ]);
      }
    }
    for (const [name, patch, want] of cases) {
      const b = s.bytes.slice();
      patch(b, new DataView(b.buffer));
      expect(exercise(b, s.le, pcs), name).toMatch(want);
    }
    expect(cases.length).toBeGreaterThan(60);
  });

  it("unsorted FDE tables: the decoder still reads them, libsframe's search refuses, the kernel faults", () => {
    const s = SAMPLES[0] as Sample;
    const b = s.bytes.slice();
    const sec = decodeSframe(s.bytes); // lazy: reads its own (unmodified) bytes
    // Swap the index entries of FDE 0 and FDE 1 (fixing up the PC-relative starts).
    const dv = new DataView(b.buffer);
    const o0 = sec.fdeOffset(0);
    const o1 = sec.fdeOffset(1);
    const e0 = b.slice(o0, o0 + 16);
    const e1 = b.slice(o1, o1 + 16);
    b.set(e1, o0);
    b.set(e0, o1);
    dv.setBigInt64(o0, dv.getBigInt64(o0, true) + 16n, true);
    dv.setBigInt64(o1, dv.getBigInt64(o1, true) - 16n, true);
    expect(decodeSframe(b).fde(0).funcStart).toBe(sec.fde(1).funcStart);
    const v = validateSframeForKernel(b, { sframeStart: START });
    expect(v).toMatchObject({ ok: false, errno: "EFAULT", check: "FDE not sorted" });
    // Clearing SORTED makes libsframe refuse to search at all.
    b[3] = (b[3] as number) & ~1;
    expect(findFre(decodeSframe(b), sec.fde(0).funcStart)).toMatchObject({
      ok: false,
      code: "SFRAME_ERR_FDE_NOTSORTED",
    });
  });
});
