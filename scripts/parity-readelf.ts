/**
 * Parity sweep: `ldsim readelf -W OPT` (formatter called in-process) against GNU `readelf -W OPT`
 * for every ELF file under /usr/bin, /usr/sbin and /usr/lib/x86_64-linux-gnu (*.so*), option by
 * option. Prints `N files, M identical` overall and per option, then each differing file+option
 * with its first differing line.
 *
 *   npm run parity:readelf -- [--options "-h -l -S -d"] [--sample N] [--files a,b,c] [--jobs N] [--narrow]
 *
 * --narrow compares readelf's default (80-column) layout instead of -W.
 */
import { execFile } from "node:child_process";
import { closeSync, openSync, readdirSync, readSync, realpathSync, statSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { formatReadelf, requestFromArgs } from "../cli/readelf/index.ts";
import { ElfFile } from "../formats/elf/file.ts";
import { Progress } from "./progress.ts";

export const DEFAULT_OPTIONS = ["-h", "-l", "-S", "-d", "-s", "--dyn-syms", "-V", "-r", "-n"] as const;

/** Whether `path` is a regular file starting with the ELF magic. */
export function isElfFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    const fd = openSync(path, "r");
    try {
      const b = Buffer.alloc(4);
      return readSync(fd, b, 0, 4, 0) === 4 && b.readUInt32BE(0) === 0x7f454c46;
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

function walk(dir: string, recursive: boolean, keep: (name: string) => boolean, out: string[]): void {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return;
  }
  for (const n of names) {
    const p = join(dir, n);
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) {
      if (recursive) walk(p, recursive, keep, out);
    } else if (keep(n)) out.push(p);
  }
}

/**
 * The system ELF files of the sweep, sorted, one path per distinct file (symlinks to a file already
 * listed are dropped, so each binary counts once).
 */
export function systemElfFiles(): string[] {
  const found: string[] = [];
  walk("/usr/bin", false, () => true, found);
  walk("/usr/sbin", false, () => true, found);
  walk("/usr/lib/x86_64-linux-gnu", true, (n) => /\.so(\.|$)/.test(n), found);
  const seen = new Set<string>();
  const out: string[] = [];
  for (const p of found.sort()) {
    let real: string;
    try {
      real = realpathSync(p);
    } catch {
      continue;
    }
    if (seen.has(real) || !isElfFile(p)) continue;
    seen.add(real);
    out.push(p);
  }
  return out;
}

/** A stable sample: every k-th file of the sorted list, `n` files in all. */
export function strideSample<T>(items: readonly T[], n: number): T[] {
  if (n >= items.length) return [...items];
  const out: T[] = [];
  const step = items.length / n;
  for (let i = 0; i < n; i++) out.push(items[Math.floor(i * step)] as T);
  return out;
}

/** Run GNU readelf; stdout as latin1 (bytes preserved), whatever the exit status. */
export function runReadelf(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      "readelf",
      [...args],
      { encoding: "latin1", maxBuffer: 1 << 30, env: { ...process.env, LC_ALL: "C" } },
      (err, stdout) => {
        if (err && typeof (err as { code?: unknown }).code === "string") reject(err);
        else resolve(stdout);
      },
    );
  });
}

/** ldsim's output for one file and option set, or the error it raised (as text). */
export function ldsimReadelf(path: string, args: readonly string[]): { out: string } | { error: string } {
  let elf: ElfFile | undefined;
  try {
    elf = ElfFile.openPath(path);
    return { out: formatReadelf(elf, requestFromArgs(args)) };
  } catch (e) {
    return { error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  } finally {
    elf?.close();
  }
}

/** The first line that differs, as a short human-readable note (undefined when identical). */
export function firstDifference(ours: string, theirs: string): string | undefined {
  if (ours === theirs) return undefined;
  const a = ours.split("\n");
  const b = theirs.split("\n");
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) {
      return `line ${i + 1}: ldsim ${JSON.stringify(a[i] ?? "<end>")} vs readelf ${JSON.stringify(b[i] ?? "<end>")}`;
    }
  }
  return "differs";
}

export interface Comparison {
  readonly file: string;
  readonly option: string;
  /** undefined when identical. */
  readonly difference: string | undefined;
}

/** Compare `ldsim readelf -W option file` with `readelf -W option file`. */
export async function compareOne(file: string, option: string, wide = true): Promise<Comparison> {
  const args = [...(wide ? ["-W"] : []), ...option.split(/\s+/).filter(Boolean)];
  const theirs = await runReadelf([...args, file]);
  const ours = ldsimReadelf(file, args);
  const difference = "error" in ours ? `ldsim failed: ${ours.error}` : firstDifference(ours.out, theirs);
  return { file, option, difference };
}

/** Run `jobs` at a time over `items`. */
export async function pool<T, R>(
  items: readonly T[],
  jobs: number,
  fn: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
  return out;
}

function parseArgs(argv: readonly string[]) {
  let options: string[] = [...DEFAULT_OPTIONS];
  let sample: number | undefined;
  let files: string[] | undefined;
  let jobs = Math.max(2, cpus().length);
  let wide = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === "--options" && v !== undefined) {
      options = v.split(/\s+(?=-)/).filter(Boolean);
      i++;
    } else if (a === "--sample" && v !== undefined) {
      sample = Number(v);
      i++;
    } else if (a === "--files" && v !== undefined) {
      files = v.split(/[,\s]+/).filter(Boolean);
      i++;
    } else if (a === "--jobs" && v !== undefined) {
      jobs = Number(v);
      i++;
    } else if (a === "--narrow") {
      wide = false;
    } else if (a === "--") {
      // npm passes its separator through; ignore it.
    } else {
      throw new Error(`parity-readelf: unknown argument ${a}`);
    }
  }
  return { options, sample, files, jobs, wide };
}

async function main(): Promise<void> {
  const { options, sample, files: given, jobs, wide } = parseArgs(process.argv.slice(2));
  let files = given ?? systemElfFiles();
  if (sample !== undefined) files = strideSample(files, sample);
  const tasks = files.flatMap((file) => options.map((option) => ({ file, option })));
  const progress = new Progress(tasks.length, "readelf parity");
  const results = await pool(tasks, jobs, async (t) => {
    const r = await compareOne(t.file, t.option, wide);
    progress.tick(`${t.option} ${t.file}`);
    return r;
  });
  progress.end();
  const badFiles = new Set(results.filter((r) => r.difference !== undefined).map((r) => r.file));
  const lines: string[] = [];
  lines.push(`${files.length} files, ${files.length - badFiles.size} identical (all of: ${options.join(" ")})`);
  for (const option of options) {
    const mine = results.filter((r) => r.option === option);
    const same = mine.filter((r) => r.difference === undefined).length;
    lines.push(`  ${option.padEnd(12)} ${mine.length} files, ${same} identical`);
  }
  const diffs = results.filter((r) => r.difference !== undefined);
  if (diffs.length > 0) {
    lines.push("", "Differences:");
    for (const d of diffs) lines.push(`${d.file} [${d.option}] ${d.difference}`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
  process.exitCode = diffs.length > 0 ? 1 : 0;
}

const isEntry = process.argv[1] !== undefined && /parity-readelf\.ts$/.test(process.argv[1]);
if (isEntry) await main();
