import type { Command } from "commander";
import { renderTimeline, runScenarioFile } from "../../scenario/run.ts";

/**
 * `ldsim scenario FILE [--json]` — run a lifecycle scenario (scenario/format.ts): exec, dlopen,
 * dlclose, dlsym, samples, fork, exit and assertions, with other threads' steps interleaved inside
 * dlopen/dlclose; prints the timeline of syscalls, kernel SFrame registrations and unwinds. Exit
 * status 1 when an assertion failed.
 */
export function register(program: Command): void {
  program
    .command("scenario")
    .description("run a dlopen/dlclose lifecycle scenario and print what the kernel sees at each step")
    .argument("<file>", "scenario file (JSON, see scenario/format.ts)")
    .option("--json", "print the timeline and failures as JSON")
    .action((file: string, opts: { json?: boolean }) => {
      const r = runScenarioFile(file);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ timeline: r.timeline, failures: r.failures }, null, 2)}\n`);
      } else {
        process.stdout.write(`${renderTimeline(r).join("\n")}\n`);
        process.stdout.write(
          r.failures.length === 0 ? "all assertions passed\n" : `${r.failures.length} assertion(s) failed\n`,
        );
      }
      if (r.failures.length > 0) process.exitCode = 1;
    });
}
