import { EM_386, EM_AARCH64, EM_S390, EM_X86_64, ET_REL } from "../../formats/elf/constants.ts";
import type { ElfFile } from "../../formats/elf/file.ts";
import type { SectionHeader } from "../../formats/elf/types.ts";
import { ElfClass } from "../../formats/elf/types.ts";
import { LdsimError } from "../../formats/errors.ts";
import {
  DWARF_REG_SP_FP,
  SFRAME_AARCH64_PAUTH_KEY_B,
  SFRAME_ABI_AARCH64_ENDIAN_BIG,
  SFRAME_ABI_AARCH64_ENDIAN_LITTLE,
  SFRAME_ABI_S390X_ENDIAN_BIG,
  SFRAME_CFA_FIXED_FP_INVALID,
  SFRAME_CFA_FIXED_RA_INVALID,
  SFRAME_F_FDE_FUNC_START_PCREL,
  SFRAME_F_FDE_SORTED,
  SFRAME_F_FRAME_POINTER,
  SFRAME_FDE_TYPE_FLEX,
  SFRAME_FRE_RA_OFFSET_INVALID,
  SFRAME_S390X_CFA_OFFSET_ADJUSTMENT,
  SFRAME_S390X_CFA_OFFSET_ALIGNMENT_FACTOR,
  SFRAME_V3_FLEX_CTRL_DEREF_P,
  SFRAME_V3_FLEX_CTRL_REG_P,
  SFRAME_V3_FLEX_CTRL_REGNUM_SHIFT,
} from "../../formats/sframe/constants.ts";
import { decodeSframeData, signExtend } from "../../formats/sframe/decode.ts";
import type { SframeFde, SframeFre, SframeSectionData } from "../../formats/sframe/types.ts";
import { relocatedSectionData } from "./relocate.ts";

/**
 * The text `objdump --sframe` prints (binutils `libsframe/sframe-dump.c`, driven by objdump.c
 * `dump_section_sframe`). Two generations are modelled, chosen by the section's version:
 *
 * - V1 → binutils 2.40, the last release that wrote V1: no fixed-offset header lines, flags on one
 *   line, function starts used as stored (no PCREL), RA shown `u` when the header fixes it.
 * - V2/V3 → binutils 2.46: one flag per line, `CFA fixed RA offset`, PCREL function starts, `attr =
 *   "S"` for V3 signal frames, `RA undefined` rows, `f`/`U` RA markers, and FLEX FDE rows with DWARF
 *   register names (`sp`/`fp` for the ABI's stack/frame pointer, `rN` otherwise) and `(...)` for
 *   dereferenced values.
 *
 * Column layout, in both: `%-7s%-8s %-10s%-10s%-13s` for the title and `%016x  %-10s%-10s%-13s`
 * for rows (trailing blanks included, as printf writes them).
 */

/** What libsframe's getters return on error (`SFRAME_ERR`, sframe-api.h). */
const SFRAME_ERR = -1;

/** Which binutils' dumper to imitate. */
export type SframeDumpStyle = "binutils-2.40" | "binutils-2.46";

export interface SframeDumpOptions {
  /** Default: 2.40 for V1 sections, 2.46 for V2/V3. */
  readonly style?: SframeDumpStyle;
  /**
   * Apply the section's relocations first, as objdump does for a relocatable object (default: true
   * for the 2.46 style, false for 2.40, whose objdump showed the stored zeros).
   */
  readonly relocate?: boolean;
  /** Section to dump; default `.sframe`. */
  readonly sectionName?: string;
}

/** No section to dump, or a section the chosen dumper cannot show. */
export class SframeDumpError extends LdsimError {
  override name = "SframeDumpError";
}

/** `objdump --sframe FILE` for one file: the file header objdump prints, then the section dump. */
export function formatObjdumpSframe(elf: ElfFile, displayName: string, options: SframeDumpOptions = {}): string {
  return `\n${displayName}:     file format ${bfdTargetName(elf)}\n\n${formatSframeDump(elf, options)}`;
}

/**
 * `Contents of the SFrame section .sframe:` and the dump that follows it, as both objdump and
 * readelf (`display_sframe`) print it after their own file headers.
 */
export function formatSframeDump(elf: ElfFile, options: SframeDumpOptions = {}): string {
  const name = options.sectionName ?? ".sframe";
  const sec = elf.section(name);
  if (!sec) throw new SframeDumpError(`${elf.name}: no ${name} section`);
  const bytes = sectionBytes(elf, sec, options);
  const data = decodeSframeData(bytes, { source: `${elf.name}: ${name}` });
  return `Contents of the SFrame section ${name}:${formatSframeSection(data, sec.addr, options.style)}`;
}

/**
 * `ldsim sframe dump --json`: the fully decoded section (header, layout, every function entry with
 * its rows) and the section's address; 64-bit values as "0x…" strings, byte arrays as hex.
 */
export function sframeDumpJson(elf: ElfFile, options: SframeDumpOptions = {}): unknown {
  const name = options.sectionName ?? ".sframe";
  const sec = elf.section(name);
  if (!sec) throw new SframeDumpError(`${elf.name}: no ${name} section`);
  const data = decodeSframeData(sectionBytes(elf, sec, options), { source: `${elf.name}: ${name}` });
  const plain = (v: unknown): unknown => {
    if (typeof v === "bigint") return v < 0n ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
    if (v instanceof Uint8Array) return Buffer.from(v).toString("hex");
    if (Array.isArray(v)) return v.map(plain);
    if (v !== null && typeof v === "object")
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, plain(x)]));
    return v;
  };
  // Each function's start as an address (funcStart is section-relative, PCREL already resolved).
  const functions = data.functions.map((f) => ({
    pc: plain(BigInt.asUintN(64, BigInt(f.fde.funcStart) + sec.addr)),
    ...(plain(f) as object),
  }));
  return { file: elf.name, section: name, address: plain(sec.addr), ...(plain(data) as object), functions };
}

function sectionBytes(elf: ElfFile, sec: SectionHeader, options: SframeDumpOptions): Uint8Array {
  const raw = elf.sectionData(sec);
  const version = raw.length >= 3 ? raw[2] : undefined;
  const style = options.style ?? (version === 1 ? "binutils-2.40" : "binutils-2.46");
  const relocate = options.relocate ?? style === "binutils-2.46";
  return relocate && elf.header.type === ET_REL ? relocatedSectionData(elf, sec) : raw;
}

/**
 * The dump of a decoded section (libsframe `dump_sframe`), starting with the blank line before
 * `  Header :`. `secAddr` is the section's address (sh_addr), added to every function start.
 */
export function formatSframeSection(data: SframeSectionData, secAddr: bigint, style?: SframeDumpStyle): string {
  const version = data.header.preamble.version;
  const s = style ?? (version === 1 ? "binutils-2.40" : "binutils-2.46");
  if (s === "binutils-2.40") {
    if (version !== 1) throw new SframeDumpError(`binutils 2.40 cannot dump SFrame version ${version}`);
    return dumpV240(data, secAddr);
  }
  if (version !== 2 && version !== 3) {
    throw new SframeDumpError(`binutils 2.46 cannot decode SFrame version ${version}`);
  }
  return dumpV246(data, secAddr);
}

// ---------------------------------------------------------------------------------------------
// binutils 2.40

function dumpV240(data: SframeSectionData, secAddr: bigint): string {
  const h = data.header;
  const flags = h.preamble.flags;
  // 2.40 builds the string with strcpy, so FRAME_POINTER replaces SORTED rather than joining it, and
  // unknown bits alone give an empty string.
  let flagsStr = "";
  if (flags === 0) flagsStr = "NONE";
  else {
    if (flags & SFRAME_F_FDE_SORTED) flagsStr = "SFRAME_F_FDE_SORTED";
    if (flags & SFRAME_F_FRAME_POINTER) flagsStr = "SFRAME_F_FRAME_POINTER";
  }
  const out: string[] = [
    "\n  Header :\n\n",
    `    Version: ${versionName(h.preamble.version, 1)}\n`,
    `    Flags: ${flagsStr}\n`,
    `    Num FDEs: ${int32(h.numFdes)}\n`,
    `    Num FREs: ${int32(h.numFres)}\n`,
    "\n  Function Index :\n",
  ];
  const getters = new Getters(h.abiArch, h.cfaFixedFpOffset, h.cfaFixedRaOffset, false);
  for (const { fde, fres } of data.functions) {
    // 2.40: start address as stored plus the section address (no PCREL handling).
    const pc = BigInt.asUintN(64, fde.rawStart + secAddr);
    const mask = fde.pcType === "mask";
    out.push(`\n    func idx [${fde.index}]: pc = 0x${pc.toString(16)}, size = ${int32(fde.funcSize)} bytes`);
    if (isAarch64(h.abiArch) && fde.pauthKey === SFRAME_AARCH64_PAUTH_KEY_B) out.push(", pauth = B key");
    out.push(titleLine(mask));
    for (const fre of fres) {
      const cfa = getters.cfa(fre);
      const fp = getters.fp(fre);
      // 2.40's RA getter fails when the header fixes the RA offset (AMD64), so RA shows `u` there.
      const ra = h.cfaFixedRaOffset !== SFRAME_CFA_FIXED_RA_INVALID ? undefined : getters.word(fre, 1);
      const raStr = `${ra === undefined ? "u" : `c${signedStr(ra)}`}${fre.mangledRa ? "[s]" : "   "}`;
      out.push(
        // A getter that fails returns SFRAME_ERR (-1): a row without data words shows `sp+-1`.
        `\n    ${hex16(rowPc(fde, fre, pc, mask))}  ${pad(`${fre.cfaBaseReg ? "sp" : "fp"}+${cfa ?? SFRAME_ERR}`, 10)}${pad(
          fp === undefined ? "u" : `c${signedStr(fp)}`,
          10,
        )}${pad(raStr, 13)}`,
      );
    }
    out.push("\n");
  }
  return out.join("");
}

// ---------------------------------------------------------------------------------------------
// binutils 2.46

const FLAG_NAMES: readonly [number, string][] = [
  [SFRAME_F_FDE_SORTED, "SFRAME_F_FDE_SORTED"],
  [SFRAME_F_FRAME_POINTER, "SFRAME_F_FRAME_POINTER"],
  [SFRAME_F_FDE_FUNC_START_PCREL, "SFRAME_F_FDE_FUNC_START_PCREL"],
];

function dumpV246(data: SframeSectionData, secAddr: bigint): string {
  const h = data.header;
  const out: string[] = ["\n  Header :\n\n", `    Version: ${versionName(h.preamble.version, 3)}\n`];
  // dump_sframe_header_flags: "%11s%s%s\n", one flag per line, a comma while more follow.
  let flags = h.preamble.flags;
  let prefix = "Flags: ";
  if (flags === 0) out.push(`${prefix.padStart(11)}NONE\n`);
  for (const [bit, name] of FLAG_NAMES) {
    // SFRAME_F_FRAME_POINTER is gone from V3: there it is a residual bit, printed as a number.
    if (bit === SFRAME_F_FRAME_POINTER && h.preamble.version !== 2) continue;
    if (flags & bit) {
      flags &= ~bit;
      out.push(`${prefix.padStart(11)}${name}${flags ? "," : ""}\n`);
      prefix = " ";
    }
  }
  if (flags) out.push(`${prefix.padStart(11)}${flags}\n`);
  if (h.cfaFixedFpOffset !== SFRAME_CFA_FIXED_FP_INVALID) out.push(`    CFA fixed FP offset: ${h.cfaFixedFpOffset}\n`);
  if (h.cfaFixedRaOffset !== SFRAME_CFA_FIXED_RA_INVALID) out.push(`    CFA fixed RA offset: ${h.cfaFixedRaOffset}\n`);
  out.push(`    Num FDEs: ${int32(h.numFdes)}\n`, `    Num FREs: ${int32(h.numFres)}\n`, "\n  Function Index :\n");

  const getters = new Getters(h.abiArch, h.cfaFixedFpOffset, h.cfaFixedRaOffset, true);
  const version = h.preamble.version;
  for (const { fde, fres } of data.functions) {
    // funcStart is already PCREL-resolved (field offset + stored value) when the flag is set.
    const pc = BigInt.asUintN(64, BigInt(fde.funcStart) + secAddr);
    const mask = fde.pcType === "mask";
    const signal = fde.version === 3 && fde.signal;
    const flex = fde.version === 3 && fde.fdeType === SFRAME_FDE_TYPE_FLEX;
    const attrs = `${signal ? "S" : ""}${flex ? "F" : ""}`;
    out.push(`\n    func idx [${fde.index}]: pc = 0x${pc.toString(16)}, size = ${int32(fde.funcSize)} bytes`);
    if (attrs) out.push(`, attr = "${attrs}"`);
    if (isAarch64(h.abiArch) && fde.pauthKey === SFRAME_AARCH64_PAUTH_KEY_B) out.push(", pauth = B key");
    out.push(titleLine(mask));
    for (const fre of fres) {
      out.push(`\n    ${hex16(rowPc(fde, fre, pc, mask))}`);
      // Version 2 erratum 2 / V3: an FRE without data words marks the outermost frame.
      if (fre.dataWordCount === 0) {
        out.push("  RA undefined");
        continue;
      }
      const [cfa, fp, ra] = flex ? flexColumns(getters, fre) : simpleColumns(getters, fre, version);
      out.push(`  ${pad(cfa, 10)}${pad(fp, 10)}${pad(`${ra}${fre.mangledRa ? "[s]" : "   "}`, 13)}`);
    }
    out.push("\n");
  }
  return out.join("");
}

/** CFA, FP and RA columns of a DEFAULT FDE row (2.46 `dump_sframe_func_fre_simple`). */
function simpleColumns(g: Getters, fre: SframeFre, version: number): [string, string, string] {
  const cfa = `${fre.cfaBaseReg ? "sp" : "fp"}+${g.cfa(fre) ?? SFRAME_ERR}`;
  const fpOff = g.fp(fre);
  let fp = "u";
  if (fpOff !== undefined) fp = g.s390xRegnum(fpOff, version) ? `r${fpOff >> 1}` : `c${signedStr(fpOff)}`;
  let ra: string;
  const raOff = g.ra(fre);
  if (g.fixedRa !== SFRAME_CFA_FIXED_RA_INVALID) ra = "f";
  else if (raOff === SFRAME_FRE_RA_OFFSET_INVALID) ra = "U";
  else if (raOff !== undefined) ra = g.s390xRegnum(raOff, version) ? `r${raOff >> 1}` : `c${signedStr(raOff)}`;
  else ra = "u";
  return [cfa, fp, ra];
}

/**
 * CFA, FP and RA columns of a FLEX FDE row (2.46 `dump_sframe_func_fres_flex`). Data words come in
 * (control word, displacement) pairs in the order CFA, RA, FP; a lone control word 0 in the RA slot
 * is padding before FP (`U`); a missing RA shows `f` where the header fixes it, else `u`; a missing
 * FP `u`. Each rule prints as `sframe_format_fre_disp` does: `reg+d`, `(reg+d)` when dereferenced,
 * and `c+d` when the control word has no register (its deref bit is then not consulted).
 */
function flexColumns(g: Getters, fre: SframeFre): [string, string, string] {
  const words = fre.dataWords;
  const size = fre.dataWordSize;
  const at = (k: number): number | undefined => {
    const w = words[k];
    return w === undefined ? undefined : w;
  };
  const rule = (k: number): string | undefined => {
    const ctrl = at(k);
    const disp = at(k + 1);
    if (ctrl === undefined || disp === undefined) return undefined;
    return g.flexRule(ctrl, signExtend(disp, size));
  };
  const cfa = rule(0) ?? "u";
  let k = 2;
  let ra: string;
  const raCtrl = at(k);
  if (raCtrl === undefined) ra = g.fixedRa !== SFRAME_CFA_FIXED_RA_INVALID ? "f" : "u";
  else if (raCtrl === 0) {
    ra = "U";
    k += 1;
  } else {
    ra = rule(k) ?? "u";
    k += 2;
  }
  // A control word 0 here is not special: it reads as "CFA + displacement" (reg_p clear).
  const fp = rule(k) ?? "u";
  return [cfa, fp, ra];
}

/** libsframe's FRE getters (`sframe_fre_get_cfa_offset`/`_fp_offset`/`_ra_offset`); undefined = error. */
class Getters {
  constructor(
    readonly abiArch: number,
    readonly fixedFp: number,
    readonly fixedRa: number,
    /** 2.46 semantics: s390x CFA decoding, fixed offsets only for rows that define RA. */
    readonly modern: boolean,
  ) {}

  /** Data word `idx`, sign-extended; undefined when the FRE has fewer words. */
  word(fre: SframeFre, idx: number): number | undefined {
    const w = fre.dataWords[idx];
    return w === undefined ? undefined : signExtend(w, fre.dataWordSize);
  }
  cfa(fre: SframeFre): number | undefined {
    const v = this.word(fre, 0);
    if (v === undefined || !this.modern || this.abiArch !== SFRAME_ABI_S390X_ENDIAN_BIG) return v;
    // SFRAME_V2_S390X_CFA_OFFSET_DECODE: stored = (cfa + adjustment) / 8.
    return v * SFRAME_S390X_CFA_OFFSET_ALIGNMENT_FACTOR - SFRAME_S390X_CFA_OFFSET_ADJUSTMENT;
  }
  fp(fre: SframeFre): number | undefined {
    // 2.40's getter fails when the header fixes the FP offset ("gather it from the header"); 2.46
    // returns the fixed value.
    if (this.fixedFp !== SFRAME_CFA_FIXED_FP_INVALID) return this.modern ? this.fixedFp : undefined;
    return this.word(fre, this.fixedRa !== SFRAME_CFA_FIXED_RA_INVALID ? 1 : 2);
  }
  ra(fre: SframeFre): number | undefined {
    if (this.fixedRa !== SFRAME_CFA_FIXED_RA_INVALID) return this.fixedRa;
    return this.word(fre, 1);
  }
  /** s390x V2 only: an RA/FP word with the low bit set names a DWARF register (`r<n>`). */
  s390xRegnum(value: number, version: number): boolean {
    return this.abiArch === SFRAME_ABI_S390X_ENDIAN_BIG && version === 2 && (value & 1) === 1;
  }
  /** One FLEX rule: `reg+disp`, or `(reg+disp)` when dereferenced; `c+disp` without reg_p. */
  flexRule(ctrl: number, disp: number): string {
    if (!(ctrl & SFRAME_V3_FLEX_CTRL_REG_P)) return `c${signedStr(disp)}`;
    const text = `${this.regName(ctrl >>> SFRAME_V3_FLEX_CTRL_REGNUM_SHIFT)}${signedStr(disp)}`;
    return ctrl & SFRAME_V3_FLEX_CTRL_DEREF_P ? `(${text})` : text;
  }
  /** `sframe_get_reg_name`: the ABI's stack and frame pointers by name, other registers by number. */
  regName(regnum: number): string {
    const abi = DWARF_REG_SP_FP[this.abiArch];
    if (abi && regnum === abi.sp) return "sp";
    if (abi && regnum === abi.fp) return "fp";
    return `r${regnum}`;
  }
}

function titleLine(mask: boolean): string {
  return `\n    ${pad("STARTPC", 7)}${pad(mask ? "[m]" : "   ", 8)} ${pad("CFA", 10)}${pad("FP", 10)}${pad("RA", 13)}`;
}

/** A row's STARTPC: the FRE start itself for PC type MASK, else function start + FRE start. */
function rowPc(fde: SframeFde, fre: SframeFre, funcPc: bigint, mask: boolean): bigint {
  void fde;
  return mask ? BigInt(fre.startOffset) : BigInt.asUintN(64, funcPc + BigInt(fre.startOffset));
}

function isAarch64(abi: number): boolean {
  return abi === SFRAME_ABI_AARCH64_ENDIAN_BIG || abi === SFRAME_ABI_AARCH64_ENDIAN_LITTLE;
}

/** `version_names[ver]` when `ver <= SFRAME_VERSION`, else printf's "(null)". */
function versionName(version: number, newest: number): string {
  return version >= 1 && version <= newest ? `SFRAME_VERSION_${version}` : version === 0 ? "NULL" : "(null)";
}

/** `%+d` */
function signedStr(v: number): string {
  return v < 0 ? `${v}` : `+${v}`;
}

/** `%d` of a u32 field: values ≥ 2^31 print negative. */
function int32(v: number): number {
  return v | 0;
}

function hex16(v: bigint): string {
  return v.toString(16).padStart(16, "0");
}

function pad(s: string, width: number): string {
  return s.padEnd(width);
}

/** BFD target name objdump prints in "file format …" (bfd/elf64-x86-64.c, elfnn-aarch64.c, elf64-s390.c…). */
export function bfdTargetName(elf: ElfFile): string {
  const is64 = elf.header.ident.class === ElfClass.Elf64;
  const bits = is64 ? "64" : "32";
  const le = elf.littleEndian;
  switch (elf.header.machine) {
    case EM_X86_64:
      return `elf${bits}-x86-64`;
    case EM_386:
      return "elf32-i386";
    case EM_AARCH64:
      return `elf${bits}-${le ? "little" : "big"}aarch64`;
    case EM_S390:
      return is64 ? "elf64-s390" : "elf32-s390";
    default:
      return `elf${bits}-${le ? "little" : "big"}`;
  }
}
