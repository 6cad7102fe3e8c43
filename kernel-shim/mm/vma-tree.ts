import type { MutableVma, Vma } from "./vma.ts";

/**
 * The mm's VMA set: a sorted array with binary search, standing in for the kernel's maple tree.
 * Lookup is O(log n); insert/remove are a splice (a memmove of pointers, fast at 10k VMAs).
 * Invariant: VMAs are non-empty, page-aligned, sorted by start, and never overlap.
 */
export class VmaTree {
  private readonly list: MutableVma[] = [];

  get size(): number {
    return this.list.length;
  }

  at(i: number): MutableVma | undefined {
    return this.list[i];
  }

  /** Index of the first VMA with end > addr (the kernel's find_vma), or size when none. */
  indexEndingAfter(addr: number): number {
    let lo = 0;
    let hi = this.list.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.list[mid] as MutableVma).end > addr) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** find_vma: the first VMA with end > addr. */
  firstEndingAfter(addr: number): MutableVma | undefined {
    return this.list[this.indexEndingAfter(addr)];
  }

  /** The VMA containing addr. */
  containing(addr: number): MutableVma | undefined {
    const v = this.list[this.indexEndingAfter(addr)];
    return v && v.start <= addr ? v : undefined;
  }

  /** find_vma_intersection: the first VMA overlapping [start, end). */
  firstIntersecting(start: number, end: number): MutableVma | undefined {
    const v = this.list[this.indexEndingAfter(start)];
    return v && v.start < end ? v : undefined;
  }

  /** Index of this exact VMA object (by start), or -1. */
  indexOf(vma: Vma): number {
    const i = this.indexEndingAfter(vma.start);
    return this.list[i] === vma ? i : -1;
  }

  /** Insert a VMA that overlaps nothing. */
  insert(vma: MutableVma): number {
    const i = this.indexEndingAfter(vma.start);
    this.list.splice(i, 0, vma);
    return i;
  }

  /** Replace `count` entries at `i` with `items`. */
  splice(i: number, count: number, ...items: MutableVma[]): void {
    this.list.splice(i, count, ...items);
  }

  /** Split the VMA containing `addr` (strictly inside) into [start, addr) and [addr, end); __split_vma. */
  splitAt(addr: number, pageSize: number): void {
    const i = this.indexEndingAfter(addr);
    const v = this.list[i];
    if (!v || v.start >= addr) return;
    const right: MutableVma = { ...v, start: addr, pgoff: v.pgoff + (addr - v.start) / pageSize };
    v.end = addr;
    this.list.splice(i + 1, 0, right);
  }

  /** Remove everything in [start, end), splitting VMAs that straddle the edges. Returns the removed pieces. */
  removeRange(start: number, end: number, pageSize = 4096): MutableVma[] {
    this.splitAt(start, pageSize);
    this.splitAt(end, pageSize);
    const i = this.indexEndingAfter(start);
    let j = i;
    while (j < this.list.length && (this.list[j] as MutableVma).start < end) j++;
    return this.list.splice(i, j - i);
  }

  /** Copies of all VMAs, in order. */
  snapshot(): readonly Vma[] {
    return this.list.map((v) => ({ ...v }));
  }

  /** Live entries (read-only use). */
  entries(): readonly MutableVma[] {
    return this.list;
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
      const above = this.list[i];
      const below = this.list[i - 1];
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
      const below = this.list[i - 1];
      const above = this.list[i];
      const gapStart = Math.max(below ? below.end : 0, low);
      const gapEnd = Math.min(above ? above.start : Number.POSITIVE_INFINITY, high);
      if (gapEnd - gapStart >= length) return gapStart;
      if (!above || above.end >= high) return undefined;
      i++;
    }
  }
}
