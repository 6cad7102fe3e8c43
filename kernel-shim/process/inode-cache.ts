import { devMajor, devMinor, type FilePages, type FsFile, type FsStat } from "../fs/types.ts";
import type { MappedInode } from "../mm/vma.ts";

/**
 * One MappedInode per (st_dev, st_ino), as the kernel has one struct inode per file: every open and
 * every mapping of the same file shares it, so /proc/pid/maps shows the same dev:ino and MAP_SHARED
 * stores are coherent. Contents come from the host page cache shared across kernels when the file
 * system has one (HostFs, fs/page-cache.ts), else through the FsFile that first opened the inode; the
 * page cache keeps them (a file that changes on disk afterwards is not re-read, as a mapped page is not).
 */
export class InodeCache {
  private readonly byKey = new Map<string, FileInode>();

  /** The inode behind an open file, created on first use; `path` may be computed when first read. */
  get(file: FsFile, path: string | (() => string)): MappedInode {
    const st = file.fstat();
    const key = `${st.dev}:${st.ino}`;
    let inode = this.byKey.get(key);
    if (!inode) {
      inode = new FileInode(file, st, path);
      this.byKey.set(key, inode);
    } else inode.addReader(file);
    return inode;
  }

  get size(): number {
    return this.byKey.size;
  }
}

/**
 * What close(2) of the last fd of a still-mapped file does for the shim: the host handle is released,
 * so an inode whose contents come only through open files reads them all first. One backed by the
 * host page cache needs nothing: that cache reopens the file (same dev/ino/size/times) when a page
 * is first touched, as the kernel's page cache reads through the inode, not through an fd.
 */
export function fillBeforeLastClose(inode: MappedInode): void {
  if (inode instanceof FileInode && inode.cached) return;
  inode.read(0, inode.size);
}

const MAX_READERS = 4;

class FileInode implements MappedInode {
  readonly devMajor: number;
  readonly devMinor: number;
  readonly ino: number;
  readonly size: number;
  /** This inode's own copy of the contents (read through pread, or copied on a MAP_SHARED store). */
  private bytes: Uint8Array | undefined;
  /** The host page cache's entry for the file, shared with other kernels: read-only, read lazily. */
  private pages: FilePages | undefined;
  /**
   * The open files the page cache can be filled through, newest first (the one that created the
   * inode may have been closed since: the kernel's page cache needs no particular open file).
   * Dropped once the bytes are in.
   */
  private readers: FsFile[];
  private pathOrThunk: string | (() => string);
  constructor(file: FsFile, st: FsStat, path: string | (() => string)) {
    this.pathOrThunk = path;
    this.readers = [file];
    this.devMajor = Number(devMajor(st.dev));
    this.devMinor = Number(devMinor(st.dev));
    this.ino = Number(st.ino);
    this.size = Number(st.size);
    this.pages = this.cachedPages(file);
  }
  /** d_path of the file (maps); resolved on first use. */
  get path(): string {
    if (typeof this.pathOrThunk !== "string") this.pathOrThunk = this.pathOrThunk();
    return this.pathOrThunk;
  }
  /** Whether reads are served by the shared host page cache (which outlives the open files). */
  get cached(): boolean {
    return this.bytes === undefined && this.pages !== undefined;
  }
  /** The page-cache entry of `file` when it has one of this inode's size. */
  private cachedPages(file: FsFile): FilePages | undefined {
    const p = file.pages?.();
    return p && p.size === this.size ? p : undefined;
  }
  addReader(file: FsFile): void {
    if (this.bytes) return;
    this.pages ??= this.cachedPages(file);
    if (this.readers[0] === file) return;
    // Newest first, and only a few: the newest open file is the likeliest still open, and a process
    // that opens the same file again and again (a dlopen/dlclose loop) must not grow this list.
    this.readers.unshift(file);
    if (this.readers.length > MAX_READERS) this.readers.length = MAX_READERS;
  }
  read(offset: number, length: number): Uint8Array {
    // Pages of the shared host page cache, read when first touched (see fs/page-cache.ts).
    if (!this.bytes && this.pages) {
      const r = this.pages.read(offset, length);
      if (r && r.length === Math.max(0, Math.min(length, this.size - offset))) return r;
    }
    // Page-cache semantics: the file's bytes are read once, when first needed, then kept.
    if (!this.bytes) {
      for (const f of this.readers) {
        const r = f.pread(0, this.size);
        if (r.ok) {
          this.bytes = r.value;
          this.readers = [];
          break;
        }
      }
      // No open file left to read through: zeros this time, a later open can still fill the cache.
      if (!this.bytes) return new Uint8Array(this.size).subarray(offset, offset + length);
    }
    return this.bytes.subarray(offset, offset + length);
  }
  write(offset: number, bytes: Uint8Array): void {
    // A store needs this inode's own copy: the host page cache's bytes are shared by every kernel.
    if (!this.bytes && this.pages) {
      const all = this.pages.read(0, this.size);
      if (all && all.length === this.size) {
        this.bytes = all.slice();
        this.readers = [];
      }
    }
    this.read(0, 0);
    this.bytes?.set(bytes, offset);
  }
}
