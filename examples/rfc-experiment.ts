/**
 * `npm start`: the RFC experiment on the bundled fixtures (test/fixtures/sframe/v3/x86_64).
 *
 * `main` calls liba.so (built with frame pointers), which calls libb.so (built without), which calls
 * back into `main_callback`, where the program spins. ld.so maps the libraries and registers each
 * one's SFrame with `stacktrace_setup`; the kernel registered `main` (and ld.so, had it SFrame) at
 * exec. A sample taken in the spinning frame is unwound by the modelled kernel unwinder — once with
 * libb.so's SFrame registered and once after `STACKTRACE_UNREGISTER_SFRAME` — and printed as
 * `perf script` prints callchains.
 *
 * Two configurations are run, because the outcome depends on two facts the RFC leaves open:
 *  A. the kernel series' code as read: register-based RA/FP rules only in the topmost frame, and the
 *     machine's glibc, which has no SFrame;
 *  B. register rules resolved from the unwound SP/FP in every frame (a proposed relaxation), and a
 *     glibc as if built with --gsframe (its SFrame derived from its .eh_frame, as gas would).
 */
import { type ExperimentOptions, runRfcExperiment } from "./rfc-experiment-lib.ts";

function section(title: string, options: ExperimentOptions): string[] {
  const r = runRfcExperiment(options);
  const out = [`=== ${title}`, "", "# ld.so registers each library's SFrame after mapping it (strace):"];
  out.push(...r.registrations, "");
  const t1 = r.registered.trace;
  out.push(`# sample in main_callback, libb.so registered — ${t1.frames.length} frames, stop: ${t1.stop.detail}`);
  out.push("main  1000     1.000000:     250000 cpu-clock: ", ...r.registered.lines, "");
  out.push("# ld.so unregisters libb.so before unmapping it:", r.unregistration, "");
  const t2 = r.unregistered.trace;
  out.push(`# same sample, libb.so unregistered — ${t2.frames.length} frames, stop: ${t2.stop.detail}`);
  out.push("main  1000     2.000000:     250000 cpu-clock: ", ...r.unregistered.lines, "");
  return out;
}

const lines = [
  ...section("A. kernel series as read; this machine's glibc (no SFrame)", {}),
  ...section("B. register rules in every frame; glibc with SFrame derived from its .eh_frame", {
    unwind: { registerRules: "unwound-sp-fp" },
    libcSframe: "from-eh-frame",
  }),
  "Notes: in A the realigned libb_aligned frame (SFrame v3 flex FDE, FP saved at *(FP+0)) ends the SFrame",
  "walk as soon as it is not the topmost frame; without libb.so's SFrame, frame pointers walk through",
  "libb.so but skip liba_mid, whose callee libb_leaf keeps no frame record. Only B reaches _start.",
];
process.stdout.write(`${lines.join("\n")}\n`);
