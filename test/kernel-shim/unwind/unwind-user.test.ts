import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { SframeRow } from "../../../formats/sframe/types.ts";
import type { SframeFinder, UnwindMemory } from "../../../kernel-shim/unwind/types.ts";
import { unwindUser } from "../../../kernel-shim/unwind/unwind-user.ts";

/** A sparse word-addressed memory: unmapped words fault. */
function memory(words: Record<string, bigint>): UnwindMemory {
  const m = new Map(Object.entries(words).map(([k, v]) => [BigInt(k), v]));
  return { readWord: (addr) => m.get(addr) };
}

/** x86_64 SFrame row: CFA = SP + off, RA at CFA-8, FP retained (a function without frame pointer). */
function spRow(off: number): SframeRow {
  return {
    cfa: { base: "sp", regnum: 7, offset: off, deref: false },
    ra: { kind: "cfa", offset: -8, deref: true },
    raSource: "header",
    fp: { kind: "same" },
    fpSource: "absent",
    outermost: false,
    signal: false,
    mangledRa: false,
    pauthKey: 0,
    spOffset: 0,
  };
}

function finder(rows: Array<[bigint, bigint, SframeRow]>): SframeFinder {
  return {
    find(pc) {
      const hit = rows.find(([lo, hi]) => pc >= lo && pc < hi);
      return hit ? { ok: true, row: hit[2], section: 0x1000n } : { ok: false, errno: "EINVAL", reason: "no section" };
    },
  };
}

describe("unwindUser (kernel/unwind/user.c)", () => {
  it("walks a frame-pointer chain and stops when the chain ends", () => {
    // fp0 = 0x7000: [0x7000] = 0x7100 (caller fp), [0x7008] = RA 0x401234
    const mem = memory({ "0x7000": 0x7100n, "0x7008": 0x401234n, "0x7100": 0n, "0x7108": 0x401000n });
    const t = unwindUser("x86_64", { pc: 0x400500n, sp: 0x6ff0n, fp: 0x7000n }, mem, null);
    expect(t.frames.map((f) => f.pc)).toEqual([0x400500n, 0x401234n, 0x401000n]);
    expect(t.frames[0]?.method).toBe("fp");
    // Third step: fp = 0 < sp → the kernel's "fp < sp" check ends the trace.
    expect(t.stop.kind).toBe("fp-step-failed");
  });

  it("uses SFrame where a section covers the PC and FP elsewhere", () => {
    // Leaf without frame pointer at 0x500000 (CFA = SP+0x20), caller uses FP.
    const mem = memory({ "0x6010": 0x400800n, "0x7000": 0n, "0x7008": 0x400100n });
    const f = finder([[0x500000n, 0x501000n, spRow(0x20)]]);
    const t = unwindUser("x86_64", { pc: 0x500010n, sp: 0x5ff8n, fp: 0x7000n }, mem, f);
    expect(t.frames.map((x) => [x.pc, x.method])).toEqual([
      [0x500010n, "sframe"],
      [0x400800n, "fp"],
      [0x400100n, undefined],
    ]);
  });

  it("stops on a CFA that does not grow (a loop in the stack) instead of hanging", () => {
    const mem = memory({ "0x7000": 0x7000n, "0x7008": 0x400100n });
    const t = unwindUser("x86_64", { pc: 0x400000n, sp: 0x6000n, fp: 0x7000n }, mem, null);
    expect(t.frames.length).toBe(2);
    expect(t.stop.kind).toBe("fp-step-failed");
    expect(t.stop.detail).toMatch(/FP 0x7000 below SP 0x7010|does not grow/);
  });

  it("rejects a misaligned CFA and a fault while reading RA", () => {
    const misaligned = unwindUser("x86_64", { pc: 1n, sp: 0x6000n, fp: 0x7003n }, memory({}), null);
    expect(misaligned.stop.detail).toMatch(/not 8-byte aligned/);
    const fault = unwindUser("x86_64", { pc: 1n, sp: 0x6000n, fp: 0x7000n }, memory({}), null);
    expect(fault.stop.detail).toMatch(/fault reading RA at 0x7008/);
  });

  it("does not fall back to FP after an SFrame step fails", () => {
    const f = finder([[0n, 0x1000n, spRow(0x20)]]);
    const mem = memory({ "0x7000": 0n, "0x7008": 0x400100n }); // FP chain would work; SFrame RA read faults
    const t = unwindUser("x86_64", { pc: 0x10n, sp: 0x6000n, fp: 0x7000n }, mem, f);
    expect(t.frames.length).toBe(1);
    expect(t.stop.kind).toBe("sframe-step-failed");
  });

  it("treats RA-undefined rows per the chosen policy", () => {
    const outer: SframeRow = { ...spRow(8), cfa: null, ra: { kind: "undefined" }, outermost: true };
    const f = finder([[0n, 0x1000n, outer]]);
    const spec = unwindUser("x86_64", { pc: 0x10n, sp: 0x6000n, fp: 0n }, memory({}), f, { outermost: "spec-stop" });
    expect(spec.stop.kind).toBe("outermost");
    const kernel = unwindUser("x86_64", { pc: 0x10n, sp: 0x6000n, fp: 0n }, memory({}), f);
    // As the newest kernel code reads: the lookup fails with EINVAL and FP is tried (fp 0 < sp → stop).
    expect(kernel.stop.kind).toBe("fp-step-failed");
    expect(kernel.frames[0]?.sframeMiss).toMatch(/EINVAL/);
  });

  it("uses the link register only in the topmost frame (aarch64 leaf)", () => {
    const leaf: SframeRow = {
      ...spRow(0),
      cfa: { base: "sp", regnum: 31, offset: 0, deref: false },
      ra: { kind: "same" },
    };
    const f = finder([[0x1000n, 0x2000n, leaf]]);
    const t = unwindUser("aarch64", { pc: 0x1004n, sp: 0x8000n, fp: 0n, ra: 0x1008n }, memory({}), f);
    // The second frame (0x1008) is in the same leaf function: RETAIN below the topmost frame fails.
    expect(t.frames.map((x) => x.pc)).toEqual([0x1004n, 0x1008n]);
    expect(t.stop.kind).toBe("sframe-step-failed");
  });

  it("always terminates with a recorded reason on arbitrary memory", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.bigInt(0n, 64n), fc.bigInt(0n, 0x7fffn)), { maxLength: 64 }),
        fc.bigInt(0n, 0x7fffn),
        fc.bigInt(0n, 0x7fffn),
        (cells, sp, fp) => {
          const words: Record<string, bigint> = {};
          for (const [slot, v] of cells) words[`0x${(0x7000n + slot * 8n).toString(16)}`] = v;
          const t = unwindUser("x86_64", { pc: 1n, sp, fp }, memory(words), finder([[0n, 0x100n, spRow(16)]]));
          expect(t.frames.length).toBeGreaterThan(0);
          expect(t.frames.length).toBeLessThanOrEqual(511);
          expect(t.stop.detail.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: 500 },
    );
  });
});
