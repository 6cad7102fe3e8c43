/**
 * Drive every ELF reader API over one input, the way a fuzzer or a malformed-file test needs: each
 * API is called on its own, so one structure failing does not hide the next. Errors that are
 * LdsimError subclasses are the expected outcome for bad input and are collected; anything else is
 * rethrown (a reader bug: TypeError, RangeError, an uncaught invariant).
 */
import type { ByteSource } from "../../formats/bytes/source.ts";
import { BufferSource } from "../../formats/bytes/source.ts";
import { PT_NOTE, SHT_REL, SHT_RELA, SHT_RELR } from "../../formats/elf/constants.ts";
import { decodeDynamic, dynamicNames, dynamicStringsFromFile, readDynamic } from "../../formats/elf/dynamic.ts";
import { ElfFile } from "../../formats/elf/file.ts";
import { gnuHash, sysvHash } from "../../formats/elf/hash-function.ts";
import { type HashTable, hashLookup, hashTables } from "../../formats/elf/hash-table.ts";
import {
  buildIdHex,
  decodeAbiTag,
  decodeGnuProperties,
  decodeNtFile,
  decodeStapsdt,
  fileNotes,
  NT_FILE,
  NT_GNU_ABI_TAG,
  NT_GNU_BUILD_ID,
  NT_GNU_PROPERTY_TYPE_0,
  NT_STAPSDT,
  noteAlignment,
  walkNotes,
} from "../../formats/elf/notes.ts";
import { sectionRelocations, sectionRelr } from "../../formats/elf/relocations.ts";
import { dynamicSymbols, type SymbolTable, staticSymbols } from "../../formats/elf/symbols.ts";
import { symbolVersioning } from "../../formats/elf/versions.ts";
import { LdsimError } from "../../formats/errors.ts";

/** A ByteSource that records the largest single read, so a test can check no read exceeds the input. */
export class RecordingSource implements ByteSource {
  maxRead = 0;
  reads = 0;
  readonly size: number;
  constructor(private readonly inner: ByteSource) {
    this.size = inner.size;
  }
  get name(): string {
    return this.inner.name;
  }
  read(offset: number, length: number): Uint8Array {
    this.reads++;
    if (length > this.maxRead) this.maxRead = length;
    return this.inner.read(offset, length);
  }
}

export interface ProbeReport {
  /** Messages of the LdsimErrors raised, in call order (prefixed by the API that raised them). */
  readonly errors: string[];
  /** The LdsimErrors themselves, same order (a fuzzer groups them by class and message). */
  readonly thrown: LdsimError[];
  readonly maxRead: number;
  readonly size: number;
}

/** Reader modules added later can register a probe here to be exercised too. */
export const extraProbes: ((elf: ElfFile) => void)[] = [];

/** Call every reader API on `bytes`. Throws only non-ldsim errors (reader bugs). */
export function probeElf(bytes: Uint8Array, name = "<fuzz>"): ProbeReport {
  const src = new RecordingSource(new BufferSource(bytes, name));
  const errors: string[] = [];
  const thrown: LdsimError[] = [];
  const step = <T>(what: string, fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof LdsimError) {
        errors.push(`${what}: ${e.message}`);
        thrown.push(e);
        return undefined;
      }
      throw e;
    }
  };
  const elf = step("open", () => ElfFile.open(src));
  if (!elf) return { errors, thrown, maxRead: src.maxRead, size: src.size };
  step("counts", () => [elf.phnum, elf.shnum, elf.shstrndx]);
  const phdrs = step("programHeaders", () => elf.programHeaders) ?? [];
  for (const ph of phdrs) step("segmentData", () => elf.segmentData(ph));
  const sections = step("sections", () => elf.sections) ?? [];
  for (const s of sections) step("sectionData", () => elf.sectionData(s));

  step("dynamic", () => {
    const dyn = readDynamic(elf);
    if (!dyn) return;
    const decoded = decodeDynamic(dyn.entries);
    const strings = dynamicStringsFromFile(elf, decoded);
    if (strings) dynamicNames(decoded, strings);
  });

  const walk = (t: SymbolTable | undefined) => {
    if (!t) return;
    for (let i = 0; i < t.count; i++) {
      step("symbol", () => {
        t.symbol(i);
        t.name(i);
      });
    }
  };
  const dynsym = step("dynamicSymbols", () => dynamicSymbols(elf));
  walk(dynsym);
  step("staticSymbols", () => walk(staticSymbols(elf)));

  step("versions", () => {
    const v = symbolVersioning(elf);
    if (!v || !dynsym) return;
    for (let i = 0; i < dynsym.count; i++) v.versionOf(i);
  });

  step("hash", () => {
    const tables = hashTables(elf);
    const names: string[] = ["__no_such_symbol__"];
    if (dynsym) {
      for (let i = 1; i < Math.min(dynsym.count, 9); i++) {
        const n = step("hash name", () => dynsym.name(i));
        if (n !== undefined) names.push(n);
      }
    }
    for (const table of [tables.gnu, tables.sysv]) {
      if (!table) continue;
      for (const n of names) lookup(table, n, dynsym, step);
    }
  });

  for (const s of sections) {
    if (s.type === SHT_REL || s.type === SHT_RELA) step("relocations", () => sectionRelocations(elf, s));
    if (s.type === SHT_RELR) step("relr", () => sectionRelr(elf, s));
  }
  step("notes", () => {
    for (const group of fileNotes(elf)) {
      for (const note of group.notes) {
        step("note", () => decodeNote(elf, note));
      }
    }
  });
  // fileNotes prefers sections; walk the PT_NOTE segments as a loader would, too.
  for (const ph of phdrs) {
    if (ph.type !== PT_NOTE) continue;
    step("PT_NOTE", () => {
      const layout = { littleEndian: elf.littleEndian, align: noteAlignment(ph.align, elf.name), source: elf.name };
      return walkNotes(elf.segmentData(ph), layout);
    });
  }
  for (const p of extraProbes) step("extra", () => p(elf));
  return { errors, thrown, maxRead: src.maxRead, size: src.size };
}

/** Bound on hash-chain walks: a reader that loops forever must fail the test, not hang it. */
const MAX_CANDIDATES = 1 << 16;

function lookup(
  table: HashTable,
  name: string,
  dynsym: SymbolTable | undefined,
  step: <T>(what: string, fn: () => T) => T | undefined,
): void {
  step("lookup", () => {
    let n = 0;
    // Walk the candidates with our own bound first, then through the public lookup.
    for (const _ of table.candidates(table.kind === "gnu" ? gnuHash(name) : sysvHash(name))) {
      if (++n > MAX_CANDIDATES) throw new Error(`hash chain for ${name} did not terminate (${table.kind})`);
    }
    hashLookup(table, name, (i) => {
      if (!dynsym) return false;
      return step("lookup name", () => dynsym.name(i)) === name;
    });
  });
}

function decodeNote(elf: ElfFile, note: Parameters<typeof buildIdHex>[0]): unknown {
  if (note.name === "GNU" && note.type === NT_GNU_BUILD_ID) return buildIdHex(note);
  if (note.name === "GNU" && note.type === NT_GNU_ABI_TAG) return decodeAbiTag(note, elf.littleEndian);
  if (note.name === "GNU" && note.type === NT_GNU_PROPERTY_TYPE_0) {
    return decodeGnuProperties(note, elf.littleEndian, elf.is64);
  }
  if (note.name === "stapsdt" && note.type === NT_STAPSDT) return decodeStapsdt(note, elf.littleEndian, elf.is64);
  if (note.name === "CORE" && note.type === NT_FILE) return decodeNtFile(note, elf.littleEndian, elf.is64);
  return undefined;
}
