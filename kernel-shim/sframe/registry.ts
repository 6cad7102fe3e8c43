/**
 * The per-mm SFrame registry: the kernel series' `mm->sframe_mt` maple tree, keyed by the text range a
 * section describes, valued by the section (kernel/unwind/sframe.c, `struct sframe_section`).
 *
 * Maple-tree semantics modelled exactly:
 * - keys are inclusive ranges: `mtree_insert_range(mt, text_start, text_end, sec)` claims the byte at
 *   `text_end` too, so a text range ending exactly where the next object's text starts collides (EEXIST);
 * - `first > last` → EINVAL; any overlap with a stored range → EEXIST;
 * - one `.sframe` may be stored under several text ranges (binfmt_elf registers it once per PF_X
 *   segment); removal by `sframe_start` erases every entry with that start (`sframe_remove_section`).
 *
 * Lookup by PC is a binary search over entries sorted by text start: O(log n), like `mtree_load`.
 */

/** What the kernel keeps per registered range (`struct sframe_section`), all addresses as bigint. */
export interface SframeSection {
  readonly sframeStart: bigint;
  readonly sframeEnd: bigint;
  readonly textStart: bigint;
  /** The key's inclusive last byte, as passed to `mtree_insert_range` (= text_start + text_len). */
  readonly textEnd: bigint;
  readonly fdesStart: bigint;
  readonly fresStart: bigint;
  readonly fresEnd: bigint;
  readonly numFdes: number;
  /** Header's fixed RA / FP offsets (`s8 ra_off`, `s8 fp_off`). */
  readonly raOff: number;
  readonly fpOff: number;
  /** SFrame version of the registered section (only 3 on the kernel series' default). */
  readonly version: number;
  /** Who registered it: the kernel at exec, or user space through the syscall/prctl. */
  readonly origin: "exec" | "syscall" | "prctl" | "mmap-detect" | "lazy" | "jit";
  /** Free-form label for display (file name when known, as the kernel keeps under DYNAMIC_DEBUG). */
  readonly label?: string;
}

/** Approximate kernel memory per entry: `struct sframe_section` (≈ 88 bytes with rcu head) + its maple slot. */
export const KERNEL_BYTES_PER_SECTION = 88 + 16;

export type InsertResult = { readonly ok: true } | { readonly ok: false; readonly errno: "EINVAL" | "EEXIST" };

export class SframeRegistry {
  /** Sorted by textStart; ranges never overlap (inclusive ends). */
  private entries: SframeSection[] = [];

  get size(): number {
    return this.entries.length;
  }

  /** All entries in text order (a copy; the registry's own array is not exposed). */
  list(): readonly SframeSection[] {
    return this.entries.slice();
  }

  /** Kernel memory the registry would hold, for comparisons between designs. */
  get kernelBytes(): number {
    return this.entries.length * KERNEL_BYTES_PER_SECTION;
  }

  /** Index of the first entry whose textStart > addr. */
  private upperBound(addr: bigint): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.entries[mid] as SframeSection).textStart <= addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** `mtree_load(&mm->sframe_mt, ip)`: the entry whose inclusive text range holds `pc`. */
  lookup(pc: bigint): SframeSection | undefined {
    const i = this.upperBound(pc) - 1;
    if (i < 0) return undefined;
    const e = this.entries[i] as SframeSection;
    return pc <= e.textEnd ? e : undefined;
  }

  /** `mtree_insert_range(mt, sec.textStart, sec.textEnd, sec)`. */
  insert(sec: SframeSection): InsertResult {
    if (sec.textStart > sec.textEnd) return { ok: false, errno: "EINVAL" };
    const i = this.upperBound(sec.textStart);
    const prev = this.entries[i - 1];
    if (prev && prev.textEnd >= sec.textStart) return { ok: false, errno: "EEXIST" };
    const next = this.entries[i];
    if (next && next.textStart <= sec.textEnd) return { ok: false, errno: "EEXIST" };
    this.entries.splice(i, 0, sec);
    return { ok: true };
  }

  /**
   * `sframe_remove_section(sframe_start)`: erase every entry registered for this section start.
   * Returns the number removed (the syscall maps 0 to EINVAL).
   */
  removeBySframeStart(sframeStart: bigint): number {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => e.sframeStart !== sframeStart);
    return before - this.entries.length;
  }

  /** `sframe_free_mm`: exit, exec (new mm) and the fork child's fresh tree. */
  clear(): void {
    this.entries = [];
  }

  /** A copy, for a fork policy that keeps registrations (not the kernel series' behaviour). */
  clone(): SframeRegistry {
    const r = new SframeRegistry();
    r.entries = this.entries.slice();
    return r;
  }
}
