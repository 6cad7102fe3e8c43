import type { FsStat } from "./types.ts";

/**
 * The host's page cache as the shim keeps it across simulated kernels: the real kernel's page cache
 * belongs to the inode, not to a process, so the second program that maps libc.so.6 finds its pages
 * already in memory. Each new `Kernel` (one per `ldsim ldd FILE`) would otherwise read every library
 * from disk again.
 *
 * An entry is keyed by what identifies the file's contents: st_dev, st_ino, st_size, st_mtime and
 * st_ctime (nanoseconds). A file rewritten in place changes its mtime/ctime, a replaced one its inode,
 * so a stale entry is never served; it simply ages out. Contents are read lazily, by aligned windows
 * of READAHEAD bytes (the kernel's default readahead, 128 KiB), when first touched: ld.so touches a
 * few pages of most of the libraries it maps. Bytes handed out are shared and must be treated as
 * read-only (the shim never writes host files; a MAP_SHARED store copies first, process/inode-cache.ts).
 *
 * Bounded: the least recently used files are dropped once the bytes held exceed `maxTotal`.
 */
export const READAHEAD = 128 * 1024;

/** Reads `length` bytes at `offset` of the file the entry stands for; undefined when that fails. */
export type WindowReader = (offset: number, length: number) => Uint8Array | undefined;

/** One file's cached contents: windows read on demand. */
export class CachedFile {
  private readonly windows = new Map<number, Uint8Array>();
  /** Bytes held by this file's windows. */
  held = 0;
  constructor(
    private readonly cache: HostPageCache,
    readonly key: string,
    readonly size: number,
    /** How a missing window is read; replaced by the newest opener (its fd is the cheapest way in). */
    public reader: WindowReader,
  ) {}

  private window(index: number): Uint8Array | undefined {
    let w = this.windows.get(index);
    if (w) return w;
    const start = index * READAHEAD;
    const want = Math.min(READAHEAD, this.size - start);
    w = this.reader(start, want);
    // A short read means the file is not what the key says (truncated since): keep nothing.
    if (!w || w.length !== want) return undefined;
    this.windows.set(index, w);
    this.held += want;
    this.cache.grew(this, want);
    return w;
  }

  /**
   * `length` bytes at `offset` (clamped to the size), a view into the cache; undefined when the
   * file can no longer be read. A range across windows joins them into one buffer first (kept: the
   * windows become views of it), so that a large table a loader reads in every process, a library's
   * .dynstr for one, is copied once rather than per read.
   */
  read(offset: number, length: number): Uint8Array | undefined {
    const from = Math.min(Math.max(0, offset), this.size);
    const to = Math.min(this.size, from + Math.max(0, length));
    if (to === from) return new Uint8Array(0);
    const first = Math.floor(from / READAHEAD);
    const last = Math.floor((to - 1) / READAHEAD);
    const w = this.window(first);
    if (!w) return undefined;
    const start = from - first * READAHEAD;
    if (first === last) return w.subarray(start, to - first * READAHEAD);
    if (!this.joined(first, last)) {
      // Joined runs next to the range are taken in too, so one join never splits an earlier one.
      let lo = first;
      while (lo > 0 && this.joined(lo - 1, lo)) lo--;
      let hi = last;
      while (this.joined(hi, hi + 1)) hi++;
      const spanEnd = Math.min(this.size, (hi + 1) * READAHEAD);
      const joined = new Uint8Array(spanEnd - lo * READAHEAD);
      for (let i = lo; i <= hi; i++) {
        const wi = this.window(i);
        if (!wi) return undefined;
        joined.set(wi, (i - lo) * READAHEAD);
      }
      for (let i = lo; i <= hi; i++) {
        const at = (i - lo) * READAHEAD;
        this.windows.set(i, joined.subarray(at, Math.min(joined.length, at + READAHEAD)));
      }
    }
    const head = this.windows.get(first) as Uint8Array;
    return new Uint8Array(head.buffer, head.byteOffset + start, to - from);
  }

  /** Whether windows first..last are all present and consecutive in one buffer. */
  private joined(first: number, last: number): boolean {
    let prev = this.windows.get(first);
    if (!prev) return false;
    for (let i = first + 1; i <= last; i++) {
      const w = this.windows.get(i);
      if (!w || w.buffer !== prev.buffer || w.byteOffset !== prev.byteOffset + prev.length) return false;
      prev = w;
    }
    return true;
  }
}

export class HostPageCache {
  private readonly entries = new Map<string, CachedFile>();
  private total = 0;

  constructor(readonly maxTotal = 512 * 1024 * 1024) {}

  static key(st: FsStat): string {
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  }

  /** The entry for a file with this stat, created empty on first use; `reader` becomes its way in. */
  file(st: FsStat, reader: WindowReader): CachedFile {
    const key = HostPageCache.key(st);
    let f = this.entries.get(key);
    if (f) {
      // Most recently used last: Map iteration order is insertion order.
      this.entries.delete(key);
      f.reader = reader;
    } else f = new CachedFile(this, key, Number(st.size), reader);
    this.entries.set(key, f);
    return f;
  }

  /** Accounting from CachedFile: drop least recently used files beyond the bound. */
  grew(file: CachedFile, bytes: number): void {
    this.total += bytes;
    for (const [k, v] of this.entries) {
      if (this.total <= this.maxTotal) break;
      if (v === file) continue;
      this.entries.delete(k);
      this.total -= v.held;
    }
  }

  /** Number of files and bytes held (for tests and benches). */
  get stats(): { readonly files: number; readonly bytes: number } {
    return { files: this.entries.size, bytes: this.total };
  }

  clear(): void {
    this.entries.clear();
    this.total = 0;
  }
}

/** The one cache every HostFs shares, as all processes on a machine share its page cache. */
export const hostPageCache = new HostPageCache();
