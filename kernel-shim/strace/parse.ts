import { Errno, type ErrnoName } from "../errno.ts";
import type { Peek, StatPeek, SyscallEvent } from "./event.ts";
import { unquote } from "./quote.ts";
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
  parseFlags,
} from "./xlat.ts";

/**
 * Reads strace's own output back into SyscallEvents: the inverse of format.ts, used to check the
 * formatter against lines real strace printed, and to load a recorded trace. Only the syscalls the
 * formatter knows are decoded; other lines give undefined.
 */

type Kind =
  | "fd"
  | "dirfd"
  | "path"
  | "obuf"
  | "ibuf"
  | "num"
  | "hex"
  | "addr"
  | "oflags"
  | "omode"
  | "stat"
  | "atflags"
  | "prot"
  | "mflags"
  | "amode"
  | "archcode"
  | "archarg"
  | "whence";

const SIGNATURES: Readonly<Record<string, readonly Kind[]>> = {
  openat: ["dirfd", "path", "oflags", "omode"],
  open: ["path", "oflags", "omode"],
  close: ["fd"],
  read: ["fd", "obuf", "num"],
  pread64: ["fd", "obuf", "num", "num"],
  write: ["fd", "ibuf", "num"],
  newfstatat: ["dirfd", "path", "stat", "atflags"],
  fstat: ["fd", "stat"],
  stat: ["path", "stat"],
  lstat: ["path", "stat"],
  mmap: ["addr", "num", "prot", "mflags", "fd", "hex"],
  mprotect: ["addr", "num", "prot"],
  munmap: ["addr", "num"],
  brk: ["addr"],
  access: ["path", "amode"],
  faccessat: ["dirfd", "path", "amode"],
  arch_prctl: ["archcode", "archarg"],
  set_tid_address: ["addr"],
  exit_group: ["num"],
  exit: ["num"],
  readlink: ["path", "obuf", "num"],
  readlinkat: ["dirfd", "path", "obuf", "num"],
  lseek: ["fd", "num", "whence"],
  getpid: [],
  gettid: [],
};

/** A placeholder user address for arguments strace printed only as their contents. */
export const PEEKED_ADDRESS = 0x7ffff000n;

/** Split the argument list at top-level commas (outside quotes, braces, brackets, parentheses). */
export function splitArgs(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  let inStr = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (inStr) {
      cur += c;
      if (c === "\\") cur += s[++i] ?? "";
      else if (c === '"') inStr = false;
      continue;
    }
    if (c === '"') inStr = true;
    else if (c === "{" || c === "[" || c === "(") depth++;
    else if (c === "}" || c === "]" || c === ")") depth--;
    else if (c === "," && depth === 0) {
      out.push(cur.trim());
      cur = "";
      continue;
    }
    cur += c;
  }
  if (cur.trim() !== "") out.push(cur.trim());
  return out;
}

function num(text: string): bigint {
  const t = text.replace(/\/\*.*?\*\//g, "").trim();
  const neg = t.startsWith("-");
  const body = neg ? t.slice(1) : t;
  const v = BigInt(body);
  return BigInt.asUintN(64, neg ? -v : v);
}

/** The bytes of a quoted literal, ignoring a trailing `...`. */
function literal(text: string): Uint8Array {
  const m = /^"(.*)"(\.\.\.)?$/s.exec(text);
  if (!m) throw new Error(`not a string literal: ${text}`);
  return unquote(m[1] as string);
}

function makedev(major: bigint, minor: bigint): bigint {
  return (minor & 0xffn) | ((major & 0xfffn) << 8n) | ((minor & ~0xffn) << 12n) | ((major & ~0xfffn) << 32n);
}

function parseMode(text: string): number {
  let mode = 0n;
  for (const p of text.split("|")) {
    if (p === "S_ISUID") mode |= 0o4000n;
    else if (p === "S_ISGID") mode |= 0o2000n;
    else if (p === "S_ISVTX") mode |= 0o1000n;
    else if (/^[0-7]+$/.test(p)) mode |= BigInt(`0o${p}`);
    else mode |= parseFlags(p, MODE_TYPES);
  }
  return Number(mode);
}

export function parseStat(text: string): StatPeek {
  const mode = /st_mode=([A-Z_|0-9]+)/.exec(text);
  const size = /st_size=(\d+)/.exec(text);
  const rdev = /st_rdev=makedev\((0x[0-9a-f]+|0), (0x[0-9a-f]+|0)\)/.exec(text);
  if (!mode) throw new Error(`no st_mode in ${text}`);
  return {
    mode: parseMode(mode[1] as string),
    size: size ? BigInt(size[1] as string) : 0n,
    rdev: rdev ? makedev(BigInt(rdev[1] as string), BigInt(rdev[2] as string)) : 0n,
  };
}

function parseReturn(text: string): bigint | undefined {
  const t = text.trim();
  if (t === "?") return undefined;
  const err = /^-1 (E[A-Z0-9]+) \(.*\)$/.exec(t);
  if (err) {
    const name = err[1] as string;
    if (!(name in Errno)) throw new Error(`unknown errno ${name}`);
    return -BigInt(Errno[name as ErrnoName]);
  }
  const v = /^(-?(?:0x[0-9a-f]+|\d+))/.exec(t);
  if (!v) throw new Error(`bad return value ${t}`);
  return BigInt.asIntN(64, num(v[1] as string));
}

/** Parse one line of strace output; undefined for lines that are not a complete known call. */
export function parseStraceLine(line: string): SyscallEvent | undefined {
  try {
    return parseLine(line);
  } catch {
    return undefined;
  }
}

function parseLine(line: string): SyscallEvent | undefined {
  const m = /^(?:\[pid +(\d+)\] )?([a-z_0-9]+)\((.*)\) +=( .*)$/s.exec(line);
  if (!m) return undefined;
  const name = m[2] as string;
  const sig = SIGNATURES[name];
  if (!sig) return undefined;
  const texts = splitArgs(m[3] as string);
  const args: bigint[] = [];
  const peeks: Record<number, Peek> = {};
  for (let i = 0; i < texts.length; i++) {
    const t = texts[i] as string;
    const kind = sig[i];
    switch (kind) {
      case "dirfd":
        args.push(t === "AT_FDCWD" ? BigInt.asUintN(64, -100n) : num(t));
        break;
      case "path":
      case "obuf":
      case "ibuf":
        if (t.startsWith('"')) {
          args.push(PEEKED_ADDRESS);
          peeks[i] = { kind: "bytes", bytes: literal(t) };
        } else args.push(t === "NULL" ? 0n : num(t));
        break;
      case "stat":
        if (t.startsWith("{")) {
          args.push(PEEKED_ADDRESS);
          peeks[i] = { kind: "stat", stat: parseStat(t) };
        } else args.push(t === "NULL" ? 0n : num(t));
        break;
      case "oflags":
        args.push(parseFlags(t, OPEN_ACCESS_MODES, OPEN_FLAGS));
        break;
      case "omode":
        args.push(BigInt(`0o${t}`));
        break;
      case "atflags":
        args.push(parseFlags(t, AT_FLAGS));
        break;
      case "prot":
        args.push(t === "PROT_NONE" ? 0n : parseFlags(t, MMAP_PROT));
        break;
      case "mflags":
        args.push(parseFlags(t.replace(/ \/\*.*?\*\//g, ""), MMAP_TYPES, MMAP_FLAGS));
        break;
      case "amode":
        args.push(t === "F_OK" ? 0n : parseFlags(t, ACCESS_MODES));
        break;
      case "archcode":
        args.push(t.startsWith("0x") ? num(t) : parseFlags(t, ARCH_PRCTL_CODES));
        break;
      case "archarg":
        if (t.startsWith("[")) {
          args.push(PEEKED_ADDRESS);
          peeks[i] = { kind: "u64", value: num(t.slice(1, -1)) };
        } else args.push(num(t));
        break;
      case "addr":
        args.push(t === "NULL" ? 0n : num(t));
        break;
      case "whence": {
        const w = ["SEEK_SET", "SEEK_CUR", "SEEK_END", "SEEK_DATA", "SEEK_HOLE"].indexOf(t);
        args.push(w >= 0 ? BigInt(w) : num(t));
        break;
      }
      default:
        args.push(num(t));
    }
  }
  const ev: SyscallEvent = {
    name,
    args,
    ret: parseReturn(m[4] as string),
    ...(Object.keys(peeks).length > 0 ? { peeks } : {}),
    ...(m[1] !== undefined ? { pid: Number(m[1]) } : {}),
  };
  return ev;
}
