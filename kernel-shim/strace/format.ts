import { errnoName, strerror } from "../errno.ts";
import { devMajor, devMinor } from "../fs/types.ts";
import type { Peek, StatPeek, SyscallEvent } from "./event.ts";
import { quoteBuffer, quotePath, STRACE_MAX_STRLEN } from "./quote.ts";
import {
  ACCESS_MODES,
  ARCH_PRCTL_CODES,
  AT_FLAGS,
  MMAP_FLAGS,
  MMAP_PROT,
  MMAP_TYPES,
  MODE_TYPES,
  OPEN_ACCESS_MODES,
  OPEN_FLAGS,
  OPEN_FLAGS_AARCH64,
  printFlags,
  RLIMIT_RESOURCES,
  xlookup,
} from "./xlat.ts";

/**
 * strace's line format (strace 6.1 defaults: no -f prefix, -s 32, abbreviated structs):
 * `name(arg, arg, ...)`, padded so `= ` starts at column 40, then the return value: decimal, hex for
 * calls returning addresses (mmap, brk), `-1 ENOENT (No such file or directory)` on failure, `?` for
 * a call that does not return.
 */
export interface FormatOptions {
  /** `-s`: bytes of a buffer printed before `...` (default 32). */
  readonly maxStrlen?: number;
  /** Open-flag values differ on aarch64. */
  readonly arch?: "x86_64" | "aarch64" | "s390x";
  /** Print unknown/ldsim-only syscalls as strace 6.1 does (`syscall_0x1d8(...)`) instead of by name. */
  readonly straceNamesOnly?: boolean;
}

const AT_FDCWD = -100n;
const O_CREAT = 0o100n;
const O_TMPFILE_BIT = 0o20000000n;
const ARCH_GET_FS = 0x1003n;
const ARCH_GET_GS = 0x1004n;
const ACOLUMN = 40;

/** Names strace 6.1 knows; anything else it prints as `syscall_0x<nr>`. */
const STRACE_KNOWN = new Set([
  "openat",
  "open",
  "close",
  "read",
  "pread64",
  "write",
  "newfstatat",
  "fstat",
  "stat",
  "lstat",
  "mmap",
  "mprotect",
  "munmap",
  "brk",
  "access",
  "faccessat",
  "arch_prctl",
  "set_tid_address",
  "set_robust_list",
  "rseq",
  "prlimit64",
  "getppid",
  "exit_group",
  "exit",
  "readlink",
  "readlinkat",
  "getpid",
  "gettid",
  "lseek",
  "execve",
  "fork",
]);

function s64(v: bigint): bigint {
  return BigInt.asIntN(64, v);
}
function s32(v: bigint): bigint {
  return BigInt.asIntN(32, v);
}
function u64(v: bigint): bigint {
  return BigInt.asUintN(64, v);
}
/** `printaddr`: NULL or %#lx. */
function addr(v: bigint): string {
  const u = u64(v);
  return u === 0n ? "NULL" : `0x${u.toString(16)}`;
}
function hexOrZero(v: bigint): string {
  const u = u64(v);
  return u === 0n ? "0" : `0x${u.toString(16)}`;
}
/** strace's `sprint_rlim64`: RLIM64_INFINITY by name, multiples of 1024 as `N*1024`. */
function rlim(v: bigint): string {
  const u = u64(v);
  if (u === 0xffff_ffff_ffff_ffffn) return "RLIM64_INFINITY";
  return u > 1024n && u % 1024n === 0n ? `${u / 1024n}*1024` : u.toString();
}
function fd(v: bigint): string {
  return s32(v).toString();
}
function dirfd(v: bigint): string {
  const d = s32(v);
  return d === AT_FDCWD ? "AT_FDCWD" : d.toString();
}
/** `%#03o` as C prints it. */
function octal03(v: number): string {
  const o = v.toString(8);
  return v === 0 ? "000" : `0${o}`.padStart(3, "0");
}

/** `print_symbolic_mode_t`. */
export function formatMode(mode: number): string {
  const type = xlookup(MODE_TYPES, BigInt(mode & 0o170000));
  if (type === undefined && (mode & 0o170000) !== 0) return octal03(mode);
  const bits = [
    type ?? "",
    (mode & 0o4000) !== 0 ? "S_ISUID" : "",
    (mode & 0o2000) !== 0 ? "S_ISGID" : "",
    (mode & 0o1000) !== 0 ? "S_ISVTX" : "",
  ].filter((s) => s !== "");
  bits.push(octal03(mode & 0o777));
  return bits.join("|");
}

/** The abbreviated `struct stat` strace prints without -v. */
export function formatStat(st: StatPeek): string {
  const type = st.mode & 0o170000;
  const isDev = type === 0o020000 || type === 0o060000;
  const second = isDev
    ? `st_rdev=makedev(${hexOrZero(devMajor(st.rdev))}, ${hexOrZero(devMinor(st.rdev))})`
    : `st_size=${st.size}`;
  return `{st_mode=${formatMode(st.mode)}, ${second}, ...}`;
}

function openFlags(v: bigint, arch: FormatOptions["arch"]): string {
  const flags = u64(v) & 0xffffffffn;
  const acc = xlookup(OPEN_ACCESS_MODES, flags & 3n) ?? "O_???";
  const rest = flags & ~3n;
  if (rest === 0n) return acc;
  return `${acc}|${printFlags(arch === "aarch64" ? OPEN_FLAGS_AARCH64 : OPEN_FLAGS, rest, "0", "O_???")}`;
}

function mmapFlags(v: bigint): string {
  const flags = u64(v) & 0xffffffffn;
  const type = flags & 0xfn;
  const typeName = xlookup(MMAP_TYPES, type) ?? `0x${type.toString(16)} /* MAP_??? */`;
  const rest = flags & ~0xfn;
  return rest === 0n ? typeName : `${typeName}|${printFlags(MMAP_FLAGS, rest, "0", "MAP_???")}`;
}

function prot(v: bigint): string {
  return printFlags(MMAP_PROT, u64(v) & 0xffffffffn, "PROT_NONE", "PROT_???");
}

const WHENCE = ["SEEK_SET", "SEEK_CUR", "SEEK_END", "SEEK_DATA", "SEEK_HOLE"];
function whence(v: bigint): string {
  const w = u64(v) & 0xffffffffn;
  return WHENCE[Number(w)] ?? `0x${w.toString(16)} /* SEEK_??? */`;
}

function isError(ret: bigint | undefined): boolean {
  return ret !== undefined && ret < 0n && ret >= -4095n;
}

/** Formats an event's arguments; undefined peeks print as the address strace would show. */
class ArgPrinter {
  constructor(
    readonly ev: SyscallEvent,
    readonly opts: FormatOptions,
  ) {}
  arg(i: number): bigint {
    return this.ev.args[i] ?? 0n;
  }
  peek(i: number): Peek | undefined {
    return this.ev.peeks?.[i];
  }
  path(i: number): string {
    const p = this.peek(i);
    return p?.kind === "bytes" ? quotePath(p.bytes) : addr(this.arg(i));
  }
  /** A buffer of `len` bytes, printed only when the call succeeded (read side) or always (write side). */
  buffer(i: number, len: bigint, onlyIfOk: boolean): string {
    const p = this.peek(i);
    if ((onlyIfOk && isError(this.ev.ret)) || p?.kind !== "bytes") return addr(this.arg(i));
    return quoteBuffer(p.bytes, Number(len), this.opts.maxStrlen ?? STRACE_MAX_STRLEN);
  }
  stat(i: number): string {
    const p = this.peek(i);
    if (isError(this.ev.ret) || p?.kind !== "stat") return addr(this.arg(i));
    return formatStat(p.stat);
  }
}

function formatArgs(ev: SyscallEvent, opts: FormatOptions): string[] {
  const a = new ArgPrinter(ev, opts);
  const ret = ev.ret ?? 0n;
  switch (ev.name) {
    case "openat": {
      const out = [dirfd(a.arg(0)), a.path(1), openFlags(a.arg(2), opts.arch)];
      if ((a.arg(2) & (O_CREAT | O_TMPFILE_BIT)) !== 0n) out.push(octal03(Number(a.arg(3) & 0xffffn)));
      return out;
    }
    case "open": {
      const out = [a.path(0), openFlags(a.arg(1), opts.arch)];
      if ((a.arg(1) & (O_CREAT | O_TMPFILE_BIT)) !== 0n) out.push(octal03(Number(a.arg(2) & 0xffffn)));
      return out;
    }
    case "close":
      return [fd(a.arg(0))];
    case "read":
      return [fd(a.arg(0)), a.buffer(1, ret, true), u64(a.arg(2)).toString()];
    case "pread64":
      return [fd(a.arg(0)), a.buffer(1, ret, true), u64(a.arg(2)).toString(), s64(a.arg(3)).toString()];
    case "write":
      return [fd(a.arg(0)), a.buffer(1, u64(a.arg(2)), false), u64(a.arg(2)).toString()];
    case "newfstatat":
      return [dirfd(a.arg(0)), a.path(1), a.stat(2), printFlags(AT_FLAGS, u64(a.arg(3)) & 0xffffffffn, "0", "AT_???")];
    case "fstat":
      return [fd(a.arg(0)), a.stat(1)];
    case "stat":
    case "lstat":
      return [a.path(0), a.stat(1)];
    case "mmap":
      return [
        addr(a.arg(0)),
        u64(a.arg(1)).toString(),
        prot(a.arg(2)),
        mmapFlags(a.arg(3)),
        fd(a.arg(4)),
        hexOrZero(a.arg(5)),
      ];
    case "mprotect":
      return [addr(a.arg(0)), u64(a.arg(1)).toString(), prot(a.arg(2))];
    case "munmap":
      return [addr(a.arg(0)), u64(a.arg(1)).toString()];
    case "brk":
      return [addr(a.arg(0))];
    case "access":
      return [a.path(0), printFlags(ACCESS_MODES, u64(a.arg(1)) & 0xffffffffn, "F_OK", "?_OK")];
    case "faccessat":
      return [dirfd(a.arg(0)), a.path(1), printFlags(ACCESS_MODES, u64(a.arg(2)) & 0xffffffffn, "F_OK", "?_OK")];
    case "arch_prctl": {
      const code = u64(a.arg(0)) & 0xffffffffn;
      const name = xlookup(ARCH_PRCTL_CODES, code) ?? `0x${code.toString(16)} /* ARCH_??? */`;
      const p = a.peek(1);
      if ((code === ARCH_GET_FS || code === ARCH_GET_GS) && !isError(ev.ret) && p?.kind === "u64") {
        return [name, `[${hexOrZero(p.value)}]`];
      }
      return [name, hexOrZero(a.arg(1))];
    }
    case "set_tid_address":
      return [addr(a.arg(0))];
    case "set_robust_list":
      return [addr(a.arg(0)), u64(a.arg(1)).toString()];
    case "rseq":
      return [
        addr(a.arg(0)),
        hexOrZero(u64(a.arg(1)) & 0xffffffffn),
        s32(a.arg(2)).toString(),
        hexOrZero(u64(a.arg(3)) & 0xffffffffn),
      ];
    case "prlimit64": {
      const res = u64(a.arg(1)) & 0xffffffffn;
      const old = a.peek(3);
      return [
        s32(a.arg(0)).toString(),
        xlookup(RLIMIT_RESOURCES, res) ?? `0x${res.toString(16)} /* RLIMIT_??? */`,
        addr(a.arg(2)),
        old?.kind === "rlimit" && !isError(ev.ret)
          ? `{rlim_cur=${rlim(old.cur)}, rlim_max=${rlim(old.max)}}`
          : addr(a.arg(3)),
      ];
    }
    case "exit_group":
    case "exit":
      return [s32(a.arg(0)).toString()];
    case "readlink":
      return [a.path(0), a.buffer(1, ret, true), u64(a.arg(2)).toString()];
    case "readlinkat":
      return [dirfd(a.arg(0)), a.path(1), a.buffer(2, ret, true), u64(a.arg(3)).toString()];
    case "lseek":
      return [fd(a.arg(0)), s64(a.arg(1)).toString(), whence(a.arg(2))];
    case "getpid":
    case "gettid":
    case "getppid":
    case "fork":
      return [];
    case "execve": {
      const argv = a.peek(1);
      const envp = a.peek(2);
      return [
        a.path(0),
        argv?.kind === "strings"
          ? `[${argv.values.map((v) => quoteBuffer(v, v.length, opts.maxStrlen ?? STRACE_MAX_STRLEN)).join(", ")}]`
          : addr(a.arg(1)),
        envp?.kind === "strings"
          ? `${addr(a.arg(2))} /* ${envp.values.length} var${envp.values.length === 1 ? "" : "s"} */`
          : addr(a.arg(2)),
      ];
    }
    default:
      return ev.args.map((v) => hexOrZero(v));
  }
}

function formatReturn(ev: SyscallEvent): string {
  if (ev.ret === undefined) return "?";
  if (isError(ev.ret)) {
    const e = Number(-ev.ret);
    return `-1 ${errnoName(e)} (${strerror(e)})`;
  }
  if (ev.name === "mmap" || ev.name === "brk") return `0x${u64(ev.ret).toString(16)}`;
  return ev.ret.toString();
}

/** The call part, `name(args)`, without the return value. */
export function formatCall(ev: SyscallEvent, opts: FormatOptions = {}): string {
  if (opts.straceNamesOnly && !STRACE_KNOWN.has(ev.name) && ev.nr !== undefined) {
    const six = [...ev.args, 0n, 0n, 0n, 0n, 0n, 0n].slice(0, 6);
    return `syscall_0x${ev.nr.toString(16)}(${six.map(hexOrZero).join(", ")})`;
  }
  return `${ev.name}(${formatArgs(ev, opts).join(", ")})`;
}

/** One strace line, exactly as strace 6.1 prints it (without the trailing newline). */
export function formatEvent(ev: SyscallEvent, opts: FormatOptions = {}): string {
  const prefix = ev.pid !== undefined ? `[pid ${ev.pid}] ` : "";
  const call = `${prefix}${formatCall(ev, opts)} `;
  return `${call.padEnd(ACOLUMN)}= ${formatReturn(ev)}`;
}
