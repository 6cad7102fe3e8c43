import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { LdsimError } from "../../formats/errors.ts";
import { PerfData } from "../../formats/perf/perf-data.ts";
import {
  type Comparison,
  compareWithPerf,
  compareWithStored,
  emptyTally,
  type Tally,
} from "../../kernel-shim/replay/compare.ts";
import {
  type AddressConvention,
  type PerfScriptSample,
  parsePerfScript,
  replayedKey,
  sampleKey,
  writeScriptBytes,
} from "../../kernel-shim/replay/perf-script-text.ts";
import { type ReplayContext, type ReplayOptions, replaySamples } from "../../kernel-shim/replay/replay.ts";
import type { RegisterPolicy } from "../../kernel-shim/replay/replay-process.ts";

/**
 * `ldsim perf script -i perf.data`: replay a `perf record --call-graph dwarf` recording through the
 * modelled kernel SFrame unwinder and print `perf script`-style callchains; `--compare` reports, per
 * sample and in total, agreement with perf's own DWARF unwinding and with the callchain perf stored.
 */

interface ScriptOptions {
  input: string;
  sysroot?: string;
  remap: string[];
  compare?: boolean;
  perfScript?: string;
  json?: boolean;
  register: string;
  versions: string;
  fp: boolean;
  registerRules: string;
  libcSframe: string;
  vdsoSframe: string;
  buildidDir?: string;
  addresses: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function register(program: Command): void {
  const perf = program.command("perf").description("perf.data: replay samples through the modelled kernel unwinder");
  perf
    .command("script")
    .description("unwind every sample of a perf.data (--call-graph dwarf) as the kernel's SFrame unwinder would")
    .option("-i, --input <file>", "perf.data file", "perf.data")
    .option("--sysroot <dir>", "look for the recorded files under DIR (as perf --symfs)")
    .option("--remap <from=to>", "rewrite a recorded path prefix (repeatable)", collect, [])
    .option("--buildid-dir <dir>", "perf's build-id cache, where it saved the vDSO (default ~/.debug)")
    .option("--compare", "report agreement with perf's DWARF unwinding and with the stored callchain")
    .option("--perf-script <file>", "perf's own `perf script` output to compare with (default: run perf script now)")
    .option("--json", "print JSON instead of text")
    .option(
      "--addresses <how>",
      "caller frames as: ra (the return address the kernel records) | ra-1 (the call site, as perf's DWARF output)",
      "ra",
    )
    .option("--register <which>", "SFrame sections registered: all | exec | none", "all")
    .option("--versions <list>", "SFrame versions the kernel accepts, comma-separated", "3")
    .option("--no-fp", "no frame-pointer fallback where SFrame does not apply")
    .option(
      "--register-rules <rules>",
      "register-based rules below the topmost frame: kernel | unwound-sp-fp",
      "kernel",
    )
    .option("--libc-sframe <how>", "libc without SFrame: none | from-eh-frame (model a --gsframe glibc)", "none")
    .option(
      "--vdso-sframe <how>",
      "vDSO without SFrame: none | from-eh-frame (model a vDSO built with SFrame; needs perf's ~/.debug copy)",
      "none",
    )
    .action((o: ScriptOptions) => {
      const options = replayOptions(o);
      // `ldsim perf script | head`: a closed pipe ends the output quietly, as perf script does.
      process.stdout.once("error", (e: NodeJS.ErrnoException) => {
        if (e.code === "EPIPE") process.exit(0);
        throw e;
      });
      const data = PerfData.openPath(o.input);
      try {
        if (o.compare === true) runCompare(data, o, options);
        else runScript(data, o, options);
      } finally {
        data.close();
      }
    });
}

function replayOptions(o: ScriptOptions): ReplayOptions {
  if (!["all", "exec", "none"].includes(o.register)) {
    throw new LdsimError(`perf script: --register must be all, exec or none (got '${o.register}')`);
  }
  if (!["kernel", "unwound-sp-fp"].includes(o.registerRules)) {
    throw new LdsimError(`perf script: --register-rules must be kernel or unwound-sp-fp (got '${o.registerRules}')`);
  }
  if (!["none", "from-eh-frame"].includes(o.libcSframe)) {
    throw new LdsimError(`perf script: --libc-sframe must be none or from-eh-frame (got '${o.libcSframe}')`);
  }
  if (o.addresses !== "ra" && o.addresses !== "ra-1") {
    throw new LdsimError(`perf script: --addresses must be ra or ra-1 (got '${o.addresses}')`);
  }
  if (!["none", "from-eh-frame"].includes(o.vdsoSframe)) {
    throw new LdsimError(`perf script: --vdso-sframe must be none or from-eh-frame (got '${o.vdsoSframe}')`);
  }
  const versions = o.versions.split(",").map((v) => Number(v.trim()));
  if (versions.some((v) => !Number.isInteger(v) || v < 1 || v > 255)) {
    throw new LdsimError(`perf script: --versions takes SFrame versions like 3 or 2,3 (got '${o.versions}')`);
  }
  const remap = o.remap.map((m) => {
    const eq = m.indexOf("=");
    if (eq <= 0) throw new LdsimError(`perf script: --remap takes FROM=TO (got '${m}')`);
    return { from: m.slice(0, eq), to: m.slice(eq + 1) };
  });
  return {
    ...(o.sysroot !== undefined ? { sysroot: o.sysroot } : {}),
    ...(o.buildidDir !== undefined ? { buildIdCache: o.buildidDir } : {}),
    remap,
    register: o.register as RegisterPolicy,
    acceptedVersions: versions,
    fpFallback: o.fp,
    registerRules: o.registerRules as "kernel" | "unwound-sp-fp",
    libcSframe: o.libcSframe as "none" | "from-eh-frame",
    vdsoSframe: o.vdsoSframe as "none" | "from-eh-frame",
  };
}

const replacer = (_k: string, v: unknown) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v);

function registrations(
  ctx: ReplayContext | undefined,
): Array<{ pid: number; object: string; role: string; registration: readonly string[] }> {
  const out: Array<{ pid: number; object: string; role: string; registration: readonly string[] }> = [];
  for (const [pid, p] of ctx?.processes ?? []) {
    for (const o of p.objects) out.push({ pid, object: o.recordedPath, role: o.role, registration: o.registration });
  }
  return out;
}

function runScript(data: PerfData, o: ScriptOptions, options: ReplayOptions): void {
  const holder: { out?: ReplayContext } = {};
  if (o.json === true) {
    const samples = [...replaySamples(data, options, holder)];
    process.stdout.write(
      `${JSON.stringify({ file: o.input, arch: holder.out?.arch, samples, registrations: registrations(holder.out), warnings: holder.out?.warnings ?? [] }, replacer, 2)}\n`,
    );
    return;
  }
  writeScriptBytes(replaySamples(data, options, holder), o.addresses as AddressConvention, (b) =>
    process.stdout.write(b),
  );
  for (const w of holder.out?.warnings ?? []) process.stderr.write(`ldsim: perf script: warning: ${w}\n`);
}

/** perf's own output: the file given, or `perf script` run now on the same recording. */
function perfOutput(o: ScriptOptions): string {
  if (o.perfScript !== undefined) return readFileSync(o.perfScript, "latin1");
  const args = ["script", "-i", o.input, ...(o.sysroot !== undefined ? ["--symfs", o.sysroot] : [])];
  const r = spawnSync("perf", args, { encoding: "latin1", maxBuffer: 1 << 30 });
  if (r.error || r.status !== 0) {
    throw new LdsimError(
      `perf script: --compare needs perf's output: running 'perf ${args.join(" ")}' failed (${r.error?.message ?? r.stderr.trim()}); pass --perf-script FILE`,
    );
  }
  return r.stdout;
}

function runCompare(data: PerfData, o: ScriptOptions, options: ReplayOptions): void {
  const theirs = new Map<string, PerfScriptSample>();
  for (const s of parsePerfScript(perfOutput(o))) theirs.set(sampleKey(s.tid, s.time), s);
  const dwarf: Tally = emptyTally();
  const stored: Tally = emptyTally();
  const rows: Array<{
    index: number;
    tid: number;
    time: string;
    frames: number;
    stop: string;
    dwarf: Comparison;
    stored: Comparison;
  }> = [];
  const holder: { out?: ReplayContext } = {};
  for (const s of replaySamples(data, options, holder)) {
    const key = replayedKey(s);
    const d = compareWithPerf(s, theirs.get(key));
    const c = compareWithStored(s);
    dwarf[d.verdict]++;
    stored[c.verdict]++;
    const stop = s.skipped ?? (s.stop ? `${s.stop.kind}: ${s.stop.detail}` : "");
    rows.push({
      index: s.index,
      tid: s.tid,
      time: key.slice(key.indexOf("@") + 1),
      frames: s.frames.length,
      stop,
      dwarf: d,
      stored: c,
    });
  }
  if (o.json === true) {
    process.stdout.write(
      `${JSON.stringify({ file: o.input, samples: rows, totals: { perfDwarf: dwarf, stored }, registrations: registrations(holder.out), warnings: holder.out?.warnings ?? [] }, replacer, 2)}\n`,
    );
    return;
  }
  const fmt = (c: Comparison) =>
    `${c.verdict}${c.verdict === "absent" ? "" : ` (${c.ours} vs ${c.theirs}${c.firstDifference !== undefined ? `, first difference at frame ${c.firstDifference}` : ""})`}`;
  const lines = rows.map(
    (r) =>
      `sample ${r.index} tid ${r.tid} ${r.time}: ${r.frames} frames; perf DWARF: ${fmt(r.dwarf)}; stored callchain: ${fmt(r.stored)}; stop: ${r.stop}`,
  );
  const total = (t: Tally) => (Object.keys(t) as Array<keyof Tally>).map((k) => `${k} ${t[k]}`).join(", ");
  lines.push(`total ${rows.length} samples: perf DWARF: ${total(dwarf)}`);
  lines.push(`total ${rows.length} samples: stored callchain: ${total(stored)}`);
  for (const r of registrations(holder.out))
    for (const line of r.registration) lines.push(`# pid ${r.pid} ${r.role} ${r.object}: ${line}`);
  for (const w of holder.out?.warnings ?? []) lines.push(`# warning: ${w}`);
  process.stdout.write(`${lines.join("\n")}\n`);
}
