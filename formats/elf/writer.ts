/**
 * The ELF writer: a description (writer-types.ts) in, the bytes of a small valid ELF file out — ELF32 or
 * ELF64, either byte order, ET_REL, ET_EXEC or ET_DYN. Layout follows GNU ld's default script in
 * miniature: a read-only PT_LOAD holding the headers and the dynamic-linking tables, an executable one,
 * a writable one with the RELRO sections first and NOBITS last, then the non-allocated sections and
 * the section header table. Segments are packed in the file (ld -z noseparate-code style: no page
 * padding, except that the RELRO region ends on a page boundary as ld arranges it) and placed in
 * memory so that p_offset ≡ p_vaddr (mod page size), which is all glibc `_dl_map_segments` and the
 * kernel's `load_elf_binary` require. Output is a pure function of the description.
 */
import { ByteWriter } from "../bytes/writer.ts";
import { LdsimError } from "../errors.ts";
import {
  EM_386,
  EM_AARCH64,
  EM_S390,
  EM_X86_64,
  ET_DYN,
  ET_EXEC,
  ET_REL,
  PF_R,
  PF_W,
  PF_X,
  PT_DYNAMIC,
  PT_GNU_RELRO,
  PT_GNU_SFRAME,
  PT_GNU_STACK,
  PT_INTERP,
  PT_LOAD,
  PT_NOTE,
  PT_PHDR,
  SHN_ABS,
  SHN_COMMON,
  SHN_LORESERVE,
  SHT_DYNAMIC,
  SHT_DYNSYM,
  SHT_FINI_ARRAY,
  SHT_GNU_HASH,
  SHT_GNU_VERDEF,
  SHT_GNU_VERNEED,
  SHT_GNU_VERSYM,
  SHT_HASH,
  SHT_INIT_ARRAY,
  SHT_NOBITS,
  SHT_NOTE,
  SHT_PROGBITS,
  SHT_REL,
  SHT_RELA,
  SHT_RELR,
  SHT_STRTAB,
  SHT_SYMTAB,
} from "./constants.ts";
import {
  encodeGnuHash,
  encodeRelr,
  encodeSysvHash,
  encodeVerdef,
  encodeVerneed,
  gnuHashOrder,
  StringTableBuilder,
  VER_FLG_BASE,
  VER_FLG_WEAK,
  type VerdefEntry,
  type VerneedEntry,
} from "./writer-tables.ts";
import type {
  DynamicSpec,
  DynamicSymbolSpec,
  ElfDescription,
  ElfImage,
  Location,
  PlacedSection,
  RelocationKind,
  RelocationSpec,
  SectionSpec,
  SymbolSpec,
} from "./writer-types.ts";

export type * from "./writer-types.ts";

/** Dynamic tags the writer emits (elf.h). */
export const DT = {
  NULL: 0,
  NEEDED: 1,
  PLTRELSZ: 2,
  PLTGOT: 3,
  HASH: 4,
  STRTAB: 5,
  SYMTAB: 6,
  RELA: 7,
  RELASZ: 8,
  RELAENT: 9,
  STRSZ: 10,
  SYMENT: 11,
  SONAME: 14,
  RPATH: 15,
  REL: 17,
  RELSZ: 18,
  RELENT: 19,
  PLTREL: 20,
  DEBUG: 21,
  JMPREL: 23,
  INIT_ARRAY: 25,
  FINI_ARRAY: 26,
  INIT_ARRAYSZ: 27,
  FINI_ARRAYSZ: 28,
  RUNPATH: 29,
  FLAGS: 30,
  RELRSZ: 35,
  RELR: 36,
  RELRENT: 37,
  GNU_HASH: 0x6ffffef5,
  VERSYM: 0x6ffffff0,
  FLAGS_1: 0x6ffffffb,
  VERDEF: 0x6ffffffc,
  VERDEFNUM: 0x6ffffffd,
  VERNEED: 0x6ffffffe,
  VERNEEDNUM: 0x6fffffff,
} as const;

const SHF = { WRITE: 1n, ALLOC: 2n, EXECINSTR: 4n, MERGE: 0x10n, STRINGS: 0x20n, INFO_LINK: 0x40n, TLS: 0x400n };

/**
 * Neutral relocation kinds per machine (elf.h R_* values): the table-driven approach of musl's
 * `arch/<arch>/reloc.h`, so descriptions stay machine-independent.
 */
function relocationNumber(machine: number, is64: boolean, kind: RelocationKind): number {
  const table: Record<number, Partial<Record<RelocationKind, number>>> = {
    [EM_X86_64]: { relative: 8, "jump-slot": 7, "glob-dat": 6, abs: 1 },
    [EM_386]: { relative: 8, "jump-slot": 7, "glob-dat": 6, abs: 1 },
    [EM_AARCH64]: { relative: 1027, "jump-slot": 1026, "glob-dat": 1025, abs: 257 },
    [EM_S390]: { relative: 12, "jump-slot": 11, "glob-dat": 10, abs: is64 ? 22 : 4 },
    40: { relative: 23, "jump-slot": 22, "glob-dat": 21, abs: 2 }, // EM_ARM
    243: { relative: 3, "jump-slot": 5, abs: is64 ? 2 : 1 }, // EM_RISCV
  };
  const n = table[machine]?.[kind];
  if (n === undefined) throw new LdsimError(`ELF writer: no ${kind} relocation known for e_machine ${machine}`);
  return n;
}

const SYMBOL_TYPES = { notype: 0, object: 1, func: 2, section: 3, file: 4, common: 5, tls: 6, ifunc: 10 } as const;
const SYMBOL_BINDS = { local: 0, global: 1, weak: 2, unique: 10 } as const;
const VISIBILITIES = { default: 0, internal: 1, hidden: 2, protected: 3 } as const;

type Group = "r" | "x" | "relro" | "rw" | "bss" | "none";

/** A section being laid out. Content comes from `fill`, called once addresses are known. */
interface Draft {
  readonly name: string;
  readonly type: number;
  readonly flags: bigint;
  readonly align: number;
  readonly entsize: number;
  readonly link: string | number | undefined;
  readonly info: string | number | undefined;
  readonly group: Group;
  size: number;
  fill: (() => Uint8Array) | undefined;
  index: number;
  offset: number;
  addr: bigint;
}

interface Phdr {
  type: number;
  flags: number;
  offset: number;
  vaddr: bigint;
  filesz: number;
  memsz: bigint;
  align: number;
}

function parseFlags(flags: string | bigint | undefined): bigint {
  if (flags === undefined) return 0n;
  if (typeof flags === "bigint") return flags;
  let out = 0n;
  for (const c of flags) {
    const bit = {
      a: SHF.ALLOC,
      w: SHF.WRITE,
      x: SHF.EXECINSTR,
      m: SHF.MERGE,
      s: SHF.STRINGS,
      i: SHF.INFO_LINK,
      T: SHF.TLS,
    }[c];
    if (bit === undefined) throw new LdsimError(`ELF writer: unknown section flag letter ${JSON.stringify(c)}`);
    out |= bit;
  }
  return out;
}

function alignUp(v: number, a: number): number {
  return a > 1 ? Math.ceil(v / a) * a : v;
}
function alignUpBig(v: bigint, a: bigint): bigint {
  return a > 1n ? ((v + a - 1n) / a) * a : v;
}

function groupOf(type: number, flags: bigint, relro: boolean): Group {
  if ((flags & SHF.ALLOC) === 0n) return "none";
  if (flags & SHF.EXECINSTR) return "x";
  if (flags & SHF.WRITE) return type === SHT_NOBITS ? "bss" : relro ? "relro" : "rw";
  return "r";
}

/** Build the file and report where everything went. */
export function assembleElf(desc: ElfDescription): ElfImage {
  return new Assembler(desc).run();
}

/** Build the file: the bytes only. */
export function writeElf(desc: ElfDescription): Uint8Array {
  return assembleElf(desc).bytes;
}

class Assembler {
  readonly is64: boolean;
  readonly le: boolean;
  readonly machine: number;
  readonly wordSize: number;
  readonly pageSize: number;
  readonly base: bigint;
  readonly etype: number;
  readonly drafts: Draft[] = [];
  readonly byName = new Map<string, Draft>();
  /** Final symbol lists (index 0 is the null symbol, not stored). */
  dynsyms: DynamicSymbolSpec[] = [];
  symtab: SymbolSpec[] = [];
  readonly dynstr = new StringTableBuilder();
  readonly strtab = new StringTableBuilder();
  readonly shstrtab = new StringTableBuilder();
  /** Addends computed after layout (relative relocations of constructor arrays). */
  readonly lazyAddend = new WeakMap<RelocationSpec, () => bigint>();
  /** Version index per dynsym entry (including index 0). */
  versym: number[] = [];
  readonly relForm: "rela" | "rel";

  constructor(readonly desc: ElfDescription) {
    this.is64 = (desc.class ?? 64) === 64;
    this.le = (desc.endian ?? "little") === "little";
    this.machine = desc.machine ?? EM_X86_64;
    this.wordSize = this.is64 ? 8 : 4;
    this.pageSize = desc.pageSize ?? 0x1000;
    this.etype = desc.type === "rel" ? ET_REL : desc.type === "exec" ? ET_EXEC : ET_DYN;
    this.base = desc.baseAddress ?? (this.etype === ET_EXEC ? (this.is64 ? 0x400000n : 0x8048000n) : 0n);
    // i386, ARM and MIPS use REL in dynamic objects; the other psABIs use RELA.
    this.relForm = desc.dynamic?.relocationForm ?? ([EM_386, 40, 8].includes(this.machine) ? "rel" : "rela");
    if (this.etype === ET_REL && (desc.dynamic || desc.interp)) {
      throw new LdsimError("ELF writer: a relocatable object (ET_REL) has no dynamic section or interpreter");
    }
  }

  run(): ElfImage {
    this.planSymbols();
    this.planSections();
    let phdrs: Phdr[] = [];
    // RELR size depends on the addresses it encodes, and addresses on the sizes before them: iterate
    // to a fixed point (a uniform shift of the writable segment leaves the encoding's size unchanged,
    // so this settles on the second pass).
    for (let pass = 0; ; pass++) {
      phdrs = this.layout();
      const relr = this.byName.get(".relr.dyn");
      if (!relr) break;
      const size = this.relrBytes().length;
      if (size === relr.size) break;
      if (pass > 8) throw new LdsimError("ELF writer: RELR layout did not converge");
      relr.size = size;
    }
    return this.emit(phdrs);
  }

  // ---- symbols -------------------------------------------------------------------------------

  private planSymbols(): void {
    const dyn = this.desc.dynamic;
    if (dyn) {
      const all = dyn.symbols ?? [];
      const locals = all.filter((s) => this.bindOf(s) === 0);
      const globals = all.filter((s) => this.bindOf(s) !== 0);
      const undef = globals.filter((s) => !this.isDefined(s));
      let defined = globals.filter((s) => this.isDefined(s));
      if ((dyn.hashStyle ?? "both") !== "sysv") {
        const { order } = gnuHashOrder(defined.map((s) => s.name));
        defined = order.map((i) => defined[i] as DynamicSymbolSpec);
      }
      this.dynsyms = [...locals, ...undef, ...defined];
      for (const s of this.dynsyms) this.dynstr.add(s.name);
      for (const n of dyn.needed ?? []) this.dynstr.add(n);
      if (dyn.soname !== undefined) this.dynstr.add(dyn.soname);
      if (dyn.runpath !== undefined) this.dynstr.add(dyn.runpath);
      if (dyn.rpath !== undefined) this.dynstr.add(dyn.rpath);
      this.planVersions(dyn);
    }
    const syms = this.desc.symbols ?? [];
    this.symtab = [...syms.filter((s) => this.bindOf(s) === 0), ...syms.filter((s) => this.bindOf(s) !== 0)];
    for (const s of this.symtab) this.strtab.add(s.name);
  }

  private verdefs: VerdefEntry[] = [];
  private verneeds: VerneedEntry[] = [];

  /** Version indexes: 1 is the base definition, then definitions, then needed versions (as GNU ld numbers them). */
  private planVersions(dyn: DynamicSpec): void {
    const v = dyn.versions;
    if (!v) return;
    const defIndex = new Map<string, number>();
    const defs = v.definitions ?? [];
    if (defs.length > 0) {
      const baseName = dyn.soname ?? "a.out";
      this.dynstr.add(baseName);
      this.verdefs.push({ index: 1, flags: VER_FLG_BASE, names: [baseName] });
      defs.forEach((d, i) => {
        defIndex.set(d.name, i + 2);
        this.dynstr.add(d.name);
        const names = d.parent === undefined ? [d.name] : [d.name, d.parent];
        this.verdefs.push({ index: i + 2, flags: d.weak ? VER_FLG_WEAK : 0, names });
      });
    }
    let next = defs.length > 0 ? defs.length + 2 : 2;
    const needIndex = new Map<string, number>();
    for (const n of v.needs ?? []) {
      this.dynstr.add(n.file);
      const versions = n.versions.map((x) => {
        this.dynstr.add(x.name);
        const index = next++;
        needIndex.set(x.name, index);
        return { name: x.name, flags: x.weak ? VER_FLG_WEAK : 0, index };
      });
      this.verneeds.push({ file: n.file, versions });
    }
    this.versym = [0];
    for (const s of this.dynsyms) {
      let idx = this.bindOf(s) === 0 ? 0 : 1;
      if (s.version !== undefined) {
        const found = this.isDefined(s) ? defIndex.get(s.version) : needIndex.get(s.version);
        if (found === undefined) {
          throw new LdsimError(`ELF writer: symbol ${s.name} names unknown version ${JSON.stringify(s.version)}`);
        }
        idx = found;
      }
      this.versym.push(s.hidden ? idx | 0x8000 : idx);
    }
  }

  private bindOf(s: SymbolSpec): number {
    return typeof s.bind === "number" ? s.bind : SYMBOL_BINDS[s.bind ?? "global"];
  }
  private isDefined(s: SymbolSpec): boolean {
    return s.section !== undefined || s.shndx !== undefined || s.value !== undefined;
  }

  // ---- sections ------------------------------------------------------------------------------

  private add(d: Omit<Draft, "index" | "offset" | "addr">): Draft {
    if (this.byName.has(d.name)) throw new LdsimError(`ELF writer: two sections named ${d.name}`);
    const full: Draft = { ...d, index: 0, offset: 0, addr: 0n };
    this.drafts.push(full);
    this.byName.set(d.name, full);
    return full;
  }
  private synth(
    name: string,
    type: number,
    flags: string,
    align: number,
    entsize: number,
    bytes: Uint8Array | { size: number; fill: () => Uint8Array },
    link?: string,
    info?: string | number,
  ): Draft {
    const f = parseFlags(flags);
    const content = bytes instanceof Uint8Array ? { size: bytes.length, fill: () => bytes } : bytes;
    return this.add({
      name,
      type,
      flags: f,
      align,
      entsize,
      link,
      info,
      group: groupOf(type, f, type === SHT_DYNAMIC || type === SHT_INIT_ARRAY || type === SHT_FINI_ARRAY),
      size: content.size,
      fill: content.fill,
    });
  }

  private addUser(s: SectionSpec): void {
    const type = s.type ?? SHT_PROGBITS;
    const flags = parseFlags(s.flags);
    const data = s.data;
    if (type === SHT_NOBITS && data) throw new LdsimError(`ELF writer: NOBITS section ${s.name} cannot have data`);
    this.add({
      name: s.name,
      type,
      flags,
      align: s.align ?? 1,
      entsize: s.entsize ?? 0,
      link: s.link,
      info: s.info,
      group: groupOf(type, flags, s.relro ?? false),
      size: type === SHT_NOBITS ? (s.size ?? 0) : (data?.length ?? 0),
      fill: data ? () => data : undefined,
    });
  }

  private planSections(): void {
    const d = this.desc;
    const w = this.wordSize;
    const user = d.sections ?? [];
    if (d.interp !== undefined) {
      const bytes = new Uint8Array(d.interp.length + 1);
      for (let i = 0; i < d.interp.length; i++) bytes[i] = d.interp.charCodeAt(i) & 0xff;
      this.synth(".interp", SHT_PROGBITS, "a", 1, 0, bytes);
    }
    // Notes come first in the read-only segment, as GNU ld places .note.gnu.build-id.
    for (const s of user) if ((s.type ?? SHT_PROGBITS) === SHT_NOTE && parseFlags(s.flags) & SHF.ALLOC) this.addUser(s);
    const dyn = d.dynamic;
    // Synthesized sections go before the user's within each group (.dynamic before .got, as ld does).
    if (dyn) {
      this.planDynamicSections(dyn);
      this.planDynamicTail(dyn);
    }
    for (const s of user) if (!this.byName.has(s.name)) this.addUser(s);
    for (const r of d.relocationSections ?? []) this.planObjectRelocations(r);
    if (this.symtab.length > 0 || this.etype === ET_REL) {
      this.synth(
        ".symtab",
        SHT_SYMTAB,
        "",
        w,
        this.symSize,
        {
          size: (this.symtab.length + 1) * this.symSize,
          fill: () => this.symbolTable(this.symtab, this.strtab),
        },
        ".strtab",
        this.symtab.filter((s) => this.bindOf(s) === 0).length + 1,
      );
      this.synth(".strtab", SHT_STRTAB, "", 1, 0, { size: 0, fill: () => this.strtab.finish() });
    }
    this.synth(".shstrtab", SHT_STRTAB, "", 1, 0, { size: 0, fill: () => this.shstrtab.finish() });

    // Final order: allocated groups in segment order, non-allocated sections last.
    const order: Group[] = this.etype === ET_REL ? [] : ["r", "x", "relro", "rw", "bss", "none"];
    const sorted =
      order.length === 0 ? this.drafts.slice() : order.flatMap((g) => this.drafts.filter((x) => x.group === g));
    this.drafts.length = 0;
    this.drafts.push(...sorted);
    if (this.drafts.length + 1 >= SHN_LORESERVE) throw new LdsimError("ELF writer: too many sections");
    this.drafts.forEach((x, i) => {
      x.index = i + 1;
      this.shstrtab.add(x.name);
    });
    // String tables are complete now; fix their sizes.
    for (const [name, t] of [
      [".strtab", this.strtab],
      [".shstrtab", this.shstrtab],
      [".dynstr", this.dynstr],
    ] as const) {
      const sec = this.byName.get(name);
      if (sec) sec.size = t.length;
    }
  }

  get symSize(): number {
    return this.is64 ? 24 : 16;
  }
  get relEntSize(): number {
    return this.relForm === "rela" ? (this.is64 ? 24 : 12) : this.is64 ? 16 : 8;
  }

  /** Read-only dynamic-linking tables, in GNU ld's order. */
  private planDynamicSections(dyn: DynamicSpec): void {
    const w = this.wordSize;
    const style = dyn.hashStyle ?? "both";
    const names = ["", ...this.dynsyms.map((s) => s.name)];
    if (style !== "sysv") {
      const symoffset = 1 + this.dynsyms.filter((s) => this.bindOf(s) === 0 || !this.isDefined(s)).length;
      const hashed = names.slice(symoffset);
      const { nbuckets } = gnuHashOrder(hashed);
      this.synth(
        ".gnu.hash",
        SHT_GNU_HASH,
        "a",
        w,
        0,
        encodeGnuHash(hashed, nbuckets, symoffset, this.is64, this.le),
        ".dynsym",
      );
    }
    if (style !== "gnu") {
      const ent = this.is64 && (this.machine === EM_S390 || this.machine === 0x9026) ? 8 : 4;
      this.synth(".hash", SHT_HASH, "a", w, ent, encodeSysvHash(names, this.le, ent), ".dynsym");
    }
    const nlocal = 1 + this.dynsyms.filter((s) => this.bindOf(s) === 0).length;
    this.synth(
      ".dynsym",
      SHT_DYNSYM,
      "a",
      w,
      this.symSize,
      {
        size: names.length * this.symSize,
        fill: () => this.symbolTable(this.dynsyms, this.dynstr),
      },
      ".dynstr",
      nlocal,
    );
    this.synth(".dynstr", SHT_STRTAB, "a", 1, 0, { size: 0, fill: () => this.dynstr.finish() });
    if (this.versym.length > 0) {
      const vw = new ByteWriter(this.le);
      for (const v of this.versym) vw.u16(v);
      this.synth(".gnu.version", SHT_GNU_VERSYM, "a", 2, 2, vw.finish(), ".dynsym");
      if (this.verdefs.length > 0) {
        const bytes = encodeVerdef(this.verdefs, this.dynstr, this.le);
        this.synth(".gnu.version_d", SHT_GNU_VERDEF, "a", w, 0, bytes, ".dynstr", this.verdefs.length);
      }
      if (this.verneeds.length > 0) {
        const bytes = encodeVerneed(this.verneeds, this.dynstr, this.le);
        this.synth(".gnu.version_r", SHT_GNU_VERNEED, "a", w, 0, bytes, ".dynstr", this.verneeds.length);
      }
    }
    const rel = this.relForm === "rela" ? ".rela" : ".rel";
    const relType = this.relForm === "rela" ? SHT_RELA : SHT_REL;
    const dynRelocs = this.dynamicRelocations(dyn);
    if (dynRelocs.length > 0) {
      this.synth(
        `${rel}.dyn`,
        relType,
        "a",
        w,
        this.relEntSize,
        {
          size: dynRelocs.length * this.relEntSize,
          fill: () => this.relocationTable(dynRelocs, "dynamic"),
        },
        ".dynsym",
      );
    }
    const plt = dyn.pltRelocations ?? [];
    if (plt.length > 0) {
      this.synth(
        `${rel}.plt`,
        relType,
        dyn.pltGot ? "ai" : "a",
        w,
        this.relEntSize,
        {
          size: plt.length * this.relEntSize,
          fill: () => this.relocationTable(plt, "dynamic"),
        },
        ".dynsym",
        dyn.pltGot,
      );
    }
    if ((dyn.relr ?? []).length > 0) {
      this.synth(".relr.dyn", SHT_RELR, "a", w, w, { size: 0, fill: () => this.relrBytes() });
    }
  }

  /** Writable dynamic-linking sections: constructor arrays and .dynamic (RELRO, like GNU ld). */
  private planDynamicTail(dyn: DynamicSpec): void {
    const w = this.wordSize;
    for (const [name, type, list] of [
      [".init_array", SHT_INIT_ARRAY, dyn.initArray],
      [".fini_array", SHT_FINI_ARRAY, dyn.finiArray],
    ] as const) {
      if (!list || list.length === 0) continue;
      this.synth(name, type, "wa", w, w, {
        size: list.length * w,
        fill: () => {
          const bw = new ByteWriter(this.le);
          for (const e of list) this.word(bw, this.valueOf(e));
          return bw.finish();
        },
      });
    }
    const entries = this.dynamicEntries(dyn);
    this.synth(
      ".dynamic",
      SHT_DYNAMIC,
      "wa",
      w,
      2 * w,
      {
        size: entries.length * 2 * w,
        fill: () => {
          const bw = new ByteWriter(this.le);
          for (const e of entries) {
            this.word(bw, BigInt(e.tag));
            this.word(bw, e.value());
          }
          return bw.finish();
        },
      },
      ".dynstr",
    );
  }

  /** User relocations plus a relative relocation for each constructor-array word of an ET_DYN. */
  private dynamicRelocations(dyn: DynamicSpec): RelocationSpec[] {
    const out = [...(dyn.relocations ?? [])];
    if (this.etype === ET_DYN) {
      for (const [name, list] of [
        [".init_array", dyn.initArray],
        [".fini_array", dyn.finiArray],
      ] as const) {
        (list ?? []).forEach((e, i) => {
          const r: RelocationSpec = { at: { section: name, offset: i * this.wordSize }, type: "relative" };
          // RELA carries the target as r_addend (known only after layout); REL keeps it in the word,
          // which the array already holds.
          if (this.relForm === "rela") this.lazyAddend.set(r, () => this.valueOf(e));
          out.push(r);
        });
      }
    }
    return out;
  }

  private dynamicEntries(dyn: DynamicSpec): { tag: number; value: () => bigint }[] {
    const out: { tag: number; value: () => bigint }[] = [];
    const str = (s: string) => () => BigInt(this.dynstr.offsetOf(s));
    const addr = (name: string) => () => this.section(name).addr;
    const size = (name: string) => () => BigInt(this.section(name).size);
    const has = (name: string) => this.byName.has(name);
    const k = (v: number | bigint) => () => BigInt(v);
    for (const n of dyn.needed ?? []) out.push({ tag: DT.NEEDED, value: str(n) });
    if (dyn.soname !== undefined) out.push({ tag: DT.SONAME, value: str(dyn.soname) });
    if (dyn.rpath !== undefined) out.push({ tag: DT.RPATH, value: str(dyn.rpath) });
    if (dyn.runpath !== undefined) out.push({ tag: DT.RUNPATH, value: str(dyn.runpath) });
    for (const [name, tag, sz] of [
      [".init_array", DT.INIT_ARRAY, DT.INIT_ARRAYSZ],
      [".fini_array", DT.FINI_ARRAY, DT.FINI_ARRAYSZ],
    ] as const) {
      if (has(name)) out.push({ tag, value: addr(name) }, { tag: sz, value: size(name) });
    }
    if (has(".gnu.hash")) out.push({ tag: DT.GNU_HASH, value: addr(".gnu.hash") });
    if (has(".hash")) out.push({ tag: DT.HASH, value: addr(".hash") });
    out.push(
      { tag: DT.STRTAB, value: addr(".dynstr") },
      { tag: DT.SYMTAB, value: addr(".dynsym") },
      { tag: DT.STRSZ, value: size(".dynstr") },
      { tag: DT.SYMENT, value: k(this.symSize) },
    );
    if (dyn.debug ?? this.desc.interp !== undefined) out.push({ tag: DT.DEBUG, value: k(0) });
    const rela = this.relForm === "rela";
    const rel = rela ? ".rela" : ".rel";
    if (dyn.pltGot !== undefined) out.push({ tag: DT.PLTGOT, value: addr(dyn.pltGot) });
    if (has(`${rel}.plt`)) {
      out.push(
        { tag: DT.PLTRELSZ, value: size(`${rel}.plt`) },
        { tag: DT.PLTREL, value: k(rela ? DT.RELA : DT.REL) },
        { tag: DT.JMPREL, value: addr(`${rel}.plt`) },
      );
    }
    if (has(`${rel}.dyn`)) {
      out.push(
        { tag: rela ? DT.RELA : DT.REL, value: addr(`${rel}.dyn`) },
        { tag: rela ? DT.RELASZ : DT.RELSZ, value: size(`${rel}.dyn`) },
        { tag: rela ? DT.RELAENT : DT.RELENT, value: k(this.relEntSize) },
      );
    }
    if (has(".relr.dyn")) {
      out.push(
        { tag: DT.RELR, value: addr(".relr.dyn") },
        { tag: DT.RELRSZ, value: size(".relr.dyn") },
        { tag: DT.RELRENT, value: k(this.wordSize) },
      );
    }
    if (dyn.flags !== undefined) out.push({ tag: DT.FLAGS, value: k(dyn.flags) });
    if (dyn.flags1 !== undefined) out.push({ tag: DT.FLAGS_1, value: k(dyn.flags1) });
    if (has(".gnu.version_d")) {
      out.push({ tag: DT.VERDEF, value: addr(".gnu.version_d") }, { tag: DT.VERDEFNUM, value: k(this.verdefs.length) });
    }
    if (has(".gnu.version_r")) {
      out.push(
        { tag: DT.VERNEED, value: addr(".gnu.version_r") },
        { tag: DT.VERNEEDNUM, value: k(this.verneeds.length) },
      );
    }
    if (has(".gnu.version")) out.push({ tag: DT.VERSYM, value: addr(".gnu.version") });
    for (const e of dyn.extra ?? []) out.push({ tag: e.tag, value: () => this.address(e.value) });
    out.push({ tag: DT.NULL, value: k(0) });
    return out;
  }

  private planObjectRelocations(r: {
    target: string;
    form?: "rela" | "rel";
    relocations: readonly RelocationSpec[];
  }): void {
    if (this.etype !== ET_REL) throw new LdsimError("ELF writer: relocation sections are for ET_REL objects");
    const form = r.form ?? (this.is64 ? "rela" : "rel");
    const ent = form === "rela" ? (this.is64 ? 24 : 12) : this.is64 ? 16 : 8;
    this.synth(
      `${form === "rela" ? ".rela" : ".rel"}${r.target}`,
      form === "rela" ? SHT_RELA : SHT_REL,
      "i",
      this.wordSize,
      ent,
      {
        size: r.relocations.length * ent,
        fill: () => this.relocationTable(r.relocations, "object", form),
      },
      ".symtab",
      r.target,
    );
  }

  section(name: string): Draft {
    const s = this.byName.get(name);
    if (!s) throw new LdsimError(`ELF writer: no section named ${JSON.stringify(name)}`);
    return s;
  }

  private address(loc: Location): bigint {
    if (typeof loc === "bigint") return loc;
    return this.section(loc.section).addr + BigInt(loc.offset ?? 0);
  }

  /** Value of a constructor entry or e_entry: an address or a symbol. */
  private valueOf(e: string | bigint): bigint {
    if (typeof e === "bigint") return e;
    const v = this.symbolValue(e);
    if (v === undefined) throw new LdsimError(`ELF writer: no symbol ${JSON.stringify(e)}`);
    return v;
  }

  symbolValue(name: string): bigint | undefined {
    const s = this.dynsyms.find((x) => x.name === name) ?? this.symtab.find((x) => x.name === name);
    return s ? this.stValue(s) : undefined;
  }

  private stValue(s: SymbolSpec): bigint {
    if (s.value !== undefined) return s.value;
    if (s.section === undefined) return 0n;
    const off = BigInt(s.offset ?? 0);
    return this.etype === ET_REL ? off : this.section(s.section).addr + off;
  }

  private shndx(s: SymbolSpec): number {
    if (typeof s.shndx === "number") return s.shndx;
    if (s.shndx === "abs") return SHN_ABS;
    if (s.shndx === "common") return SHN_COMMON;
    if (s.section !== undefined) return this.section(s.section).index;
    return s.value !== undefined ? SHN_ABS : 0;
  }

  private symbolTable(list: readonly SymbolSpec[], strings: StringTableBuilder): Uint8Array {
    const bw = new ByteWriter(this.le, (list.length + 1) * this.symSize);
    for (let i = 0; i < this.symSize; i++) bw.u8(0);
    for (const s of list) {
      const type = typeof s.type === "number" ? s.type : SYMBOL_TYPES[s.type ?? "notype"];
      const info = ((this.bindOf(s) << 4) | (type & 0xf)) & 0xff;
      const other = VISIBILITIES[s.visibility ?? "default"];
      const name = strings.offsetOf(s.name);
      const value = this.stValue(s);
      const size = BigInt(s.size ?? 0);
      if (this.is64) {
        bw.u32(name).u8(info).u8(other).u16(this.shndx(s)).u64(value).u64(size);
      } else {
        bw.u32(name)
          .u32(this.u32(value, `symbol ${s.name} value`))
          .u32(this.u32(size, `symbol ${s.name} size`));
        bw.u8(info).u8(other).u16(this.shndx(s));
      }
    }
    return bw.finish();
  }

  private relocationTable(
    list: readonly RelocationSpec[],
    kind: "dynamic" | "object",
    form = this.relForm,
  ): Uint8Array {
    const bw = new ByteWriter(this.le);
    const syms: readonly SymbolSpec[] = kind === "dynamic" ? this.dynsyms : this.symtab;
    for (const r of list) {
      let symIndex = 0;
      if (r.symbol !== undefined) {
        const i = syms.findIndex((s) => s.name === r.symbol);
        if (i < 0) throw new LdsimError(`ELF writer: relocation names unknown symbol ${JSON.stringify(r.symbol)}`);
        symIndex = i + 1;
      }
      const type = typeof r.type === "number" ? r.type : relocationNumber(this.machine, this.is64, r.type);
      const at = kind === "object" ? BigInt(typeof r.at === "bigint" ? r.at : (r.at.offset ?? 0)) : this.address(r.at);
      const addend = this.lazyAddend.get(r)?.() ?? r.addend ?? 0n;
      if (this.is64) {
        bw.u64(at).u64((BigInt(symIndex) << 32n) | BigInt(type));
        if (form === "rela") bw.u64(addend);
      } else {
        if (type > 0xff) throw new LdsimError(`ELF writer: relocation type ${type} does not fit ELF32 r_info`);
        bw.u32(this.u32(at, "r_offset")).u32(((symIndex << 8) | type) >>> 0);
        if (form === "rela") bw.i32(Number(BigInt.asIntN(32, addend)));
      }
    }
    return bw.finish();
  }

  private relrBytes(): Uint8Array {
    return encodeRelr(
      (this.desc.dynamic?.relr ?? []).map((l) => this.address(l)),
      this.is64,
      this.le,
    );
  }

  private word(bw: ByteWriter, v: bigint): void {
    if (this.is64) bw.u64(v);
    else bw.u32(this.u32(v, "address"));
  }
  private u32(v: bigint, what: string): number {
    if (v < 0n || v > 0xffffffffn) throw new LdsimError(`ELF writer: ${what} 0x${v.toString(16)} does not fit ELF32`);
    return Number(v);
  }

  // ---- layout --------------------------------------------------------------------------------

  private phdrsPlanned(): number {
    if (this.etype === ET_REL) return 0;
    const has = (g: Group) => this.drafts.some((d) => d.group === g);
    const seg = this.desc.segments ?? {};
    let n = 1; // the read-only PT_LOAD with the headers
    if (has("x")) n++;
    if (has("relro") || has("rw") || has("bss")) n++;
    if (seg.phdr ?? this.desc.interp !== undefined) n++;
    if (this.desc.interp !== undefined) n++;
    if (this.byName.has(".dynamic")) n++;
    if (seg.notes ?? true) n += this.drafts.filter((d) => d.type === SHT_NOTE && d.flags & SHF.ALLOC).length;
    if ((seg.sframe ?? true) && this.allocSframe()) n++;
    if (seg.gnuStack ?? true) n++;
    if ((seg.relro ?? true) && has("relro")) n++;
    return n;
  }

  private allocSframe(): Draft | undefined {
    const s = this.byName.get(".sframe");
    return s && s.flags & SHF.ALLOC ? s : undefined;
  }

  private get ehSize(): number {
    return this.is64 ? 64 : 52;
  }
  private get phentSize(): number {
    return this.is64 ? 56 : 32;
  }
  private get shentSize(): number {
    return this.is64 ? 64 : 40;
  }
  shoff = 0;
  phnum = 0;

  /** Page-aligned end of the RELRO region, when there is one. */
  private relroEnd: { offset: number; addr: bigint } | undefined;

  private layout(): Phdr[] {
    this.relroEnd = undefined;
    const phnum = this.phdrsPlanned();
    this.phnum = phnum;
    let off = this.ehSize + phnum * this.phentSize;
    const loads: Phdr[] = [];
    if (this.etype !== ET_REL) {
      let prevEnd = this.base;
      for (const groups of [["r"], ["x"], ["relro", "rw", "bss"]] as Group[][]) {
        const secs = this.drafts.filter((d) => groups.includes(d.group));
        const first = groups[0] === "r";
        if (secs.length === 0 && !first) continue;
        const maxAlign = Math.max(1, ...secs.map((s) => s.align));
        if (maxAlign > this.pageSize) throw new LdsimError(`ELF writer: alignment ${maxAlign} exceeds the page size`);
        let segOff = first ? 0 : alignUp(off, maxAlign);
        // GNU ld ends the RELRO region on a page boundary (DATA_SEGMENT_RELRO_END) so that ld.so's
        // _dl_protect_relro, which rounds the end down, protects all of it: start the segment late
        // enough within its page, and start what follows RELRO on the next page.
        let relroEnd: number | undefined;
        const relro = secs.filter((x) => x.group === "relro");
        if (relro.length > 0 && (this.desc.segments?.relro ?? true)) {
          let o = segOff;
          for (const x of relro) o = alignUp(o, x.align) + x.size;
          const needed = (this.pageSize - (o % this.pageSize)) % this.pageSize;
          const shift = needed - (needed % maxAlign);
          segOff += shift;
          relroEnd = o + needed;
        }
        const segV = first ? this.base : alignUpBig(prevEnd, BigInt(this.pageSize)) + BigInt(segOff % this.pageSize);
        off = Math.max(off, segOff);
        let vEnd = segV + BigInt(off - segOff);
        for (const s of secs) {
          if (relroEnd !== undefined && s.group !== "relro") {
            off = Math.max(off, relroEnd);
            vEnd = segV + BigInt(off - segOff);
            this.relroEnd = { offset: relroEnd, addr: vEnd };
            relroEnd = undefined;
          }
          if (s.type === SHT_NOBITS) {
            vEnd = alignUpBig(vEnd, BigInt(s.align));
            s.offset = off;
            s.addr = vEnd;
            vEnd += BigInt(s.size);
          } else {
            off = alignUp(off, s.align);
            s.offset = off;
            s.addr = segV + BigInt(off - segOff);
            off += s.size;
            vEnd = s.addr + BigInt(s.size);
          }
        }
        if (relroEnd !== undefined) {
          // Nothing after RELRO: the segment still runs to the boundary.
          off = Math.max(off, relroEnd);
          vEnd = segV + BigInt(off - segOff);
          this.relroEnd = { offset: relroEnd, addr: vEnd };
        }
        const flags = first ? PF_R : groups[0] === "x" ? PF_R | PF_X : PF_R | PF_W;
        loads.push({
          type: PT_LOAD,
          flags,
          offset: segOff,
          vaddr: segV,
          filesz: off - segOff,
          memsz: vEnd - segV,
          align: this.pageSize,
        });
        prevEnd = vEnd;
      }
    }
    for (const s of this.drafts) {
      if (this.etype !== ET_REL && s.group !== "none") continue;
      off = alignUp(off, s.align);
      s.offset = off;
      s.addr = 0n;
      if (s.type !== SHT_NOBITS) off += s.size;
    }
    this.shoff = alignUp(off, this.wordSize);
    return this.etype === ET_REL ? [] : this.programHeaders(loads);
  }

  /** Program headers in GNU ld's order: PHDR, INTERP, LOADs, DYNAMIC, NOTE, GNU_SFRAME, GNU_STACK, GNU_RELRO. */
  private programHeaders(loads: Phdr[]): Phdr[] {
    const seg = this.desc.segments ?? {};
    const cover = (type: number, flags: number, s: Draft, align = s.align): Phdr => ({
      type,
      flags,
      offset: s.offset,
      vaddr: s.addr,
      filesz: s.size,
      memsz: BigInt(s.size),
      align,
    });
    const out: Phdr[] = [];
    if (seg.phdr ?? this.desc.interp !== undefined) {
      const size = this.phnum * this.phentSize;
      out.push({
        type: PT_PHDR,
        flags: PF_R,
        offset: this.ehSize,
        vaddr: this.base + BigInt(this.ehSize),
        filesz: size,
        memsz: BigInt(size),
        align: this.wordSize,
      });
    }
    if (this.desc.interp !== undefined) out.push(cover(PT_INTERP, PF_R, this.section(".interp")));
    out.push(...loads);
    const dynamic = this.byName.get(".dynamic");
    if (dynamic) out.push(cover(PT_DYNAMIC, PF_R | PF_W, dynamic));
    if (seg.notes ?? true) {
      for (const s of this.drafts) if (s.type === SHT_NOTE && s.flags & SHF.ALLOC) out.push(cover(PT_NOTE, PF_R, s));
    }
    const sframe = this.allocSframe();
    if ((seg.sframe ?? true) && sframe) out.push(cover(PT_GNU_SFRAME, PF_R, sframe));
    if (seg.gnuStack ?? true) {
      const flags = seg.gnuStack === "rwx" ? PF_R | PF_W | PF_X : PF_R | PF_W;
      out.push({ type: PT_GNU_STACK, flags, offset: 0, vaddr: 0n, filesz: 0, memsz: 0n, align: 16 });
    }
    const relro = this.drafts.filter((d) => d.group === "relro");
    const first = relro[0];
    const last = relro[relro.length - 1];
    if ((seg.relro ?? true) && first && last) {
      const size = (this.relroEnd?.offset ?? last.offset + last.size) - first.offset;
      out.push({
        type: PT_GNU_RELRO,
        flags: PF_R,
        offset: first.offset,
        vaddr: first.addr,
        filesz: size,
        memsz: BigInt(size),
        align: 1,
      });
    }
    if (out.length !== this.phnum) throw new LdsimError("ELF writer: program header count changed during layout");
    return out;
  }

  // ---- output --------------------------------------------------------------------------------

  private emit(phdrs: Phdr[]): ElfImage {
    const total = this.shoff + (this.drafts.length + 1) * this.shentSize;
    const out = new Uint8Array(total);
    for (const s of this.drafts) {
      if (s.type === SHT_NOBITS || !s.fill) continue;
      const bytes = s.fill();
      if (bytes.length !== s.size) {
        throw new LdsimError(`ELF writer: section ${s.name} content is ${bytes.length} bytes, planned ${s.size}`);
      }
      out.set(bytes, s.offset);
    }
    this.patchImplicitAddends(out);
    const bw = new ByteWriter(this.le, total);
    this.header(bw, phdrs.length);
    if (phdrs.length > 0) for (const p of phdrs) this.programHeader(bw, p);
    out.set(bw.finish(), 0);
    const sh = new ByteWriter(this.le, (this.drafts.length + 1) * this.shentSize);
    for (let i = 0; i < this.shentSize; i++) sh.u8(0);
    for (const s of this.drafts) this.sectionHeader(sh, s);
    out.set(sh.finish(), this.shoff);
    const placed: PlacedSection[] = this.drafts.map((s) => ({
      index: s.index,
      name: s.name,
      type: s.type,
      offset: s.offset,
      addr: s.addr,
      size: s.size,
    }));
    return { bytes: out, sections: placed, symbolValue: (n) => this.symbolValue(n) };
  }

  /**
   * REL relocations keep their addend in the relocated word (gABI). Write user addends there;
   * constructor-array words already hold their target.
   */
  private patchImplicitAddends(out: Uint8Array): void {
    const dyn = this.desc.dynamic;
    const patch = (sec: Draft, at: number, v: bigint) => {
      if (sec.type === SHT_NOBITS || at < 0 || at + this.wordSize > sec.size) {
        throw new LdsimError(
          `ELF writer: REL addend target 0x${at.toString(16)} is not inside the data of ${sec.name}`,
        );
      }
      const view = new DataView(out.buffer, out.byteOffset + sec.offset + at, this.wordSize);
      if (this.is64) view.setBigUint64(0, BigInt.asUintN(64, v), this.le);
      else view.setUint32(0, Number(BigInt.asUintN(32, v)), this.le);
    };
    if (dyn && this.relForm === "rel") {
      for (const r of [...(dyn.relocations ?? []), ...(dyn.pltRelocations ?? [])]) {
        if (!r.addend) continue;
        const addr = this.address(r.at);
        const sec = this.drafts.find((d) => d.group !== "none" && addr >= d.addr && addr < d.addr + BigInt(d.size));
        if (!sec) throw new LdsimError(`ELF writer: REL relocation at 0x${addr.toString(16)} is outside every section`);
        patch(sec, Number(addr - sec.addr), r.addend);
      }
    }
    for (const r of this.desc.relocationSections ?? []) {
      if ((r.form ?? (this.is64 ? "rela" : "rel")) !== "rel") continue;
      const sec = this.section(r.target);
      for (const x of r.relocations) {
        if (!x.addend) continue;
        patch(sec, Number(typeof x.at === "bigint" ? x.at : (x.at.offset ?? 0)), x.addend);
      }
    }
  }

  private header(bw: ByteWriter, phnum: number): void {
    const d = this.desc;
    bw.bytes(new Uint8Array([0x7f, 0x45, 0x4c, 0x46, this.is64 ? 2 : 1, this.le ? 1 : 2, 1, d.osabi ?? 0]));
    for (let i = 8; i < 16; i++) bw.u8(0);
    bw.u16(this.etype).u16(this.machine).u32(1);
    const entry = d.entry === undefined ? 0n : this.valueOf(d.entry);
    const phoff = phnum > 0 ? this.ehSize : 0;
    if (this.is64) bw.u64(entry).u64(BigInt(phoff)).u64(BigInt(this.shoff));
    else bw.u32(this.u32(entry, "e_entry")).u32(phoff).u32(this.shoff);
    bw.u32(d.flags ?? 0)
      .u16(this.ehSize)
      .u16(phnum > 0 ? this.phentSize : 0)
      .u16(phnum)
      .u16(this.shentSize)
      .u16(this.drafts.length + 1)
      .u16(this.section(".shstrtab").index);
  }

  private programHeader(bw: ByteWriter, p: Phdr): void {
    if (this.is64) {
      bw.u32(p.type).u32(p.flags).u64(BigInt(p.offset)).u64(p.vaddr).u64(p.vaddr);
      bw.u64(BigInt(p.filesz)).u64(p.memsz).u64(BigInt(p.align));
    } else {
      bw.u32(p.type).u32(p.offset).u32(this.u32(p.vaddr, "p_vaddr")).u32(this.u32(p.vaddr, "p_paddr"));
      bw.u32(p.filesz).u32(this.u32(p.memsz, "p_memsz")).u32(p.flags).u32(p.align);
    }
  }

  private ref(v: string | number | undefined): number {
    if (v === undefined) return 0;
    if (typeof v === "number") return v;
    return this.section(v).index;
  }

  private sectionHeader(bw: ByteWriter, s: Draft): void {
    const name = this.shstrtab.offsetOf(s.name);
    const link = this.ref(s.link);
    const info = this.ref(s.info);
    if (this.is64) {
      bw.u32(name).u32(s.type).u64(s.flags).u64(s.addr).u64(BigInt(s.offset)).u64(BigInt(s.size));
      bw.u32(link).u32(info).u64(BigInt(s.align)).u64(BigInt(s.entsize));
    } else {
      bw.u32(name)
        .u32(s.type)
        .u32(Number(s.flags))
        .u32(this.u32(s.addr, `${s.name} address`))
        .u32(s.offset)
        .u32(s.size);
      bw.u32(link).u32(info).u32(s.align).u32(s.entsize);
    }
  }
}
