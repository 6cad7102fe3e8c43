import { devMajor, devMinor, type FsFile, type FsStat } from "../fs/types.ts";
import type { MappedInode } from "../mm/vma.ts";

/**
 * One MappedInode per (st_dev, st_ino), as the kernel has one struct inode per file: every open and
 * every mapping of the same file shares it, so /proc/pid/maps shows the same dev:ino and MAP_SHARED
 * stores are coherent. Contents are read through the FsFile that first opened the inode; the page
 * cache keeps them (a file that changes on disk afterwards is not re-read, as a mapped page is not).
 */
export class InodeCache {
  private readonly byKey = new Map<string, FileInode>();

  /** The inode behind an open file, created on first use. */
  get(file: FsFile, path: string): MappedInode {
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

class FileInode implements MappedInode {
  readonly devMajor: number;
  readonly devMinor: number;
  readonly ino: number;
  readonly size: number;
  private bytes: Uint8Array | undefined;
  /**
   * The open files the page cache can be filled through, newest first (the one that created the
   * inode may have been closed since: the kernel's page cache needs no particular open file).
   * Dropped once the bytes are in.
   */
  private readers: FsFile[];
  constructor(
    file: FsFile,
    st: FsStat,
    readonly path: string,
  ) {
    this.readers = [file];
    this.devMajor = Number(devMajor(st.dev));
    this.devMinor = Number(devMinor(st.dev));
    this.ino = Number(st.ino);
    this.size = Number(st.size);
  }
  addReader(file: FsFile): void {
    if (!this.bytes && !this.readers.includes(file)) this.readers.unshift(file);
  }
  read(offset: number, length: number): Uint8Array {
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
    this.read(0, 0);
    this.bytes?.set(bytes, offset);
  }
}
