import { describe, expect, it } from "vitest";
import { DeferredUnwinder, newDeferredTaskInfo } from "../../../kernel-shim/unwind/deferred.ts";
import type { UnwindTrace } from "../../../kernel-shim/unwind/types.ts";

const trace: UnwindTrace = { arch: "x86_64", frames: [{ pc: 0x401000n }], stop: { kind: "no-method", detail: "x" } };

describe("DeferredUnwinder (kernel/unwind/deferred.c)", () => {
  it("unwinds once per kernel entry and shares the trace and cookie among requesters", () => {
    let unwinds = 0;
    const d = new DeferredUnwinder(() => {
      unwinds++;
      return trace;
    });
    const seen: Array<[string, bigint]> = [];
    const a = d.init("perf-a", (w, _t, c) => seen.push([w.name, c]));
    const b = d.init("perf-b", (w, _t, c) => seen.push([w.name, c]));
    if (typeof a === "number" || typeof b === "number") throw new Error("init failed");
    const task = newDeferredTaskInfo();
    const r1 = d.request(task, a);
    const r2 = d.request(task, a);
    const r3 = d.request(task, b);
    expect(r1.ret).toBe(0);
    expect(r2.ret).toBe(1);
    expect(r3.ret).toBe(0);
    expect(r1.cookie).toBe(r3.cookie);
    expect(r1.cookie & 1n).toBe(1n); // cpu+1 in the low word: never 0
    d.returnToUser(task);
    expect(unwinds).toBe(1);
    expect(seen).toEqual([
      ["perf-a", r1.cookie],
      ["perf-b", r1.cookie],
    ]);
    // A new kernel entry gets a new cookie.
    const r4 = d.request(task, a);
    expect(r4.ret).toBe(0);
    expect(r4.cookie).not.toBe(r1.cookie);
  });

  it("refuses kernel threads and runs out of bits with -EBUSY", () => {
    const d = new DeferredUnwinder(() => trace);
    const w = d.init("w", () => {});
    if (typeof w === "number") throw new Error("init failed");
    expect(d.request(newDeferredTaskInfo(false), w).ret).toBe(-22);
    for (let i = 0; i < 29; i++) d.init(`x${i}`, () => {});
    expect(d.init("one too many", () => {})).toBe(-16);
  });
});
