import { realpathOnce } from "../fs/realpath-once.ts";
import { isDir, isReg } from "../fs/types.ts";
import type { MappedInode, OpenFile } from "../mm/vma.ts";
import { fillBeforeLastClose } from "../process/inode-cache.ts";
import type { OpenDescription } from "../process/open-file.ts";
import { OpenedFileDescription, procStat } from "../process/open-file.ts";
import { errno, MAX_RW_COUNT, type SyscallContext } from "./context.ts";
import { AT_FDCWD, resolveAt } from "./path-lookup.ts";
import { procContents, procLookup } from "./procfs.ts";

// open(2) flags (generic values; aarch64's differ for O_DIRECTORY/O_NOFOLLOW and are mapped by the dispatcher).
export const O_ACCMODE = 0o3;
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;
export const __O_TMPFILE = 0o20000000;
export const O_TMPFILE = __O_TMPFILE | O_DIRECTORY;

/**
 * openat(dirfd, path, flags, mode) — build_open_flags then do_filp_open, on a read-only file system:
 * O_TMPFILE without write access is EINVAL; O_CREAT|O_EXCL on an existing file EEXIST; creating a
 * new file or opening one for writing EROFS; O_DIRECTORY on a non-directory ENOTDIR; O_NOFOLLOW on a
 * symlink ELOOP; a directory opened for writing EISDIR; then the lowest free fd (EMFILE when full).
 */
export function sysOpenat(ctx: SyscallContext, dirfd: number, pathArg: number, flagsArg: number): bigint {
  const path = ctx.path(pathArg);
  if (typeof path !== "string") return errno(path.errno);
  if (path.length === 0) return errno("ENOENT");
  const flags = ctx.uint(flagsArg);
  const acc = flags & O_ACCMODE;
  if ((flags & __O_TMPFILE) !== 0) {
    if ((flags & O_TMPFILE) !== O_TMPFILE || (acc !== O_WRONLY && acc !== O_RDWR)) return errno("EINVAL");
    return errno("EROFS");
  }
  const abs = resolveAt(ctx, dirfd, path);
  if (typeof abs !== "string") return errno(abs.errno);
  const proc = ctx.proc;
  const cloexec = (flags & O_CLOEXEC) !== 0;
  const isPath = (flags & O_PATH) !== 0;
  const wantsWrite = !isPath && (acc === O_WRONLY || acc === O_RDWR || (flags & O_TRUNC) !== 0);

  const pe = procLookup(proc, abs);
  let desc: OpenDescription;
  if (pe === "ENOENT") return errno("ENOENT");
  if (pe?.kind === "text") {
    if (wantsWrite || (flags & O_CREAT) !== 0) return errno("EACCES");
    if ((flags & O_DIRECTORY) !== 0) return errno("ENOTDIR");
    desc = { kind: "proc", path: abs, flags, pos: 0, refs: 0, bytes: procContents(pe), stat: procStat(4096n) };
  } else {
    let target = abs;
    if (pe?.kind === "exe") {
      if ((flags & O_NOFOLLOW) !== 0 && !isPath) return errno("ELOOP");
      if (pe.target.exePath === undefined) return errno("ENOENT");
      target = pe.target.exePath;
    }
    const fs = proc.kernel.fs;
    const st = fs.stat(target);
    if (!st.ok) {
      if (st.errno === "ENOENT" && (flags & O_CREAT) !== 0) {
        // The parent must exist for the create to get as far as the read-only check.
        const parent = fs.stat(target.slice(0, target.lastIndexOf("/")) || "/");
        return errno(parent.ok ? "EROFS" : "ENOENT");
      }
      return errno(st.errno);
    }
    if ((flags & O_CREAT) !== 0 && (flags & O_EXCL) !== 0) return errno("EEXIST");
    if ((flags & O_NOFOLLOW) !== 0 && !isPath) {
      const l = fs.lstat(target);
      if (l.ok && (l.value.mode & 0o170000) === 0o120000) return errno("ELOOP");
    }
    if ((flags & O_DIRECTORY) !== 0 && !isDir(st.value)) return errno("ENOTDIR");
    if (isDir(st.value) && (wantsWrite || (flags & O_CREAT) !== 0)) return errno("EISDIR");
    if (wantsWrite) return errno("EROFS");
    if (!isPath && !fs.openChecksAccess && !fs.access(target, 4).ok) return errno("EACCES");
    const f = fs.open(target, { stat: st.value });
    if (!f.ok) return errno(f.errno);
    // d_path of the open file: resolved when first asked (maps, /proc/self/fd, dirfd lookups), as
    // most opens (ld.so's) never need it and realpath(3) costs a readlink per path component.
    const realPath = realpathOnce(fs, target);
    const mmFile = isReg(st.value) && !isPath ? mappableFile(proc.kernel.inodes.get(f.value, realPath)) : undefined;
    desc = new OpenedFileDescription(realPath, flags, f.value, st.value, mmFile);
  }
  const fd = proc.fds.install(desc, cloexec);
  if (fd < 0) {
    if (desc.kind === "file" && desc.refs === 0) desc.file.close();
    return errno("EMFILE");
  }
  return BigInt(fd);
}

/** open(path, flags, mode): openat(AT_FDCWD, path, flags, mode). */
export function sysOpen(ctx: SyscallContext): bigint {
  return sysOpenat(ctx, AT_FDCWD, 0, 1);
}

/** How many VMAs map each open file (their vm_file references, counted by the VMA tree). */
const vmaRefs = new WeakMap<OpenFile, number>();

/** The OpenFile mmap() receives for a regular file: read-only (the FS is), counting its VMAs. */
function mappableFile(inode: MappedInode): OpenFile {
  const file: OpenFile = {
    inode,
    readable: true,
    writable: false,
    get: () => vmaRefs.set(file, (vmaRefs.get(file) ?? 0) + 1),
    put: () => vmaRefs.set(file, Math.max(0, (vmaRefs.get(file) ?? 0) - 1)),
  };
  return file;
}

/**
 * close(fd). When the last fd of a description goes while VMAs still map the file, the kernel keeps
 * the struct file alive through vma->vm_file and the mapping keeps reading the page cache (ld.so
 * reads /etc/ld.so.cache after closing it). The shim's host handle is released at that point all
 * the same (a shim process is not always torn down), so the page cache is filled through it first.
 */
export function sysClose(ctx: SyscallContext): bigint {
  const fd = ctx.int(0);
  const d = ctx.proc.fds.get(fd);
  if (d?.kind === "file" && d.refs === 1 && d.mmFile && (vmaRefs.get(d.mmFile) ?? 0) > 0) {
    fillBeforeLastClose(d.mmFile.inode);
  }
  return ctx.proc.fds.close(fd) ? 0n : errno("EBADF");
}

function readable(d: OpenDescription): boolean {
  if ((d.flags & O_PATH) !== 0) return false;
  return (d.flags & O_ACCMODE) !== O_WRONLY;
}

/** Bytes of a description at `pos` (files through the FS interface, /proc from the snapshot). */
function readAt(d: OpenDescription, pos: number, count: number): Uint8Array | "EISDIR" | "EIO" | "EINVAL" {
  if (d.kind === "char") return new Uint8Array(0);
  if (d.kind === "proc") return d.bytes.subarray(Math.min(pos, d.bytes.length), Math.min(pos + count, d.bytes.length));
  if (isDir(d.stat)) return "EISDIR";
  const r = d.file.pread(pos, count);
  if (!r.ok) return r.errno === "EISDIR" ? "EISDIR" : r.errno === "EINVAL" ? "EINVAL" : "EIO";
  return r.value;
}

/** Whether argument `i` is a user pointer (a register value) rather than a host-side stand-in buffer. */
function isUserPointer(ctx: SyscallContext, i: number): boolean {
  const a = ctx.raw[i];
  return typeof a === "bigint" || typeof a === "number";
}

/**
 * access_ok(buf, count) with the count as given (vfs_read/vfs_write check it before clamping to
 * MAX_RW_COUNT): x86_64 and arm64 need buf + count ≤ TASK_SIZE_MAX without wrapping; s390x has
 * separate user and kernel address spaces and lets the copy fault instead.
 */
function accessOk(ctx: SyscallContext, i: number, count: bigint): boolean {
  if (!isUserPointer(ctx, i)) return true;
  const mm = ctx.proc.mm;
  if (mm.layout.arch === "s390x") return true;
  return ctx.u64(i) + count <= BigInt(mm.layout.taskSize);
}

/** count clamped to MAX_RW_COUNT, as vfs_read/vfs_write do after their checks. */
function rwCount(ctx: SyscallContext, i: number): number {
  const c = ctx.u64(i);
  return Number(c > BigInt(MAX_RW_COUNT) ? BigInt(MAX_RW_COUNT) : c);
}

/**
 * copy_to_user of `data` to the buffer in argument 1, page by page as filemap_read copies folios:
 * stops at the first page that faults and returns the bytes stored before it (the kernel's short
 * read), or EFAULT when not even the first byte could be stored.
 */
function copyOut(ctx: SyscallContext, data: Uint8Array): number | "EFAULT" {
  if (data.length === 0) return 0;
  if (!isUserPointer(ctx, 1)) {
    const w = ctx.writeBuffer(1, data);
    return w === true ? data.length : "EFAULT";
  }
  const mm = ctx.proc.mm;
  const base = ctx.u64(1);
  if (base >= BigInt(mm.layout.taskSize)) return "EFAULT";
  const addr = Number(base);
  let done = 0;
  while (done < data.length) {
    const at = addr + done;
    const n = Math.min(mm.pageSize - (at % mm.pageSize), data.length - done);
    if (!mm.tryWriteUser(at, data.subarray(done, done + n)).ok) break;
    done += n;
  }
  return done === 0 ? "EFAULT" : done;
}

/** read(fd, buf, count): EBADF for a closed, write-only or O_PATH fd; EISDIR on a directory; EFAULT for a bad buffer. */
export function sysRead(ctx: SyscallContext): bigint {
  const d = ctx.proc.fds.get(ctx.int(0));
  if (!d || !readable(d)) return errno("EBADF");
  if (!accessOk(ctx, 1, ctx.u64(2))) return errno("EFAULT");
  const data = readAt(d, d.pos, rwCount(ctx, 2));
  if (typeof data === "string") return errno(data);
  const n = copyOut(ctx, data);
  if (n === "EFAULT") return errno(n);
  d.pos += n;
  ctx.peek(1, { kind: "bytes", bytes: data.subarray(0, n) });
  return BigInt(n);
}

/**
 * pread64(fd, buf, count, offset): as read at `offset` without moving the position. ksys_pread64
 * checks the offset (EINVAL) before the fd (EBADF), and FMODE_PREAD (ESPIPE on a device) before
 * vfs_read's checks.
 */
export function sysPread64(ctx: SyscallContext): bigint {
  const off = ctx.s64(3);
  if (off < 0n) return errno("EINVAL");
  const d = ctx.proc.fds.get(ctx.int(0));
  if (!d || (d.flags & O_PATH) !== 0) return errno("EBADF");
  if (d.kind === "char") return errno("ESPIPE");
  if (!readable(d)) return errno("EBADF");
  if (!accessOk(ctx, 1, ctx.u64(2))) return errno("EFAULT");
  const count = rwCount(ctx, 2);
  const data = off > BigInt(Number.MAX_SAFE_INTEGER) ? new Uint8Array(0) : readAt(d, Number(off), count);
  if (typeof data === "string") return errno(data);
  const n = copyOut(ctx, data);
  if (n === "EFAULT") return errno(n);
  ctx.peek(1, { kind: "bytes", bytes: data.subarray(0, n) });
  return BigInt(n);
}

/** tty_write's chunk: n_tty gets the data 2048 bytes at a time (TTY_NO_WRITE_SPLIT unset). */
const TTY_CHUNK = 2048;
/** Shared zeros standing for untouched anonymous memory written to the terminal (never mutated). */
const ZERO_CHUNK = new Uint8Array(64 * 1024);
/** The strace log shows the start of a written buffer (strace -s is far smaller). */
const PEEK_MAX = 64 * 1024;

/**
 * write(fd, buf, count): only the character devices on which fds 0-2 start accept data (files are
 * read-only). The terminal takes the buffer as tty_write does: chunk by chunk (TTY_CHUNK), stopping
 * at the first chunk that cannot be copied completely; the result is the bytes written before it,
 * or EFAULT when that is none. Never-written anonymous memory is recorded as shared zero chunks, so
 * a 2 GiB write of a fresh heap costs neither gigabytes nor seconds.
 */
export function sysWrite(ctx: SyscallContext): bigint {
  const d = ctx.proc.fds.get(ctx.int(0));
  if (!d || (d.flags & O_PATH) !== 0 || (d.flags & O_ACCMODE) === O_RDONLY) return errno("EBADF");
  if (!accessOk(ctx, 1, ctx.u64(2))) return errno("EFAULT");
  const count = rwCount(ctx, 2);
  if (!isUserPointer(ctx, 1)) {
    const data = ctx.readBuffer(1, count);
    if (typeof data === "string") return errno(data);
    ctx.peek(1, { kind: "bytes", bytes: data.slice() });
    if (d.kind !== "char") return errno("EBADF");
    d.written.push(data.slice());
    return BigInt(data.length);
  }
  const mm = ctx.proc.mm;
  const base = ctx.u64(1);
  if (count > 0 && base >= BigInt(mm.layout.taskSize)) return errno("EFAULT");
  const addr = Number(base);
  const parts: Uint8Array[] = [];
  let done = 0;
  while (done < count) {
    const at = addr + done;
    const chunk = Math.min(TTY_CHUNK, count - done);
    // Whole chunks of untouched anonymous memory: zeros, accounted without a copy.
    const zeros = Math.min(mm.untouchedZeroRun(at, count - done), count - done);
    if (zeros >= chunk) {
      let z = zeros === count - done ? zeros : zeros - (zeros % TTY_CHUNK);
      done += z;
      while (z > 0) {
        const n = Math.min(z, ZERO_CHUNK.length);
        parts.push(ZERO_CHUNK.subarray(0, n));
        z -= n;
      }
      continue;
    }
    const r = mm.tryReadUser(at, chunk);
    if (!r.ok) break;
    parts.push(r.bytes);
    done += chunk;
  }
  if (done === 0 && count > 0) return errno("EFAULT");
  const peek: Uint8Array[] = [];
  let peeked = 0;
  for (const p of parts) {
    if (peeked >= PEEK_MAX) break;
    peek.push(p.subarray(0, PEEK_MAX - peeked));
    peeked += Math.min(p.length, PEEK_MAX - peeked);
  }
  ctx.peek(1, { kind: "bytes", bytes: Buffer.concat(peek) });
  if (d.kind !== "char") return errno("EBADF");
  d.written.push(...parts);
  return BigInt(done);
}

/**
 * lseek(fd, offset, whence): SEEK_SET/CUR/END, and SEEK_DATA/SEEK_HOLE as generic_file_llseek
 * treats a file without holes (ENXIO at or past the end); EINVAL for another whence or a negative
 * result, ESPIPE on a device.
 */
export function sysLseek(ctx: SyscallContext): bigint {
  const d = ctx.proc.fds.get(ctx.int(0));
  if (!d || (d.flags & O_PATH) !== 0) return errno("EBADF");
  if (d.kind === "char") return errno("ESPIPE");
  const off = ctx.s64(1);
  const whence = ctx.uint(2);
  const size = d.kind === "proc" ? BigInt(d.bytes.length) : d.stat.size;
  if (whence === 3 || whence === 4) {
    if (off < 0n || off >= size) return errno("ENXIO");
    const at = whence === 3 ? off : size;
    d.pos = Number(at);
    return at;
  }
  const base = whence === 0 ? 0n : whence === 1 ? BigInt(d.pos) : whence === 2 ? size : undefined;
  if (base === undefined) return errno("EINVAL");
  const pos = base + off;
  if (pos < 0n || pos > BigInt(Number.MAX_SAFE_INTEGER)) return errno("EINVAL");
  d.pos = Number(pos);
  return pos;
}
