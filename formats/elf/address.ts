import { FormatError, hex } from "../errors.ts";
import { PT_LOAD } from "./constants.ts";
import type { ProgramHeader } from "./types.ts";

/**
 * Translate a virtual address (as the dynamic section gives them: DT_STRTAB, DT_SYMTAB, DT_RELA…)
 * into a file offset through the PT_LOAD segments, the way a reader of an unloaded file must.
 *
 * `size` bytes starting at `vaddr` must lie inside one segment's file image (p_vaddr .. p_vaddr +
 * p_filesz): bytes past p_filesz are zero-fill that exists only in memory. Returns undefined when no
 * PT_LOAD holds the whole range.
 */
export function vaddrToOffset(phdrs: readonly ProgramHeader[], vaddr: bigint, size = 0n): bigint | undefined {
  const end = vaddr + size;
  for (const ph of phdrs) {
    if (ph.type !== PT_LOAD) continue;
    if (vaddr >= ph.vaddr && end <= ph.vaddr + ph.filesz && (size > 0n || vaddr < ph.vaddr + ph.filesz)) {
      return vaddr - ph.vaddr + ph.offset;
    }
  }
  return undefined;
}

/** As vaddrToOffset, but a range outside every PT_LOAD raises a FormatError naming `what`. */
export function requireOffset(
  phdrs: readonly ProgramHeader[],
  vaddr: bigint,
  size: bigint,
  what: string,
  source?: string,
): bigint {
  const off = vaddrToOffset(phdrs, vaddr, size);
  if (off === undefined) {
    throw new FormatError(
      `${what} at address ${hex(vaddr)} (${size} bytes) is not inside any PT_LOAD segment's file image`,
      {
        source,
        offset: vaddr,
      },
    );
  }
  return off;
}

/**
 * binutils readelf.c `offset_from_vma`: the first PT_LOAD whose page-aligned start is at or below
 * `vma` and whose file image ends at or after `vma + size`. When none matches, readelf warns and
 * uses the address itself as the offset; so does this function (readelf-compatible callers only).
 */
export function readelfOffsetFromVma(phdrs: readonly ProgramHeader[], vma: bigint, size: bigint): bigint {
  const M = (1n << 64n) - 1n;
  for (const ph of phdrs) {
    if (ph.type !== PT_LOAD) continue;
    const alignedStart = ph.vaddr & (-ph.align & M);
    if (vma >= alignedStart && ((vma + size) & M) <= ph.vaddr + ph.filesz) {
      return (vma - ph.vaddr + ph.offset) & M;
    }
  }
  return vma;
}
