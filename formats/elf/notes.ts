/**
 * ELF notes (SHT_NOTE sections, PT_NOTE segments) and decoders for the note types a loader and
 * readelf care about: NT_GNU_BUILD_ID, NT_GNU_ABI_TAG (glibc checks it in `_dl_discover_osversion`
 * era loaders), NT_GNU_PROPERTY_TYPE_0 (x86 ISA level and CET/IBT/SHSTK, AArch64 BTI/PAC: glibc's
 * `_dl_process_gnu_property`), NT_GNU_GOLD_VERSION, SystemTap `stapsdt` probes,
 * NT_FDO_PACKAGING_METADATA and the core-file NT_FILE table.
 *
 * Layout (gABI "Note Section"): namesz, descsz, type as 4-byte words, then the name padded to the
 * note alignment, then the descriptor padded likewise. The gABI says 4 in ELF32 and 8 in ELF64;
 * Linux uses 4 in both, and GNU tools use the section's sh_addralign / segment's p_align to tell
 * (binutils readelf `process_notes_at`: alignment < 4 counts as 4, anything but 4 or 8 is corrupt).
 */
import { EndianReader } from "../bytes/endian.ts";
import { FormatError, hex } from "../errors.ts";
import { PT_NOTE, SHT_NOTE } from "./constants.ts";
import { decodeLatin1, type ElfFile } from "./file.ts";
import type { ProgramHeader, SectionHeader } from "./types.ts";

export class NoteFormatError extends FormatError {
  override name = "NoteFormatError";
}

export interface ElfNote {
  /** Offset of the note header within the note data. */
  readonly offset: number;
  readonly namesz: number;
  readonly descsz: number;
  readonly type: number;
  /**
   * The owner name as readelf reads it: the namesz bytes up to the first NUL (latin1). A name
   * missing its terminating NUL still reads as all namesz bytes, as readelf allows.
   */
  readonly name: string;
  /** The namesz bytes of the name field, NUL included (build-attribute notes encode values there). */
  readonly nameBytes: Uint8Array;
  readonly desc: Uint8Array;
  /** Offset of the descriptor within the note data. */
  readonly descOffset: number;
}

export interface NoteParse {
  readonly notes: readonly ElfNote[];
  /** Set when a note did not fit: parsing stopped there (readelf warns and stops the same way). */
  readonly error?: NoteFormatError;
}

export interface NoteLayout {
  readonly littleEndian: boolean;
  /** 4 or 8 (see noteAlignment). */
  readonly align: 4 | 8;
  /** Absolute offset of bytes[0], for error messages. */
  readonly base?: number;
  readonly source?: string;
}

export const NT_GNU_ABI_TAG = 1;
export const NT_GNU_HWCAP = 2;
export const NT_GNU_BUILD_ID = 3;
export const NT_GNU_GOLD_VERSION = 4;
export const NT_GNU_PROPERTY_TYPE_0 = 5;
export const NT_GNU_BUILD_ATTRIBUTE_OPEN = 0x100;
export const NT_GNU_BUILD_ATTRIBUTE_FUNC = 0x101;
export const NT_STAPSDT = 3;
export const NT_FDO_PACKAGING_METADATA = 0xcafe1a7e;
export const NT_FILE = 0x46494c45;

export const GNU_PROPERTY_STACK_SIZE = 1;
export const GNU_PROPERTY_NO_COPY_ON_PROTECTED = 2;
export const GNU_PROPERTY_UINT32_AND_LO = 0xb0000000;
export const GNU_PROPERTY_UINT32_AND_HI = 0xb0007fff;
export const GNU_PROPERTY_UINT32_OR_LO = 0xb0008000;
export const GNU_PROPERTY_UINT32_OR_HI = 0xb000ffff;
export const GNU_PROPERTY_1_NEEDED = 0xb0008000;
export const GNU_PROPERTY_1_NEEDED_INDIRECT_EXTERN_ACCESS = 1;
export const GNU_PROPERTY_LOPROC = 0xc0000000;
export const GNU_PROPERTY_HIPROC = 0xdfffffff;
export const GNU_PROPERTY_LOUSER = 0xe0000000;
export const GNU_PROPERTY_X86_COMPAT_ISA_1_USED = 0xc0000000;
export const GNU_PROPERTY_X86_COMPAT_ISA_1_NEEDED = 0xc0000001;
export const GNU_PROPERTY_X86_FEATURE_1_AND = 0xc0000002;
export const GNU_PROPERTY_X86_COMPAT_2_ISA_1_NEEDED = 0xc0008000;
export const GNU_PROPERTY_X86_FEATURE_2_NEEDED = 0xc0008001;
export const GNU_PROPERTY_X86_ISA_1_NEEDED = 0xc0008002;
export const GNU_PROPERTY_X86_COMPAT_2_ISA_1_USED = 0xc0010000;
export const GNU_PROPERTY_X86_FEATURE_2_USED = 0xc0010001;
export const GNU_PROPERTY_X86_ISA_1_USED = 0xc0010002;
export const GNU_PROPERTY_X86_FEATURE_1_IBT = 1;
export const GNU_PROPERTY_X86_FEATURE_1_SHSTK = 2;
export const GNU_PROPERTY_AARCH64_FEATURE_1_AND = 0xc0000000;
export const GNU_PROPERTY_AARCH64_FEATURE_1_BTI = 1;
export const GNU_PROPERTY_AARCH64_FEATURE_1_PAC = 2;

/** The note alignment readelf uses for an sh_addralign / p_align; throws for anything but ≤4 or 8. */
export function noteAlignment(align: bigint | number, source?: string): 4 | 8 {
  const a = BigInt(align);
  if (a < 4n) return 4;
  if (a === 4n) return 4;
  if (a === 8n) return 8;
  throw new NoteFormatError(`corrupt note: alignment ${a}, expecting 4 or 8`, { source });
}

const alignUp = (v: number, a: number): number => Math.ceil(v / a) * a;

/**
 * Walk the notes in `bytes`. A note whose sizes overrun the data stops the walk, and the notes
 * before it are returned with the error (what readelf prints before its "note with invalid namesz
 * and/or descsz" warning).
 */
export function walkNotes(bytes: Uint8Array, layout: NoteLayout): NoteParse {
  const r = new EndianReader(bytes, layout.littleEndian, layout.base ?? 0, layout.source);
  const notes: ElfNote[] = [];
  const align = layout.align;
  let off = 0;
  while (off < bytes.length) {
    const remaining = bytes.length - off;
    const err = (msg: string) => new NoteFormatError(msg, { source: layout.source, offset: (layout.base ?? 0) + off });
    if (remaining < 12) {
      return {
        notes,
        error: err(
          `corrupt note: only ${remaining} byte${remaining === 1 ? "" : "s"} remain, not enough for a full note`,
        ),
      };
    }
    const namesz = r.u32(off);
    const descsz = r.u32(off + 4);
    const type = r.u32(off + 8);
    const dataRemaining = remaining - 12;
    const descStart = alignUp(12 + namesz, align);
    const next = alignUp(descStart + descsz, align);
    const nameField = descStart - 12;
    const descField = next - descStart;
    if (nameField > dataRemaining || descField > dataRemaining - nameField) {
      return {
        notes,
        error: err(
          `note with invalid namesz and/or descsz found at offset ${hex(off)} (type ${hex(type)}, namesz ${hex(namesz)}, descsz ${hex(descsz)}, alignment ${align})`,
        ),
      };
    }
    const nameBytes = bytes.subarray(off + 12, off + 12 + namesz);
    let end = nameBytes.indexOf(0);
    if (end < 0) end = nameBytes.length;
    notes.push({
      offset: off,
      namesz,
      descsz,
      type,
      name: decodeLatin1(nameBytes, 0, end),
      nameBytes,
      desc: bytes.subarray(off + descStart, off + descStart + descsz),
      descOffset: off + descStart,
    });
    off += next;
  }
  return { notes };
}

/** Parse notes strictly: any overrun raises the NoteFormatError. */
export function parseNotes(bytes: Uint8Array, layout: NoteLayout): ElfNote[] {
  const p = walkNotes(bytes, layout);
  if (p.error) throw p.error;
  return [...p.notes];
}

/** Where a group of notes came from. */
export type NoteSource =
  | { readonly kind: "section"; readonly section: SectionHeader }
  | { readonly kind: "segment"; readonly segment: ProgramHeader };

export interface NoteGroup {
  readonly from: NoteSource;
  readonly notes: readonly ElfNote[];
}

/**
 * Every note in an ElfFile: from its SHT_NOTE sections when it has any (and is not a core file),
 * otherwise from its PT_NOTE segments, which is where a loader or a core reader finds them.
 */
export function fileNotes(elf: ElfFile): NoteGroup[] {
  const out: NoteGroup[] = [];
  const layoutFor = (align: bigint, base: number): NoteLayout => ({
    littleEndian: elf.littleEndian,
    align: noteAlignment(align, elf.name),
    base,
    source: elf.name,
  });
  const ET_CORE = 4;
  if (elf.header.type !== ET_CORE) {
    const secs = elf.sections.filter((s) => s.type === SHT_NOTE);
    if (secs.length > 0) {
      for (const s of secs) {
        const bytes = elf.sectionData(s);
        out.push({
          from: { kind: "section", section: s },
          notes: parseNotes(bytes, layoutFor(s.addralign, elf.num(s.offset, "sh_offset"))),
        });
      }
      return out;
    }
  }
  for (const ph of elf.programHeaders) {
    if (ph.type !== PT_NOTE) continue;
    const bytes = elf.segmentData(ph);
    out.push({
      from: { kind: "segment", segment: ph },
      notes: parseNotes(bytes, layoutFor(ph.align, elf.num(ph.offset, "p_offset"))),
    });
  }
  return out;
}

/** NT_GNU_BUILD_ID: the descriptor as lowercase hex. */
export function buildIdHex(note: ElfNote): string {
  let s = "";
  for (const b of note.desc) s += b.toString(16).padStart(2, "0");
  return s;
}

export interface AbiTag {
  readonly os: number;
  /** readelf's name for the OS word (`Linux`, `Hurd`, …, `Unknown`). */
  readonly osName: string;
  readonly major: number;
  readonly minor: number;
  readonly subminor: number;
}

const ABI_OS_NAMES = ["Linux", "Hurd", "Solaris", "FreeBSD", "NetBSD", "Syllable", "NaCl"] as const;

/** NT_GNU_ABI_TAG: four words (OS, major, minor, subminor); undefined when shorter than 16 bytes. */
export function decodeAbiTag(note: ElfNote, littleEndian: boolean): AbiTag | undefined {
  if (note.desc.length < 16) return undefined;
  const r = new EndianReader(note.desc, littleEndian);
  const os = r.u32(0);
  return {
    os,
    osName: ABI_OS_NAMES[os] ?? "Unknown",
    major: r.u32(4),
    minor: r.u32(8),
    subminor: r.u32(12),
  };
}

/** NT_GNU_GOLD_VERSION: the version string (to the first NUL). */
export function decodeGoldVersion(note: ElfNote): string {
  let end = note.desc.indexOf(0);
  if (end < 0) end = note.desc.length;
  return decodeLatin1(note.desc, 0, end);
}

export interface GnuProperty {
  readonly type: number;
  /** pr_data, without the padding to the word size. */
  readonly data: Uint8Array;
  /** The 32-bit value, when pr_datasz is 4 (the bitmask properties). */
  readonly u32: number | undefined;
}

/**
 * NT_GNU_PROPERTY_TYPE_0: an array of (pr_type, pr_datasz, pr_data padded to 4 in ELF32 and 8 in
 * ELF64). glibc `_dl_process_gnu_property` and readelf `print_gnu_property_note` read it the same
 * way; a descriptor that is not a whole number of words or whose entries overrun raises an error.
 */
export function decodeGnuProperties(note: ElfNote, littleEndian: boolean, is64: boolean): GnuProperty[] {
  const size = is64 ? 8 : 4;
  const d = note.desc;
  if (d.length < 8 || d.length % size !== 0) {
    throw new NoteFormatError(`corrupt GNU property note: descriptor size ${hex(d.length)}`);
  }
  const r = new EndianReader(d, littleEndian);
  const out: GnuProperty[] = [];
  let p = 0;
  while (p < d.length) {
    if (d.length - p < 8)
      throw new NoteFormatError(`corrupt GNU property note: ${d.length - p} bytes left at ${hex(p)}`);
    const type = r.u32(p);
    const datasz = r.u32(p + 4);
    p += 8;
    if (datasz > d.length - p) {
      throw new NoteFormatError(`corrupt GNU property ${hex(type)}: pr_datasz ${hex(datasz)} overruns the note`);
    }
    out.push({ type, data: d.subarray(p, p + datasz), u32: datasz === 4 ? r.u32(p) : undefined });
    p += alignUp(datasz, size);
  }
  return out;
}

export interface StapsdtProbe {
  readonly pc: bigint;
  readonly base: bigint;
  readonly semaphore: bigint;
  readonly provider: string;
  readonly name: string;
  readonly args: string;
}

/**
 * A SystemTap SDT probe (owner "stapsdt", type 3): three addresses (pc, .stapsdt.base, semaphore)
 * of the class's word size, then provider, probe name and argument format as C strings.
 */
export function decodeStapsdt(note: ElfNote, littleEndian: boolean, is64: boolean): StapsdtProbe {
  const w = is64 ? 8 : 4;
  const d = note.desc;
  if (d.length < 3 * w) throw new NoteFormatError("corrupt stapsdt note: the data size is too small");
  const r = new EndianReader(d, littleEndian);
  const word = (o: number) => (is64 ? r.u64(o) : BigInt(r.u32(o)));
  let p = 3 * w;
  const str = (): string => {
    if (p >= d.length) throw new NoteFormatError("corrupt stapsdt note: the data size is too small");
    const end = d.indexOf(0, p);
    if (end < 0) throw new NoteFormatError("corrupt stapsdt note: the data size is too small");
    const s = decodeLatin1(d, p, end);
    p = end + 1;
    return s;
  };
  const provider = str();
  const name = str();
  const args = str();
  return { pc: word(0), base: word(w), semaphore: word(2 * w), provider, name, args };
}

/** NT_FDO_PACKAGING_METADATA (owner "FDO"): a JSON object as text (to the first NUL). */
export function decodeFdoPackagingMetadata(note: ElfNote): string {
  let end = note.desc.indexOf(0);
  if (end < 0) end = note.desc.length;
  return decodeLatin1(note.desc, 0, end);
}

export interface MappedFile {
  readonly start: bigint;
  readonly end: bigint;
  /** File offset in pages. */
  readonly pageOffset: bigint;
  readonly path: string;
}

/** Core NT_FILE: count, page size, count × (start, end, page offset), then count file names. */
export function decodeNtFile(
  note: ElfNote,
  littleEndian: boolean,
  is64: boolean,
): { readonly pageSize: bigint; readonly files: readonly MappedFile[] } {
  const w = is64 ? 8 : 4;
  const d = note.desc;
  if (d.length < 2 * w) throw new NoteFormatError("malformed NT_FILE note: too short for header");
  if (d[d.length - 1] !== 0) throw new NoteFormatError("malformed NT_FILE note: does not end with \\0");
  const r = new EndianReader(d, littleEndian);
  const word = (o: number) => (is64 ? r.u64(o) : BigInt(r.u32(o)));
  const count = word(0);
  const pageSize = word(w);
  if (count > BigInt(d.length) || BigInt(d.length) < BigInt(2 * w) + count * BigInt(3 * w)) {
    throw new NoteFormatError("malformed NT_FILE note: too short for supplied file count");
  }
  const n = Number(count);
  let names = 2 * w + n * 3 * w;
  const files: MappedFile[] = [];
  for (let i = 0; i < n; i++) {
    if (names >= d.length) throw new NoteFormatError("malformed NT_FILE note: filenames end too early");
    const o = 2 * w + i * 3 * w;
    const end = d.indexOf(0, names);
    files.push({ start: word(o), end: word(o + w), pageOffset: word(o + 2 * w), path: decodeLatin1(d, names, end) });
    names = end + 1;
  }
  return { pageSize, files };
}
