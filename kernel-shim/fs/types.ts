import type { ErrnoName } from "../errno.ts";

/**
 * The small file-system interface the kernel shim reads through: what `vfs_stat`, `do_filp_open`,
 * `kernel_read`, `vfs_readlink` and `do_faccessat` give the syscalls and binfmt_elf. Paths handed to
 * it are absolute; the syscall layer resolves `dirfd` and the cwd first. Failures are values carrying
 * the kernel's errno, never exceptions, so a syscall can return `-errno` as the kernel does.
 */

/** A `struct stat` as the kernel fills it (x86_64 `struct stat` field set), 64-bit fields exact. */
export interface FsStat {
  readonly dev: bigint;
  readonly ino: bigint;
  /** st_mode: file type bits (S_IFMT) and permissions. */
  readonly mode: number;
  readonly nlink: bigint;
  readonly uid: number;
  readonly gid: number;
  readonly rdev: bigint;
  readonly size: bigint;
  readonly blksize: bigint;
  readonly blocks: bigint;
  readonly atimeNs: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

export type FsResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly errno: ErrnoName };

export function fsOk<T>(value: T): FsResult<T> {
  return { ok: true, value };
}
export function fsErr<T = never>(errno: ErrnoName): FsResult<T> {
  return { ok: false, errno };
}

/** An open file: positional reads only (the shim never writes to files it did not create). */
export interface FsFile {
  /** The path it was opened by (after symlink resolution only when the backend reports it). */
  readonly path: string;
  /** Read up to `length` bytes at `offset`; a short (or empty) result means end of file. */
  pread(offset: number, length: number): FsResult<Uint8Array>;
  /**
   * The file's contents in a page cache that outlives this open file and this kernel
   * (fs/page-cache.ts), read lazily; the bytes it returns are shared and must not be modified.
   * Optional (absent or undefined: read everything through pread while the file is open).
   */
  pages?(): FilePages | undefined;
  fstat(): FsStat;
  close(): void;
}

/** Cached contents of one file (fs/page-cache.ts CachedFile). */
export interface FilePages {
  readonly size: number;
  /** Up to `length` bytes at `offset`, shared (read-only); undefined when the file cannot be read. */
  read(offset: number, length: number): Uint8Array | undefined;
}

export interface FsOpenOptions {
  /** O_NOFOLLOW: fail with ELOOP when the last component is a symlink. */
  readonly noFollow?: boolean;
  /** O_DIRECTORY: fail with ENOTDIR unless the path is a directory. */
  readonly directory?: boolean;
  /** Opened for writing (O_WRONLY/O_RDWR): a directory then fails with EISDIR. */
  readonly write?: boolean;
  /**
   * The stat(2) of this path the caller took just before (do_filp_open walks the path once; the shim's
   * syscall layer has already stat()ed it for its checks): the backend need not stat it again.
   */
  readonly stat?: FsStat;
}

/** access(2) mode bits. */
export const F_OK = 0;
export const X_OK = 1;
export const W_OK = 2;
export const R_OK = 4;

export interface KernelFs {
  /** stat(2): follows symlinks. */
  stat(path: string): FsResult<FsStat>;
  /** lstat(2): does not follow a final symlink. */
  lstat(path: string): FsResult<FsStat>;
  open(path: string, options?: FsOpenOptions): FsResult<FsFile>;
  /** readlink(2): EINVAL when the path is not a symlink. */
  readlink(path: string): FsResult<string>;
  /** The canonical absolute path with every symlink resolved: what d_path prints for an open file. */
  realpath(path: string): FsResult<string>;
  /** access(2) against the real uid; F_OK only checks existence. */
  access(path: string, mode: number): FsResult<void>;
  /**
   * Whether `open` itself fails with EACCES on a file the caller may not read (the host's open(2)
   * does, memfs does not): then openat need not ask `access` first.
   */
  readonly openChecksAccess?: boolean;
}

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

export function isDir(st: FsStat): boolean {
  return (st.mode & S_IFMT) === S_IFDIR;
}
export function isReg(st: FsStat): boolean {
  return (st.mode & S_IFMT) === S_IFREG;
}

/** glibc `gnu_dev_major` of a 64-bit dev_t (the maps "fe:00" column's first half). */
export function devMajor(dev: bigint): bigint {
  return ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
}
/** glibc `gnu_dev_minor` of a 64-bit dev_t. */
export function devMinor(dev: bigint): bigint {
  return (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
}

/** Read the whole of `length` bytes at `offset`, or fail; a short read is EIO as in binfmt_elf `elf_read`. */
export function preadFull(file: FsFile, offset: number, length: number): FsResult<Uint8Array> {
  const r = file.pread(offset, length);
  if (!r.ok) return r;
  if (r.value.length !== length) return fsErr("EIO");
  return r;
}
