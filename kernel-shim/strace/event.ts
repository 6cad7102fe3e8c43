/**
 * One traced system call as the log keeps it: raw register values and raw return, plus what strace
 * would have read from the tracee's memory to print it (path strings, buffer contents, the stat
 * struct, the value behind a pointer). The formatter turns an event into strace's line; nothing in
 * an event is pre-rendered text.
 */

/** The fields of `struct stat` strace prints in its default (abbreviated) style. */
export interface StatPeek {
  readonly mode: number;
  readonly size: bigint;
  readonly rdev: bigint;
}

export type Peek =
  /** Bytes read from user memory: a path (printed up to its NUL) or a data buffer. */
  | { readonly kind: "bytes"; readonly bytes: Uint8Array }
  | { readonly kind: "stat"; readonly stat: StatPeek }
  /** A value behind a pointer (`arch_prctl(ARCH_GET_FS, [0x7f…])`). */
  | { readonly kind: "u64"; readonly value: bigint }
  /** A `struct rlimit64` read back (prlimit64's old limit). */
  | { readonly kind: "rlimit"; readonly cur: bigint; readonly max: bigint }
  /** A NULL-terminated pointer array of strings (execve's argv, shown in full; envp shown as a count). */
  | { readonly kind: "strings"; readonly values: readonly Uint8Array[] };

export interface SyscallEvent {
  readonly name: string;
  /** The syscall number on the traced architecture, when known. */
  readonly nr?: number;
  /** Argument registers as unsigned 64-bit values. */
  readonly args: readonly bigint[];
  /** Raw return value (signed); `-errno` on failure; undefined when the call does not return (exit_group). */
  readonly ret: bigint | undefined;
  /** Memory strace would read, by argument index. */
  readonly peeks?: Readonly<Record<number, Peek>>;
  /** pid of the caller (printed with `-f` as `[pid N] `). */
  readonly pid?: number;
}
