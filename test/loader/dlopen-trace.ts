/**
 * What the dlopen parity tests share: a C driver announces each operation with "@N" and answers
 * "=N …" through write(2), so a `strace -f` of the real run splits per operation; the same calls
 * of the modelled process are formatted from its log; both are normalised where they legitimately
 * differ (stack buffers, host-side read buffers, column padding).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Process } from "../../kernel-shim/process/process.ts";
import { formatEvent } from "../../kernel-shim/strace/format.ts";

/** The calls compared (write carries the markers and the dlerror strings). */
export const TRACE = ["openat", "mmap", "munmap", "mprotect", "close", "read", "newfstatat", "pread64"];

export interface OpResult {
  readonly lines: string[];
  readonly answer: string;
}

/** Split a trace into the lines of each operation (between "@N" and "=N") and its answer. */
export function splitOps(lines: readonly string[]): { before: string[]; ops: OpResult[] } {
  const before: string[] = [];
  const ops: OpResult[] = [];
  let cur: string[] | undefined;
  for (const l of lines) {
    const m = /^write\(1, "([@=][^"]*)\\n"/.exec(l);
    if (m) {
      const text = m[1] as string;
      if (text.startsWith("@")) cur = [];
      else {
        ops.push({ lines: cur ?? [], answer: text.replace(/^=\d+ /, "") });
        cur = undefined;
      }
      continue;
    }
    if (l.startsWith("write(")) continue;
    (cur ?? (ops.length === 0 ? before : [])).push(l);
  }
  return { before, ops };
}

/**
 * `setarch -R strace -f` of `driver args` in `cwd` (TRACE and write only; `inject` an strace
 * `-e inject=` spec): the trace lines without pids and "(INJECTED)", and the program's stdout.
 */
export function straceRun(
  cwd: string,
  driver: string,
  args: readonly string[],
  inject?: string,
): { trace: string[]; stdout: string } {
  const out = join(mkdtempSync(join(tmpdir(), "ldsim-strace-")), "trace");
  const extra = inject ? ["-e", `inject=${inject}`] : [];
  const stdout = execFileSync(
    "setarch",
    [
      "-R",
      "strace",
      "-f",
      "-s",
      "256",
      "-o",
      out,
      "-e",
      `trace=${[...TRACE, "write"].join(",")}`,
      ...extra,
      driver,
      ...args,
    ],
    { cwd, env: { PATH: process.env["PATH"] ?? "/usr/bin:/bin" }, encoding: "latin1" },
  );
  const trace = readFileSync(out, "latin1")
    .split("\n")
    .map((l) => l.replace(/^\d+ +/, "").replace(/ \(INJECTED\)$/, ""))
    .filter((l) => l !== "" && !l.startsWith("+++"));
  return { trace, stdout };
}

/** The TRACE calls the modelled process made since log position `from`, in strace's format. */
export function tracedSince(proc: Process, from: number): string[] {
  const traced = new Set(TRACE);
  return proc.log.events
    .slice(from)
    .filter((e) => traced.has(e.name))
    .map((e) => {
      const { pid: _pid, ...rest } = e;
      return formatEvent(rest);
    });
}

/** A trace line with what legitimately differs between the real run and the model replaced. */
export const normalise = (l: string) =>
  l
    .replace(/\) +(= -?\d)/, ") $1")
    // The stat buffer of the directory probe is on ld.so's stack.
    .replace(/^(newfstatat\(AT_FDCWD, "[^"]*", )0x[0-9a-f]+/, "$1STACKPTR")
    // ld.so's file buffer is on its stack; the shim's host buffer prints as contents.
    .replace(/^(read|pread64)\(\d+, .*?, (\d+(?:, \d+)?)\) += (-?\d+).*$/, "$1($2) = $3")
    .replace(
      /^newfstatat\((\d+), "", \{st_mode=([^,]+), st_size=(\d+).*\}, AT_EMPTY_PATH\) += 0$/,
      "fstat($1, $2, $3)",
    );
