import { PF_X, PT_GNU_SFRAME, PT_LOAD } from "../../../formats/elf/constants.ts";
import type { MappedInode, Vma } from "../../mm/vma.ts";

/** A program header the way the kernel keeps it from a file read: only what registration needs. */
export interface FileSegment {
  readonly vaddr: bigint;
  readonly memsz: bigint;
  readonly offset: bigint;
}

/** What a file says about its SFrame: the PT_GNU_SFRAME segment and its executable PT_LOADs. */
export interface FileSframeInfo {
  /** PT_GNU_SFRAME, or undefined when the file has none. */
  readonly sframe: FileSegment | undefined;
  /** PT_LOADs with PF_X, in header order. */
  readonly texts: readonly FileSegment[];
  /** Bytes the kernel read from the file to learn this (ELF header + program headers). */
  readonly bytesRead: number;
}

/** At most this many program headers are read (binfmt_elf's `elf_read_implies_exec` cap: 64 KiB of headers). */
const MAX_PHDR_BYTES = 65536;

/**
 * Read an ELF64 file's program headers straight from its inode, as `load_elf_phdrs` does at exec and
 * as a kernel-side registration design would at mmap or at an unwind miss: the 64-byte ELF header,
 * then `e_phnum * e_phentsize` bytes at `e_phoff`. Returns undefined for anything that is not a
 * well-formed little- or big-endian ELF64 with 56-byte program headers inside the file (the kernel
 * gives up silently: such a file simply gets no SFrame).
 */
export function readFileSframeInfo(inode: MappedInode): FileSframeInfo | undefined {
  if (inode.size < 64) return undefined;
  const eh = inode.read(0, 64);
  if (eh[0] !== 0x7f || eh[1] !== 0x45 || eh[2] !== 0x4c || eh[3] !== 0x46 || eh[4] !== 2) return undefined;
  const le = eh[5] === 1;
  const dv = new DataView(eh.buffer, eh.byteOffset, 64);
  const phoff = dv.getBigUint64(32, le);
  const phentsize = dv.getUint16(54, le);
  const phnum = dv.getUint16(56, le);
  const bytes = phnum * 56;
  if (phentsize !== 56 || bytes > MAX_PHDR_BYTES || phoff + BigInt(bytes) > BigInt(inode.size)) return undefined;
  const ph = inode.read(Number(phoff), bytes);
  const pv = new DataView(ph.buffer, ph.byteOffset, bytes);
  let sframe: FileSegment | undefined;
  const texts: FileSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const o = i * 56;
    const type = pv.getUint32(o, le);
    const flags = pv.getUint32(o + 4, le);
    const seg = {
      offset: pv.getBigUint64(o + 8, le),
      vaddr: pv.getBigUint64(o + 16, le),
      memsz: pv.getBigUint64(o + 40, le),
    };
    if (type === PT_GNU_SFRAME) sframe = seg;
    else if (type === PT_LOAD && (flags & PF_X) !== 0) texts.push(seg);
  }
  return { sframe, texts, bytesRead: 64 + bytes };
}

/**
 * Where a file's executable segment sits in a VMA that maps part of that file: the segment whose
 * first byte lies in the VMA's file window, with the load bias that puts it there
 * (`vma.start - vma.pgoff * page + p_offset - p_vaddr`). Undefined when no executable segment
 * starts inside this VMA.
 */
export function textInVma(
  info: FileSframeInfo,
  vma: Pick<Vma, "start" | "end" | "pgoff">,
  pageSize: number,
): { readonly text: FileSegment; readonly bias: bigint } | undefined {
  const winStart = BigInt(vma.pgoff) * BigInt(pageSize);
  const winEnd = winStart + BigInt(vma.end - vma.start);
  for (const t of info.texts) {
    if (t.offset < winStart || t.offset >= winEnd) continue;
    const runtime = BigInt(vma.start) + (t.offset - winStart);
    return { text: t, bias: runtime - t.vaddr };
  }
  return undefined;
}
