/**
 * GNU symbol versioning: DT_VERSYM (.gnu.version), DT_VERDEF (.gnu.version_d) and DT_VERNEED
 * (.gnu.version_r), the data glibc's `_dl_check_map_versions` (elf/dl-version.c) turns into
 * `l_versions[]` and `check_match` (elf/dl-lookup.c) consults per symbol.
 *
 * Parsing follows the vd_next / vda_next / vn_next / vna_next chains with every step checked: an
 * offset outside the data, an entry overlapping the end, or more steps than the data can hold raises
 * a FormatError naming the offset, so a corrupt or cyclic chain never hangs or over-allocates.
 */
import { EndianReader } from "../bytes/endian.ts";
import { FormatError, hex } from "../errors.ts";
import { SHT_GNU_VERDEF, SHT_GNU_VERNEED, SHT_GNU_VERSYM } from "./constants.ts";
import { decodeLatin1, type ElfFile } from "./file.ts";
import type { SectionHeader } from "./types.ts";

/** Versym bit 15: the definition is hidden (non-default, printed `sym@VER`). */
export const VERSYM_HIDDEN = 0x8000;
/** Versym bits 0..14: the version index. */
export const VERSYM_VERSION = 0x7fff;
/** Versym index 0: local symbol; 1: global (base version). */
export const VER_NDX_LOCAL = 0;
export const VER_NDX_GLOBAL = 1;
/** vd_flags / vna_flags. */
export const VER_FLG_BASE = 1;
export const VER_FLG_WEAK = 2;
export const VER_FLG_INFO = 4;

export const VERDEF_SIZE = 20;
export const VERDAUX_SIZE = 8;
export const VERNEED_SIZE = 16;
export const VERNAUX_SIZE = 16;

export interface Verdaux {
  /** Offset of this Verdaux from the start of the data. */
  readonly offset: number;
  /** vda_name: offset in the string table. */
  readonly nameOffset: number;
  /** The name, when a string table was given and the offset is valid. */
  readonly name: string | undefined;
  readonly next: number;
}

export interface Verdef {
  readonly offset: number;
  readonly version: number;
  readonly flags: number;
  readonly ndx: number;
  readonly cnt: number;
  readonly hash: number;
  readonly auxOffset: number;
  readonly next: number;
  /** The Verdaux entries: [0] names the version, the rest its parents. */
  readonly names: readonly Verdaux[];
}

export interface Vernaux {
  readonly offset: number;
  readonly hash: number;
  readonly flags: number;
  /** vna_other: the versym index this needed version is given. */
  readonly other: number;
  readonly nameOffset: number;
  readonly name: string | undefined;
  readonly next: number;
}

export interface Verneed {
  readonly offset: number;
  readonly version: number;
  readonly cnt: number;
  /** vn_file: string-table offset of the providing object's soname. */
  readonly fileOffset: number;
  readonly file: string | undefined;
  readonly auxOffset: number;
  readonly next: number;
  readonly aux: readonly Vernaux[];
}

export interface VersionDataOptions {
  readonly littleEndian: boolean;
  /** String table the name offsets refer to (DT_STRTAB / the section's sh_link). */
  readonly strtab?: Uint8Array | undefined;
  /** Number of entries (DT_VERDEFNUM / DT_VERNEEDNUM / sh_info); otherwise follow next until 0. */
  readonly count?: number | undefined;
  /** Absolute offset of bytes[0], for error messages. */
  readonly base?: number;
  readonly sourceName?: string | undefined;
}

/** A string-table name, or undefined when the offset is outside the table or unterminated. */
function optionalName(strtab: Uint8Array | undefined, off: number): string | undefined {
  if (!strtab || off >= strtab.length) return undefined;
  const end = strtab.indexOf(0, off);
  return end < 0 ? undefined : decodeLatin1(strtab, off, end);
}

function chainError(what: string, off: number, o: VersionDataOptions): FormatError {
  return new FormatError(`${what} at offset ${hex(off)} lies outside the version data`, {
    source: o.sourceName,
    offset: (o.base ?? 0) + off,
  });
}

/**
 * Parse Verdef records. Follows vd_next from offset 0 until it is 0 or `count` records were read;
 * each record's vd_cnt Verdaux entries are followed through vda_next.
 */
export function parseVerdefs(bytes: Uint8Array, o: VersionDataOptions): Verdef[] {
  const r = new EndianReader(bytes, o.littleEndian, o.base ?? 0, o.sourceName);
  const out: Verdef[] = [];
  // Each record takes at least VERDEF_SIZE bytes only if next >= that; a smaller non-zero next still
  // advances, so the data length bounds the number of steps.
  const maxSteps = o.count ?? bytes.length;
  let off = 0;
  for (let n = 0; n < maxSteps; n++) {
    if (off + VERDEF_SIZE > bytes.length) throw chainError("Verdef", off, o);
    const cnt = r.u16(off + 6);
    const auxOffset = r.u32(off + 12);
    const next = r.u32(off + 16);
    const names: Verdaux[] = [];
    let a = off + auxOffset;
    for (let j = 0; j < cnt; j++) {
      if (a + VERDAUX_SIZE > bytes.length) throw chainError("Verdaux", a, o);
      const nameOffset = r.u32(a);
      const vnext = r.u32(a + 4);
      names.push({ offset: a, nameOffset, name: optionalName(o.strtab, nameOffset), next: vnext });
      if (vnext === 0) break;
      a += vnext;
    }
    out.push({
      offset: off,
      version: r.u16(off),
      flags: r.u16(off + 2),
      ndx: r.u16(off + 4),
      cnt,
      hash: r.u32(off + 8),
      auxOffset,
      next,
      names,
    });
    if (next === 0) break;
    off += next;
  }
  return out;
}

/** Parse Verneed records and their Vernaux entries (vn_next / vna_next chains). */
export function parseVerneeds(bytes: Uint8Array, o: VersionDataOptions): Verneed[] {
  const r = new EndianReader(bytes, o.littleEndian, o.base ?? 0, o.sourceName);
  const out: Verneed[] = [];
  const maxSteps = o.count ?? bytes.length;
  let off = 0;
  for (let n = 0; n < maxSteps; n++) {
    if (off + VERNEED_SIZE > bytes.length) throw chainError("Verneed", off, o);
    const cnt = r.u16(off + 2);
    const fileOffset = r.u32(off + 4);
    const auxOffset = r.u32(off + 8);
    const next = r.u32(off + 12);
    const aux: Vernaux[] = [];
    let a = off + auxOffset;
    for (let j = 0; j < cnt; j++) {
      if (a + VERNAUX_SIZE > bytes.length) throw chainError("Vernaux", a, o);
      const nameOffset = r.u32(a + 8);
      const anext = r.u32(a + 12);
      aux.push({
        offset: a,
        hash: r.u32(a),
        flags: r.u16(a + 4),
        other: r.u16(a + 6),
        nameOffset,
        name: optionalName(o.strtab, nameOffset),
        next: anext,
      });
      if (anext === 0) break;
      a += anext;
    }
    out.push({
      offset: off,
      version: r.u16(off),
      cnt,
      fileOffset,
      file: optionalName(o.strtab, fileOffset),
      auxOffset,
      next,
      aux,
    });
    if (next === 0) break;
    off += next;
  }
  return out;
}

/** Parse the versym array: one Elf_Half per dynamic symbol. */
export function parseVersym(bytes: Uint8Array, littleEndian: boolean): Uint16Array {
  const n = Math.floor(bytes.length / 2);
  const out = new Uint16Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) out[i] = view.getUint16(2 * i, littleEndian);
  return out;
}

/** One entry of glibc's `l_versions[]`: what a versym index means in this object. */
export interface VersionEntry {
  readonly index: number;
  readonly name: string;
  /** SysV hash of the name (vd_hash / vna_hash). */
  readonly hash: number;
  /** "def": defined here (Verdef); "need": required from `file` (Vernaux). */
  readonly kind: "def" | "need";
  /** For "need": the soname of the object expected to define it. */
  readonly file?: string;
  readonly flags: number;
}

/** What the versym entry of one symbol says. */
export interface SymbolVersion {
  /** Index with the hidden bit removed. */
  readonly index: number;
  readonly hidden: boolean;
  /** The version entry, absent for indices 0/1 without a Verdef, or an index nothing defines. */
  readonly entry: VersionEntry | undefined;
}

/** An object's complete version data, indexed as glibc's `l_versions[]`. */
export class SymbolVersioning {
  readonly entries: ReadonlyMap<number, VersionEntry>;
  constructor(
    readonly versym: Uint16Array | undefined,
    readonly verdefs: readonly Verdef[],
    readonly verneeds: readonly Verneed[],
  ) {
    const m = new Map<number, VersionEntry>();
    for (const d of verdefs) {
      const name = d.names[0]?.name;
      if (name !== undefined) {
        m.set(d.ndx & VERSYM_VERSION, {
          index: d.ndx & VERSYM_VERSION,
          name,
          hash: d.hash,
          kind: "def",
          flags: d.flags,
        });
      }
    }
    for (const n of verneeds) {
      for (const a of n.aux) {
        if (a.name === undefined) continue;
        const index = a.other & VERSYM_VERSION;
        m.set(index, {
          index,
          name: a.name,
          hash: a.hash,
          kind: "need",
          flags: a.flags,
          ...(n.file !== undefined ? { file: n.file } : {}),
        });
      }
    }
    this.entries = m;
  }

  /** The version of dynamic symbol `symidx`, or undefined when there is no versym entry for it. */
  versionOf(symidx: number): SymbolVersion | undefined {
    const v = this.versym?.[symidx];
    if (v === undefined) return undefined;
    const index = v & VERSYM_VERSION;
    return { index, hidden: (v & VERSYM_HIDDEN) !== 0, entry: this.entries.get(index) };
  }
}

function linkedStrtab(elf: ElfFile, sec: SectionHeader): Uint8Array | undefined {
  const s = elf.sections[sec.link];
  return s ? elf.sectionData(s) : undefined;
}

/** The versioning sections of `elf` (by section type), parsed; undefined when it has none. */
export function symbolVersioning(elf: ElfFile): SymbolVersioning | undefined {
  let versym: Uint16Array | undefined;
  let verdefs: Verdef[] = [];
  let verneeds: Verneed[] = [];
  let any = false;
  for (const sec of elf.sections) {
    const common = {
      littleEndian: elf.littleEndian,
      base: elf.num(sec.offset, "sh_offset"),
      sourceName: elf.name,
    };
    if (sec.type === SHT_GNU_VERSYM && !versym) {
      versym = parseVersym(elf.sectionData(sec), elf.littleEndian);
      any = true;
    } else if (sec.type === SHT_GNU_VERDEF && verdefs.length === 0) {
      verdefs = parseVerdefs(elf.sectionData(sec), { ...common, strtab: linkedStrtab(elf, sec), count: sec.info });
      any = true;
    } else if (sec.type === SHT_GNU_VERNEED && verneeds.length === 0) {
      verneeds = parseVerneeds(elf.sectionData(sec), { ...common, strtab: linkedStrtab(elf, sec), count: sec.info });
      any = true;
    }
  }
  return any ? new SymbolVersioning(versym, verdefs, verneeds) : undefined;
}
