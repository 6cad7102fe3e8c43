import type { AddressSpace } from "../../mm/address-space.ts";
import { VM_EXEC } from "../../mm/prot-flags.ts";
import type { MappedInode } from "../../mm/vma.ts";
import type { SframeFinder, SframeFindResult } from "../../unwind/types.ts";
import type { KernelSframe } from "../kernel-sframe.ts";
import { type FileSframeInfo, readFileSframeInfo, textInVma } from "./file-sframe.ts";

/**
 * Estimated kernel bytes per cached file: the PT_GNU_SFRAME and text offsets/sizes, the verdict and
 * a list link, hung off the inode (the page cache keeps the bytes themselves).
 */
export const LAZY_CACHE_BYTES_PER_FILE = 64;

/** Per-file verdict: where its SFrame is, or why it has none usable (so a miss never re-reads it). */
type FileVerdict =
  | { readonly kind: "sframe"; readonly info: FileSframeInfo }
  | { readonly kind: "none"; readonly why: string };

export interface LazyStats {
  /** Unwind lookups that found no registered section and went to the VMA's file. */
  misses: number;
  /** Misses answered from the per-file cache (no file read). */
  cacheHits: number;
  /** Files whose headers were read (first miss in each file). */
  fileReads: number;
  headerBytesRead: number;
  /** Sections registered on a miss / refused by `sframe_add_section`. */
  registered: number;
  refused: number;
  /** Registered sections found stale on a hit (the VMA now maps another file or nothing) and dropped. */
  staleDropped: number;
}

/**
 * Design "lazy" (a proposal): nothing is registered up front, not even at exec. When the unwinder
 * looks up a PC no registered section covers, the kernel takes the VMA holding the PC; if it maps a
 * file with VM_EXEC, it reads that file's program headers (once per file: the verdict is cached per
 * inode, including "no SFrame" and "refused"), registers the file's PT_GNU_SFRAME for this VMA's
 * executable segment with `sframe_add_section` (same checks, origin "lazy") and retries the lookup.
 *
 * Every registered section remembers the inode it came from; a lookup that hits a section whose PC now
 * lies in a VMA of another file (or none) drops it as stale and resolves again, so address reuse
 * cannot hand out another object's rows. A section removed for faulting (EFAULT) marks its file bad.
 *
 * Context: reading a file may sleep, so this only works where unwinding is deferred to task context
 * (`unwind_deferred`, at return to user), not in the NMI itself.
 */
export class LazySframe {
  readonly stats: LazyStats = {
    misses: 0,
    cacheHits: 0,
    fileReads: 0,
    headerBytesRead: 0,
    registered: 0,
    refused: 0,
    staleDropped: 0,
  };
  private readonly cache = new Map<MappedInode, FileVerdict>();
  private readonly owners = new WeakMap<AddressSpace, Map<bigint, MappedInode>>();

  constructor(readonly ks: KernelSframe) {}

  /** Files with a cached verdict (kernel memory held by the cache). */
  get cachedFiles(): number {
    return this.cache.size;
  }

  get cacheBytes(): number {
    return this.cache.size * LAZY_CACHE_BYTES_PER_FILE;
  }

  private ownersOf(mm: AddressSpace): Map<bigint, MappedInode> {
    let m = this.owners.get(mm);
    if (!m) {
      m = new Map();
      this.owners.set(mm, m);
    }
    return m;
  }

  private verdict(inode: MappedInode): FileVerdict {
    const cached = this.cache.get(inode);
    if (cached) {
      this.stats.cacheHits++;
      return cached;
    }
    this.stats.fileReads++;
    const info = readFileSframeInfo(inode);
    const v: FileVerdict = !info
      ? { kind: "none", why: "not an ELF64 file" }
      : !info.sframe
        ? { kind: "none", why: "file has no PT_GNU_SFRAME" }
        : { kind: "sframe", info };
    if (info) this.stats.headerBytesRead += info.bytesRead;
    this.cache.set(inode, v);
    return v;
  }

  /**
   * The would-be result of a lookup at `pc` without changing anything: "hit" (a valid registered
   * section), "resolve" (a miss the file would answer), or "none" (no SFrame for this PC).
   */
  probe(mm: AddressSpace, pc: bigint): "hit" | "resolve" | "none" {
    const vma = pc <= BigInt(Number.MAX_SAFE_INTEGER) ? mm.findVma(Number(pc)) : undefined;
    const sec = this.ks.registryOf(mm).lookup(pc);
    if (sec && vma?.file && this.ownersOf(mm).get(sec.sframeStart) === vma.file.inode) return "hit";
    if (!vma?.file || (vma.flags & VM_EXEC) === 0) return "none";
    const v = this.cache.get(vma.file.inode) ?? verdictOf(readFileSframeInfo(vma.file.inode));
    return v.kind === "sframe" && textInVma(v.info, vma, mm.pageSize) ? "resolve" : "none";
  }

  /** The unwinder's SFrame method for `mm` under this design (never null: a miss may register). */
  finder(mm: AddressSpace): SframeFinder {
    const owners = this.ownersOf(mm);
    const registry = this.ks.registryOf(mm);
    let cached: { changes: number; inner: SframeFinder | null } | undefined;
    const lookup = (pc: bigint): SframeFindResult => {
      // ks.finder caches section bytes by start: a fresh one after any change of the kernel's SFrame state.
      const changes = this.ks.events.length;
      if (cached?.changes !== changes) cached = { changes, inner: this.ks.finder(mm) };
      const inner = cached.inner;
      if (!inner) return { ok: false, errno: "EINVAL", reason: "no registered section" };
      const r = inner.find(pc);
      if (!r.ok && r.errno === "EFAULT") {
        // The kernel removed the section; remember the file as bad so misses do not re-register it.
        for (const [start, inode] of owners) {
          if (registry.list().some((e) => e.sframeStart === start)) continue;
          owners.delete(start);
          this.cache.set(inode, { kind: "none", why: `section faulted: ${r.reason}` });
        }
      }
      return r;
    };
    return {
      find: (pc: bigint): SframeFindResult => {
        const vma = pc <= BigInt(Number.MAX_SAFE_INTEGER) ? mm.findVma(Number(pc)) : undefined;
        const sec = registry.lookup(pc);
        if (sec) {
          if (vma?.file && owners.get(sec.sframeStart) === vma.file.inode) return lookup(pc);
          // Stale: registered for a file this PC no longer lies in.
          this.ks.removeSection(mm, sec.sframeStart);
          owners.delete(sec.sframeStart);
          this.stats.staleDropped++;
        }
        this.stats.misses++;
        if (!vma?.file || (vma.flags & VM_EXEC) === 0) {
          return { ok: false, errno: "EINVAL", reason: "PC not in a file-backed executable VMA" };
        }
        const v = this.verdict(vma.file.inode);
        if (v.kind === "none") return { ok: false, errno: "EINVAL", reason: `${vma.file.inode.path}: ${v.why}` };
        const at = textInVma(v.info, vma, mm.pageSize);
        const sf = v.info.sframe;
        if (!at || !sf) return { ok: false, errno: "EINVAL", reason: "no executable segment in this VMA" };
        const s = at.bias + sf.vaddr;
        const t = at.bias + at.text.vaddr;
        const r = this.ks.addSection(mm, s, s + sf.memsz, t, t + at.text.memsz, "lazy", vma.file.inode.path);
        if (r.result !== 0) {
          this.stats.refused++;
          this.cache.set(vma.file.inode, { kind: "none", why: `refused: ${r.check ?? ""} ${r.message ?? ""}`.trim() });
          return { ok: false, errno: "EINVAL", reason: `lazy registration refused (${r.errno}): ${r.message ?? ""}` };
        }
        this.stats.registered++;
        owners.set(s, vma.file.inode);
        return lookup(pc);
      },
    };
  }
}

function verdictOf(info: FileSframeInfo | undefined): FileVerdict {
  if (!info) return { kind: "none", why: "not an ELF64 file" };
  return info.sframe ? { kind: "sframe", info } : { kind: "none", why: "file has no PT_GNU_SFRAME" };
}
