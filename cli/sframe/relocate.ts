import { EM_AARCH64, EM_S390, EM_X86_64, SHT_RELA } from "../../formats/elf/constants.ts";
import type { ElfFile } from "../../formats/elf/file.ts";
import type { SectionHeader } from "../../formats/elf/types.ts";
import { FormatError, hex } from "../../formats/errors.ts";

/**
 * The contents of a section with its RELA relocations applied, the way objdump reads a section of a
 * relocatable object before dumping it (binutils `objdump.c` dump_section_sframe →
 * `bfd_simple_get_relocated_section_contents`). In a `.o`, gas writes each FDE start field as
 * `func_sym - .` with a PC-relative relocation and leaves 0 in the bytes; objdump 2.46 applies it,
 * so the dump shows the function's offset in its section. Every section sits at address 0 in a `.o`,
 * so S = st_value and P = r_offset.
 *
 * Only the data relocation types gas emits for `.sframe` are applied (absolute and PC-relative, 32
 * and 64 bits, for x86-64, AArch64 and s390x); any other type leaves the field as stored.
 */
export function relocatedSectionData(elf: ElfFile, sec: SectionHeader): Uint8Array {
  const data = elf.sectionData(sec).slice();
  const relas = elf.sections.filter((s) => s.type === SHT_RELA && s.info === sec.index);
  if (relas.length === 0) return data;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (const rela of relas) {
    const symtab = elf.sections[rela.link];
    if (!symtab) continue;
    const syms = elf.sectionReader(symtab);
    const symSize = elf.is64 ? 24 : 16;
    const r = elf.sectionReader(rela);
    const entSize = elf.is64 ? 24 : 12;
    for (let o = 0; o + entSize <= r.length; o += entSize) {
      const offset = elf.is64 ? r.u64n(o, "r_offset") : r.u32(o, "r_offset");
      const info = elf.is64 ? r.u64(o + 8, "r_info") : BigInt(r.u32(o + 4, "r_info"));
      const addend = elf.is64 ? r.i64(o + 16, "r_addend") : BigInt(r.i32(o + 8, "r_addend"));
      const symIndex = Number(elf.is64 ? info >> 32n : info >> 8n);
      const type = Number(elf.is64 ? info & 0xffffffffn : info & 0xffn);
      const kind = relocKind(elf.header.machine, type);
      if (!kind) continue;
      const symOff = symIndex * symSize;
      if (symOff + symSize > syms.length) {
        throw new FormatError(`relocation at ${hex(offset)} names symbol ${symIndex}, outside ${symtab.name}`, {
          source: elf.name,
          offset: Number(rela.offset) + o,
        });
      }
      const s = elf.is64 ? syms.u64(symOff + 8, "st_value") : BigInt(syms.u32(symOff + 4, "st_value"));
      let value = s + addend;
      if (kind.pcrel) value -= BigInt(offset);
      if (offset + kind.size > data.length) {
        throw new FormatError(`relocation at ${hex(offset)} lies outside section ${sec.name}`, {
          source: elf.name,
          offset: Number(rela.offset) + o,
        });
      }
      if (kind.size === 8) view.setBigUint64(offset, BigInt.asUintN(64, value), elf.littleEndian);
      else view.setUint32(offset, Number(BigInt.asUintN(32, value)), elf.littleEndian);
    }
  }
  return data;
}

interface RelocKind {
  readonly size: 4 | 8;
  readonly pcrel: boolean;
}

/** elf.h relocation numbers for the data relocations that can target a `.sframe` field. */
function relocKind(machine: number, type: number): RelocKind | undefined {
  switch (machine) {
    case EM_X86_64:
      // R_X86_64_64, R_X86_64_PC32, R_X86_64_32, R_X86_64_32S, R_X86_64_PC64
      return pick({ 1: k(8, false), 2: k(4, true), 10: k(4, false), 11: k(4, false), 24: k(8, true) }, type);
    case EM_AARCH64:
      // R_AARCH64_ABS64, R_AARCH64_ABS32, R_AARCH64_PREL64, R_AARCH64_PREL32
      return pick({ 257: k(8, false), 258: k(4, false), 260: k(8, true), 261: k(4, true) }, type);
    case EM_S390:
      // R_390_32, R_390_PC32, R_390_64, R_390_PC64
      return pick({ 4: k(4, false), 5: k(4, true), 22: k(8, false), 23: k(8, true) }, type);
    default:
      return undefined;
  }
}

function k(size: 4 | 8, pcrel: boolean): RelocKind {
  return { size, pcrel };
}

function pick(table: Readonly<Record<number, RelocKind>>, type: number): RelocKind | undefined {
  return table[type];
}
