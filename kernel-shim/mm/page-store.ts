/**
 * Private page contents: anonymous pages that were written and file pages copied on write, keyed by
 * virtual page number. A page absent here reads from its VMA's backing (zeros, or the file), which
 * is exactly Linux's behaviour before the first write fault: a MAP_PRIVATE page still shows the page
 * cache — later write(2)s to the file included — until it is copied.
 */
export class PageStore {
  private readonly pages = new Map<number, Uint8Array>();
  /** Zeroed pages not handed out yet: the rest of the newest slab. */
  private slab: Uint8Array = new Uint8Array(0);
  private slabPages = 8;

  constructor(readonly pageSize: number) {}

  /**
   * A new zero-filled page. Pages are cut from slabs (8 pages, doubling to 256): a program's startup
   * copies hundreds of pages on write, and one buffer per page made the collector account for each.
   * A slab is freed once none of its pages is referenced.
   */
  allocate(): Uint8Array {
    const ps = this.pageSize;
    if (this.slab.length < ps) {
      this.slab = new Uint8Array(ps * this.slabPages);
      if (this.slabPages < 256) this.slabPages *= 2;
    }
    const page = this.slab.subarray(0, ps);
    this.slab = this.slab.subarray(ps);
    return page;
  }

  get count(): number {
    return this.pages.size;
  }

  get(vpn: number): Uint8Array | undefined {
    return this.pages.get(vpn);
  }

  set(vpn: number, page: Uint8Array): void {
    this.pages.set(vpn, page);
  }

  has(vpn: number): boolean {
    return this.pages.has(vpn);
  }

  /** The lowest page number in [first, last) that holds a page, or undefined (cost: min(range, stored pages)). */
  firstIn(first: number, last: number): number | undefined {
    if (last - first <= this.pages.size) {
      for (let p = first; p < last; p++) if (this.pages.has(p)) return p;
      return undefined;
    }
    let best: number | undefined;
    for (const p of this.pages.keys()) if (p >= first && p < last && (best === undefined || p < best)) best = p;
    return best;
  }

  /** zap_page_range: forget every page in [start, end) (byte addresses, page-aligned). */
  dropRange(start: number, end: number): void {
    if (this.pages.size === 0) return;
    const first = start / this.pageSize;
    const last = end / this.pageSize;
    if (last - first <= this.pages.size) {
      for (let p = first; p < last; p++) this.pages.delete(p);
    } else {
      for (const p of this.pages.keys()) if (p >= first && p < last) this.pages.delete(p);
    }
  }

  /** Copy the pages in [start, end) into `into` (fork's COW, done eagerly). */
  copyRangeTo(into: PageStore, start: number, end: number): void {
    const first = start / this.pageSize;
    const last = end / this.pageSize;
    if (last - first <= this.pages.size) {
      for (let p = first; p < last; p++) {
        const pg = this.pages.get(p);
        if (pg) into.set(p, pg.slice());
      }
    } else {
      for (const [p, pg] of this.pages) if (p >= first && p < last) into.set(p, pg.slice());
    }
  }
}
