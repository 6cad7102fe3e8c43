import { SHT_GNU_ATTRIBUTES } from "../../formats/elf/constants.ts";
import type { ElfFile } from "../../formats/elf/file.ts";
import { LdsimError } from "../../formats/errors.ts";

/**
 * `readelf -A`. For the machines ldsim models (x86, AArch64, s390) binutils readelf.c
 * `process_arch_specific` prints only the contents of SHT_GNU_ATTRIBUTES sections, so a file
 * without one prints nothing; decoding such a section is not implemented here.
 */
export function formatArchSpecific(elf: ElfFile): string {
  const m = elf.header.machine;
  if (![3, 62, 183, 22].includes(m)) {
    throw new LdsimError(`readelf -A: architecture attributes of machine ${m} are not decoded by ldsim`);
  }
  if (elf.header.shoff !== 0n && elf.sections.some((s) => s.type === SHT_GNU_ATTRIBUTES)) {
    throw new LdsimError("readelf -A: SHT_GNU_ATTRIBUTES sections are not decoded by ldsim");
  }
  return "";
}
