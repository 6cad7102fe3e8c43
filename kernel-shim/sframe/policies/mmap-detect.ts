import type { OpenFile } from "../../mm/vma.ts";
import type { Process } from "../../process/process.ts";
import type { KernelSframe } from "../kernel-sframe.ts";
import { readFileSframeInfo, textInVma } from "./file-sframe.ts";
import type { SframeMmHooks } from "./mm-hooks.ts";

const PROT_EXEC = 0x4;

/** Counters of the kernel-side work this design does (for the proposal lab's cost columns). */
export interface MmapDetectStats {
  /** Executable file mmaps seen (each one reads the file's headers). */
  execMmaps: number;
  /** Bytes of ELF and program headers read from files at mmap time. */
  headerBytesRead: number;
  /** Sections registered / refused by `sframe_add_section` at mmap. */
  registered: number;
  refused: number;
  /** Sections removed because their text was unmapped (or mapped over). */
  removedAtMunmap: number;
}

/**
 * Design "mmap-detect" (a proposal, not the series): no loader change. When a file is mapped with
 * PROT_EXEC, the kernel reads the file's program headers itself — as binfmt_elf does for the
 * executable and its interpreter at exec — and, if the file has PT_GNU_SFRAME, registers the section
 * for the executable segment this mapping holds (`sframe_add_section` with all its checks, origin
 * "mmap-detect"). Before `munmap`, every registered section whose text range intersects the range
 * being unmapped is removed; a MAP_FIXED mapping over registered text is treated the same way
 * (the old text is gone once mmap returns).
 *
 * Limits, kept as the model's honest answer: the section must already be mapped when the text is
 * (true for ld.so, which maps the whole object span first); a partial munmap of text removes the
 * whole section; mprotect(PROT_EXEC) of a file mapping is not watched.
 */
export class MmapDetectPolicy implements SframeMmHooks {
  readonly stats: MmapDetectStats = {
    execMmaps: 0,
    headerBytesRead: 0,
    registered: 0,
    refused: 0,
    removedAtMunmap: 0,
  };

  constructor(readonly ks: KernelSframe) {}

  afterMmap(
    proc: Process,
    addr: bigint,
    len: bigint,
    prot: number,
    _flags: number,
    file: OpenFile | undefined,
    offset: bigint,
  ): void {
    // Whatever was registered for text in this range is gone now (MAP_FIXED replaced it).
    this.removeOverlapping(proc, addr, len);
    if ((prot & PROT_EXEC) === 0 || !file || !this.ks.enabled) return;
    this.stats.execMmaps++;
    const info = readFileSframeInfo(file.inode);
    if (!info) return;
    this.stats.headerBytesRead += info.bytesRead;
    if (!info.sframe) return;
    const page = proc.mm.pageSize;
    const pageLen = (len + BigInt(page) - 1n) & ~BigInt(page - 1);
    const at = textInVma(
      info,
      { start: Number(addr), end: Number(addr + pageLen), pgoff: Number(offset / BigInt(page)) },
      page,
    );
    if (!at) return;
    const s = at.bias + info.sframe.vaddr;
    const t = at.bias + at.text.vaddr;
    const r = this.ks.addSection(
      proc.mm,
      s,
      s + info.sframe.memsz,
      t,
      t + at.text.memsz,
      "mmap-detect",
      file.inode.path,
    );
    if (r.result === 0) this.stats.registered++;
    else this.stats.refused++;
  }

  beforeMunmap(proc: Process, addr: bigint, len: bigint): void {
    this.removeOverlapping(proc, addr, len);
  }

  /** `sframe_remove_section` for every section whose (inclusive) text range meets [addr, addr+len). */
  private removeOverlapping(proc: Process, addr: bigint, len: bigint): void {
    if (len <= 0n) return;
    const end = addr + len;
    const starts = new Set<bigint>();
    for (const e of this.ks.registryOf(proc.mm).list()) {
      if (e.textStart < end && e.textEnd >= addr) starts.add(e.sframeStart);
    }
    for (const s of starts) {
      this.ks.removeSection(proc.mm, s);
      this.stats.removedAtMunmap++;
    }
  }
}
