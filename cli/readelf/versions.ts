import type { ElfFile } from "../../formats/elf/file.ts";
import type { ReadelfOptions } from "./options.ts";

/** Placeholder seam: replaced by the real formatter (owned by another work item). */
export function formatVersions(elf: ElfFile, opts: ReadelfOptions): string {
  void elf;
  void opts;
  throw new Error("formatVersions: not implemented yet");
}
