/**
 * `npm run parity:startup` — the simulated execve → main of `/usr/bin` programs against `strace` of
 * the real program under `setarch -R` (`PROG --version`, environment PATH only): the simulated
 * calls must be the real trace's prefix, arguments, addresses and results included (what follows
 * main is the program's own work). Prints `N/M identical` and, per differing program, the first
 * differing call. Programs: every dynamic executable of /usr/bin, or `--every K` (every K-th of
 * them), `--cxx` (only those linked with libstdc++), or the paths given as arguments.
 *
 * A set-user-ID or set-group-ID program differs from its second call on: the kernel clears
 * ADDR_NO_RANDOMIZE when it execs one (PER_CLEAR_ON_SETID), so setarch -R cannot make its layout
 * reproducible (and AT_SECURE puts ld.so in secure mode).
 */
import { readFileSync, statSync } from "node:fs";
import { hostRtldProfile } from "../loader/host-profile.ts";
import { RunError, type RunResult, runToMain, spawnForRun } from "../loader/run.ts";
import { normaliseStrace, realRun } from "../test/loader/startup-fixtures.ts";
import { dynamicExecutables } from "./parity-ldd.ts";
import { Progress } from "./progress.ts";

const ENV = { PATH: "/usr/bin:/bin" };

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Whether the file names libstdc++ in its bytes (its DT_NEEDED string): the C++ programs. */
function isCxx(path: string): boolean {
  try {
    return readFileSync(path).includes("libstdc++.so");
  } catch {
    return false;
  }
}

function programs(): string[] {
  const given = process.argv.slice(2).filter((a, i, all) => a.startsWith("/") && all[i - 1] !== "--every");
  if (given.length > 0) return given;
  let list = dynamicExecutables(["/usr/bin"]);
  if (process.argv.includes("--cxx")) list = list.filter(isCxx);
  const every = Number(option("--every") ?? 1);
  return list.filter((_, i) => i % every === every - 1);
}

const list = programs();
const progress = new Progress(list.length, "startup parity");
let same = 0;
const report: string[] = [];
for (const exe of list) {
  progress.tick(exe);
  // A program that never exits (a GUI, a JVM waiting on its console) is killed with everything it
  // started after 10 s; its trace up to then still holds the whole startup.
  const real = realRun(exe, [exe, "--version"], ENV, "/tmp", 10);
  let mine: RunResult;
  try {
    mine = runToMain(spawnForRun({ cwd: "/tmp" }), exe, {
      argv: [exe, "--version"],
      env: ENV,
      profile: hostRtldProfile(),
    });
  } catch (e) {
    // An exec the model refuses (RunError: the errno execve returned) is one line, not a stack trace.
    if (!(e instanceof RunError)) throw e;
    report.push(`${exe}: ${e.message}`);
    continue;
  }
  const m = mine.strace.map(normaliseStrace);
  const r = real.strace.slice(0, m.length).map(normaliseStrace);
  const at = m.findIndex((l, k) => l !== r[k]);
  if (at < 0 && mine.error === undefined) {
    same++;
    continue;
  }
  const mode = statSync(exe).mode;
  const setuid = (mode & 0o4000) !== 0 ? " (set-user-ID)" : (mode & 0o2000) !== 0 ? " (set-group-ID)" : "";
  report.push(
    mine.error !== undefined
      ? `${exe}${setuid}: ${mine.error.message}`
      : `${exe}${setuid}: call ${at}\n  ldsim: ${m[at]}\n  real:  ${r[at]}`,
  );
}
progress.end();
for (const line of report) console.log(line);
console.log(`${same}/${list.length} identical`);
