/**
 * `npm run parity:ldd` — run `ldsim ldd` (in process) and the real `ldd` under `setarch -R` over
 * every dynamic ELF executable (PT_INTERP) in /usr/bin and /usr/sbin, and print `N/M identical`
 * with the differing files and their first differing line. `--limit N` / `--sample N` for a subset.
 */
import { execFileSync } from "node:child_process";
import { closeSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { ldd } from "../loader/ldd.ts";
import { Progress } from "./progress.ts";

const PT_INTERP = 3;

/** A regular ELF64 file with a PT_INTERP program header (read from its first 4 KiB). */
export function isDynamicExecutable(path: string): boolean {
  let fd: number | undefined;
  try {
    const st = statSync(path);
    if (!st.isFile()) return false;
    fd = openSync(path, "r");
    const b = Buffer.alloc(4096);
    const n = readSync(fd, b, 0, 4096, 0);
    if (n < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2) return false;
    const phoff = Number(b.readBigUInt64LE(32));
    const phnum = b.readUInt16LE(56);
    for (let i = 0; i < phnum; i++) {
      const o = phoff + i * 56;
      if (o + 56 > n) return false;
      if (b.readUInt32LE(o) === PT_INTERP) return true;
    }
    return false;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export function dynamicExecutables(dirs = ["/usr/bin", "/usr/sbin"]): string[] {
  const out: string[] = [];
  for (const d of dirs) {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (isDynamicExecutable(p)) out.push(p);
    }
  }
  return out;
}

export function realLdd(file: string, env: Record<string, string> = {}): { out: string; status: number } {
  try {
    const out = execFileSync("setarch", ["-R", "ldd", file], {
      encoding: "latin1",
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    return { out, status: 0 };
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; status?: number };
    return { out: `${err.stdout ?? ""}${err.stderr ?? ""}`, status: err.status ?? 1 };
  }
}

/** 2 MiB: the kernel aligns file mappings at least this long to it (thp_get_unmapped_area). */
const PMD = 2n * 1024n * 1024n;

/** Whether the simulated ld.so made a file mapping the kernel places PMD-aligned (thp_get_unmapped_area). */
export function madeThpSizedFileMapping(r: ReturnType<typeof ldd>): boolean {
  return r.log.events.some(
    (e) =>
      e.name === "mmap" && e.args[0] === 0n && (e.args[1] ?? 0n) >= PMD && BigInt.asIntN(64, e.args[4] ?? -1n) >= 0n,
  );
}

function main(): void {
  const args = process.argv.slice(2);
  const limitAt = args.indexOf("--limit");
  const filesAt = args.indexOf("--files");
  let files = filesAt >= 0 ? args.slice(filesAt + 1) : dynamicExecutables();
  if (limitAt >= 0) files = files.slice(0, Number(args[limitAt + 1]));
  const env: Record<string, string> = {};
  const llp = process.env["LD_LIBRARY_PATH"];
  if (llp !== undefined) env["LD_LIBRARY_PATH"] = llp;
  let same = 0;
  let thp = 0;
  const diffs: string[] = [];
  const progress = new Progress(files.length, "ldd parity");
  for (const f of files) {
    progress.tick(f);
    const real = realLdd(f);
    let mine: string;
    let thpSized = false;
    try {
      const r = ldd(f, { env });
      mine = r.stdout + r.stderr;
      thpSized = madeThpSizedFileMapping(r);
    } catch (e) {
      mine = `ldsim error: ${(e as Error).message}\n`;
    }
    if (mine === real.out) same++;
    else {
      if (thpSized) thp++;
      const a = real.out.split("\n");
      const b = mine.split("\n");
      const i = a.findIndex((l, k) => l !== b[k]);
      diffs.push(
        `${f}: line ${i + 1}${thpSized ? " (after a >= 2 MiB file mapping)" : ""}\n  ldd:   ${a[i] ?? "<none>"}\n  ldsim: ${b[i] ?? "<none>"}`,
      );
    }
  }
  progress.end();
  for (const d of diffs) console.log(d);
  console.log(`${same}/${files.length} identical`);
  // The shim places >= 2 MiB file mappings PMD-aligned as the kernel does (THP); a difference after
  // one points at that placement first.
  if (same < files.length)
    console.log(`${thp} of the ${files.length - same} differences follow a file mapping of >= 2 MiB (THP placement)`);
}

if (process.argv[1]?.endsWith("parity-ldd.ts")) main();
