import { type ExperimentOptions, type ExperimentResult, runRfcExperiment } from "../examples/rfc-experiment-lib.ts";
import { LdsimError } from "../formats/errors.ts";
import type { UnwindTrace } from "../kernel-shim/unwind/types.ts";
import { regionsOf, sframeRangesOf } from "./from-process.ts";
import type { ReportData, ReportTrace } from "./model.ts";
import { interleave, type TimelineMark } from "./timeline.ts";

/** The two choices the RFC leaves open, as the CLI spells them. */
export interface RfcChoices {
  readonly registerRules?: string;
  readonly libcSframe?: string;
}

/** `--register-rules kernel|unwound-sp-fp` and `--libc-sframe none|from-eh-frame` as experiment options. */
export function rfcOptionsFrom(c: RfcChoices): ExperimentOptions {
  const rules = c.registerRules ?? "kernel";
  if (rules !== "kernel" && rules !== "unwound-sp-fp") {
    throw new LdsimError(`unknown --register-rules '${rules}' (expected kernel or unwound-sp-fp)`);
  }
  const libc = c.libcSframe ?? "none";
  if (libc !== "none" && libc !== "from-eh-frame") {
    throw new LdsimError(`unknown --libc-sframe '${libc}' (expected none or from-eh-frame)`);
  }
  return { unwind: { registerRules: rules }, libcSframe: libc };
}

export const SAMPLE_HEADERS = [
  "main  1000     1.000000:     250000 cpu-clock: ",
  "main  1000     2.000000:     250000 cpu-clock: ",
] as const;

function reportTrace(title: string, header: string, trace: UnwindTrace, lines: readonly string[]): ReportTrace {
  return {
    title,
    header,
    lines,
    stop: `${trace.stop.kind}: ${trace.stop.detail}`,
    methods: trace.frames.map((f) => f.method),
  };
}

/** The RFC experiment's run as report data: final maps, every registration, the timeline, both traces. */
export function rfcReportData(options: ExperimentOptions = {}, result?: ExperimentResult): ReportData {
  const r = result ?? runRfcExperiment(options);
  const proc = r.process;
  const ks = r.sframe;
  const syscalls = proc.log.events;
  // The first sample was taken after every registration, the second after the unregistration.
  let unregAt = syscalls.length;
  for (let i = syscalls.length - 1; i >= 0; i--) {
    const e = syscalls[i];
    if (e?.name === "stacktrace_setup" && e.args[0] === 2n) {
      unregAt = i;
      break;
    }
  }
  const t1 = r.registered.trace;
  const t2 = r.unregistered.trace;
  // Steps, so the syscalls read as what ld.so was doing.
  const steps: TimelineMark[] = [];
  let lib = 0;
  syscalls.forEach((e, i) => {
    if (e.name === "openat" && lib < r.libs.length) {
      const path = r.libs[lib++]?.path ?? "";
      steps.push({ beforeSyscall: i, text: `ld.so maps ${path.slice(path.lastIndexOf("/") + 1)} (DT_NEEDED order)` });
    }
  });
  const anon = syscalls.findIndex((e) => e.name === "mmap" && e.args[0] === 0n && e.args[3] === 0x22n);
  if (options.libcSframe === "from-eh-frame" && anon >= 0) {
    steps.push({
      beforeSyscall: anon,
      text: "glibc as if built with --gsframe: SFrame derived from its .eh_frame, in anonymous memory, registered for its text",
    });
  }
  const firstSetup = syscalls.findIndex((e) => e.name === "stacktrace_setup");
  if (firstSetup >= 0) steps.push({ beforeSyscall: firstSetup, text: "ld.so registers each library's SFrame" });
  const timeline = interleave(syscalls, ks.events, [
    ...steps,
    { beforeSyscall: unregAt, text: `sample 1 in main_callback unwound: ${t1.frames.length} frames (${t1.stop.kind})` },
    {
      beforeSyscall: syscalls.length,
      text: `sample 2, same stack, unwound: ${t2.frames.length} frames (${t2.stop.kind})`,
    },
  ]);
  const rules = options.unwind?.registerRules ?? "kernel";
  const libc = options.libcSframe ?? "none";
  return {
    title: "ldsim report — the RFC experiment (stacktrace_setup)",
    subtitle: `register rules: ${rules} · libc SFrame: ${libc} · ${r.chain.length}-frame call chain written to the stack`,
    notes: [
      "main calls liba.so (built with frame pointers), which calls libb.so (built without), which calls back into main_callback, where the program spins.",
      "ld.so maps each library and registers its SFrame with stacktrace_setup(STACKTRACE_REGISTER_SFRAME); a sample is unwound by the modelled kernel unwinder, then libb.so is unregistered and the same sample unwound again.",
    ],
    regions: regionsOf(proc.mm),
    sframe: sframeRangesOf(ks.events, proc.mm, ks.registryOf(proc.mm).list()),
    timeline,
    traces: [
      reportTrace("libb.so registered", SAMPLE_HEADERS[0], t1, r.registered.lines),
      reportTrace("after STACKTRACE_UNREGISTER_SFRAME of libb.so", SAMPLE_HEADERS[1], t2, r.unregistered.lines),
    ],
    maps: proc.mm.renderMaps(),
  };
}
