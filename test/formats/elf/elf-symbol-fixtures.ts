/**
 * Shared helpers for the ELF symbol/version/hash tests: the fixture list, the expected outputs GNU
 * readelf 2.40 wrote for them (test/fixtures/elf-symbols/expected, made by
 * scripts/elf-symbols-expected.sh), and host-tool probes for the live parity tests.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const FIXTURE_ROOT = join(import.meta.dirname, "../../fixtures");
export const EXPECTED_DIR = join(FIXTURE_ROOT, "elf-symbols/expected");

/** Fixture files (relative to test/fixtures) with committed readelf outputs. */
export const SYMBOL_FIXTURES = [
  "elf-symbols/x86_64/libv.so",
  "elf-symbols/x86_64/libfoo.so",
  "elf-symbols/i686/libv.so",
  "elf-symbols/i686/libv.o",
  "sframe/v3/aarch64/liba.so",
  "sframe/v3/aarch64/main",
  "sframe/v3/s390x/liba.so",
  "sframe/v3/s390x/main",
  "sframe/v3/s390x/liba.o",
  "sframe/v3/x86_64/main",
  "sframe/v1/x86_64/libb.so",
] as const;

/** Corrupted variants (see the fixture README); readelf output only, their tables are not all parseable. */
export const CORRUPT_FIXTURES = [
  "elf-symbols/malformed/aarch64-variant-pcs-other.so",
  "elf-symbols/malformed/libv-dynamic-strtab.so",
  "elf-symbols/malformed/libv-phdrs-unreadable.so",
  "elf-symbols/malformed/libv-shdrs-unreadable.so",
  "elf-symbols/malformed/libv-verdaux-past-eof.so",
  "elf-symbols/malformed/libv32-no-shstrtab.so",
] as const;

export type ReadelfOption = "s" | "dyn-syms" | "V";

/** The committed readelf 2.40 output for a fixture. */
export function expectedOutput(fixture: string, option: ReadelfOption): string {
  return readFileSync(join(EXPECTED_DIR, `${fixture.replaceAll("/", "__")}.${option}.txt`), "latin1");
}

function probe(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: "latin1", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return undefined;
  }
}

const readelfVersion = probe("readelf", ["--version"]);
/** GNU readelf 2.40 is on the host (other versions print differently, so parity needs exactly it). */
export const hasReadelf240 = readelfVersion?.split("\n")[0]?.endsWith(" 2.40") === true;
export const hasGcc = probe("gcc", ["--version"]) !== undefined;

/** `LC_ALL=C readelf -W <args> file` (stdout only; readelf's warnings go to stderr). */
export function readelf(args: string[], file: string): string {
  try {
    return execFileSync("readelf", ["-W", ...args, file], {
      encoding: "latin1",
      maxBuffer: 1 << 28,
      stdio: ["ignore", "pipe", "ignore"],
      env: { ...process.env, LC_ALL: "C" },
    });
  } catch (e) {
    const out = (e as { stdout?: unknown }).stdout;
    if (typeof out === "string") return out;
    throw e;
  }
}

/** Host libraries for the live parity tests: those that exist. */
export const HOST_LIBS = [
  "/usr/lib/x86_64-linux-gnu/libc.so.6",
  "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
  "/usr/lib/x86_64-linux-gnu/libm.so.6",
  "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
  "/usr/lib/x86_64-linux-gnu/libz.so.1",
].filter((p) => existsSync(p));

/** One row of readelf's symbol listing. */
export interface ReadelfSymbolRow {
  readonly index: number;
  readonly value: bigint;
  readonly size: bigint;
  readonly type: string;
  readonly bind: string;
  readonly vis: string;
  readonly ndx: string;
  /** The name with readelf's version suffix, as printed. */
  readonly printed: string;
}

/** Parse the rows of the table named `table` ('.dynsym' / '.symtab') out of readelf -W output. */
export function parseReadelfSymbols(text: string, table: string): ReadelfSymbolRow[] {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.startsWith(`Symbol table '${table}' contains`));
  if (start < 0) return [];
  const rows: ReadelfSymbolRow[] = [];
  for (const line of lines.slice(start + 2)) {
    const m = /^ *(\d+): ([0-9a-f]+) +(\S+) (\S+) +(\S+) +(\S+) +(\S+) ?(.*)$/.exec(line);
    if (!m) break;
    const size = m[3] as string;
    rows.push({
      index: Number(m[1]),
      value: BigInt(`0x${m[2]}`),
      size: size.startsWith("0x") ? BigInt(size) : BigInt(size),
      type: m[4] as string,
      bind: m[5] as string,
      vis: m[6] as string,
      ndx: m[7] as string,
      printed: m[8] as string,
    });
  }
  return rows;
}
