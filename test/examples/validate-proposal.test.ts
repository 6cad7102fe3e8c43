import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import {
  addressReuse,
  type CaseCall,
  type EdgeCase,
  enosys,
  forkLosesRegistrations,
  sectionSpansTwoVmas,
  textSpansTwoVmas,
  touchingRanges,
  unregisterAfterMunmap,
  versionMismatch,
} from "../../examples/validate-proposal-lib.ts";

// The errno values of the RFC series' checks (sframe-and-kernel.md §2.4): what each edge case must
// come back with, by the check that refuses it.
const calls = (c: EdgeCase) => c.steps.filter((s): s is CaseCall => s.kind === "call");
const setupCalls = (c: EdgeCase) => calls(c).filter((s) => s.line.includes("stacktrace_setup("));

describe("example 4: validating the proposal", () => {
  it("touching text ranges: EEXIST at text_end (inclusive maple-tree end), accepted one byte later", () => {
    const c = touchingRanges();
    const [first, touching, later] = setupCalls(c);
    expect(first?.ret).toBe(0n);
    expect(touching?.errno).toBe("EEXIST");
    expect(touching?.line).toMatch(/= -1 EEXIST \(File exists\)$/);
    expect(touching?.check).toBe("mtree_insert_range");
    expect(later?.ret).toBe(0n);
    expect(Object.values(c.registries)[0]).toHaveLength(2);
  });

  it("text spanning two VMAs: EINVAL from the text-VMA check; the real segment then registers", () => {
    const [span, real] = setupCalls(textSpansTwoVmas());
    expect(span?.errno).toBe("EINVAL");
    expect(span?.check).toBe("text VMA");
    expect(span?.message).toMatch(/extends past its VMA end/);
    expect(real?.ret).toBe(0n);
  });

  it("a section spanning two VMAs: EINVAL from the sframe-VMA check", () => {
    const [span] = setupCalls(sectionSpansTwoVmas());
    expect(span?.errno).toBe("EINVAL");
    expect(span?.check).toBe("sframe VMA");
  });

  it("unregister after munmap: the entry stays, is removed at the first faulting lookup, then unregister is EINVAL", () => {
    const c = unregisterAfterMunmap();
    const obs = c.steps.filter((s) => s.kind === "observe").map((s) => s.text);
    expect(obs[0]).toMatch(/still registered \(stale\): text \[0x/);
    expect(obs.some((t) => /EFAULT/.test(t))).toBe(true);
    expect(obs.at(-1)).toMatch(/after the unwind: 0 entries registered/);
    const munmap = calls(c).find((s) => s.line.startsWith("munmap("));
    expect(munmap?.ret).toBe(0n);
    const late = setupCalls(c).at(-1);
    expect(late?.line).toMatch(/^stacktrace_setup\(0x2, /);
    expect(late?.errno).toBe("EINVAL");
    const r = c.report();
    expect(r.timeline.some((e) => e.kind === "auto-remove")).toBe(true);
    expect(r.sframe.map((s) => s.state)).toEqual(["auto-removed"]);
  });

  it("address reuse: the new library lands on the freed range, cannot register (EEXIST), and its PCs hit the stale entry", () => {
    const c = addressReuse();
    const [oldReg, newReg, lateUnreg, retry] = setupCalls(c);
    expect(oldReg?.ret).toBe(0n);
    expect(newReg?.errno).toBe("EEXIST");
    const obs = c.steps.filter((s) => s.kind === "observe").map((s) => s.text);
    const placed = obs.find((t) => t.startsWith("liba.so mapped at"));
    const m = /mapped at (0x[0-9a-f]+) \(libb\.so was at (0x[0-9a-f]+)\)/.exec(placed ?? "");
    expect(m?.[1]).toBe(m?.[2]);
    // The unwind of a PC in liba.so consulted libb.so's stale entry (not liba.so's own data).
    expect(obs.find((t) => t.startsWith("sample in liba_mid"))).toMatch(/SFrame: (EINVAL|EFAULT)/);
    expect(lateUnreg?.ret).toBe(0n);
    expect(retry?.ret).toBe(0n);
  });

  it("fork: the child starts with an empty registry; the parent keeps its entry", () => {
    const c = forkLosesRegistrations();
    const fork = calls(c).find((s) => s.line.startsWith("fork()"));
    expect(Number(fork?.ret)).toBeGreaterThan(0);
    const obs = c.steps.find((s) => s.kind === "observe" && /child pid/.test(s.text));
    expect(obs?.kind === "observe" && obs.text).toMatch(/: 1 entry; child pid \d+: 0 entries/);
    const [, childUnreg, childReg] = setupCalls(c);
    expect(childUnreg?.line).toMatch(/^\[pid \d+\] stacktrace_setup\(0x2,/);
    expect(childUnreg?.errno).toBe("EINVAL");
    expect(childReg?.ret).toBe(0n);
  });

  it("version mismatch: a v1 section (binutils 2.40) is EINVAL on the default kernel, accepted by a v1-accepting one", () => {
    const c = versionMismatch();
    const [v3only, v1ok] = setupCalls(c);
    expect(v3only?.errno).toBe("EINVAL");
    expect(v3only?.message).toMatch(/version 1/);
    expect(v1ok?.ret).toBe(0n);
  });

  it("a kernel without SFrame support: ENOSYS for every op", () => {
    const c = enosys();
    for (const s of setupCalls(c)) {
      expect(s.errno).toBe("ENOSYS");
      expect(s.line).toMatch(/= -1 ENOSYS \(Function not implemented\)$/);
    }
    expect(c.report().timeline.filter((e) => e.kind === "register")).toHaveLength(0);
  });

  it("runs as a program and prints every case", () => {
    const out = execFileSync("npx", ["tsx", "examples/validate-proposal.ts"], { encoding: "utf8" });
    expect(out.match(/^=== \d\. /gm)).toHaveLength(8);
    expect(out).toContain("↳ kernel check failed: mtree_insert_range:");
    expect(out).toContain("-1 ENOSYS (Function not implemented)");
  });
});
