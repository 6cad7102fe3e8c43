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

/**
 * binutils readelf.c `get_machine_name` (2.40): every e_machine value readelf names, taken from the
 * tool's own output for each value.
 */
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
  [11, "Sparc v9 (old)"],
  [15, "HPPA"],
  [17, "Fujitsu VPP500"],
  [18, "Sparc v8+"],
  [19, "Intel 80960"],
  [20, "PowerPC"],
  [21, "PowerPC64"],
  [22, "IBM S/390"],
  [23, "SPU"],
  [36, "Renesas V850 (using RH850 ABI)"],
  [37, "Fujitsu FR20"],
  [38, "TRW RH32"],
  [39, "MCORE"],
  [40, "ARM"],
  [41, "Digital Alpha (old)"],
  [42, "Renesas / SuperH SH"],
  [43, "Sparc v9"],
  [44, "Siemens Tricore"],
  [45, "ARC"],
  [46, "Renesas H8/300"],
  [47, "Renesas H8/300H"],
  [48, "Renesas H8S"],
  [49, "Renesas H8/500"],
  [50, "Intel IA-64"],
  [51, "Stanford MIPS-X"],
  [52, "Motorola Coldfire"],
  [53, "Motorola MC68HC12 Microcontroller"],
  [54, "Fujitsu Multimedia Accelerator"],
  [55, "Siemens PCP"],
  [56, "Sony nCPU embedded RISC processor"],
  [57, "Denso NDR1 microprocesspr"],
  [58, "Motorola Star*Core processor"],
  [59, "Toyota ME16 processor"],
  [60, "STMicroelectronics ST100 processor"],
  [61, "Advanced Logic Corp. TinyJ embedded processor"],
  [62, "Advanced Micro Devices X86-64"],
  [63, "Sony DSP processor"],
  [64, "Digital Equipment Corp. PDP-10"],
  [65, "Digital Equipment Corp. PDP-11"],
  [66, "Siemens FX66 microcontroller"],
  [67, "STMicroelectronics ST9+ 8/16 bit microcontroller"],
  [68, "STMicroelectronics ST7 8-bit microcontroller"],
  [69, "Motorola MC68HC16 Microcontroller"],
  [70, "Motorola MC68HC11 Microcontroller"],
  [71, "Motorola MC68HC08 Microcontroller"],
  [72, "Motorola MC68HC05 Microcontroller"],
  [73, "Silicon Graphics SVx"],
  [74, "STMicroelectronics ST19 8-bit microcontroller"],
  [75, "Digital VAX"],
  [76, "Axis Communications 32-bit embedded processor"],
  [77, "Infineon Technologies 32-bit embedded cpu"],
  [78, "Element 14 64-bit DSP processor"],
  [79, "LSI Logic's 16-bit DSP processor"],
  [80, "Donald Knuth's educational 64-bit processor"],
  [81, "Harvard Universitys's machine-independent object format"],
  [82, "Vitesse Prism"],
  [83, "Atmel AVR 8-bit microcontroller"],
  [84, "Fujitsu FR30"],
  [85, "d10v"],
  [86, "d30v"],
  [87, "Renesas V850"],
  [88, "Renesas M32R (formerly Mitsubishi M32r)"],
  [89, "mn10300"],
  [90, "mn10200"],
  [91, "picoJava"],
  [92, "OpenRISC 1000"],
  [93, "ARCompact"],
  [94, "Tensilica Xtensa Processor"],
  [95, "Alphamosaic VideoCore processor"],
  [96, "Thompson Multimedia General Purpose Processor"],
  [97, "National Semiconductor 32000 series"],
  [98, "Tenor Network TPC processor"],
  [99, "Trebia SNP 1000 processor"],
  [100, "STMicroelectronics ST200 microcontroller"],
  [101, "Ubicom IP2xxx 8-bit microcontrollers"],
  [102, "MAX Processor"],
  [103, "National Semiconductor CompactRISC"],
  [104, "Fujitsu F2MC16"],
  [105, "Texas Instruments msp430 microcontroller"],
  [106, "Analog Devices Blackfin"],
  [107, "S1C33 Family of Seiko Epson processors"],
  [108, "Sharp embedded microprocessor"],
  [109, "Arca RISC microprocessor"],
  [110, "Unicore"],
  [111, "eXcess 16/32/64-bit configurable embedded CPU"],
  [112, "Icera Semiconductor Inc. Deep Execution Processor"],
  [113, "Altera Nios II"],
  [114, "National Semiconductor CRX microprocessor"],
  [115, "Motorola XGATE embedded processor"],
  [116, "Infineon Technologies xc16x"],
  [117, "Renesas M16C series microprocessors"],
  [118, "Microchip Technology dsPIC30F Digital Signal Controller"],
  [119, "Freescale Communication Engine RISC core"],
  [120, "Renesas M32c"],
  [131, "Altium TSK3000 core"],
  [132, "Freescale RS08 embedded processor"],
  [134, "Cyan Technology eCOG2 microprocessor"],
  [135, "SUNPLUS S+Core"],
  [136, "New Japan Radio (NJR) 24-bit DSP Processor"],
  [137, "Broadcom VideoCore III processor"],
  [138, "Lattice Mico32"],
  [139, "Seiko Epson C17 family"],
  [140, "Texas Instruments TMS320C6000 DSP family"],
  [141, "Texas Instruments TMS320C2000 DSP family"],
  [142, "Texas Instruments TMS320C55x DSP family"],
  [144, "TI PRU I/O processor"],
  [160, "STMicroelectronics 64bit VLIW Data Signal Processor"],
  [161, "Cypress M8C microprocessor"],
  [162, "Renesas R32C series microprocessors"],
  [163, "NXP Semiconductors TriMedia architecture family"],
  [164, "QUALCOMM DSP6 Processor"],
  [165, "Intel 8051 and variants"],
  [166, "STMicroelectronics STxP7x family"],
  [167, "Andes Technology compact code size embedded RISC processor family"],
  [168, "Cyan Technology eCOG1X family"],
  [169, "Dallas Semiconductor MAXQ30 Core microcontrollers"],
  [170, "New Japan Radio (NJR) 16-bit DSP Processor"],
  [171, "M2000 Reconfigurable RISC Microprocessor"],
  [172, "Cray Inc. NV2 vector architecture"],
  [173, "Renesas RX"],
  [174, "Imagination Technologies Meta processor architecture"],
  [175, "MCST Elbrus general purpose hardware architecture"],
  [176, "Cyan Technology eCOG16 family"],
  [177, "Xilinx MicroBlaze"],
  [178, "Freescale Extended Time Processing Unit"],
  [179, "Infineon Technologies SLE9X core"],
  [180, "Intel L1OM"],
  [181, "Intel K1OM"],
  [182, "Intel (reserved)"],
  [183, "AArch64"],
  [184, "ARM (reserved)"],
  [185, "Atmel Corporation 32-bit microprocessor"],
  [186, "STMicroeletronics STM8 8-bit microcontroller"],
  [187, "Tilera TILE64 multicore architecture family"],
  [188, "Tilera TILEPro multicore architecture family"],
  [189, "Xilinx MicroBlaze"],
  [190, "NVIDIA CUDA architecture"],
  [191, "Tilera TILE-Gx multicore architecture family"],
  [192, "CloudShield architecture family"],
  [193, "KIPO-KAIST Core-A 1st generation processor family"],
  [194, "KIPO-KAIST Core-A 2nd generation processor family"],
  [195, "ARCv2"],
  [196, "Open8 8-bit RISC soft processor core"],
  [197, "Renesas RL78"],
  [198, "Broadcom VideoCore V processor"],
  [199, "Renesas 78K0R"],
  [200, "Freescale 56800EX Digital Signal Controller (DSC)"],
  [201, "Beyond BA1 CPU architecture"],
  [202, "Beyond BA2 CPU architecture"],
  [203, "XMOS xCORE processor family"],
  [204, "Microchip 8-bit PIC(r) family"],
  [205, "Intel Graphics Technology"],
  [210, "KM211 KM32 32-bit processor"],
  [211, "KM211 KMX32 32-bit processor"],
  [212, "KM211 KMX16 16-bit processor"],
  [213, "KM211 KMX8 8-bit processor"],
  [214, "KM211 KVARC processor"],
  [215, "Paneve CDP architecture family"],
  [216, "Cognitive Smart Memory Processor"],
  [217, "Bluechip Systems CoolEngine"],
  [218, "Nanoradio Optimized RISC"],
  [219, "CSR Kalimba architecture family"],
  [220, "Zilog Z80"],
  [221, "CDS VISIUMcore processor"],
  [222, "FTDI Chip FT32"],
  [223, "Moxie"],
  [224, "AMD GPU"],
  [243, "RISC-V"],
  [244, "Lanai 32-bit processor"],
  [245, "CEVA Processor Architecture Family"],
  [246, "CEVA X2 Processor Family"],
  [247, "Linux BPF"],
  [248, "Graphcore Intelligent Processing Unit"],
  [249, "Imagination Technologies"],
  [250, "Netronome Flow Processor"],
  [251, "NEC Vector Engine"],
  [252, "C-SKY"],
  [253, "Synopsys ARCv2.3 64-bit"],
  [254, "MOS Technology MCS 6502 processor"],
  [255, "Synopsys ARCv2.3 32-bit"],
  [256, "Kalray VLIW core of the MPPA processor family"],
  [257, "WDC 65816/65C816"],
  [258, "LoongArch"],
  [259, "ChipON KungFu32"],
  [4183, "Atmel AVR 8-bit microcontroller"],
  [9520, "Morpho Techologies MT processor"],
  [13104, "Fujitsu FR30"],
  [16727, "Web Assembly"],
  [18056, "Infineon Technologies xc16x"],
  [21569, "Fujitsu FR-V"],
  [30288, "d10v"],
  [33303, "Ubicom IP2xxx 8-bit microcontrollers"],
  [36902, "Alpha"],
  [36929, "Renesas M32R (formerly Mitsubishi M32r)"],
  [36992, "Renesas V850"],
  [41872, "IBM S/390"],
  [43975, "Tensilica Xtensa Processor"],
  [44357, "Sanyo XStormy16 CPU core"],
  [47787, "Xilinx MicroBlaze"],
  [61453, "Toshiba MeP Media Engine"],
  [65200, "Altera Nios"],
  [65210, "Vitesse IQ2000"],
  [65211, "Altera Nios"],
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
