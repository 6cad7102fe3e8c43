import { LdsimError } from "../formats/errors.ts";

/**
 * Linux errno numbers (include/uapi/asm-generic/errno-base.h and errno.h; x86_64, aarch64 and s390x
 * all use the generic numbering) with glibc's strerror text, so the strace-format log can print
 * `= -1 ENOENT (No such file or directory)` exactly as strace does.
 */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  ENOEXEC: 8,
  EBADF: 9,
  ECHILD: 10,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  ENOTBLK: 15,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  ETXTBSY: 26,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EROFS: 30,
  EMLINK: 31,
  EPIPE: 32,
  EDOM: 33,
  ERANGE: 34,
  EDEADLK: 35,
  ENAMETOOLONG: 36,
  ENOLCK: 37,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENOMSG: 42,
  ENODATA: 61,
  ETIME: 62,
  EOVERFLOW: 75,
  EBADFD: 77,
  ELIBACC: 79,
  ELIBBAD: 80,
  ELIBSCN: 81,
  ELIBMAX: 82,
  ELIBEXEC: 83,
  EILSEQ: 84,
  ERESTART: 85,
  ENOTSOCK: 88,
  EOPNOTSUPP: 95,
  EADDRINUSE: 98,
  ETIMEDOUT: 110,
  ESTALE: 116,
  EDQUOT: 122,
  ECANCELED: 125,
  EOWNERDEAD: 130,
  /** Kernel-internal (never reaches user space); listed so the shim can model restart paths. */
  ERESTARTSYS: 512,
} as const;

export type ErrnoName = keyof typeof Errno;
export type ErrnoNumber = (typeof Errno)[ErrnoName];

/** glibc 2.36 strerror() texts (string/_strerror.c via sysdeps/gnu/errlist.h), as strace prints them. */
const MESSAGES: Readonly<Record<ErrnoName, string>> = {
  EPERM: "Operation not permitted",
  ENOENT: "No such file or directory",
  ESRCH: "No such process",
  EINTR: "Interrupted system call",
  EIO: "Input/output error",
  ENXIO: "No such device or address",
  E2BIG: "Argument list too long",
  ENOEXEC: "Exec format error",
  EBADF: "Bad file descriptor",
  ECHILD: "No child processes",
  EAGAIN: "Resource temporarily unavailable",
  ENOMEM: "Cannot allocate memory",
  EACCES: "Permission denied",
  EFAULT: "Bad address",
  ENOTBLK: "Block device required",
  EBUSY: "Device or resource busy",
  EEXIST: "File exists",
  EXDEV: "Invalid cross-device link",
  ENODEV: "No such device",
  ENOTDIR: "Not a directory",
  EISDIR: "Is a directory",
  EINVAL: "Invalid argument",
  ENFILE: "Too many open files in system",
  EMFILE: "Too many open files",
  ENOTTY: "Inappropriate ioctl for device",
  ETXTBSY: "Text file busy",
  EFBIG: "File too large",
  ENOSPC: "No space left on device",
  ESPIPE: "Illegal seek",
  EROFS: "Read-only file system",
  EMLINK: "Too many links",
  EPIPE: "Broken pipe",
  EDOM: "Numerical argument out of domain",
  ERANGE: "Numerical result out of range",
  EDEADLK: "Resource deadlock avoided",
  ENAMETOOLONG: "File name too long",
  ENOLCK: "No locks available",
  ENOSYS: "Function not implemented",
  ENOTEMPTY: "Directory not empty",
  ELOOP: "Too many levels of symbolic links",
  ENOMSG: "No message of desired type",
  ENODATA: "No data available",
  ETIME: "Timer expired",
  EOVERFLOW: "Value too large for defined data type",
  EBADFD: "File descriptor in bad state",
  ELIBACC: "Can not access a needed shared library",
  ELIBBAD: "Accessing a corrupted shared library",
  ELIBSCN: ".lib section in a.out corrupted",
  ELIBMAX: "Attempting to link in too many shared libraries",
  ELIBEXEC: "Cannot exec a shared library directly",
  EILSEQ: "Invalid or incomplete multibyte or wide character",
  ERESTART: "Interrupted system call should be restarted",
  ENOTSOCK: "Socket operation on non-socket",
  EOPNOTSUPP: "Operation not supported",
  EADDRINUSE: "Address already in use",
  ETIMEDOUT: "Connection timed out",
  ESTALE: "Stale file handle",
  EDQUOT: "Disk quota exceeded",
  ECANCELED: "Operation canceled",
  EOWNERDEAD: "Owner died",
  ERESTARTSYS: "To be restarted",
};

const BY_NUMBER: ReadonlyMap<number, ErrnoName> = new Map(
  (Object.entries(Errno) as [ErrnoName, number][]).map(([name, n]) => [n, name]),
);

/** `ENOENT` for 2 (or for -2: a raw syscall return); `E<n>` for a number this table does not know. */
export function errnoName(errno: number): string {
  const n = Math.abs(errno);
  return BY_NUMBER.get(n) ?? `E${n}`;
}

/** glibc's strerror text: `No such file or directory`; `Unknown error N` as glibc says for others. */
export function strerror(errno: number): string {
  const n = Math.abs(errno);
  const name = BY_NUMBER.get(n);
  return name ? MESSAGES[name] : `Unknown error ${n}`;
}

/**
 * True when a raw syscall return value encodes an error: the kernel's IS_ERR_VALUE, i.e. a value in
 * [-4095, -1]. Syscalls in the shim return `number` like the kernel's `long`: ≥ 0 is the result,
 * `-errno` is a failure (mmap addresses are below 2^57, so they never collide with the error range).
 */
export function isSyscallError(ret: number): boolean {
  return ret < 0 && ret >= -4095;
}

/** The kernel's error pointer convention: `-Errno.EINVAL` for a syscall's return value. */
export function syscallError(name: ErrnoName): number {
  return -Errno[name];
}

/**
 * An error that carries a Linux errno, for shim code that throws rather than returning `-errno`
 * (e.g. a user-memory fault inside a helper; the syscall boundary turns it into `-errno`).
 */
export class KernelError extends LdsimError {
  override name = "KernelError";
  readonly errno: number;
  constructor(errno: ErrnoName | number, message?: string) {
    const n = typeof errno === "number" ? Math.abs(errno) : Errno[errno];
    super(message ? `${message}: ${errnoName(n)} (${strerror(n)})` : `${errnoName(n)} (${strerror(n)})`);
    this.errno = n;
  }
  /** Symbolic name, e.g. `EFAULT`. */
  get errnoName(): string {
    return errnoName(this.errno);
  }
  /** The raw syscall return value for this error: `-errno`. */
  toSyscallReturn(): number {
    return -this.errno;
  }
}
