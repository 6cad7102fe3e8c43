import { Errno, type ErrnoName } from "../errno.ts";
import { type CachedFile, HostPageCache } from "./page-cache.ts";
import {
  type FilePages,
  type FsFile,
  type FsOpenOptions,
  type FsResult,
  type FsStat,
  fsErr,
  fsOk,
  isDir,
  type KernelFs,
  S_IFLNK,
  S_IFMT,
} from "./types.ts";

/**
 * The few synchronous calls of `node:fs` the shim needs. Both the host's `node:fs` and memfs's `IFs`
 * provide them; memfs's types are not assignable to `typeof import("node:fs")` (npm-dependencies.md),
 * so each backend is adapted to this structural type instead.
 */
export interface NodeFsLike {
  statSync(path: string, options: { bigint: true }): NodeBigStats;
  lstatSync(path: string, options: { bigint: true }): NodeBigStats;
  fstatSync(fd: number, options: { bigint: true }): NodeBigStats;
  openSync(path: string, flags: string | number): number;
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  closeSync(fd: number): void;
  readlinkSync(path: string): string | { toString(): string };
  accessSync(path: string, mode?: number): void;
  realpathSync(path: string): string | { toString(): string };
}

export interface NodeBigStats {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly mode: bigint;
  readonly nlink: bigint;
  readonly uid: bigint;
  readonly gid: bigint;
  readonly rdev: bigint;
  readonly size: bigint;
  readonly blksize: bigint;
  readonly blocks: bigint;
  readonly atimeNs?: bigint;
  readonly mtimeNs?: bigint;
  readonly ctimeNs?: bigint;
  readonly atimeMs?: bigint;
  readonly mtimeMs?: bigint;
  readonly ctimeMs?: bigint;
}

/** Node's `err.code` ("ENOENT") as an errno name; anything unknown becomes EIO. */
export function errnoOf(e: unknown): ErrnoName {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === "string" && code in Errno) return code as ErrnoName;
  return "EIO";
}

function toStat(s: NodeBigStats): FsStat {
  const ns = (v: bigint | undefined, ms: bigint | undefined) => v ?? (ms !== undefined ? ms * 1_000_000n : 0n);
  return {
    dev: BigInt(s.dev),
    ino: BigInt(s.ino),
    mode: Number(s.mode),
    nlink: BigInt(s.nlink),
    uid: Number(s.uid),
    gid: Number(s.gid),
    rdev: BigInt(s.rdev),
    size: BigInt(s.size),
    blksize: BigInt(s.blksize),
    blocks: BigInt(s.blocks),
    atimeNs: ns(s.atimeNs, s.atimeMs),
    mtimeNs: ns(s.mtimeNs, s.mtimeMs),
    ctimeNs: ns(s.ctimeNs, s.ctimeMs),
  };
}

function attempt<T>(f: () => T): FsResult<T> {
  try {
    return fsOk(f());
  } catch (e) {
    return fsErr(errnoOf(e));
  }
}

/** An open directory: reads fail with EISDIR, as read(2) on a directory fd does. */
class DirFile implements FsFile {
  constructor(
    readonly path: string,
    private readonly st: FsStat,
  ) {}
  pread(): FsResult<Uint8Array> {
    return fsErr("EISDIR");
  }
  fstat(): FsStat {
    return this.st;
  }
  close(): void {}
}

class NodeFile implements FsFile {
  /** The host fd: undefined before a lazy file's first uncached read, and after close. */
  private fd: number | undefined;
  private closed = false;
  /** The fd's stat, taken once (inode lookup, page-cache key, the size reads are clamped to). */
  private st: FsStat | undefined;
  constructor(
    private readonly fs: NodeFsLike,
    readonly path: string,
    /**
     * The host fd, or undefined to open the host file only when a read misses the page cache
     * (NodeKernelFs.open does that for root, whom open(2) never refuses: see there).
     */
    fd: number | undefined,
    /** The page cache shared across kernels (HostFs), or none (memfs sysroots). */
    private readonly cache: HostPageCache | undefined,
    /** The backend path (root included) and the stat at open: the page cache may reopen it after close. */
    private readonly realPath: string,
    private readonly openStat: FsStat,
    /** The caller stat()ed the path just before the open: that stat stands for fstat(fd). */
    openStatIsCurrent: boolean,
  ) {
    this.fd = fd;
    if (openStatIsCurrent) this.st = openStat;
  }
  /** The path opened again, if it still names the file that was opened (same page-cache key). */
  private openSame(): number | undefined {
    let fd: number | undefined;
    try {
      fd = this.fs.openSync(this.realPath, "r");
      if (HostPageCache.key(toStat(this.fs.fstatSync(fd, { bigint: true }))) === HostPageCache.key(this.openStat)) {
        return fd;
      }
    } catch {
      // gone or unreadable: as a changed file
    }
    if (fd !== undefined) this.fs.closeSync(fd);
    return undefined;
  }
  /**
   * The host fd, opened now for a lazy file — and only if the path still names the file that was
   * opened (same dev, ino, size, mtime, ctime): otherwise undefined, and the read fails as EIO.
   */
  private hostFd(): number | undefined {
    if (this.closed) return undefined;
    this.fd ??= this.openSame();
    return this.fd;
  }
  pread(offset: number, length: number): FsResult<Uint8Array> {
    if (this.closed) return fsErr("EBADF");
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      return fsErr("EINVAL");
    }
    // The stat taken at open stands for i_size: the shim's files are read-only and a host file
    // rewritten under an open fd is outside the model (the page cache key would no longer match,
    // so a window it lacks is read through the fd and comes back short, which readAt then serves).
    const st = this.fstat();
    // Never allocate more than the file can give: the request is clamped to what lies past `offset`.
    const size = Number(st.size);
    const want = Math.max(0, Math.min(length, size - offset));
    // Through the page cache when there is one: a copy of its bytes (the caller owns the result).
    const cached = this.cachedFile(st)?.read(offset, want);
    if (cached) return fsOk(cached.slice());
    const fd = this.hostFd();
    if (fd === undefined) return fsErr("EIO");
    return this.readAt(fd, offset, want);
  }
  pages(): FilePages | undefined {
    if (this.cache === undefined || this.closed) return undefined;
    return this.cachedFile(this.fstat());
  }
  /** This file's page-cache entry, looked up once per open file (the stat it is keyed by is fixed). */
  private entry: CachedFile | undefined;
  private cachedFile(st: FsStat): CachedFile | undefined {
    if (this.cache === undefined) return undefined;
    this.entry ??= this.cache.file(st, this.windowReader());
    return this.entry;
  }
  /**
   * How the page cache fills a window: through this file while it is open, else by opening the path
   * again and reading only if it is still the same file (the key: dev, ino, size, mtime, ctime).
   */
  private windowReader(): (offset: number, length: number) => Uint8Array | undefined {
    return (offset, length) => {
      if (!this.closed) {
        const fd = this.hostFd();
        if (fd === undefined) return undefined;
        const r = this.readAt(fd, offset, length);
        return r.ok ? r.value : undefined;
      }
      if (!this.cache) return undefined;
      const fd = this.openSame();
      if (fd === undefined) return undefined;
      try {
        const r = this.readAt(fd, offset, length);
        return r.ok ? r.value : undefined;
      } finally {
        this.fs.closeSync(fd);
      }
    };
  }
  private readAt(fd: number, offset: number, want: number): FsResult<Uint8Array> {
    const out = new Uint8Array(want);
    return attempt(() => {
      let done = 0;
      while (done < want) {
        const n = this.fs.readSync(fd, out, done, want - done, offset + done);
        if (n === 0) break;
        done += n;
      }
      return done === want ? out : out.subarray(0, done);
    });
  }
  fstat(): FsStat {
    if (this.closed) throw new Error(`fstat after close: ${this.path}`);
    if (this.st === undefined) {
      const fd = this.hostFd();
      this.st = fd === undefined ? this.openStat : toStat(this.fs.fstatSync(fd, { bigint: true }));
    }
    return this.st;
  }
  close(): void {
    if (this.fd !== undefined) this.fs.closeSync(this.fd);
    this.fd = undefined;
    this.closed = true;
  }
}

/** Whether this process runs as root: open(2) then refuses no read (CAP_DAC_OVERRIDE). */
const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

/**
 * A KernelFs over any node-fs-shaped backend: the host file system (real st_dev/st_ino from
 * `fs.statSync`, so /proc/pid/maps lines match the kernel's) or memfs for synthetic sysroots.
 */
export class NodeKernelFs implements KernelFs {
  constructor(
    protected readonly fs: NodeFsLike,
    /** Prefix every path with this root (a host directory standing in for "/"); "" for none. */
    protected readonly root = "",
    /** File contents kept across kernels (the host's page cache); none for synthetic trees. */
    protected readonly cache: HostPageCache | undefined = undefined,
  ) {}

  protected real(path: string): string {
    return this.root === "" ? path : `${this.root}${path}`;
  }

  stat(path: string): FsResult<FsStat> {
    return attempt(() => toStat(this.fs.statSync(this.real(path), { bigint: true })));
  }
  lstat(path: string): FsResult<FsStat> {
    return attempt(() => toStat(this.fs.lstatSync(this.real(path), { bigint: true })));
  }
  open(path: string, options: FsOpenOptions = {}): FsResult<FsFile> {
    if (options.noFollow) {
      const l = this.lstat(path);
      if (l.ok && (l.value.mode & S_IFMT) === S_IFLNK) return fsErr("ELOOP");
    }
    const st = options.stat !== undefined ? fsOk(options.stat) : this.stat(path);
    if (!st.ok) return st;
    if (isDir(st.value)) {
      if (options.write) return fsErr("EISDIR");
      return fsOk(new DirFile(path, st.value));
    }
    if (options.directory) return fsErr("ENOTDIR");
    // With a page cache, a caller-supplied stat (the path was just looked up) and root's rights, the
    // host open could not fail and would only be needed to read what the cache lacks: it is put off
    // until then (most of ld.so's opens read nothing the cache does not hold).
    if (this.cache !== undefined && options.stat !== undefined && isRoot) {
      return fsOk(new NodeFile(this.fs, path, undefined, this.cache, this.real(path), st.value, true));
    }
    const fd = attempt(() => this.fs.openSync(this.real(path), "r"));
    if (!fd.ok) return fd;
    // The caller's stat of the path a moment ago stands for fstat(fd): one host call fewer per open.
    return fsOk(
      new NodeFile(this.fs, path, fd.value, this.cache, this.real(path), st.value, options.stat !== undefined),
    );
  }
  readlink(path: string): FsResult<string> {
    return attempt(() => String(this.fs.readlinkSync(this.real(path))));
  }
  realpath(path: string): FsResult<string> {
    const r = attempt(() => String(this.fs.realpathSync(this.real(path))));
    if (!r.ok || this.root === "") return r;
    const inside = r.value.startsWith(`${this.root}/`) ? r.value.slice(this.root.length) : r.value;
    return fsOk(inside === "" ? "/" : inside);
  }
  access(path: string, mode: number): FsResult<void> {
    if ((mode & ~7) !== 0) return fsErr("EINVAL");
    return attempt(() => {
      this.fs.accessSync(this.real(path), mode);
    });
  }
}
