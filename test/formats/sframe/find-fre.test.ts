/**
 * findFre against libsframe 2.46: every line of every `*.sframe-lookup.txt` (written by a program
 * linked against libsframe 2.46 that decoded each fixture and called sframe_find_fre), and every PC of
 * every PC-INC function against the FRE ranges libsframe reported.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeSframe, type SframeSection } from "../../../formats/sframe/decode.ts";
import { SframeFormatError } from "../../../formats/sframe/errors.ts";
import {
  findFdeIndex,
  findFre,
  findFreByAddress,
  findFreInto,
  SframeFreHit,
} from "../../../formats/sframe/find-fre.ts";
import { interpretFre } from "../../../formats/sframe/interpret.ts";
import type { SframeFde, SframeFre, SframeRegRule, SframeRow } from "../../../formats/sframe/types.ts";
import { FIXTURES, openFixture, parseLookup } from "./fixture-files.ts";

function signed(n: number): string {
  return n >= 0 ? `+${n}` : `${n}`;
}

/** Render a row the way the lookup files do (the libsframe-based dumper's notation). */
function lookupRules(fde: SframeFde, fre: SframeFre, row: SframeRow): string {
  if (row.outermost) return "RA-undefined (outermost frame)";
  const flex = fde.version === 3 && fde.fdeType === 1;
  const cfa = row.cfa;
  if (!cfa) throw new Error("non-outermost row without CFA");
  const cfaText = flex
    ? cfa.deref
      ? `(r${cfa.regnum}${signed(cfa.offset)})`
      : `r${cfa.regnum}${signed(cfa.offset)}`
    : `${cfa.base}${signed(cfa.offset)}`;
  const reg = (rule: SframeRegRule, source: string): string => {
    if (flex && source === "header") return "fixed";
    if (flex && source === "padding") return "padding(default rule)";
    switch (rule.kind) {
      case "same":
      case "undefined":
        return "u";
      case "cfa":
        return rule.deref ? `c${signed(rule.offset)}` : `c${signed(rule.offset)}(value)`;
      case "reg":
        return rule.deref ? `(r${rule.regnum}${signed(rule.offset)})` : `r${rule.regnum}${signed(rule.offset)}`;
    }
  };
  const text = `cfa=${cfaText} fp=${reg(row.fp, row.fpSource)} ra=${reg(row.ra, row.raSource)}`;
  return flex ? `${text} raw=[${fre.dataWords.map((w) => `0x${w.toString(16)}`).join(",")}]` : text;
}

const lookupFiles: string[] = [];
for (const arch of readdirSync(join(FIXTURES, "v3")).sort()) {
  for (const f of readdirSync(join(FIXTURES, "v3", arch)).sort()) {
    if (f.endsWith(".sframe-lookup.txt")) lookupFiles.push(`v3/${arch}/${f}`);
  }
}

describe("findFre agrees with libsframe 2.46 (sframe-lookup fixtures)", () => {
  it("has lookup fixtures for all three v3 ABIs", () => {
    expect(lookupFiles.length).toBe(18);
  });

  let totalLines = 0;
  let totalQueries = 0;
  for (const file of lookupFiles) {
    it(file, () => {
      const expected = parseLookup(readFileSync(join(FIXTURES, file), "utf8"));
      const sec: SframeSection = openFixture(join(FIXTURES, file.replace(/\.sframe-lookup\.txt$/, "")));
      const f = expected.fields;
      expect(sec.vaddr).toBe(BigInt(f.get("sframe_vaddr") ?? "-1"));
      expect(sec.version).toBe(Number(f.get("version")));
      expect(sec.header.preamble.flags).toBe(Number(f.get("flags")));
      expect(sec.header.abiArch).toBe(Number(f.get("abi")));
      expect(sec.header.cfaFixedFpOffset).toBe(Number(f.get("fixed_fp")));
      expect(sec.header.cfaFixedRaOffset).toBe(Number(f.get("fixed_ra")));
      expect(sec.numFdes).toBe(Number(f.get("num_fdes")));
      // `size` is the .sframe section size; the decoder's extent is header + sub-sections (+ zero padding).
      expect(sec.layout.fresEnd).toBeLessThanOrEqual(Number(f.get("size")));
      totalLines += 1;

      expect(sec.numFdes).toBe(expected.fdes.length);
      for (const e of expected.fdes) {
        const fde = sec.fde(e.index);
        expect(sec.funcAddress(fde), `fde[${e.index}] start`).toBe(e.start);
        expect({
          size: fde.funcSize,
          nfres: fde.numFres,
          freType: fde.freType,
          pcType: fde.pcType,
          fdeType: fde.version === 3 ? (fde.fdeType === 1 ? "flex" : "default") : "default",
          signal: fde.version === 3 && fde.signal,
        }).toEqual({
          size: e.size,
          nfres: e.nfres,
          freType: e.freType,
          pcType: e.pcType,
          fdeType: e.fdeType,
          signal: e.signal,
        });
        totalLines += 1;
        const fres = sec.fres(fde);
        expect(fres.length).toBe(e.fres.length);
        for (const ef of e.fres) {
          const fre = fres[ef.index] as SframeFre;
          expect(fre.startOffset, `fde[${e.index}] fre[${ef.index}] start`).toBe(ef.start);
          expect(lookupRules(fde, fre, interpretFre(sec, fde, fre)), `fde[${e.index}] fre[${ef.index}]`).toBe(ef.rules);
          totalLines += 1;
          if (ef.query) {
            expect(ef.query.result).toBe("ok");
            const r = findFreByAddress(sec, ef.query.pc);
            if (!r.ok) throw new Error(`find_fre(0x${ef.query.pc.toString(16)}): ${r.code} ${r.message}`);
            expect(r.fde.index).toBe(e.index);
            expect(r.fre.index).toBe(ef.index);
            expect(r.fre.startOffset).toBe(ef.start);
            totalQueries += 1;
          }
        }
      }
      // A relocatable object is not sorted (gas leaves that to ld): libsframe refuses to search it.
      if (expected.relocatable) {
        expect(sec.sorted).toBe(false);
        expect(findFre(sec, 0)).toMatchObject({ ok: false, code: "SFRAME_ERR_FDE_NOTSORTED" });
      }
    });
  }

  it("every PC inside every PC-INC function maps to the FRE libsframe's ranges imply", () => {
    let checked = 0;
    for (const file of lookupFiles) {
      const expected = parseLookup(readFileSync(join(FIXTURES, file), "utf8"));
      if (expected.relocatable) continue;
      const sec = openFixture(join(FIXTURES, file.replace(/\.sframe-lookup\.txt$/, "")));
      for (const e of expected.fdes) {
        if (e.pcType !== "inc") continue;
        for (let off = 0; off < e.size; off++) {
          let want = -1;
          for (const f of e.fres) if (f.start <= off) want = f.index;
          const r = findFreByAddress(sec, e.start + BigInt(off));
          if (want < 0) {
            expect(r.ok).toBe(false);
          } else {
            if (!r.ok) throw new Error(`${file} fde[${e.index}] +${off}: ${r.code}`);
            expect(r.fde.index).toBe(e.index);
            expect(r.fre.index).toBe(want);
          }
          checked++;
        }
        // Just past the function: covered by the next function or nothing, never by this one.
        const after = findFreByAddress(sec, e.start + BigInt(e.size));
        if (after.ok) expect(after.fde.index).not.toBe(e.index);
      }
    }
    expect(checked).toBeGreaterThan(2000);
  });

  it("PLT (PC-MASK) FDEs: rep_size 16 and lookups modulo the block", () => {
    const sec = openFixture(join(FIXTURES, "v3/x86_64/main"));
    const expected = parseLookup(readFileSync(join(FIXTURES, "v3/x86_64/main.sframe-lookup.txt"), "utf8"));
    const plt = expected.fdes.find((f) => f.pcType === "mask" && f.nfres === 2);
    if (!plt) throw new Error("no PLT FDE in fixture");
    const fde = sec.fde(plt.index);
    expect(fde.repSize).toBe(16);
    const second = plt.fres[1]?.start ?? 0;
    for (let off = 0; off < plt.size; off++) {
      const r = findFreByAddress(sec, plt.start + BigInt(off));
      if (!r.ok) throw new Error(`PLT +${off}: ${r.code}`);
      expect(r.fre.index).toBe(off % 16 >= second ? 1 : 0);
      expect(r.pcOffset).toBe(off % 16);
    }
  });

  it("is lazy and reuses records: a corrupt FDE elsewhere does not stop lookups; warm answers share objects", () => {
    const good = openFixture(join(FIXTURES, "v3/x86_64/main"));
    const bytes = good.bytes.slice();
    // FDE 6's attribute block pointer far outside the FRE sub-section: a full decode fails there.
    new DataView(bytes.buffer).setUint32(good.fdeOffset(6) + 12, 0xfffffff0, true);
    const sec = decodeSframe(bytes, { vaddr: good.vaddr });
    expect(() => sec.functions()).toThrow(SframeFormatError);
    const pc = good.funcStartAt(3) + 4;
    const a = findFre(sec, pc);
    const b = findFre(sec, pc);
    expect(a).toMatchObject({ ok: true, fde: { index: 3 }, fre: { index: 1 } });
    if (!a.ok || !b.ok) throw new Error("lookup failed");
    expect(b.fde).toBe(a.fde);
    expect(b.fre).toBe(a.fre);
    expect(findFre(sec, good.funcStartAt(6))).toMatchObject({ ok: false, code: "bounds" });
  });

  it("findFreInto fills one reused record with findFre's answer for every PC of every fixture", () => {
    const hit = new SframeFreHit();
    let compared = 0;
    for (const ver of ["v1", "v3"]) {
      for (const arch of readdirSync(join(FIXTURES, ver)).sort()) {
        for (const f of ["main", "liba.so", "libb.so", "liba.o"]) {
          const sec = openFixture(join(FIXTURES, ver, arch, f));
          let lo = 0;
          let hi = 0;
          for (let i = 0; i < sec.numFdes; i++) {
            lo = Math.min(lo, sec.funcStartAt(i));
            hi = Math.max(hi, sec.funcStartAt(i) + sec.funcSizeAt(i));
          }
          for (let pc = lo - 4; pc <= hi + 4; pc++) {
            const r = findFre(sec, pc);
            const found = findFreInto(sec, pc, hit);
            // One string per answer: an expect() per PC would dominate the run time.
            const want = r.ok
              ? `ok ${r.fde.index} ${r.fre.index} ${r.fre.offset} ${r.fre.startOffset} ${r.fre.info} ${r.fre.dataWordSize} ${r.pcOffset} ${r.fre.dataWords.join(",")}`
              : `${r.code} ${r.message}`;
            const got = found
              ? `ok ${hit.fdeIndex} ${hit.freIndex} ${hit.freOffset} ${hit.startOffset} ${hit.info} ${hit.dataWordSize} ${hit.pcOffset} ${hit.dataWords.subarray(0, hit.dataWordCount).join(",")}`
              : `${hit.code} ${hit.message}`;
            if (got !== want) expect(got, `${ver}/${arch}/${f} pc ${pc}`).toBe(want);
            if (r.ok && findFdeIndex(sec, pc) !== r.fde.index) expect(findFdeIndex(sec, pc)).toBe(r.fde.index);
            compared++;
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(10000);
  });

  it("a V3 start beyond 2^53 met by the search is SFRAME_ERR_FDE_INVAL, elsewhere harmless", () => {
    const good = openFixture(join(FIXTURES, "v3/x86_64/main"));
    const bytes = good.bytes.slice();
    const last = good.numFdes - 1;
    new DataView(bytes.buffer).setInt32(good.fdeOffset(last) + 4, 0x40000000, true);
    const sec = decodeSframe(bytes);
    expect(findFre(sec, good.funcStartAt(0))).toMatchObject({ ok: true, fde: { index: 0 } });
    const hit = new SframeFreHit();
    expect(findFreInto(sec, good.funcStartAt(last), hit)).toBe(false);
    expect(hit.code).toBe("SFRAME_ERR_FDE_INVAL");
    expect(hit.message).toMatch(/does not fit in 53 bits/);
    expect(() => findFdeIndex(sec, good.funcStartAt(last))).toThrow(SframeFormatError);
  });

  it("reports the counts it checked", () => {
    // Runs last in this file: the per-file tests above have populated the counters.
    expect(totalLines).toBeGreaterThan(150);
    expect(totalQueries).toBe(113);
    console.log(
      `sframe-lookup parity: ${lookupFiles.length} files, ${totalLines} lines, ${totalQueries} find_fre answers identical`,
    );
  });
});
