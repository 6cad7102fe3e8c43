/**
 * `npm start`: the RFC experiment on the bundled fixtures. A program whose deepest function spins is
 * called through liba.so (frame pointers) and libb.so (no frame pointers). With libb.so's SFrame
 * registered through `stacktrace_setup`, the kernel's unwinder walks through libb.so; after
 * `STACKTRACE_UNREGISTER_SFRAME` it has only frame pointers there and the trace stops early.
 */
import { runRfcExperiment } from "./rfc-experiment-lib.ts";

const r = runRfcExperiment();
const out: string[] = [];
out.push("# ld.so registers each library's SFrame section after mapping it:");
for (const l of r.registrations) out.push(l);
out.push(
  "",
  `# Sample in main_callback, libb.so's SFrame registered (stop: ${r.registered.trace.stop.kind} — ${r.registered.trace.stop.detail})`,
);
out.push("main  1000     1.000000:     250000 cpu-clock: ");
out.push(...r.registered.lines, "");
out.push("# ld.so unregisters libb.so's SFrame:", r.unregistration, "");
out.push(
  `# Same sample, libb.so unregistered (stop: ${r.unregistered.trace.stop.kind} — ${r.unregistered.trace.stop.detail})`,
);
out.push("main  1000     2.000000:     250000 cpu-clock: ");
out.push(...r.unregistered.lines, "");
process.stdout.write(`${out.join("\n")}\n`);
