import type { ElfFile } from "../../formats/elf/file.ts";
import { formatDynamic } from "./dynamic.ts";
import { formatFileHeader } from "./header.ts";
import { formatNotes } from "./notes.ts";
import type { ReadelfOptions } from "./options.ts";
import { formatProgramHeaders } from "./program-headers.ts";
import { formatRelocations } from "./relocations.ts";
import { formatSectionHeaders } from "./sections.ts";
import { formatSymbols } from "./symbols.ts";
import { formatVersions } from "./versions.ts";

/**
 * `ldsim readelf`: which parts to print and in what order. The order is GNU readelf's
 * (binutils readelf.c `process_object`): file header, section headers, program headers, dynamic
 * section, relocations, symbol tables, version sections, notes — whatever order the options came in.
 */
export interface ReadelfRequest extends ReadelfOptions {
  /** -h */
  readonly fileHeader?: boolean;
  /** -l */
  readonly segments?: boolean;
  /** -S */
  readonly sections?: boolean;
  /** -d */
  readonly dynamic?: boolean;
  /** -V */
  readonly versionInfo?: boolean;
  /** -r */
  readonly relocs?: boolean;
  /** -n */
  readonly notes?: boolean;
}

/** Options recognised by `requestFromArgs`, GNU readelf spellings. */
export const READELF_FLAGS: ReadonlyMap<string, readonly (keyof ReadelfRequest)[]> = new Map([
  ["-h", ["fileHeader"]],
  ["--file-header", ["fileHeader"]],
  ["-l", ["segments"]],
  ["--program-headers", ["segments"]],
  ["--segments", ["segments"]],
  ["-S", ["sections"]],
  ["--section-headers", ["sections"]],
  ["--sections", ["sections"]],
  ["-d", ["dynamic"]],
  ["--dynamic", ["dynamic"]],
  ["-s", ["syms"]],
  ["--syms", ["syms"]],
  ["--symbols", ["syms"]],
  ["--dyn-syms", ["dynSyms"]],
  ["-V", ["versionInfo"]],
  ["--version-info", ["versionInfo"]],
  ["-r", ["relocs"]],
  ["--relocs", ["relocs"]],
  ["-n", ["notes"]],
  ["--notes", ["notes"]],
  ["-W", ["wide"]],
  ["--wide", ["wide"]],
  ["-e", ["fileHeader", "segments", "sections"]],
  ["--headers", ["fileHeader", "segments", "sections"]],
  ["-a", ["fileHeader", "segments", "sections", "dynamic", "syms", "versionInfo", "relocs", "notes"]],
  ["--all", ["fileHeader", "segments", "sections", "dynamic", "syms", "versionInfo", "relocs", "notes"]],
]);

/**
 * Build a request from readelf-style arguments (`["-W", "-d"]`, `["-lS"]`), for scripts and tests
 * that speak readelf's language. Unknown options throw.
 */
export function requestFromArgs(args: readonly string[]): ReadelfRequest {
  const req: Record<string, boolean> = { wide: false };
  const set = (flag: string) => {
    const keys = READELF_FLAGS.get(flag);
    if (!keys) throw new Error(`readelf: unrecognised option ${flag}`);
    for (const k of keys) req[k] = true;
  };
  for (const a of args) {
    if (a.startsWith("--") || a.length === 2) set(a);
    else if (a.startsWith("-")) for (const c of a.slice(1)) set(`-${c}`);
    else throw new Error(`readelf: not an option: ${a}`);
  }
  return req as unknown as ReadelfRequest;
}

/** Everything `readelf` prints for one ELF file, in GNU readelf's order. */
export function formatReadelf(elf: ElfFile, req: ReadelfRequest): string {
  const header = req.fileHeader === true;
  const parts: string[] = [];
  if (header) parts.push(formatFileHeader(elf));
  if (req.sections) parts.push(formatSectionHeaders(elf, { header }));
  if (req.segments) parts.push(formatProgramHeaders(elf, { header }));
  if (req.dynamic) parts.push(formatDynamic(elf));
  if (req.relocs) parts.push(formatRelocations(elf, req));
  if (req.syms || req.dynSyms) parts.push(formatSymbols(elf, req));
  if (req.versionInfo) parts.push(formatVersions(elf, req));
  if (req.notes) parts.push(formatNotes(elf, req));
  return parts.join("");
}

/** The "\nFile: NAME\n" line readelf prints before each file when given more than one. */
export function fileBanner(name: string): string {
  return `\nFile: ${name}\n`;
}
