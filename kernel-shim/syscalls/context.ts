import { Errno, type ErrnoName } from "../errno.ts";
import type { FsStat } from "../fs/types.ts";
import type { Process } from "../process/process.ts";
import type { Peek } from "../strace/event.ts";

/**
 * A syscall argument as callers hand it to the dispatcher. Register values are numbers or bigints
 * (reduced modulo 2^64). Pointer arguments may instead be host-side stand-ins for user memory:
 * a `string` where the kernel would read a C string (a path), a `Uint8Array` where it reads or
 * writes a buffer (read's buffer is filled in place; struct stat is written into it in the
 * architecture's layout). The strace log shows a host-side argument by its contents, as strace does.
 */
export type SyscallArg = number | bigint | string | Uint8Array | readonly string[];

/** Raw return: ≥ 0 result, or -errno. */
export type SyscallReturn = bigint;

export const PATH_MAX = 4096;

/** A failed lookup. Paths are strings, so a failure must not be one (an errno name would read as a path). */
export interface Fail {
  readonly errno: ErrnoName;
}
export function fail(errno: ErrnoName): Fail {
  return { errno };
}
/** MAX_RW_COUNT: INT_MAX rounded down to a page (read/write clamp larger counts). */
export const MAX_RW_COUNT = 0x7ffff000;

export function errno(name: ErrnoName): bigint {
  return -BigInt(Errno[name]);
}

/** Where `struct stat` goes: the address's arch layout (x86_64 and s390x 144 bytes, aarch64 128). */
export function statLayoutSize(arch: Process["kernel"]["arch"]): number {
  return arch === "aarch64" ? 128 : 144;
}

export class SyscallContext {
  readonly peeks: Record<number, Peek> = {};
  constructor(
    readonly proc: Process,
    readonly raw: readonly SyscallArg[],
  ) {}

  /** Argument `i` as the register would hold it: u64. Host-side stand-ins read as a dummy non-zero pointer. */
  u64(i: number): bigint {
    const a = this.raw[i];
    if (a === undefined) return 0n;
    if (typeof a === "bigint") return a >= 0n && a <= U64_MAX ? a : BigInt.asUintN(64, a);
    if (typeof a === "number") {
      const t = Math.trunc(a);
      return t >= 0 && t <= Number.MAX_SAFE_INTEGER ? BigInt(t) : BigInt.asUintN(64, BigInt(t));
    }
    return HOST_POINTER;
  }
  /** `int` argument (fd, flags): the low 32 bits, signed. */
  int(i: number): number {
    const a = this.raw[i];
    // ToInt32 is the same reduction (modulo 2^32, signed) for any integral number in the safe range.
    if (typeof a === "number" && Number.isSafeInteger(a)) return a | 0;
    return Number(BigInt.asIntN(32, this.u64(i)));
  }
  /** `unsigned int` argument. */
  uint(i: number): number {
    const a = this.raw[i];
    if (typeof a === "number" && Number.isSafeInteger(a)) return a >>> 0;
    return Number(BigInt.asUintN(32, this.u64(i)));
  }
  /** `long`/`loff_t` argument. */
  s64(i: number): bigint {
    return BigInt.asIntN(64, this.u64(i));
  }

  /** How many arguments have a peek (the event carries `peeks` only when some do). */
  peekCount = 0;

  peek(i: number, p: Peek): void {
    if (this.peeks[i] === undefined) this.peekCount++;
    this.peeks[i] = p;
  }

  /**
   * strncpy_from_user of a path: the string, or EFAULT (unreadable), ENAMETOOLONG (no NUL within
   * PATH_MAX). Recorded for the strace log.
   */
  path(i: number): string | Fail {
    const a = this.raw[i];
    let bytes: Uint8Array;
    if (typeof a === "string") bytes = Buffer.from(a, "utf8");
    else if (Array.isArray(a)) return fail("EFAULT");
    else if (a instanceof Uint8Array) {
      const nul = a.indexOf(0);
      bytes = nul < 0 ? a : a.subarray(0, nul);
    } else {
      const r = this.readCString(this.u64(i));
      if (typeof r === "string") return fail(r);
      bytes = r;
    }
    if (bytes.length >= PATH_MAX) return fail("ENAMETOOLONG");
    this.peek(i, { kind: "bytes", bytes });
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("utf8");
  }

  readCString(addr: bigint): Uint8Array | ErrnoName {
    const mm = this.proc.mm;
    if (addr >= BigInt(mm.layout.taskSize)) return "EFAULT";
    // strncpy_from_user: page by page (a fault past the NUL does not matter), at most PATH_MAX bytes.
    const parts: Uint8Array[] = [];
    let got = 0;
    let a = Number(addr);
    while (got < PATH_MAX) {
      const chunk = Math.min(mm.pageSize - (a % mm.pageSize), PATH_MAX - got);
      const r = mm.tryReadUser(a, chunk);
      if (!r.ok) return "EFAULT";
      const nul = r.bytes.indexOf(0);
      if (nul >= 0) {
        const last = r.bytes.slice(0, nul);
        if (parts.length === 0) return last;
        parts.push(last);
        return Buffer.concat(parts, got + nul);
      }
      parts.push(r.bytes);
      got += chunk;
      a += chunk;
    }
    return "ENAMETOOLONG";
  }

  /**
   * A NULL-terminated array of C strings (execve's argv/envp): a host `string[]`, or a user pointer to
   * 8-byte pointers (the arch's byte order); NULL reads as empty. EFAULT for an unreadable pointer,
   * E2BIG past MAX_ARG_STRINGS (0x7fffffff, kept to 1<<20 here).
   */
  stringArray(i: number): string[] | Fail {
    const a = this.raw[i];
    if (Array.isArray(a)) {
      this.peek(i, { kind: "strings", values: a.map((s) => Buffer.from(s, "utf8")) });
      return [...a];
    }
    if (typeof a === "string" || a instanceof Uint8Array) return fail("EFAULT");
    const base = this.u64(i);
    if (base === 0n) return [];
    const le = this.proc.kernel.arch !== "s390x";
    const out: string[] = [];
    const values: Uint8Array[] = [];
    for (let k = 0; k < 1 << 20; k++) {
      const at = base + BigInt(k * 8);
      if (at >= BigInt(this.proc.mm.layout.taskSize)) return fail("EFAULT");
      const r = this.proc.mm.tryReadUser(Number(at), 8);
      if (!r.ok) return fail("EFAULT");
      const ptr = new DataView(r.bytes.buffer, r.bytes.byteOffset, 8).getBigUint64(0, le);
      if (ptr === 0n) {
        this.peek(i, { kind: "strings", values });
        return out;
      }
      const s = this.readCString(ptr);
      if (typeof s === "string") return fail(s);
      values.push(s);
      out.push(Buffer.from(s).toString("utf8"));
    }
    return fail("E2BIG");
  }

  /** copy_from_user of `len` bytes at argument `i` (or the host buffer itself). */
  readBuffer(i: number, len: number): Uint8Array | ErrnoName {
    const a = this.raw[i];
    if (Array.isArray(a)) return "EFAULT";
    if (typeof a === "string") return Buffer.from(a, "utf8").subarray(0, len);
    if (a instanceof Uint8Array) return a.subarray(0, len);
    if (len === 0) return new Uint8Array(0);
    const addr = this.u64(i);
    if (addr >= BigInt(this.proc.mm.layout.taskSize)) return "EFAULT";
    const r = this.proc.mm.tryReadUser(Number(addr), len);
    return r.ok ? r.bytes : "EFAULT";
  }

  /** copy_to_user into argument `i` (a user pointer, or a host buffer filled in place). */
  writeBuffer(i: number, bytes: Uint8Array): true | ErrnoName {
    const a = this.raw[i];
    if (a instanceof Uint8Array) {
      if (a.length < bytes.length) return "EFAULT";
      a.set(bytes);
      return true;
    }
    if (typeof a === "string" || Array.isArray(a)) return "EFAULT";
    if (bytes.length === 0) return true;
    const addr = this.u64(i);
    if (addr >= BigInt(this.proc.mm.layout.taskSize)) return "EFAULT";
    return this.proc.mm.tryWriteUser(Number(addr), bytes).ok ? true : "EFAULT";
  }

  /** cp_new_stat: write `st` to argument `i` in the architecture's struct stat layout. */
  writeStat(i: number, st: FsStat): true | ErrnoName {
    const r = this.writeBuffer(i, encodeStat(st, this.proc.kernel.arch));
    if (r === true) this.peek(i, { kind: "stat", stat: st });
    return r;
  }
}

const U64_MAX = (1n << 64n) - 1n;

/** What a host-side stand-in looks like in a register (strace never prints it: the contents are shown). */
export const HOST_POINTER = 0x7ffff000n;

/** struct stat as the kernel's cp_new_stat fills it for x86_64, aarch64 (asm-generic) and s390x. */
export function encodeStat(st: FsStat, arch: Process["kernel"]["arch"]): Uint8Array {
  const b = new Uint8Array(statLayoutSize(arch));
  const v = new DataView(b.buffer);
  const sec = (ns: bigint) => ns / 1_000_000_000n;
  const nsec = (ns: bigint) => ns % 1_000_000_000n;
  if (arch === "aarch64") {
    v.setBigUint64(0, st.dev, true);
    v.setBigUint64(8, st.ino, true);
    v.setUint32(16, st.mode, true);
    v.setUint32(20, Number(st.nlink), true);
    v.setUint32(24, st.uid, true);
    v.setUint32(28, st.gid, true);
    v.setBigUint64(32, st.rdev, true);
    v.setBigInt64(48, st.size, true);
    v.setInt32(56, Number(st.blksize), true);
    v.setBigInt64(64, st.blocks, true);
    v.setBigInt64(72, sec(st.atimeNs), true);
    v.setBigInt64(80, nsec(st.atimeNs), true);
    v.setBigInt64(88, sec(st.mtimeNs), true);
    v.setBigInt64(96, nsec(st.mtimeNs), true);
    v.setBigInt64(104, sec(st.ctimeNs), true);
    v.setBigInt64(112, nsec(st.ctimeNs), true);
    return b;
  }
  const le = arch === "x86_64";
  v.setBigUint64(0, st.dev, le);
  v.setBigUint64(8, st.ino, le);
  v.setBigUint64(16, st.nlink, le);
  v.setUint32(24, st.mode, le);
  v.setUint32(28, st.uid, le);
  v.setUint32(32, st.gid, le);
  v.setBigUint64(40, st.rdev, le);
  v.setBigInt64(48, st.size, le);
  if (le) {
    v.setBigInt64(56, st.blksize, le);
    v.setBigInt64(64, st.blocks, le);
    v.setBigInt64(72, sec(st.atimeNs), le);
    v.setBigInt64(80, nsec(st.atimeNs), le);
    v.setBigInt64(88, sec(st.mtimeNs), le);
    v.setBigInt64(96, nsec(st.mtimeNs), le);
    v.setBigInt64(104, sec(st.ctimeNs), le);
    v.setBigInt64(112, nsec(st.ctimeNs), le);
  } else {
    v.setBigInt64(56, sec(st.atimeNs), le);
    v.setBigInt64(64, nsec(st.atimeNs), le);
    v.setBigInt64(72, sec(st.mtimeNs), le);
    v.setBigInt64(80, nsec(st.mtimeNs), le);
    v.setBigInt64(88, sec(st.ctimeNs), le);
    v.setBigInt64(96, nsec(st.ctimeNs), le);
    v.setBigUint64(104, st.blksize, le);
    v.setBigInt64(112, st.blocks, le);
  }
  return b;
}
