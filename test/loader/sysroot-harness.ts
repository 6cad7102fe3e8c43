import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Debian's libc6-arm64-cross tree and the qemu-user binary the parity tests run under. */
export const SYSROOT = "/usr/aarch64-linux-gnu";
export const QEMU = "qemu-aarch64";
export const LDSO_IN_SYSROOT = "/lib/ld-linux-aarch64.so.1";
export const REPO = join(import.meta.dirname, "..", "..");
export const TRANSCRIPTS = join(REPO, "test", "fixtures", "sysroot-aarch64");

export function hasSysroot(): boolean {
  return existsSync(join(SYSROOT, "lib", "ld-linux-aarch64.so.1")) && existsSync(join(SYSROOT, "lib", "libc.so.6"));
}

export function hasQemu(): boolean {
  return spawnSync(QEMU, ["--version"], { stdio: "ignore" }).status === 0;
}

/** One object's section of ldd.txt / list.txt: what ld.so printed and its exit status. */
export interface TraceRecord {
  readonly object: string;
  readonly stdout: string;
  readonly status: number;
}

/** Parse a transcript made by make-transcripts.sh ("== OBJECT", output lines, "-- status N"). */
export function parseTranscript(text: string): TraceRecord[] {
  const out: TraceRecord[] = [];
  let object: string | undefined;
  let lines: string[] = [];
  for (const l of text.split("\n")) {
    if (l.startsWith("== ")) {
      object = l.slice(3);
      lines = [];
    } else if (l.startsWith("-- status ") && object !== undefined) {
      out.push({ object, stdout: lines.map((x) => `${x}\n`).join(""), status: Number(l.slice(10)) });
      object = undefined;
    } else if (object !== undefined) lines.push(l);
  }
  return out;
}

export function readTranscript(name: string): TraceRecord[] {
  return parseTranscript(readFileSync(join(TRANSCRIPTS, name), "latin1"));
}

/**
 * ldd's lines with the load addresses masked (qemu-user places guest mappings from 0x5500000000
 * upward, the model as the arm64 kernel does, top-down below 0xfffff8000000) and the repository
 * root written as <ROOT>, so transcripts made elsewhere compare.
 */
export function maskTrace(s: string, root = REPO): string {
  return s
    .replace(/\(0x[0-9a-f]{16}\)/g, "(ADDR)")
    .split(root)
    .join("<ROOT>");
}

/**
 * ld.so --list under qemu-aarch64 7.2 prints one line more than ldd's trace mode, first: the main
 * object's address with an empty name ("\t (0x…)"). It is not in LD_TRACE_LOADED_OBJECTS output
 * of the same invocation nor in x86_64's --list under qemu-x86_64; the model does not print it.
 */
export function dropQemuListLine(s: string): string {
  return s.replace(/^\t \((0x[0-9a-f]{16}|ADDR)\)\n/, "");
}

/** `qemu-aarch64 -L SYSROOT` running ld.so directly as /usr/bin/ldd would: its stdout and status. */
export function qemuLdd(object: string, list: boolean, cwd = REPO): { stdout: string; status: number } {
  const ldso = join(SYSROOT, "lib", "ld-linux-aarch64.so.1");
  const args = list
    ? ["-L", SYSROOT, "-0", LDSO_IN_SYSROOT, ldso, "--list", object]
    : ["-L", SYSROOT, "-0", LDSO_IN_SYSROOT, "-E", "LD_TRACE_LOADED_OBJECTS=1", ldso, object];
  const r = spawnSync(QEMU, args, { cwd, encoding: "latin1" });
  return { stdout: r.stdout, status: r.status ?? -1 };
}

/** `qemu-aarch64 -L SYSROOT -strace PROG` (kernel-started: PT_INTERP inside the sysroot). */
export function qemuStrace(prog: string, cwd: string): string[] {
  const r = spawnSync(QEMU, ["-L", SYSROOT, "-strace", prog], { cwd, encoding: "latin1" });
  return r.stderr.split("\n").map((l) => l.replace(/^\d+ /, ""));
}

// ---- strace normalisation ----

/** Split "name(a, b, c) = ret" into its parts (top-level commas; quotes and braces kept). */
function splitCall(line: string): { name: string; args: string[]; ret: string } | undefined {
  const m = /^([a-z_0-9]+)\((.*)\)\s*=\s*(.*)$/.exec(line);
  if (!m) return undefined;
  const body = m[2] as string;
  const args: string[] = [];
  let depth = 0;
  let quote = false;
  let cur = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i] as string;
    if (quote) {
      cur += c;
      if (c === "\\") cur += body[++i] ?? "";
      else if (c === '"') quote = false;
      continue;
    }
    if (c === '"') quote = true;
    else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
    if (c === "," && depth === 0) {
      args.push(cur.trim());
      cur = "";
    } else cur += c;
  }
  if (cur.trim() !== "") args.push(cur.trim());
  return { name: m[1] as string, args, ret: (m[3] as string).trim() };
}

const flags = (s: string | undefined) =>
  (s ?? "")
    .split("|")
    .map((f) => (f === "0x1000" ? "AT_EMPTY_PATH" : f))
    .sort()
    .join("|");
const num = (s: string | undefined) => {
  if (s === undefined) return "";
  const v = s.startsWith("0x") ? BigInt(s) : /^-?\d+$/.test(s) ? BigInt(s) : undefined;
  return v === undefined ? s : v.toString();
};
/** "-1 ENOENT (No such file or directory)" / "-1 errno=2 (No such file or directory)" → the text. */
const result = (r: string) => {
  const e = /^-1 .*\((.*)\)$/.exec(r);
  return e ? `-1 (${e[1]})` : num(r.split(/\s/)[0]);
};

/**
 * One call in a form both strace dialects share, with what depends on the address-space layout
 * masked: mapping addresses, munmap's trimming of the alignment slack, brk's value, and the return
 * values of the calls qemu-user 7.2 does not implement (set_robust_list, rseq: ENOSYS).
 */
export function canonicalCall(line: string): string | undefined {
  if (/^Unknown syscall 293$/.test(line.trim())) return "rseq";
  const c = splitCall(line.trim());
  if (!c) return undefined;
  const a = c.args;
  switch (c.name) {
    case "openat":
      return `openat ${a[1]} ${flags(a[2])} = ${result(c.ret)}`;
    case "read":
      return `read ${a[0]} ${num(a[2])} = ${result(c.ret)}`;
    case "newfstatat":
      return `newfstatat ${a[0]} ${a[1]} ${flags(a[3])} = ${result(c.ret)}`;
    case "mmap": {
      const hint = a[0] === "NULL" ? "NULL" : "ADDR";
      const ok = c.ret.startsWith("-1") ? result(c.ret) : "ADDR";
      return `mmap ${hint} ${num(a[1])} ${flags(a[2])} ${flags(a[3])} ${a[4]} ${num(a[5])} = ${ok}`;
    }
    case "mprotect":
      return `mprotect ADDR ${num(a[1])} ${flags(a[2])} = ${result(c.ret)}`;
    case "munmap":
      return "munmap";
    case "close":
      return `close ${a[0]} = ${result(c.ret)}`;
    case "faccessat":
      return `faccessat ${a[1]} ${a[2]} = ${result(c.ret)}`;
    case "readlinkat":
      return `readlinkat ${a[1]} = ${result(c.ret)}`;
    case "brk":
    case "set_tid_address":
    case "set_robust_list":
    case "rseq":
    case "prlimit64":
      return c.name;
    default:
      return `${c.name}(…)`;
  }
}

/**
 * qemu's -strace of a program from its first call to `_dl_unload_cache`'s munmap (the last call
 * ld.so makes before main; the model stops there), canonical.
 */
export function qemuStartupCalls(lines: readonly string[]): string[] {
  const out: string[] = [];
  let afterPrlimit = false;
  for (const l of lines) {
    const c = canonicalCall(l);
    if (c === undefined) continue;
    out.push(c);
    if (c === "prlimit64") afterPrlimit = true;
    else if (afterPrlimit && c === "munmap") break;
  }
  return out;
}

/** The model's strace log (execve first), canonical. */
export function modelStartupCalls(lines: readonly string[]): string[] {
  return lines
    .filter((l) => !l.startsWith("execve("))
    .map((l) => canonicalCall(l))
    .filter((c): c is string => c !== undefined);
}

// ---- LD_DEBUG ----

/** LD_DEBUG text with every hex number masked (addresses differ between qemu's layout and the model's). */
export function maskHex(lines: readonly string[]): string[] {
  return lines.map((l) => l.replace(/0x[0-9a-f]+/g, "ADDR"));
}

/**
 * qemu's LD_DEBUG output up to "transferring control" (the model stops where main would be called),
 * without the lazy bindings made by code the model does not run: the names in `codeRun` (e.g.
 * `__libc_start_main`, bound through the program's PLT by aarch64's `_start`, and `__getauxval`,
 * bound through libc's own PLT by its constructor). Each such lookup is its "symbol=NAME;" lines
 * and the "binding … `NAME'" line.
 */
export function qemuDebugToMain(lines: readonly string[], codeRun: readonly string[] = []): string[] {
  const end = lines.findIndex((l) => l.startsWith("transferring control: "));
  const upTo = end < 0 ? [...lines] : lines.slice(0, end + 2);
  return upTo.filter(
    (l) =>
      !codeRun.some((n) => l.startsWith(`symbol=${n};`) || (l.startsWith("binding file ") && l.includes(`\`${n}'`))),
  );
}

// ---- a tree with its own /etc/ld.so.cache ----

/**
 * A new-format ld.so.cache ("glibc-ld.so.cache1.1", little-endian flag 2) with the given entries,
 * as dl-cache.h lays it out: a 48-byte header, 24-byte file_entry_new records, then the strings
 * (offsets from the start of the file). Only for feeding the real ld.so and the model the same
 * file; entries must already be in ldconfig's order.
 */
export function buildLdSoCache(entries: readonly { flags: number; key: string; value: string }[]): Uint8Array {
  const head = 48;
  const table = head + entries.length * 24;
  const strings: Buffer[] = [];
  let off = table;
  const offsets = entries.map((e) => {
    const k = off;
    strings.push(Buffer.from(`${e.key}\0`, "latin1"));
    off += e.key.length + 1;
    const v = off;
    strings.push(Buffer.from(`${e.value}\0`, "latin1"));
    off += e.value.length + 1;
    return [k, v] as const;
  });
  const out = Buffer.alloc(off);
  out.write("glibc-ld.so.cache1.1", 0, "latin1");
  out.writeUInt32LE(entries.length, 20);
  out.writeUInt32LE(off - table, 24);
  out.writeUInt8(2, 28);
  entries.forEach((e, i) => {
    const o = head + i * 24;
    const [k, v] = offsets[i] as readonly [number, number];
    out.writeInt32LE(e.flags, o);
    out.writeUInt32LE(k, o + 4);
    out.writeUInt32LE(v, o + 8);
  });
  Buffer.concat(strings).copy(out, table);
  return out;
}
