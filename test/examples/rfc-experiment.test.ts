import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { runRfcExperiment } from "../../examples/rfc-experiment-lib.ts";
import type { UnwindTrace } from "../../kernel-shim/unwind/types.ts";

// The experiment maps the machine's own libc.so.6 next to the bundled fixtures.
const LIBC = "/lib/x86_64-linux-gnu/libc.so.6";
const hasLibc = existsSync(LIBC) && existsSync("/usr/lib/debug/.build-id");
if (!hasLibc) {
  console.warn(
    `skipping the RFC experiment: needs ${LIBC} and its debug symbols (Debian libc6-dbg; .ci/run installs it)`,
  );
}

function names(r: ReturnType<typeof runRfcExperiment>, t: UnwindTrace): string[] {
  return t.frames.map((f) => r.objects.at(f.pc)?.symbolize(f.pc)?.name ?? "?");
}

describe.skipIf(!hasLibc)("the RFC experiment (main → liba.so with FP → libb.so without FP → main)", () => {
  it("registers liba.so's and libb.so's SFrame with one stacktrace_setup per executable segment", () => {
    const r = runRfcExperiment();
    expect(r.registrations).toHaveLength(2);
    for (const l of r.registrations)
      expect(l).toMatch(/^stacktrace_setup\(0x1, 0x[0-9a-f]+, 0x[0-9a-f]+, 0x[0-9a-f]+, 0x[0-9a-f]+\) += 0$/);
    // main and ld.so were registered by the kernel at exec (one entry per PF_X segment each).
    const exec = r.sframe.events.filter((e) => e.kind === "register" && e.origin === "exec");
    expect(exec.length).toBeGreaterThanOrEqual(1);
    expect(r.unregistration).toMatch(/^stacktrace_setup\(0x2, 0x[0-9a-f]+, 0, 0, 0\) += 0$/);
  });

  it("kernel code as read: the realigned (DRAP) libb_aligned frame ends the SFrame walk below the top", () => {
    const r = runRfcExperiment();
    expect(names(r, r.registered.trace)).toEqual(["main_callback", "libb_deep", "libb_aligned"]);
    expect(r.registered.trace.stop).toMatchObject({ kind: "sframe-step-failed" });
    expect(r.registered.trace.stop.detail).toMatch(/FP rule names register 6 below the topmost frame/);
  });

  it("with SP/FP register rules allowed in every frame and a glibc built with SFrame, the trace reaches _start", () => {
    const r = runRfcExperiment({ unwind: { registerRules: "unwound-sp-fp" }, libcSframe: "from-eh-frame" });
    const got = names(r, r.registered.trace);
    // perf and the debug symbols name __libc_start_main_impl by its exported alias.
    expect(got.slice(0, 9)).toEqual(r.chain.slice(0, 9));
    expect(got.at(-1)).toBe("_start");
    expect(got).toHaveLength(r.chain.length);
    expect(r.registered.lines.at(-1)).toMatch(/^\t {4}[0-9a-f]{12} _start\+0x[0-9a-f]+ \(.*\/main\)$/);
  });

  it("after STACKTRACE_UNREGISTER_SFRAME, frame pointers through libb.so lose liba_mid (libb_leaf keeps no frame record)", () => {
    const r = runRfcExperiment({ unwind: { registerRules: "unwound-sp-fp" }, libcSframe: "from-eh-frame" });
    const got = names(r, r.unregistered.trace);
    expect(got).not.toContain("liba_mid");
    expect(got).toContain("liba_entry");
    expect(r.unregistered.trace.frames.filter((f) => f.method === "fp").length).toBeGreaterThan(0);
  });

  it("without any SFrame for glibc, both traces end in __libc_start_call_main (frame pointers there are junk)", () => {
    const r = runRfcExperiment({ unwind: { registerRules: "unwound-sp-fp" } });
    expect(names(r, r.registered.trace).at(-1)).toBe("__libc_start_call_main");
    expect(r.registered.trace.stop.kind).toBe("fp-step-failed");
  });
});
