import type { ProgramHeader } from "./types.ts";

/** Elf64_Phdr and Elf32_Phdr sizes. */
export const PHDR64_SIZE = 56;
export const PHDR32_SIZE = 32;

/**
 * `count` program headers packed at their natural size (56 or 32 bytes) from the start of `bytes`
 * (at least that long): ld.so's walk of the buffer it read, readelf's get_{32,64}bit_program_headers.
 * Pure decoding; the caller has checked the count against the bytes.
 */
export function decodeProgramHeaders(
  bytes: Uint8Array,
  count: number,
  is64: boolean,
  littleEndian: boolean,
): ProgramHeader[] {
  const le = littleEndian;
  const v = new DataView(bytes.buffer, bytes.byteOffset, count * (is64 ? PHDR64_SIZE : PHDR32_SIZE));
  const out: ProgramHeader[] = [];
  for (let i = 0; i < count; i++) {
    if (is64) {
      const o = i * PHDR64_SIZE;
      out.push({
        index: i,
        type: v.getUint32(o, le),
        flags: v.getUint32(o + 4, le),
        offset: v.getBigUint64(o + 8, le),
        vaddr: v.getBigUint64(o + 16, le),
        paddr: v.getBigUint64(o + 24, le),
        filesz: v.getBigUint64(o + 32, le),
        memsz: v.getBigUint64(o + 40, le),
        align: v.getBigUint64(o + 48, le),
      });
    } else {
      const o = i * PHDR32_SIZE;
      out.push({
        index: i,
        type: v.getUint32(o, le),
        offset: BigInt(v.getUint32(o + 4, le)),
        vaddr: BigInt(v.getUint32(o + 8, le)),
        paddr: BigInt(v.getUint32(o + 12, le)),
        filesz: BigInt(v.getUint32(o + 16, le)),
        memsz: BigInt(v.getUint32(o + 20, le)),
        flags: v.getUint32(o + 24, le),
        align: BigInt(v.getUint32(o + 28, le)),
      });
    }
  }
  return out;
}
