/**
 * Each registration design's defining behaviour (issue #11), through the modelled syscalls:
 * mmap-detect needs no loader call; lazy registers on the first unwind miss; prctl rejects non-zero
 * unused arguments; syscall leaves no stale entry after dlclose; the hypothetical JIT op refuses
 * file-backed text; none has no SFrame at all.
 */
import { describe, expect, it } from "vitest";
import { PT_GNU_SFRAME } from "../../formats/elf/constants.ts";
import { Errno } from "../../kernel-shim/errno.ts";
import { STACKTRACE_REGISTER_JIT_SFRAME_HYPOTHETICAL } from "../../kernel-shim/sframe/policies/jit-op.ts";
import { PR_ADD_SFRAME, PR_REMOVE_SFRAME } from "../../kernel-shim/sframe/policies/prctl.ts";
import { syscall } from "../../kernel-shim/syscalls/dispatch.ts";
import { DESIGNS } from "../../lab/designs/index.ts";
import { sampleFixtureChain } from "../../lab/workloads/chain.ts";
import { LIBA, LIBB, MAIN } from "../../lab/workloads/fixture-files.ts";
import { World } from "../../lab/world.ts";

const SF_CALLS = new Set(["stacktrace_setup", "prctl"]);

function world(name: keyof typeof DESIGNS): World {
  const w = new World(DESIGNS[name]);
  w.exec(MAIN, [MAIN]);
  return w;
}

/** libb.so's PT_GNU_SFRAME at its run-time address, from the link map. */
function sframeOf(lib: { lAddr: bigint; phdrs: readonly { type: number; vaddr: bigint; memsz: bigint }[] }) {
  const sf = lib.phdrs.find((p) => p.type === PT_GNU_SFRAME);
  if (!sf) throw new Error("no PT_GNU_SFRAME");
  return { start: lib.lAddr + sf.vaddr, len: sf.memsz };
}

describe("mmap-detect", () => {
  it("registers a library at its executable mmap with no loader call, and removes it at munmap", () => {
    const w = world("mmap-detect");
    const before = w.proc.log.events.length;
    const b = w.load(LIBB);
    const calls = w.proc.log.events.slice(before).map((e) => e.name);
    expect(calls.filter((n) => SF_CALLS.has(n))).toEqual([]);
    const entries = w.rt.ks.registryOf(w.mm).list();
    const mine = entries.filter((e) => e.sframeStart === sframeOf(b.lib).start);
    expect(mine.map((e) => e.origin)).toEqual(["mmap-detect"]);
    w.unload(b);
    expect(
      w.rt.ks
        .registryOf(w.mm)
        .list()
        .some((e) => e.sframeStart === sframeOf(b.lib).start),
    ).toBe(false);
    expect(w.rt.ks.events.at(-1)).toMatchObject({ kind: "unregister", removed: 1, result: 0 });
  });
});

describe("lazy", () => {
  it("registers nothing up front (not even at exec) and registers a file on the first unwind miss, reading it once", () => {
    const w = world("lazy");
    w.load(LIBA);
    w.load(LIBB);
    expect(w.rt.ks.registryOf(w.mm).size).toBe(0);
    sampleFixtureChain(w);
    const origins = w.rt.ks
      .registryOf(w.mm)
      .list()
      .map((e) => e.origin);
    expect(origins).toEqual(["lazy", "lazy", "lazy"]);
    expect(w.metrics.samples.full).toBe(1);
    const reads = w.rt.kernelWork()["file header reads"];
    sampleFixtureChain(w);
    expect(w.rt.kernelWork()["file header reads"]).toBe(reads);
    expect(w.metrics.samples.full).toBe(2);
  });
});

describe("prctl", () => {
  it("PR_REMOVE_SFRAME rejects non-zero unused arguments with EINVAL and removes nothing", () => {
    const w = world("prctl");
    const b = w.load(LIBB);
    const s = sframeOf(b.lib).start;
    const n = w.rt.ks.registryOf(w.mm).size;
    for (const args of [
      [1n, 0n, 0n],
      [0n, 1n, 0n],
      [0n, 0n, 1n],
    ]) {
      expect(syscall(w.proc, "prctl", PR_REMOVE_SFRAME, s, ...args)).toBe(BigInt(-Errno.EINVAL));
      expect(w.rt.ks.registryOf(w.mm).size).toBe(n);
    }
    expect(syscall(w.proc, "prctl", PR_REMOVE_SFRAME, s, 0, 0, 0)).toBe(0n);
    expect(w.rt.ks.registryOf(w.mm).size).toBe(n - 1);
  });

  it("PR_ADD_SFRAME takes end addresses (a length where an end belongs fails the VMA checks)", () => {
    const w = world("prctl");
    const b = w.load(LIBB);
    const { start, len } = sframeOf(b.lib);
    syscall(w.proc, "prctl", PR_REMOVE_SFRAME, start, 0, 0, 0);
    const text = w.rt.ks.events.find((e) => e.kind === "register" && e.origin === "prctl");
    if (text?.kind !== "register") throw new Error("no prctl registration");
    // stacktrace_setup's (start, length) convention given to the prctl: the end "len" is below start.
    expect(syscall(w.proc, "prctl", PR_ADD_SFRAME, start, len, text.textStart, text.textEnd)).toBe(
      BigInt(-Errno.EINVAL),
    );
    expect(syscall(w.proc, "prctl", PR_ADD_SFRAME, start, start + len, text.textStart, text.textEnd)).toBe(0n);
    // Unknown prctl options stay EINVAL.
    expect(syscall(w.proc, "prctl", 12345, 0, 0, 0, 0)).toBe(BigInt(-Errno.EINVAL));
  });
});

describe("syscall (the RFC)", () => {
  it("leaves no stale entry after dlclose, over many cycles at the same address", () => {
    const w = world("syscall");
    const exec = w.rt.ks.registryOf(w.mm).list();
    for (let i = 0; i < 20; i++) {
      const b = w.load(LIBB);
      const a = w.load(LIBA);
      w.unload(a);
      w.unload(b);
      expect(w.rt.ks.registryOf(w.mm).list()).toEqual(exec);
    }
    expect(w.metrics.windows.staleEntries).toBe(0);
    expect(w.metrics.syscalls.where).toEqual({ "ld.so map": 40, "ld.so unmap": 40 });
  });

  it("HYPOTHETICAL JIT op: same checks, but file-backed text is refused", () => {
    const w = world("syscall");
    const b = w.load(LIBB);
    const { start, len } = sframeOf(b.lib);
    const entry = w.rt.ks
      .registryOf(w.mm)
      .list()
      .find((e) => e.sframeStart === start);
    if (!entry) throw new Error("libb not registered");
    expect(
      syscall(w.proc, "stacktrace_setup", STACKTRACE_REGISTER_JIT_SFRAME_HYPOTHETICAL, start, len, entry.textStart, 16),
    ).toBe(BigInt(-Errno.EINVAL));
  });

  it("a dlclose that munmaps before unregistering lets a new mapping at the freed address use the stale entry", async () => {
    const { samplerRaceWorkload } = await import("../../lab/workloads/sampler-race.ts");
    const { compareDesigns } = await import("../../lab/compare.ts");
    const c = compareDesigns(samplerRaceWorkload(3, "munmap-first"), ["syscall", "mmap-detect", "lazy"]);
    const wrong = Object.fromEntries(c.runs.map((r) => [r.design, r.windows.wrongSection]));
    expect(wrong["syscall"]).toBeGreaterThan(0);
    expect(wrong["mmap-detect"]).toBe(0);
    expect(wrong["lazy"]).toBe(0);
  });
});

describe("none", () => {
  it("has no SFrame: stacktrace_setup is ENOSYS, prctl options are EINVAL, samples use frame pointers only", () => {
    const w = world("none");
    w.load(LIBA);
    w.load(LIBB);
    expect(syscall(w.proc, "stacktrace_setup", 2, 0x1000, 0, 0, 0)).toBe(BigInt(-Errno.ENOSYS));
    expect(syscall(w.proc, "prctl", PR_REMOVE_SFRAME, 0x1000, 0, 0, 0)).toBe(BigInt(-Errno.EINVAL));
    sampleFixtureChain(w);
    expect(w.metrics.samples.full).toBe(0);
  });
});
