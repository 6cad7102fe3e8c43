/**
 * ELF reader throughput: open a file with positional reads, parse the ELF header, program and section
 * headers, the dynamic section (with its names) and every .dynsym entry (name and version), for
 * glibc's libc.so.6 and the largest ELF file found under /usr/bin and /usr/lib. Printed next to the
 * wall time of `readelf -W --dyn-syms FILE > /dev/null` spawned in the same run (which does the same
 * reading plus formatting, and pays for a process start).
 */
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, lstatSync, openSync, readdirSync, readSync } from "node:fs";
import { join } from "node:path";
import { decodeDynamic, dynamicNames, dynamicStringsFromFile, readDynamic } from "../formats/elf/dynamic.ts";
import { ElfFile } from "../formats/elf/file.ts";
import { dynamicSymbols } from "../formats/elf/symbols.ts";
import { symbolVersioning } from "../formats/elf/versions.ts";

const LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6";

function isElf(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.readUInt32BE(0) === 0x7f454c46;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Regular files under `roots`, largest first (symlinks are not followed). */
function filesBySize(roots: readonly string[]): string[] {
  const files: { path: string; size: number }[] = [];
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(dir, n);
      let st: ReturnType<typeof lstatSync>;
      try {
        st = lstatSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && st.size > 4096) files.push({ path: p, size: st.size });
    }
  };
  for (const r of roots) walk(r);
  files.sort((a, b) => b.size - a.size || (a.path < b.path ? -1 : 1));
  return files.map((f) => f.path);
}

function hasDynsym(path: string): boolean {
  try {
    return parseOnce(path).dynsyms > 0;
  } catch {
    return false;
  }
}

interface ParseResult {
  dynsyms: number;
  needed: number;
}

/** One full parse, as ld.so would read an object: header, phdrs, dynamic, symbols with versions. */
function parseOnce(path: string): ParseResult {
  const elf = ElfFile.openPath(path);
  try {
    void elf.programHeaders;
    void elf.sections;
    const dyn = readDynamic(elf);
    let needed = 0;
    if (dyn) {
      const decoded = decodeDynamic(dyn.entries);
      const strings = dynamicStringsFromFile(elf, decoded);
      if (strings) needed = dynamicNames(decoded, strings).needed.length;
    }
    const syms = dynamicSymbols(elf);
    const versions = symbolVersioning(elf);
    const count = syms?.count ?? 0;
    for (let i = 0; i < count; i++) {
      syms?.symbol(i);
      syms?.name(i);
      versions?.versionOf(i);
    }
    return { dynsyms: count, needed };
  } finally {
    elf.close();
  }
}

/** Run `fn` for at least `minMs` and 3 times, returning the median time per call in ms. */
function time(fn: () => void, minMs = 1000): { median: number; runs: number } {
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < 3 || performance.now() - start < minMs) {
    const t = performance.now();
    fn();
    samples.push(performance.now() - t);
    if (samples.length >= 10_000) break;
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)] as number, runs: samples.length };
}

export async function run(): Promise<void> {
  // The largest ELF file is often a static Go or Rust binary with no .dynsym, so the largest one
  // with a dynamic symbol table is measured too.
  const bySize = filesBySize(["/usr/bin", "/usr/lib"]);
  const largest = bySize.find(isElf);
  const largestDynamic = bySize.find((f) => isElf(f) && hasDynsym(f));
  const files = [...new Set([LIBC, largest, largestDynamic])].filter(
    (f): f is string => f !== undefined && existsSync(f),
  );
  const hasReadelf = spawnSync("readelf", ["--version"], { stdio: "ignore" }).status === 0;
  const rows: string[][] = [["file", "size", ".dynsym", "ldsim ms/parse", "ldsim parses/s", "readelf --dyn-syms ms"]];
  for (const f of files) {
    const info = parseOnce(f);
    const ours = time(() => parseOnce(f));
    const native = hasReadelf
      ? time(() => {
          spawnSync("readelf", ["-W", "--dyn-syms", f], { stdio: ["ignore", "ignore", "ignore"] });
        }, 2000)
      : undefined;
    const size = lstatSync(f).size;
    rows.push([
      f,
      `${(size / 2 ** 20).toFixed(1)} MiB`,
      String(info.dynsyms),
      ours.median.toFixed(3),
      (1000 / ours.median).toFixed(0),
      native ? native.median.toFixed(2) : "n/a (no readelf)",
    ]);
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i] ?? 0)).join("  "));
  console.log("(medians; ldsim parses header, phdrs, shdrs, dynamic + names, every .dynsym entry with its version)");
}
