import type { ElfFile } from "../elf/file.ts";
import { PT_GNU_SFRAME, SHT_GNU_SFRAME } from "./constants.ts";

/** Where an ELF file's SFrame data is, and its bytes. */
export interface SframeLocation {
  /** The SFrame bytes as stored in the file (segment: p_filesz bytes; section: sh_size bytes). */
  readonly bytes: Uint8Array;
  /**
   * Link-time address of the first byte (p_vaddr / sh_addr). Function starts are relative to the
   * section, so PCs = vaddr (+ load bias) + section-relative start. 0 in a relocatable object.
   */
  readonly vaddr: bigint;
  /** File offset of the first byte. */
  readonly fileOffset: bigint;
  /** In-memory size: PT_GNU_SFRAME p_memsz (what ld.so would register), or sh_size. */
  readonly memSize: bigint;
  readonly from: "segment" | "section";
  /** Program header index (segment) or section index (section). */
  readonly index: number;
}

/**
 * Find the SFrame data of an ELF file the way a loader does: the PT_GNU_SFRAME program header
 * (glibc `_dl_find_object`, kernel binfmt_elf), else — for objects without program headers, such as
 * relocatable `.o` files — the `.sframe` section (by name or type SHT_GNU_SFRAME, as binutils 2.40
 * used SHT_PROGBITS). Returns undefined when there is none.
 *
 * Note: PT_GNU_SFRAME may be larger than the section (ld pads it with zeros; seen in glibc's libm):
 * readers take sizes from the SFrame header, and trailing zeros are legal.
 */
export function locateSframe(elf: ElfFile): SframeLocation | undefined {
  const ph = elf.programHeaders.find((p) => p.type === PT_GNU_SFRAME);
  if (ph) {
    return {
      bytes: elf.segmentData(ph),
      vaddr: ph.vaddr,
      fileOffset: ph.offset,
      memSize: ph.memsz,
      from: "segment",
      index: ph.index,
    };
  }
  const sec = elf.sections.find((s) => s.name === ".sframe") ?? elf.sections.find((s) => s.type === SHT_GNU_SFRAME);
  if (!sec) return undefined;
  return {
    bytes: elf.sectionData(sec),
    vaddr: sec.addr,
    fileOffset: sec.offset,
    memSize: sec.size,
    from: "section",
    index: sec.index,
  };
}
