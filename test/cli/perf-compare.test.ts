/**
 * Reading perf's own `perf script` text for `--compare`: the committed outputs of perf 6.1
 * (spin.perf-script.txt; inline-excerpt.perf-script.txt, a sample in ld.so whose frames carry inline
 * chains) parsed into samples and frames the way perf built them.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { baseName, perfUserFrames } from "../../kernel-shim/replay/compare.ts";
import { parsePerfScript } from "../../kernel-shim/replay/perf-script-text.ts";

const DIR = join(import.meta.dirname, "..", "fixtures", "perf");

describe("perf script text", () => {
  it("parses every sample of perf's output with its header fields", () => {
    const samples = parsePerfScript(readFileSync(join(DIR, "spin.perf-script.txt"), "latin1"));
    expect(samples.length).toBe(14);
    for (const s of samples) {
      expect(s.comm).toBe("main");
      expect(s.event).toBe("cpu-clock");
      expect(s.time).toMatch(/^\d+\.\d{6}$/);
    }
    const spin = samples.find((s) => s.frames[0]?.sym === "main_callback");
    expect(spin?.frames.map((f) => f.sym)).toEqual([
      "main_callback",
      "libb_deep",
      "libb_aligned",
      "libb_leaf",
      "liba_mid",
      "liba_entry",
      "main_step",
      "main",
      "__libc_start_call_main",
      "__libc_start_main_impl",
      "_start",
    ]);
  });

  it("drops kernel frames and keeps user frames (a sample taken in the kernel)", () => {
    const samples = parsePerfScript(readFileSync(join(DIR, "spin.perf-script.txt"), "latin1"));
    const k = samples.find((s) => s.frames.some((f) => f.dso === "[kernel.kallsyms]"));
    expect(k).toBeDefined();
    const user = perfUserFrames(k as (typeof samples)[number]);
    expect(user[0]?.names).toEqual(["__vdso_time"]);
  });

  it("folds inline chains (same address) into one frame, keeping every name", () => {
    const [s] = parsePerfScript(readFileSync(join(DIR, "inline-excerpt.perf-script.txt"), "latin1"));
    const frames = perfUserFrames(s as NonNullable<typeof s>);
    expect(frames.map((f) => f.names)).toEqual([
      ["intel_check_word"],
      ["handle_intel"],
      ["dl_init_cacheinfo", "init_cpu_features"],
      ["dl_platform_init", "_dl_sysdep_start"],
      ["_dl_start_final", "_dl_start"],
      ["_start"],
    ]);
    // perf's inline name omits the GCC clone suffix the symbol table has (intel_check_word.constprop.0).
    expect(baseName("intel_check_word.constprop.0")).toBe("intel_check_word");
    expect(baseName("finish_task_switch.isra.0")).toBe("finish_task_switch");
  });
});
