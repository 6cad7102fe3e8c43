import {
  ET_CORE,
  ET_DYN,
  ET_EXEC,
  ET_NONE,
  ET_REL,
  PN_XNUM,
  SHN_UNDEF,
  SHN_XINDEX,
} from "../../formats/elf/constants.ts";
import { DF_1_PIE, DT_FLAGS_1 } from "../../formats/elf/dynamic-tags.ts";
import type { ElfFile } from "../../formats/elf/file.ts";
import { readelfDynamic } from "./dynamic.ts";
import { prefixHex } from "./printf.ts";

/** `readelf -h`: the ELF file header, as binutils readelf.c `process_file_header` prints it. */

const OSABI_NAMES: readonly string[] = [
  "UNIX - System V",
  "UNIX - HP-UX",
  "UNIX - NetBSD",
  "UNIX - GNU",
  "<unknown: 4>",
  "<unknown: 5>",
  "UNIX - Solaris",
  "UNIX - AIX",
  "UNIX - IRIX",
  "UNIX - FreeBSD",
  "UNIX - TRU64",
  "Novell - Modesto",
  "UNIX - OpenBSD",
  "VMS - OpenVMS",
  "HP - Non-Stop Kernel",
  "AROS",
  "FenixOS",
  "Nuxi CloudABI",
  "Stratus Technologies OpenVOS",
];

/** binutils readelf.c `get_machine_name`, for the machines ldsim meets and their neighbours. */
const MACHINE_NAMES: ReadonlyMap<number, string> = new Map([
  [0, "None"],
  [1, "WE32100"],
  [2, "Sparc"],
  [3, "Intel 80386"],
  [4, "MC68000"],
  [5, "MC88000"],
  [6, "Intel MCU"],
  [7, "Intel 80860"],
  [8, "MIPS R3000"],
  [9, "IBM System/370"],
  [10, "MIPS R4000 big-endian"],
  [15, "HPPA"],
  [18, "Sparc v8+"],
  [19, "Intel 80960"],
  [20, "PowerPC"],
  [21, "PowerPC64"],
  [22, "IBM S/390"],
  [23, "SPU"],
  [40, "ARM"],
  [41, "Digital Alpha (old)"],
  [42, "Renesas / SuperH SH"],
  [43, "Sparc v9"],
  [50, "Intel IA-64"],
  [62, "Advanced Micro Devices X86-64"],
  [183, "AArch64"],
  [243, "RISC-V"],
  [247, "Linux BPF"],
  [258, "LoongArch"],
]);

export function machineName(machine: number): string {
  return MACHINE_NAMES.get(machine) ?? `<unknown>: 0x${machine.toString(16)}`;
}

function osabiName(osabi: number, machine: number): string {
  const n = OSABI_NAMES[osabi];
  if (n !== undefined && !n.startsWith("<")) return n;
  if (osabi >= 64 && machine === 40 && osabi === 97) return "ARM";
  return `<unknown: ${osabi.toString(16)}>`;
}

/** readelf `is_pie`: ET_DYN whose first DT_FLAGS_1 has DF_1_PIE. */
function isPie(elf: ElfFile): boolean {
  let dyn: ReturnType<typeof readelfDynamic>;
  try {
    dyn = readelfDynamic(elf);
  } catch {
    // readelf: unreadable program headers or dynamic section just mean "not a PIE".
    return false;
  }
  for (const e of dyn?.entries ?? []) {
    if (e.tag === DT_FLAGS_1) return (e.value & DF_1_PIE) !== 0n;
  }
  return false;
}

/** readelf `get_file_type`; also the "Elf file type is" line of `-l`. */
export function fileTypeName(elf: ElfFile): string {
  const t = elf.header.type;
  switch (t) {
    case ET_NONE:
      return "NONE (None)";
    case ET_REL:
      return "REL (Relocatable file)";
    case ET_EXEC:
      return "EXEC (Executable file)";
    case ET_DYN:
      return isPie(elf) ? "DYN (Position-Independent Executable file)" : "DYN (Shared object file)";
    case ET_CORE:
      return "CORE (Core file)";
    default:
      if (t >= 0xff00) return `Processor Specific: (${t.toString(16)})`;
      if (t >= 0xfe00) return `OS Specific: (${t.toString(16)})`;
      return `<unknown>: ${t.toString(16)}`;
  }
}

/** readelf `get_machine_flags`, for the machines ldsim models (others print the bare value). */
function machineFlags(machine: number, flags: number): string {
  if (machine === 22 && (flags & 1) !== 0) return ", highgprs";
  return "";
}

/** Section 0, read directly: readelf probes it for extended numbering even when -S is not asked. */
function sectionZero(elf: ElfFile): { size: bigint; link: number; info: number } | undefined {
  const h = elf.header;
  if (h.shoff === 0n) return undefined;
  const size = elf.is64 ? 64 : 40;
  if (h.shoff + BigInt(size) > BigInt(elf.source.size)) return undefined;
  const r = elf.reader(Number(h.shoff), size, "section header 0");
  return elf.is64
    ? { size: r.u64(32), link: r.u32(40), info: r.u32(44) }
    : { size: BigInt(r.u32(20)), link: r.u32(24), info: r.u32(28) };
}

export function formatFileHeader(elf: ElfFile): string {
  const h = elf.header;
  const id = h.ident;
  const cls =
    id.class === 1
      ? "ELF32"
      : id.class === 2
        ? "ELF64"
        : id.class === 0
          ? "none"
          : `<unknown: ${Number(id.class).toString(16)}>`;
  const data =
    id.data === 1
      ? "2's complement, little endian"
      : id.data === 2
        ? "2's complement, big endian"
        : id.data === 0
          ? "none"
          : `<unknown: ${Number(id.data).toString(16)}>`;
  const verNote = id.version === 1 ? " (current)" : id.version !== 0 ? " <unknown>" : "";
  const s0 = sectionZero(elf);
  const o: string[] = [];
  o.push("ELF Header:\n");
  o.push(`  Magic:   ${Array.from(id.bytes, (b) => `${b.toString(16).padStart(2, "0")} `).join("")}\n`);
  o.push(`  Class:                             ${cls}\n`);
  o.push(`  Data:                              ${data}\n`);
  o.push(`  Version:                           ${id.version}${verNote}\n`);
  o.push(`  OS/ABI:                            ${osabiName(id.osabi, h.machine)}\n`);
  o.push(`  ABI Version:                       ${id.abiversion}\n`);
  o.push(`  Type:                              ${fileTypeName(elf)}\n`);
  o.push(`  Machine:                           ${machineName(h.machine)}\n`);
  o.push(`  Version:                           0x${h.version.toString(16)}\n`);
  o.push(`  Entry point address:               ${prefixHex(h.entry)}\n`);
  o.push(`  Start of program headers:          ${h.phoff} (bytes into file)\n`);
  o.push(`  Start of section headers:          ${h.shoff} (bytes into file)\n`);
  o.push(`  Flags:                             0x${h.flags.toString(16)}${machineFlags(h.machine, h.flags)}\n`);
  o.push(`  Size of this header:               ${h.ehsize} (bytes)\n`);
  o.push(`  Size of program headers:           ${h.phentsize} (bytes)\n`);
  let phnum = `${h.phnum}`;
  if (s0 && h.phnum === PN_XNUM && s0.info !== 0) phnum += ` (${s0.info})`;
  o.push(`  Number of program headers:         ${phnum}\n`);
  o.push(`  Size of section headers:           ${h.shentsize} (bytes)\n`);
  let shnum = h.shnum;
  let shnumText = `${h.shnum}`;
  if (s0 && h.shnum === SHN_UNDEF) {
    shnum = Number(BigInt.asUintN(32, s0.size));
    shnumText += ` (${shnum})`;
  }
  o.push(`  Number of section headers:         ${shnumText}\n`);
  let strndx = h.shstrndx;
  let strndxText = `${h.shstrndx}`;
  if (s0 && h.shstrndx === SHN_XINDEX) {
    strndx = s0.link;
    strndxText += ` (${strndx})`;
  }
  if (strndx !== SHN_UNDEF && strndx >= shnum) strndxText += " <corrupt: out of range>";
  o.push(`  Section header string table index: ${strndxText}\n`);
  return o.join("");
}
