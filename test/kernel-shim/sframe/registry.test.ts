import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SframeRegistry, type SframeSection } from "../../../kernel-shim/sframe/registry.ts";

function sec(textStart: bigint, textLen: bigint, sframeStart = 0x1000n): SframeSection {
  return {
    sframeStart,
    sframeEnd: sframeStart + 0x100n,
    textStart,
    textEnd: textStart + textLen,
    fdesStart: sframeStart + 28n,
    fresStart: sframeStart + 60n,
    fresEnd: sframeStart + 0x100n,
    numFdes: 2,
    raOff: -8,
    fpOff: 0,
    version: 3,
    origin: "syscall",
  };
}

describe("SframeRegistry (maple tree semantics)", () => {
  it("claims the inclusive end byte: text ending where the next begins collides with EEXIST", () => {
    const r = new SframeRegistry();
    expect(r.insert(sec(0x2000n, 0x1000n))).toEqual({ ok: true });
    // [0x2000, 0x3000] is stored; a range starting at 0x3000 overlaps at that single byte.
    expect(r.insert(sec(0x3000n, 0x1000n, 0x9000n))).toEqual({ ok: false, errno: "EEXIST" });
    expect(r.insert(sec(0x3001n, 0x1000n, 0x9000n))).toEqual({ ok: true });
    expect(r.lookup(0x3000n)?.textStart).toBe(0x2000n);
    expect(r.lookup(0x3001n)?.textStart).toBe(0x3001n);
    expect(r.lookup(0x1fffn)).toBeUndefined();
  });

  it("rejects first > last with EINVAL and overlaps on either side with EEXIST", () => {
    const r = new SframeRegistry();
    expect(r.insert({ ...sec(0x5000n, 0n), textEnd: 0x4fffn })).toEqual({ ok: false, errno: "EINVAL" });
    expect(r.insert(sec(0x5000n, 0x100n))).toEqual({ ok: true });
    expect(r.insert(sec(0x4f00n, 0x100n))).toEqual({ ok: false, errno: "EEXIST" });
    expect(r.insert(sec(0x50ffn, 0x10n))).toEqual({ ok: false, errno: "EEXIST" });
    expect(r.insert(sec(0x4000n, 0x2000n))).toEqual({ ok: false, errno: "EEXIST" });
  });

  it("removes every text range registered for one sframe start", () => {
    const r = new SframeRegistry();
    r.insert(sec(0x1000n, 0x10n, 0xa000n));
    r.insert(sec(0x2000n, 0x10n, 0xa000n));
    r.insert(sec(0x3000n, 0x10n, 0xb000n));
    expect(r.removeBySframeStart(0xa000n)).toBe(2);
    expect(r.removeBySframeStart(0xa000n)).toBe(0);
    expect(r.list().map((e) => e.textStart)).toEqual([0x3000n]);
  });

  it("agrees with a linear reference model over random inserts, removals and lookups", () => {
    const op = fc.oneof(
      fc.record({
        k: fc.constant("ins" as const),
        start: fc.bigInt(1n, 400n),
        len: fc.bigInt(0n, 40n),
        sf: fc.bigInt(1n, 5n),
      }),
      fc.record({ k: fc.constant("rm" as const), sf: fc.bigInt(1n, 5n) }),
      fc.record({ k: fc.constant("look" as const), pc: fc.bigInt(0n, 450n) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const r = new SframeRegistry();
        const model: SframeSection[] = [];
        for (const o of ops) {
          if (o.k === "ins") {
            const s = sec(o.start, o.len, o.sf);
            const clash = model.some((m) => m.textStart <= s.textEnd && s.textStart <= m.textEnd);
            const res = r.insert(s);
            expect(res.ok).toBe(!clash);
            if (!clash) model.push(s);
          } else if (o.k === "rm") {
            const n = model.filter((m) => m.sframeStart === o.sf).length;
            expect(r.removeBySframeStart(o.sf)).toBe(n);
            for (let i = model.length - 1; i >= 0; i--) if (model[i]?.sframeStart === o.sf) model.splice(i, 1);
          } else {
            const want = model.find((m) => m.textStart <= o.pc && o.pc <= m.textEnd);
            expect(r.lookup(o.pc)).toBe(want);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
