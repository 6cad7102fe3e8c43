import type { MutableVma, Vma } from "./vma.ts";

/** Chunk capacity: a chunk over this splits in two. Inserts and removals move at most this many pointers. */
const CHUNK_MAX = 256;

/**
 * The mm's VMA set, standing in for the kernel's maple tree: a sorted sequence kept in chunks of at
 * most 256 entries, so lookup is O(log n) and an insert or removal moves O(256 + n/256) pointers
 * instead of the whole array (Array.prototype.splice on a 10k-element array costs ~20 µs in V8).
 * Entries are addressed by global index. Invariant: VMAs are non-empty, page-aligned, sorted by
 * start, and never overlap.
 */
export class VmaTree {
  private chunks: MutableVma[][] = [];
  /** Global index of each chunk's first entry. */
  private firsts: number[] = [];
  private n = 0;

  get size(): number {
    return this.n;
  }

  /** Chunk holding global index i (0 ≤ i < n). */
  private chunkOf(i: number): number {
    let lo = 0;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if ((this.firsts[mid] as number) <= i) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private renumber(from: number): void {
    let acc = from > 0 ? (this.firsts[from - 1] as number) + (this.chunks[from - 1] as MutableVma[]).length : 0;
    this.firsts.length = this.chunks.length;
    for (let c = from; c < this.chunks.length; c++) {
      this.firsts[c] = acc;
      acc += (this.chunks[c] as MutableVma[]).length;
    }
    this.n = acc;
  }

  at(i: number): MutableVma | undefined {
    if (i < 0 || i >= this.n) return undefined;
    const c = this.chunkOf(i);
    return (this.chunks[c] as MutableVma[])[i - (this.firsts[c] as number)];
  }

  /** Index of the first VMA with end > addr (the kernel's find_vma), or size when none. */
  indexEndingAfter(addr: number): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const ch = this.chunks[mid] as MutableVma[];
      if ((ch[ch.length - 1] as MutableVma).end > addr) hi = mid;
      else lo = mid + 1;
    }
    if (lo === this.chunks.length) return this.n;
    const ch = this.chunks[lo] as MutableVma[];
    let a = 0;
    let b = ch.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if ((ch[mid] as MutableVma).end > addr) b = mid;
      else a = mid + 1;
    }
    return (this.firsts[lo] as number) + a;
  }

  /** find_vma: the first VMA with end > addr. */
  firstEndingAfter(addr: number): MutableVma | undefined {
    return this.at(this.indexEndingAfter(addr));
  }

  /** The VMA containing addr. */
  containing(addr: number): MutableVma | undefined {
    const v = this.at(this.indexEndingAfter(addr));
    return v && v.start <= addr ? v : undefined;
  }

  /** find_vma_intersection: the first VMA overlapping [start, end). */
  firstIntersecting(start: number, end: number): MutableVma | undefined {
    const v = this.at(this.indexEndingAfter(start));
    return v && v.start < end ? v : undefined;
  }

  /** Index of this exact VMA object (by start), or -1. */
  indexOf(vma: Vma): number {
    const i = this.indexEndingAfter(vma.start);
    return this.at(i) === vma ? i : -1;
  }

  /** Insert a VMA that overlaps nothing. */
  insert(vma: MutableVma): number {
    const i = this.indexEndingAfter(vma.start);
    this.insertAt(i, vma);
    return i;
  }

  private insertAt(i: number, vma: MutableVma): void {
    // Every VMA in the tree holds a reference on its file (get_file in mmap_region, __split_vma, dup_mmap).
    vma.file?.get?.();
    if (this.chunks.length === 0) {
      this.chunks.push([vma]);
      this.renumber(0);
      return;
    }
    const c = i >= this.n ? this.chunks.length - 1 : this.chunkOf(i);
    const ch = this.chunks[c] as MutableVma[];
    ch.splice(i - (this.firsts[c] as number), 0, vma);
    if (ch.length > CHUNK_MAX) this.chunks.splice(c + 1, 0, ch.splice(ch.length >>> 1));
    this.renumber(c);
  }

  /** Remove `count` entries at `i` and return them. */
  private removeAt(i: number, count: number): MutableVma[] {
    const removed: MutableVma[] = [];
    let left = Math.min(count, this.n - i);
    while (left > 0) {
      const c = this.chunkOf(i);
      const ch = this.chunks[c] as MutableVma[];
      const j = i - (this.firsts[c] as number);
      const take = Math.min(left, ch.length - j);
      for (const v of ch.splice(j, take)) {
        // remove_vma / vma_merge: fput of the file the VMA mapped.
        v.file?.put?.();
        removed.push(v);
      }
      if (ch.length === 0) this.chunks.splice(c, 1);
      this.renumber(c);
      left -= take;
    }
    return removed;
  }

  /** Replace `count` entries at `i` with `items`. */
  splice(i: number, count: number, ...items: MutableVma[]): void {
    if (count > 0) this.removeAt(i, count);
    for (const [k, v] of items.entries()) this.insertAt(i + k, v);
  }

  /** Split the VMA containing `addr` (strictly inside) into [start, addr) and [addr, end); __split_vma. */
  splitAt(addr: number, pageSize: number): void {
    const i = this.indexEndingAfter(addr);
    const v = this.at(i);
    if (!v || v.start >= addr) return;
    // Field by field (one object shape for every VMA; a spread copies slower).
    const right: MutableVma = {
      start: addr,
      end: v.end,
      flags: v.flags,
      file: v.file,
      pgoff: v.pgoff + (addr - v.start) / pageSize,
      special: v.special,
      anonName: v.anonName,
      anonVma: v.anonVma,
    };
    if (v.uncowedParents !== undefined) right.uncowedParents = v.uncowedParents;
    v.end = addr;
    this.insertAt(i + 1, right);
  }

  /** Remove everything in [start, end), splitting VMAs that straddle the edges. Returns the removed pieces. */
  removeRange(start: number, end: number, pageSize = 4096): MutableVma[] {
    this.splitAt(start, pageSize);
    this.splitAt(end, pageSize);
    const i = this.indexEndingAfter(start);
    const j = this.indexEndingAfter(end - 1);
    const last = this.at(j);
    const stop = last && last.start < end ? j + 1 : j;
    return this.removeAt(i, stop - i);
  }

  /** Copies of all VMAs, in order. */
  snapshot(): readonly Vma[] {
    return this.entries().map((v) => ({ ...v }));
  }

  /** All live entries in order (a fresh array of the live objects). */
  entries(): MutableVma[] {
    const out: MutableVma[] = [];
    for (const ch of this.chunks) for (const v of ch) out.push(v);
    return out;
  }

  /**
   * mas_empty_area_rev: the highest free interval [a, b) inside [low, high) with b - a ≥ length,
   * clipped to [low, high). Returns its end (b clipped), or undefined. `gapFloor(i)`/`gapCeil(i)`
   * are the VMA boundaries around the i-th gap.
   */
  highestGapEnd(low: number, high: number, length: number): number | undefined {
    if (high - low < length) return undefined;
    // Gaps are between list[i-1].end and list[i].start. Start from the first VMA ending above `high`.
    let i = this.indexEndingAfter(high - 1);
    for (;;) {
      const above = this.at(i);
      const below = this.at(i - 1);
      const gapEnd = Math.min(above ? above.start : Number.POSITIVE_INFINITY, high);
      const gapStart = Math.max(below ? below.end : 0, low);
      if (gapEnd - gapStart >= length) return gapEnd;
      if (!below || below.end <= low) return undefined;
      i--;
    }
  }

  /** mas_empty_area: the lowest free interval in [low, high) of at least `length`; returns its start. */
  lowestGapStart(low: number, high: number, length: number): number | undefined {
    if (high - low < length) return undefined;
    let i = this.indexEndingAfter(low);
    for (;;) {
      const below = this.at(i - 1);
      const above = this.at(i);
      const gapStart = Math.max(below ? below.end : 0, low);
      const gapEnd = Math.min(above ? above.start : Number.POSITIVE_INFINITY, high);
      if (gapEnd - gapStart >= length) return gapStart;
      if (!above || above.end >= high) return undefined;
      i++;
    }
  }
}
