import type { ElfFile } from "../../formats/elf/file.ts";
import { formatArchSpecific } from "./arch-specific.ts";
import { dynamicRows, formatDynamic } from "./dynamic.ts";
import { formatSectionGroups } from "./groups.ts";
import { fileTypeName, formatFileHeader, machineName } from "./header.ts";
import { formatHistogram } from "./histogram.ts";
import { formatNotes } from "./notes.ts";
import type { ReadelfOptions } from "./options.ts";
import { formatProgramHeaders, programInterpreter, segmentSections, segmentTypeName } from "./program-headers.ts";
import { formatRelocations } from "./relocations.ts";
import {
  formatSectionHeaders,
  printableSectionName,
  readelfStringTable,
  sectionFlagLetters,
  sectionTypeName,
} from "./sections.ts";
import { formatSymbols } from "./symbols.ts";
import { formatUnwind } from "./unwind.ts";
import { formatVersions } from "./versions.ts";

/**
 * `ldsim readelf`: which parts to print and in what order. The order is GNU readelf's
 * (binutils readelf.c `process_object`): file header, section headers,
 * section groups, program headers, dynamic section, relocations, unwind, symbol tables, histogram,
 * version sections, notes, architecture attributes — whatever order the options came in.
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
  /** -g */
  readonly sectionGroups?: boolean;
  /** -u */
  readonly unwind?: boolean;
  /** -I */
  readonly histogram?: boolean;
  /** -A */
  readonly archSpecific?: boolean;
}

/** What -a turns on (binutils readelf.c `parse_args`, case 'a'). */
const ALL: readonly (keyof ReadelfRequest)[] = [
  "fileHeader",
  "segments",
  "sections",
  "sectionGroups",
  "dynamic",
  "relocs",
  "unwind",
  "syms",
  "histogram",
  "versionInfo",
  "notes",
  "archSpecific",
];

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
  ["-g", ["sectionGroups"]],
  ["--section-groups", ["sectionGroups"]],
  ["-u", ["unwind"]],
  ["--unwind", ["unwind"]],
  ["-I", ["histogram"]],
  ["--histogram", ["histogram"]],
  ["-A", ["archSpecific"]],
  ["--arch-specific", ["archSpecific"]],
  ["-a", ALL],
  ["--all", ALL],
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
  if (req.sections) parts.push(formatSectionHeaders(elf, { header, wide: req.wide }));
  if (req.sectionGroups) parts.push(formatSectionGroups(elf));
  if (req.segments) parts.push(formatProgramHeaders(elf, { header, wide: req.wide }));
  if (req.dynamic) parts.push(formatDynamic(elf));
  if (req.relocs) parts.push(formatRelocations(elf, req));
  if (req.unwind) parts.push(formatUnwind(elf));
  if (req.syms || req.dynSyms) parts.push(formatSymbols(elf, req));
  if (req.histogram) parts.push(formatHistogram(elf));
  if (req.versionInfo) parts.push(formatVersions(elf, req));
  if (req.notes) parts.push(formatNotes(elf, req));
  if (req.archSpecific) parts.push(formatArchSpecific(elf));
  return parts.join("");
}

/** The "\nFile: NAME\n" line readelf prints before each file when given more than one. */
export function fileBanner(name: string): string {
  return `\nFile: ${name}\n`;
}

/**
 * A JSON view of what the request asks for: the parsed records (64-bit values stay bigint; the
 * caller decides how to print them) with readelf's names beside the numbers. Parts owned by the
 * other formatters (-r, -s, -V, -n) are given as readelf's text.
 */
export interface ReadelfJsonView {
  file: string;
  header?: Record<string, unknown>;
  sections?: readonly Record<string, unknown>[];
  programHeaders?: readonly Record<string, unknown>[];
  interpreter?: string | null;
  segmentSections?: readonly (readonly string[])[] | null;
  dynamic?: ReturnType<typeof dynamicRows>;
  relocationsText?: string;
  symbolsText?: string;
  versionsText?: string;
  notesText?: string;
}

export function readelfJson(elf: ElfFile, req: ReadelfRequest): ReadelfJsonView {
  const out: ReadelfJsonView = { file: elf.name };
  if (req.fileHeader) {
    const { ident, ...rest } = elf.header;
    out.header = {
      class: ident.class,
      data: ident.data,
      identVersion: ident.version,
      osabi: ident.osabi,
      abiversion: ident.abiversion,
      ...rest,
      typeName: fileTypeName(elf),
      machineName: machineName(elf.header.machine),
    };
  }
  if (req.sections) {
    const strtab = readelfStringTable(elf);
    out.sections = (elf.header.shoff === 0n ? [] : elf.sections).map((s) => ({
      ...s,
      name: printableSectionName(strtab, s),
      typeName: sectionTypeName(elf, s.type),
      flagLetters: sectionFlagLetters(elf, s.flags),
    }));
  }
  if (req.segments) {
    out.programHeaders = elf.programHeaders.map((p) => ({ ...p, typeName: segmentTypeName(elf, p.type) }));
    out.interpreter = programInterpreter(elf) ?? null;
    out.segmentSections = segmentSections(elf) ?? null;
  }
  if (req.dynamic) out.dynamic = dynamicRows(elf);
  if (req.relocs) out.relocationsText = formatRelocations(elf, req);
  if (req.syms || req.dynSyms) out.symbolsText = formatSymbols(elf, req);
  if (req.versionInfo) out.versionsText = formatVersions(elf, req);
  if (req.notes) out.notesText = formatNotes(elf, req);
  return out;
}
