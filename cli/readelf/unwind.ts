import type { ElfFile } from "../../formats/elf/file.ts";
import { LdsimError } from "../../formats/errors.ts";
import { machineName } from "./header.ts";

/**
 * `readelf -u` for the machines ldsim models: binutils readelf.c `process_unwind` decodes only
 * ARM, IA-64, HPPA and C6000 tables; for i386 and x86-64 it says there is nothing
 * processor-specific, for the others that decoding is not supported.
 */
export function formatUnwind(elf: ElfFile): string {
  const m = elf.header.machine;
  if (m === 3 || m === 62) return "No processor specific unwind information to decode\n";
  if (m === 40 || m === 50 || m === 15 || m === 140) {
    throw new LdsimError(`readelf -u: unwind tables of ${machineName(m)} are not decoded by ldsim`);
  }
  return `\nThe decoding of unwind sections for machine type ${machineName(m)} is not currently supported.\n`;
}
