/**
 * `readelf -n` as GNU readelf 2.40 prints it (binutils readelf.c `process_notes`,
 * `process_note_sections`, `process_corefile_note_segments`, `process_notes_at`, `process_note`,
 * `print_gnu_note`, `print_gnu_property_note`, `print_stapsdt_note`, `print_core_note`,
 * `print_fdo_note`), byte for byte.
 */
import { EndianReader } from "../../formats/bytes/endian.ts";
import { EM_386, EM_AARCH64, EM_X86_64, SHT_NOTE } from "../../formats/elf/constants.ts";
import type { ElfFile } from "../../formats/elf/file.ts";
import {
  type ElfNote,
  GNU_PROPERTY_1_NEEDED,
  GNU_PROPERTY_AARCH64_FEATURE_1_AND,
  GNU_PROPERTY_HIPROC,
  GNU_PROPERTY_LOPROC,
  GNU_PROPERTY_LOUSER,
  GNU_PROPERTY_NO_COPY_ON_PROTECTED,
  GNU_PROPERTY_STACK_SIZE,
  GNU_PROPERTY_UINT32_AND_HI,
  GNU_PROPERTY_UINT32_AND_LO,
  GNU_PROPERTY_UINT32_OR_HI,
  GNU_PROPERTY_UINT32_OR_LO,
  GNU_PROPERTY_X86_COMPAT_2_ISA_1_NEEDED,
  GNU_PROPERTY_X86_COMPAT_2_ISA_1_USED,
  GNU_PROPERTY_X86_COMPAT_ISA_1_NEEDED,
  GNU_PROPERTY_X86_COMPAT_ISA_1_USED,
  GNU_PROPERTY_X86_FEATURE_1_AND,
  GNU_PROPERTY_X86_FEATURE_2_NEEDED,
  GNU_PROPERTY_X86_FEATURE_2_USED,
  GNU_PROPERTY_X86_ISA_1_NEEDED,
  GNU_PROPERTY_X86_ISA_1_USED,
  NT_FDO_PACKAGING_METADATA,
  NT_FILE,
  NT_GNU_ABI_TAG,
  NT_GNU_BUILD_ID,
  NT_GNU_GOLD_VERSION,
  NT_GNU_HWCAP,
  NT_GNU_PROPERTY_TYPE_0,
  NT_STAPSDT,
  walkNotes,
} from "../../formats/elf/notes.ts";
import type { SectionHeader } from "../../formats/elf/types.ts";
import { applyRelocations } from "./apply-relocations.ts";
import {
  type BuildAttributeState,
  buildAttributeDescription,
  buildAttributeName,
  isBuildAttributeNote,
  newBuildAttributeState,
} from "./build-attributes.ts";
import type { ReadelfOptions } from "./options.ts";
import { printableSectionName, printSymbol, readelfProgramHeaders, sectionHeadersLoad } from "./readelf-text.ts";

const ET_CORE = 4;
const PT_NOTE = 4;
const EM_IAMCU = 6;
const MASK64 = (1n << 64n) - 1n;

/** get_note_type's names for core files (types read off readelf 2.40 with a probe file). */
const CORE_NOTE_TYPES: ReadonlyMap<number, string> = new Map([
  [1, "NT_PRSTATUS (prstatus structure)"],
  [2, "NT_FPREGSET (floating point registers)"],
  [3, "NT_PRPSINFO (prpsinfo structure)"],
  [4, "NT_TASKSTRUCT (task structure)"],
  [6, "NT_AUXV (auxiliary vector)"],
  [0xa, "NT_PSTATUS (pstatus structure)"],
  [0xc, "NT_FPREGS (floating point registers)"],
  [0xd, "NT_PSINFO (psinfo structure)"],
  [0x10, "NT_LWPSTATUS (lwpstatus_t structure)"],
  [0x11, "NT_LWPSINFO (lwpsinfo_t structure)"],
  [0x12, "NT_WIN32PSTATUS (win32_pstatus structure)"],
  [0x100, "NT_PPC_VMX (ppc Altivec registers)"],
  [0x102, "NT_PPC_VSX (ppc VSX registers)"],
  [0x103, "NT_PPC_TAR (ppc TAR register)"],
  [0x104, "NT_PPC_PPR (ppc PPR register)"],
  [0x105, "NT_PPC_DSCR (ppc DSCR register)"],
  [0x106, "NT_PPC_EBB (ppc EBB registers)"],
  [0x107, "NT_PPC_PMU (ppc PMU registers)"],
  [0x108, "NT_PPC_TM_CGPR (ppc checkpointed GPR registers)"],
  [0x109, "NT_PPC_TM_CFPR (ppc checkpointed floating point registers)"],
  [0x10a, "NT_PPC_TM_CVMX (ppc checkpointed Altivec registers)"],
  [0x10b, "NT_PPC_TM_CVSX (ppc checkpointed VSX registers)"],
  [0x10c, "NT_PPC_TM_SPR (ppc TM special purpose registers)"],
  [0x10d, "NT_PPC_TM_CTAR (ppc checkpointed TAR register)"],
  [0x10e, "NT_PPC_TM_CPPR (ppc checkpointed PPR register)"],
  [0x10f, "NT_PPC_TM_CDSCR (ppc checkpointed DSCR register)"],
  [0x200, "NT_386_TLS (x86 TLS information)"],
  [0x201, "NT_386_IOPERM (x86 I/O permissions)"],
  [0x202, "NT_X86_XSTATE (x86 XSAVE extended state)"],
  [0x203, "NT_X86_CET (x86 CET state)"],
  [0x300, "NT_S390_HIGH_GPRS (s390 upper register halves)"],
  [0x301, "NT_S390_TIMER (s390 timer register)"],
  [0x302, "NT_S390_TODCMP (s390 TOD comparator register)"],
  [0x303, "NT_S390_TODPREG (s390 TOD programmable register)"],
  [0x304, "NT_S390_CTRS (s390 control registers)"],
  [0x305, "NT_S390_PREFIX (s390 prefix register)"],
  [0x306, "NT_S390_LAST_BREAK (s390 last breaking event address)"],
  [0x307, "NT_S390_SYSTEM_CALL (s390 system call restart data)"],
  [0x308, "NT_S390_TDB (s390 transaction diagnostic block)"],
  [0x309, "NT_S390_VXRS_LOW (s390 vector registers 0-15 upper half)"],
  [0x30a, "NT_S390_VXRS_HIGH (s390 vector registers 16-31)"],
  [0x30b, "NT_S390_GS_CB (s390 guarded-storage registers)"],
  [0x30c, "NT_S390_GS_BC (s390 guarded-storage broadcast control)"],
  [0x400, "NT_ARM_VFP (arm VFP registers)"],
  [0x401, "NT_ARM_TLS (AArch TLS registers)"],
  [0x402, "NT_ARM_HW_BREAK (AArch hardware breakpoint registers)"],
  [0x403, "NT_ARM_HW_WATCH (AArch hardware watchpoint registers)"],
  [0x404, "NT_ARM_SYSTEM_CALL (AArch system call number)"],
  [0x405, "NT_ARM_SVE (AArch SVE registers)"],
  [0x406, "NT_ARM_PAC_MASK (AArch pointer authentication code masks)"],
  [0x407, "NT_ARM_PACA_KEYS (ARM pointer authentication address keys)"],
  [0x408, "NT_ARM_PACG_KEYS (ARM pointer authentication generic keys)"],
  [0x409, "NT_ARM_TAGGED_ADDR_CTRL (AArch tagged address control)"],
  [0x40a, "NT_ARM_PAC_ENABLED_KEYS (AArch64 pointer authentication enabled keys)"],
  [0x600, "NT_ARC_V2 (ARC HS accumulator/extra registers)"],
  [0x900, "NT_RISCV_CSR (RISC-V control and status registers)"],
  [0x46e62b7f, "NT_PRXFPREG (user_xfpregs structure)"],
  [0x53494749, "NT_SIGINFO (siginfo_t data)"],
  [NT_FILE, "NT_FILE (mapped files)"],
  [0xff000000, "NT_GDB_TDESC (GDB XML target description)"],
]);

/** get_note_type's names outside core files. */
const OBJECT_NOTE_TYPES: ReadonlyMap<number, string> = new Map([
  [1, "NT_VERSION (version)"],
  [2, "NT_ARCH (architecture)"],
  [4, "GO BUILDID"],
  [0x100, "OPEN"],
  [0x101, "func"],
  [NT_FDO_PACKAGING_METADATA, "FDO_PACKAGING_METADATA"],
]);

const GNU_NOTE_TYPES: ReadonlyMap<number, string> = new Map([
  [NT_GNU_ABI_TAG, "NT_GNU_ABI_TAG (ABI version tag)"],
  [NT_GNU_HWCAP, "NT_GNU_HWCAP (DSO-supplied software HWCAP info)"],
  [NT_GNU_BUILD_ID, "NT_GNU_BUILD_ID (unique build ID bitstring)"],
  [NT_GNU_GOLD_VERSION, "NT_GNU_GOLD_VERSION (gold version)"],
  [NT_GNU_PROPERTY_TYPE_0, "NT_GNU_PROPERTY_TYPE_0"],
  [0x100, "NT_GNU_BUILD_ATTRIBUTE_OPEN"],
  [0x101, "NT_GNU_BUILD_ATTRIBUTE_FUNC"],
]);

const unknownType = (t: number) => `Unknown note type: (0x${t.toString(16).padStart(8, "0")})`;

function noteTypeName(elf: ElfFile, note: ElfNote): string {
  const t = note.type;
  if (note.namesz === 0) return genericType(elf, t);
  const n = note.name;
  if (n.startsWith("GNU")) return GNU_NOTE_TYPES.get(t) ?? unknownType(t);
  if (n.startsWith("stapsdt")) return t === NT_STAPSDT ? "NT_STAPSDT (SystemTap probe descriptors)" : unknownType(t);
  return genericType(elf, t);
}

function genericType(elf: ElfFile, t: number): string {
  const table = elf.header.type === ET_CORE ? CORE_NOTE_TYPES : OBJECT_NOTE_TYPES;
  return table.get(t) ?? unknownType(t);
}

const hexLower = (v: number | bigint) => v.toString(16);
const altHex = (v: number | bigint) => (v === 0 || v === 0n ? "0" : `0x${v.toString(16)}`);
const fullHex = (v: bigint, is64: boolean) => `0x${(v & MASK64).toString(16).padStart(is64 ? 16 : 8, "0")}`;

/** The `decode_*` bitmask printers: names for known bits, `<unknown: x>` for others, `, ` between. */
function decodeBits(bitmask: number, names: ReadonlyMap<number, string>, noneText: string | undefined): string {
  if (bitmask === 0 && noneText !== undefined) return noneText;
  const parts: string[] = [];
  let m = bitmask >>> 0;
  while (m !== 0) {
    const bit = (m & -m) >>> 0;
    m = (m & ~bit) >>> 0;
    parts.push(names.get(bit) ?? `<unknown: ${bit.toString(16)}>`);
  }
  return parts.join(", ");
}

const bitNames = (names: readonly string[]): ReadonlyMap<number, string> =>
  new Map(names.map((n, i) => [2 ** i, n] as [number, string]));

const X86_ISA = bitNames(["x86-64-baseline", "x86-64-v2", "x86-64-v3", "x86-64-v4"]);
const X86_FEATURE_1 = bitNames(["IBT", "SHSTK", "LAM_U48", "LAM_U57"]);
const X86_FEATURE_2 = bitNames([
  "x86",
  "x87",
  "MMX",
  "XMM",
  "YMM",
  "ZMM",
  "FXSR",
  "XSAVE",
  "XSAVEOPT",
  "XSAVEC",
  "TMM",
  "MASK",
]);
const X86_COMPAT_ISA = bitNames([
  "i486",
  "586",
  "686",
  "SSE",
  "SSE2",
  "SSE3",
  "SSSE3",
  "SSE4_1",
  "SSE4_2",
  "AVX",
  "AVX2",
  "AVX512F",
  "AVX512CD",
  "AVX512ER",
  "AVX512PF",
  "AVX512VL",
  "AVX512DQ",
  "AVX512BW",
]);
const X86_COMPAT_2_ISA = bitNames([
  "CMOV",
  "SSE",
  "SSE2",
  "SSE3",
  "SSSE3",
  "SSE4_1",
  "SSE4_2",
  "AVX",
  "AVX2",
  "FMA",
  "AVX512F",
  "AVX512CD",
  "AVX512ER",
  "AVX512PF",
  "AVX512VL",
  "AVX512DQ",
  "AVX512BW",
  "AVX512_4FMAPS",
  "AVX512_4VNNIW",
  "AVX512_BITALG",
  "AVX512_IFMA",
  "AVX512_VBMI",
  "AVX512_VBMI2",
  "AVX512_VNNI",
  "AVX512_BF16",
]);
const AARCH64_FEATURE_1 = bitNames(["BTI", "PAC"]);
const NEEDED_1 = bitNames(["indirect external access"]);

const X86_PROPERTIES: ReadonlyMap<number, readonly [string, ReadonlyMap<number, string>]> = new Map([
  [GNU_PROPERTY_X86_ISA_1_USED, ["x86 ISA used", X86_ISA]],
  [GNU_PROPERTY_X86_ISA_1_NEEDED, ["x86 ISA needed", X86_ISA]],
  [GNU_PROPERTY_X86_FEATURE_1_AND, ["x86 feature", X86_FEATURE_1]],
  [GNU_PROPERTY_X86_FEATURE_2_USED, ["x86 feature used", X86_FEATURE_2]],
  [GNU_PROPERTY_X86_FEATURE_2_NEEDED, ["x86 feature needed", X86_FEATURE_2]],
  [GNU_PROPERTY_X86_COMPAT_ISA_1_USED, ["x86 ISA used", X86_COMPAT_ISA]],
  [GNU_PROPERTY_X86_COMPAT_ISA_1_NEEDED, ["x86 ISA needed", X86_COMPAT_ISA]],
  [GNU_PROPERTY_X86_COMPAT_2_ISA_1_USED, ["x86 ISA used", X86_COMPAT_2_ISA]],
  [GNU_PROPERTY_X86_COMPAT_2_ISA_1_NEEDED, ["x86 ISA needed", X86_COMPAT_2_ISA]],
]);

/** binutils readelf.c `print_gnu_property_note`. */
function gnuProperties(elf: ElfFile, note: ElfNote, wide: boolean): string {
  const d = note.desc;
  const size = elf.is64 ? 8 : 4;
  let out = "      Properties: ";
  if (d.length < 8 || d.length % size !== 0) {
    return `${out}<corrupt GNU_PROPERTY_TYPE, size = ${altHex(d.length)}>\n`;
  }
  const r = new EndianReader(d, elf.littleEndian);
  const machine = elf.header.machine;
  let p = 0;
  while (p < d.length) {
    if (d.length - p < 8) {
      out += `<corrupt descsz: ${altHex(d.length)}>\n`;
      break;
    }
    const type = r.u32(p);
    const datasz = r.u32(p + 4);
    p += 8;
    if (datasz > d.length - p) {
      out += `<corrupt type (${altHex(type)}) datasz: ${altHex(datasz)}>\n`;
      break;
    }
    const u32 = () => r.u32(p);
    let handled = false;
    if (type >= GNU_PROPERTY_LOPROC && type <= GNU_PROPERTY_HIPROC) {
      if (machine === EM_X86_64 || machine === EM_IAMCU || machine === EM_386) {
        const known = X86_PROPERTIES.get(type);
        if (known) {
          const [label, names] = known;
          out +=
            datasz !== 4
              ? `${label}: <corrupt length: ${altHex(datasz)}> `
              : `${label}: ${decodeBits(u32(), names, "<None>")}`;
          handled = true;
        }
      } else if (machine === EM_AARCH64 && type === GNU_PROPERTY_AARCH64_FEATURE_1_AND) {
        out += "AArch64 feature: ";
        out += datasz !== 4 ? `<corrupt length: ${altHex(datasz)}> ` : decodeBits(u32(), AARCH64_FEATURE_1, undefined);
        handled = true;
      }
    } else if (type === GNU_PROPERTY_STACK_SIZE) {
      out += "stack size: ";
      if (datasz !== size) out += `<corrupt length: ${altHex(datasz)}> `;
      else out += altHex(size === 8 ? r.u64(p) : BigInt(r.u32(p)));
      handled = true;
    } else if (type === GNU_PROPERTY_NO_COPY_ON_PROTECTED) {
      out += "no copy on protected ";
      if (datasz) out += `<corrupt length: ${altHex(datasz)}> `;
      handled = true;
    } else if (
      (type >= GNU_PROPERTY_UINT32_AND_LO && type <= GNU_PROPERTY_UINT32_AND_HI) ||
      (type >= GNU_PROPERTY_UINT32_OR_LO && type <= GNU_PROPERTY_UINT32_OR_HI)
    ) {
      if (type === GNU_PROPERTY_1_NEEDED) {
        out +=
          datasz !== 4
            ? `1_needed: <corrupt length: ${altHex(datasz)}> `
            : `1_needed: ${decodeBits(u32(), NEEDED_1, "<None>")}`;
      } else {
        out += type <= GNU_PROPERTY_UINT32_AND_HI ? `UINT32_AND (${altHex(type)}): ` : `UINT32_OR (${altHex(type)}): `;
        out += datasz !== 4 ? `<corrupt length: ${altHex(datasz)}> ` : altHex(u32());
      }
      handled = true;
    }
    if (!handled) {
      if (type < GNU_PROPERTY_LOPROC) out += `<unknown type ${altHex(type)} data: `;
      else if (type < GNU_PROPERTY_LOUSER) out += `<processor-specific type ${altHex(type)} data: `;
      else out += `<application-specific type ${altHex(type)} data: `;
      for (let j = 0; j < datasz; j++) out += `${(d[p + j] as number).toString(16).padStart(2, "0")} `;
      out += ">";
    }
    p += (datasz + (size - 1)) & ~(size - 1);
    if (p === d.length) break;
    out += wide ? ", " : "\n\t";
  }
  return `${out}\n`;
}

/** binutils readelf.c `print_gnu_note`. */
function gnuNote(elf: ElfFile, note: ElfNote, wide: boolean): string {
  const d = note.desc;
  switch (note.type) {
    case NT_GNU_BUILD_ID: {
      let s = "    Build ID: ";
      for (const b of d) s += b.toString(16).padStart(2, "0");
      return `${s}\n`;
    }
    case NT_GNU_ABI_TAG: {
      if (d.length < 16) return "    <corrupt GNU_ABI_TAG>\n";
      const r = new EndianReader(d, elf.littleEndian);
      const os = r.u32(0);
      const names = ["Linux", "Hurd", "Solaris", "FreeBSD", "NetBSD", "Syllable", "NaCl"];
      return `    OS: ${names[os] ?? "Unknown"}, ABI: ${r.u32(4)}.${r.u32(8)}.${r.u32(12)}\n`;
    }
    case NT_GNU_GOLD_VERSION: {
      let s = "    Version: ";
      for (let i = 0; i < d.length && d[i] !== 0; i++) s += String.fromCharCode(d[i] as number);
      return `${s}\n`;
    }
    case NT_GNU_HWCAP: {
      const s = "      Hardware Capabilities: ";
      if (d.length < 8) return s;
      const r = new EndianReader(d, elf.littleEndian);
      return `${s}num entries: ${r.u32(0)}, enabled mask: ${hexLower(r.u32(4))}\n`;
    }
    case NT_GNU_PROPERTY_TYPE_0:
      return gnuProperties(elf, note, wide);
    default: {
      let s = "    Description data: ";
      for (const b of d) s += `${b.toString(16).padStart(2, "0")} `;
      return `${s}\n`;
    }
  }
}

/** binutils readelf.c `print_stapsdt_note`. */
function stapsdtNote(elf: ElfFile, note: ElfNote): string {
  const w = elf.is64 ? 8 : 4;
  const d = note.desc;
  const tooSmall = "  <corrupt - note is too small>\n";
  if (d.length < 3 * w) return tooSmall;
  const r = new EndianReader(d, elf.littleEndian);
  const word = (o: number) => (w === 8 ? r.u64(o) : BigInt(r.u32(o)));
  let p = 3 * w;
  const strs: string[] = [];
  for (let k = 0; k < 3; k++) {
    if (p >= d.length) return tooSmall;
    const end = d.indexOf(0, p);
    if (end < 0) return tooSmall;
    let s = "";
    for (let i = p; i < end; i++) s += String.fromCharCode(d[i] as number);
    strs.push(s);
    p = end + 1;
  }
  const is64 = elf.is64;
  return (
    `    Provider: ${strs[0]}\n    Name: ${strs[1]}\n` +
    `    Location: ${fullHex(word(0), is64)}, Base: ${fullHex(word(w), is64)}, Semaphore: ${fullHex(word(2 * w), is64)}\n` +
    `    Arguments: ${strs[2]}\n`
  );
}

/** binutils readelf.c `print_core_note` (only NT_FILE has a body). */
function coreNote(elf: ElfFile, note: ElfNote, wide: boolean): string {
  if (note.type !== NT_FILE) return wide ? "\n" : "";
  // readelf 2.40 as Debian builds it takes its `#ifndef BFD64` branch here for every ELF64 core
  // (observed: this exact line for an x86-64 gcore), so 64-bit NT_FILE tables are not decoded.
  if (elf.is64) return "    Cannot decode 64-bit note in 32-bit build\n";
  const w = elf.is64 ? 8 : 4;
  const d = note.desc;
  if (d.length < 2 * w) return "";
  if (d[d.length - 1] !== 0) return "";
  const r = new EndianReader(d, elf.littleEndian);
  const word = (o: number) => (w === 8 ? r.u64(o) : BigInt(r.u32(o)));
  const count = word(0);
  const pageSize = word(w);
  if (
    count > (MASK64 - 2n * BigInt(w)) / (3n * BigInt(w)) ||
    BigInt(d.length) < BigInt(2 * w) + count * BigInt(3 * w)
  ) {
    return "";
  }
  let out = `    Page size: ${pageSize}\n`;
  out += `    ${"Start".padStart(2 + 2 * w)}${"End".padStart(4 + 2 * w)}${"Page Offset".padStart(4 + 2 * w)}\n`;
  let names = 2 * w + Number(count) * 3 * w;
  let o = 2 * w;
  for (let i = 0n; i < count; i++) {
    if (names === d.length) return out;
    const start = word(o);
    const end = word(o + w);
    const ofs = word(o + 2 * w);
    o += 3 * w;
    let nameEnd = d.indexOf(0, names);
    if (nameEnd < 0) nameEnd = d.length;
    let name = "";
    for (let k = names; k < nameEnd; k++) name += String.fromCharCode(d[k] as number);
    out += `    ${fullHex(start, elf.is64)}  ${fullHex(end, elf.is64)}  ${fullHex(ofs, elf.is64)}\n        ${name}\n`;
    names = nameEnd + 1;
  }
  return out;
}

/** binutils readelf.c `process_note`: the owner/size/type line and the description. */
function processNote(elf: ElfFile, note: ElfNote, wide: boolean, ga: BuildAttributeState): string {
  const name = note.namesz ? note.name : "(NONE)";
  const nt = noteTypeName(elf, note);
  const owner = note.namesz ? note.name : "";
  const isGa = isBuildAttributeNote(note);
  const ownerText = isGa ? buildAttributeName(note, wide) : printSymbol(-20, name, wide).text;
  let out = `  ${ownerText} 0x${note.descsz.toString(16).padStart(8, "0")}\t${nt}${wide ? "\t" : "\n"}`;
  if (owner.startsWith("GNU")) return out + gnuNote(elf, note, wide);
  if (owner.startsWith("stapsdt")) return out + stapsdtNote(elf, note);
  if (owner.startsWith("CORE")) return out + coreNote(elf, note, wide);
  if (owner.startsWith("FDO")) {
    if (note.descsz > 0 && note.type === NT_FDO_PACKAGING_METADATA) {
      let end = note.desc.indexOf(0);
      if (end < 0) end = note.desc.length;
      let s = "";
      for (let i = 0; i < end; i++) s += String.fromCharCode(note.desc[i] as number);
      out += `    Packaging Metadata: ${s}\n`;
    }
    return out;
  }
  if (isGa) return out + buildAttributeDescription(elf, note, ga);
  if (note.descsz) {
    out += "   description data: ";
    for (const b of note.desc) out += `${b.toString(16).padStart(2, "0")} `;
    if (!wide) out += "\n";
  }
  if (wide) out += "\n";
  return out;
}

/** binutils readelf.c `process_notes_at`. */
function notesAt(
  elf: ElfFile,
  section: SectionHeader | undefined,
  heading: string,
  offset: bigint,
  length: bigint,
  align: bigint,
  wide: boolean,
  ga: BuildAttributeState,
): string | undefined {
  if (length <= 0n) return undefined;
  const size = BigInt(elf.source.size);
  if (offset > size || length > size - offset) return undefined;
  // A copy: relocations are applied to it in a relocatable object.
  const bytes = elf.source.read(Number(offset), Number(length)).slice();
  if (section && !applyRelocations(elf, section, bytes)) return undefined;
  let out = `\n${heading}`;
  if (align < 4n) align = 4n;
  else if (align !== 4n && align !== 8n) return out;
  out += `  ${"Owner".padEnd(20)} ${"Data size".padEnd(10)}\tDescription\n`;
  const { notes } = walkNotes(bytes, { littleEndian: elf.littleEndian, align: Number(align) as 4 | 8 });
  for (const n of notes) out += processNote(elf, n, wide, ga);
  return out;
}

function segmentNotes(elf: ElfFile, wide: boolean, ga: BuildAttributeState): string {
  let out = "";
  for (const ph of readelfProgramHeaders(elf)) {
    if (ph.type !== PT_NOTE) continue;
    const heading = `Displaying notes found at file offset 0x${ph.offset.toString(16).padStart(8, "0")} with length 0x${ph.filesz.toString(16).padStart(8, "0")}:\n`;
    out += notesAt(elf, undefined, heading, ph.offset, ph.filesz, ph.align, wide, ga) ?? "";
  }
  return out;
}

/** `readelf -n` output for `elf` (latin1: one char per byte). */
export function formatNotes(elf: ElfFile, opts: ReadelfOptions): string {
  const wide = opts.wide;
  const ga = newBuildAttributeState();
  if (elf.header.type !== ET_CORE && elf.shnum !== 0) {
    let out = "";
    let n = 0;
    // Section headers readelf could not load give no note sections; it falls back to PT_NOTE.
    const sections = sectionHeadersLoad(elf) === "ok" ? elf.sections : [];
    for (const sec of sections) {
      if (sec.type !== SHT_NOTE) continue;
      const heading = `Displaying notes found in: ${printableSectionName(elf, sec)}\n`;
      out += notesAt(elf, sec, heading, sec.offset, sec.size, sec.addralign, wide, ga) ?? "";
      n++;
    }
    return n === 0 ? segmentNotes(elf, wide, ga) : out;
  }
  if (elf.phnum !== 0) return segmentNotes(elf, wide, ga);
  // Observed with 2.40: a core file without program headers gets this line (typo included); any
  // other file with neither section nor program headers gets nothing.
  return elf.header.type === ET_CORE ? "No notes found file.\n" : "";
}
