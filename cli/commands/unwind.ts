import type { Command } from "commander";
import { runRfcExperiment } from "../../examples/rfc-experiment-lib.ts";
import type { ObjectSet } from "../../kernel-shim/unwind/mapped-object.ts";
import type { UnwindTrace } from "../../kernel-shim/unwind/types.ts";
import { rfcOptionsFrom, SAMPLE_HEADERS } from "../../report/rfc-report.ts";

/**
 * `ldsim unwind [--register-rules kernel|unwound-sp-fp] [--libc-sframe none|from-eh-frame] [--json]`
 * — the RFC experiment's two samples (libb.so's SFrame registered, then unregistered) unwound by the
 * modelled kernel and printed as `perf script` prints callchains; `--json` adds each frame's method
 * and the reason each trace stopped.
 */

interface UnwindCliOptions {
  registerRules: string;
  libcSframe: string;
  json?: boolean;
}

function traceJson(name: string, trace: UnwindTrace, lines: readonly string[], objects: ObjectSet) {
  return {
    name,
    frames: trace.frames.map((f, i) => {
      const obj = objects.at(f.pc);
      const sym = obj?.symbolize(f.pc);
      return {
        pc: `0x${f.pc.toString(16)}`,
        symbol: sym ? sym.name : null,
        offset: sym ? `0x${sym.offset.toString(16)}` : null,
        object: obj ? obj.path : null,
        method: f.method ?? null,
        ...(f.sframeMiss !== undefined ? { sframeMiss: f.sframeMiss } : {}),
        line: lines[i],
      };
    }),
    stop: trace.stop,
  };
}

export function register(program: Command): void {
  program
    .command("unwind")
    .description("unwind the RFC experiment's sample with libb.so's SFrame registered, then unregistered (perf script)")
    .option(
      "--register-rules <rules>",
      "register-based SFrame rules below the top frame: kernel or unwound-sp-fp",
      "kernel",
    )
    .option("--libc-sframe <how>", "SFrame for the machine's glibc: none or from-eh-frame", "none")
    .option("--json", "print JSON (frames with method, stop reasons) instead of text")
    .action((o: UnwindCliOptions) => {
      const r = runRfcExperiment(rfcOptionsFrom({ registerRules: o.registerRules, libcSframe: o.libcSframe }));
      if (o.json === true) {
        const out = {
          registrations: r.registrations,
          unregistration: r.unregistration,
          traces: [
            traceJson("registered", r.registered.trace, r.registered.lines, r.objects),
            traceJson("unregistered", r.unregistered.trace, r.unregistered.lines, r.objects),
          ],
        };
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        return;
      }
      // perf script: a header line per sample, the callchain, a blank line.
      const samples = [
        [SAMPLE_HEADERS[0], ...r.registered.lines],
        [SAMPLE_HEADERS[1], ...r.unregistered.lines],
      ];
      process.stdout.write(samples.map((s) => `${s.join("\n")}\n\n`).join(""));
    });
}
