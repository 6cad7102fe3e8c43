import type { FsFile, FsStat } from "../fs/types.ts";
import type { OpenFile } from "../mm/vma.ts";

/**
 * An open file description (the kernel's struct file): shared by every fd that dup()s it and by the
 * child after fork(), so the file position moves for all of them. Three kinds: a file of the FS
 * interface; a synthetic /proc file whose text was generated at open (seq_file would generate on
 * read; the snapshot is what a read right after open returns); a character device sink standing in
 * for the terminal on fds 0-2 (writes collected, reads return EOF).
 */
export type OpenDescription = FileDescription | ProcDescription | CharDescription;

interface Common {
  readonly path: string;
  /** open(2) flags as given (O_ACCMODE, O_APPEND, ...). */
  readonly flags: number;
  /** File position for read(2)/write(2). */
  pos: number;
  /** Number of fds (in any process) referring to this description. */
  refs: number;
}

export interface FileDescription extends Common {
  readonly kind: "file";
  readonly file: FsFile;
  readonly stat: FsStat;
  /** What mmap() receives: one object per open, so mappings through it can merge (vm_file equality). */
  readonly mmFile: OpenFile | undefined;
}

/**
 * The description openat makes for a file: its d_path resolved when first read (maps, /proc/self/fd,
 * a dirfd lookup), as most opens never need it. A class, so the accessor lives on the prototype and
 * every description keeps one fast shape (an accessor in an object literal measurably slowed the
 * syscalls that use descriptions).
 */
export class OpenedFileDescription implements FileDescription {
  readonly kind = "file" as const;
  pos = 0;
  refs = 0;
  constructor(
    private readonly resolvePath: () => string,
    readonly flags: number,
    readonly file: FsFile,
    readonly stat: FsStat,
    readonly mmFile: OpenFile | undefined,
  ) {}
  get path(): string {
    return this.resolvePath();
  }
}

export interface ProcDescription extends Common {
  readonly kind: "proc";
  readonly bytes: Uint8Array;
  readonly stat: FsStat;
}

export interface CharDescription extends Common {
  readonly kind: "char";
  readonly stat: FsStat;
  /** Bytes written so far (stdout/stderr capture). */
  readonly written: Uint8Array[];
}

export function descriptionStat(d: OpenDescription): FsStat {
  return d.stat;
}

const ZERO_TIMES = { atimeNs: 0n, mtimeNs: 0n, ctimeNs: 0n };

/** procfs files report st_size 0 and mode 0444 (`newfstatat(3, "", {st_mode=S_IFREG|0444, st_size=0, ...}`). */
export function procStat(ino: bigint): FsStat {
  return {
    dev: 0x16n,
    ino,
    mode: 0o100444,
    nlink: 1n,
    uid: 0,
    gid: 0,
    rdev: 0n,
    size: 0n,
    blksize: 1024n,
    blocks: 0n,
    ...ZERO_TIMES,
  };
}

/** A character device like /dev/null: makedev(1, 3), mode 0666. */
export function charStat(rdev = 0x103n): FsStat {
  return {
    dev: 0x5n,
    ino: 4n,
    mode: 0o020666,
    nlink: 1n,
    uid: 0,
    gid: 0,
    rdev,
    size: 0n,
    blksize: 4096n,
    blocks: 0n,
    ...ZERO_TIMES,
  };
}
