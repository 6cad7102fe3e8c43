import { describe, expect, it } from "vitest";
import { EhFrame } from "../../../formats/dwarf/eh-frame.ts";
import { ElfFile } from "../../../formats/elf/file.ts";
import { decodeSframe } from "../../../formats/sframe/decode.ts";
import { sframeFromCfi } from "../../../formats/sframe/from-cfi.ts";
import { interpretFre } from "../../../formats/sframe/interpret.ts";
import { locateSframe } from "../../../formats/sframe/locate.ts";

const FIX = new URL("../../fixtures/sframe/v3/x86_64/", import.meta.url).pathname;

/** Rows per function start: [pc offset, CFA base+offset, FP rule] as an unwinder sees them. */
function rows(bytes: Uint8Array, vaddr: bigint): Map<bigint, string[]> {
  const s = decodeSframe(bytes, { vaddr });
  const out = new Map<bigint, string[]>();
  for (const fn of s.functions()) {
    if (fn.fde.pcType !== "inc" || (fn.fde.version === 3 && fn.fde.fdeType !== 0)) continue;
    out.set(
      s.funcAddress(fn.fde),
      fn.fres.map((fre) => {
        const r = interpretFre({ header: s.header, version: s.version }, fn.fde, fre);
        const fp = r.fp.kind === "cfa" ? `c${r.fp.offset}` : r.fp.kind;
        return r.outermost
          ? `${fre.startOffset}:outermost`
          : `${fre.startOffset}:${r.cfa?.base}+${r.cfa?.offset}:${fp}`;
      }),
    );
  }
  return out;
}

describe("SFrame from .eh_frame (as gas builds it from the same CFI)", () => {
  for (const name of ["libb.so", "liba.so", "main"]) {
    it(`${name}: every default FDE gas emitted is reproduced row for row`, () => {
      const elf = ElfFile.openPath(FIX + name);
      const sec = elf.section(".eh_frame");
      if (!sec) throw new Error("no .eh_frame");
      const eh = new EhFrame(elf.sectionData(sec), sec.addr, true, true, name);
      const at = 0x9000n;
      const conv = sframeFromCfi(eh, 0n, at);
      const ours = rows(conv.bytes, at);
      const loc = locateSframe(elf);
      if (!loc) throw new Error("fixture has no SFrame");
      const gas = rows(loc.bytes, loc.vaddr);
      let compared = 0;
      for (const [pc, want] of gas) {
        const got = ours.get(pc);
        if (!got) continue; // e.g. a PLT FDE that ld made, with no .eh_frame counterpart here
        expect(got, `function at 0x${pc.toString(16)}`).toEqual(want);
        compared++;
      }
      expect(compared).toBeGreaterThanOrEqual(2);
      // The realigned function (DRAP: CFA from r10, then an expression) is left out, as gas 2.40 did.
      if (name === "libb.so") expect(conv.skipped.map((s) => s.reason).join()).toMatch(/register 10|expression/);
    });
  }
});
