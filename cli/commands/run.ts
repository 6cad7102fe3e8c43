import type { Command } from "commander";
import { KernelSframe } from "../../kernel-shim/sframe/kernel-sframe.ts";
import { hostRtldProfile } from "../../loader/host-profile.ts";
import { RunError, type RunResult, runToMain, spawnForRun } from "../../loader/run.ts";
import { SysrootError } from "../../loader/sysroot.ts";

/**
 * `ldsim run FILE [ARGS...]` — exec FILE in a simulated process and run the simulated ld.so up to
 * the point `main` would be called, then print what the process looks like there: its
 * /proc/PID/maps (`--maps`), the strace-format log from execve on (`--trace`) and ld.so's LD_DEBUG
 * output (`--debug=libs,files,…` or `--env LD_DEBUG=…`). Without a selection all three are printed.
 * Arguments for the program that look like options go after `--`.
 */
interface RunCliOptions {
  env: string[];
  aslr?: string;
  maps?: boolean;
  trace?: boolean;
  debug?: string;
  json?: boolean;
  registerSframe?: boolean;
  fatalSframe?: boolean;
  sysroot?: string;
  sysrootMode?: string;
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

function toJson(file: string, argv: readonly string[], r: RunResult): unknown {
  return {
    file,
    argv,
    pid: r.proc.pid,
    status: r.error ? r.error.status : 0,
    error: r.error?.message ?? null,
    objects: r.rtld.ns.maps.map((l) => ({
      name: l.name === "" ? (argv[0] ?? "") : l.name,
      base: hex(l.addr),
      mapStart: hex(l.mapStart),
      mapEnd: hex(l.mapEnd),
      tlsModid: l.tlsModid,
      tlsOffset: l.tlsOffset === undefined ? null : hex(l.tlsOffset),
      relocated: l.relocated,
    })),
    relocationOrder: r.startup?.relocationOrder.map((l) => l.name || (argv[0] ?? "")) ?? [],
    initOrder: r.initOrder.map((c) => ({
      object: c.map.name || (argv[0] ?? ""),
      kind: c.kind,
      index: c.index,
      address: hex(c.addr),
    })),
    tls: r.startup?.tls
      ? { tcb: hex(r.startup.tls.tcb), staticSize: Number(r.startup.tls.staticSize), tid: Number(r.startup.tls.tid) }
      : null,
    libcStartup: r.startup?.libcStartup ?? [],
    sframe: r.rtld.sframeResults.map((s) => ({ object: s.map.name, results: s.results.map((x) => Number(x)) })),
    maps: r.maps.split("\n").filter((l) => l !== ""),
    strace: r.strace,
    debug: r.debug,
  };
}

export function register(program: Command): void {
  program
    .command("run")
    .description("exec FILE and run the simulated ld.so to the point main would be called (maps, strace, LD_DEBUG)")
    .argument("<file>", "the program")
    .argument("[args...]", "its arguments (put options meant for the program after --)")
    .option(
      "--env <K=V>",
      "environment variable of the program (repeatable)",
      (v: string, acc: string[]) => [...acc, v],
      [],
    )
    .option("--aslr <seed>", "randomise the layout with this seed (default: ASLR off, as setarch -R)")
    .option("--maps", "print /proc/PID/maps at main")
    .option("--trace", "print the strace-format log from execve to main")
    .option(
      "--debug <categories>",
      "LD_DEBUG categories (libs,files,symbols,bindings,reloc,scopes,versions,statistics,all)",
    )
    .option("--register-sframe", "call stacktrace_setup(REGISTER) for each library with PT_GNU_SFRAME")
    .option("--fatal-sframe", "a failed registration fails the load")
    .option("--json", "print one JSON document with everything")
    .option("--sysroot <dir>", "a foreign tree as / (e.g. /usr/aarch64-linux-gnu): FILE's machine and interpreter")
    .option("--sysroot-mode <mode>", "qemu (default: DIR first, then the host, as qemu-user -L) or chroot")
    .action((file: string, args: string[], o: RunCliOptions) => {
      const mode = o.sysrootMode ?? "qemu";
      if (mode !== "qemu" && mode !== "chroot") {
        process.stderr.write(`ldsim run: --sysroot-mode wants qemu or chroot, got '${mode}'\n`);
        process.exitCode = 2;
        return;
      }
      const env: Record<string, string> = {};
      for (const kv of o.env) {
        const i = kv.indexOf("=");
        if (i <= 0) {
          process.stderr.write(`ldsim run: --env wants K=V, got '${kv}'\n`);
          process.exitCode = 2;
          return;
        }
        env[kv.slice(0, i)] = kv.slice(i + 1);
      }
      if (o.debug !== undefined) env["LD_DEBUG"] = o.debug;
      const seed = o.aslr === undefined ? undefined : Number(o.aslr);
      if (seed !== undefined && !Number.isSafeInteger(seed)) {
        process.stderr.write(`ldsim run: --aslr wants an integer seed, got '${o.aslr}'\n`);
        process.exitCode = 2;
        return;
      }
      const argv = [file, ...args];
      const sframe = o.registerSframe || o.fatalSframe;
      let proc: ReturnType<typeof spawnForRun>;
      try {
        proc = spawnForRun({
          ...(seed !== undefined ? { aslrSeed: seed } : {}),
          // The RFC's kernel side, so the registrations get the kernel's answers (not ENOSYS).
          ...(sframe ? { sframeKernel: new KernelSframe() } : {}),
          ...(o.sysroot !== undefined ? { sysroot: { dir: o.sysroot, program: file, mode } } : {}),
        });
      } catch (e) {
        if (!(e instanceof SysrootError)) throw e;
        process.stderr.write(`ldsim run: ${e.message}\n`);
        process.exitCode = 126;
        return;
      }
      let r: RunResult;
      try {
        r = runToMain(proc, file, {
          argv,
          env,
          // Under a sysroot the machine's profile follows the program (runToMain picks it).
          ...(o.sysroot === undefined ? { profile: hostRtldProfile() } : {}),
          ...(o.registerSframe || o.fatalSframe ? { registerSframe: true } : {}),
          ...(o.fatalSframe ? { fatalSframeRegistration: true } : {}),
        });
      } catch (e) {
        if (!(e instanceof RunError)) throw e;
        process.stderr.write(`ldsim run: cannot execute ${file}: errno ${e.errno}\n`);
        process.exitCode = 126;
        return;
      }
      if (o.json) {
        process.stdout.write(`${JSON.stringify(toJson(file, argv, r), null, 2)}\n`);
      } else {
        const all = !o.maps && !o.trace && o.debug === undefined;
        const out: string[] = [];
        if (o.trace || all) out.push(`# strace (execve → main)`, ...r.strace);
        if (r.debug.length > 0 && (o.debug !== undefined || all)) out.push(`# LD_DEBUG`, ...r.debug);
        if (o.maps || all)
          out.push(`# /proc/${r.proc.pid}/maps at main`, ...r.maps.split("\n").filter((l) => l !== ""));
        process.stdout.write(`${out.join("\n")}\n`);
      }
      if (r.error) {
        if (!o.json) process.stderr.write(`${r.error.message}\n`);
        process.exitCode = r.error.status;
      }
    });
}
