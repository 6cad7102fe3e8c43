/**
 * binutils readelf.c `apply_relocations`, as `process_notes_at` uses it: in a relocatable object
 * (ET_REL), the first REL/RELA section whose sh_info names the note section is applied to a copy of
 * its contents before the notes are printed, so a `.note.stapsdt` in a `.o` shows relocated
 * addresses. Only the absolute and PC-relative 32/64-bit types of the machines modelled here are
 * applied; readelf warns about other types and skips them, as this does (silently).
 */
import { SHT_DYNSYM, SHT_REL, SHT_RELA, SHT_SYMTAB } from "../../formats/elf/constants.ts";
import type { ElfFile } from "../../formats/elf/file.ts";
import { decodeRelocations } from "../../formats/elf/relocations.ts";
import type { SectionHeader } from "../../formats/elf/types.ts";
import { fileBytes, readelfSymtab } from "./relocations.ts";

const ET_REL = 1;
const STT_SECTION = 3;
const STT_COMMON = 5;
const MASK64 = (1n << 64n) - 1n;

interface RelocClass {
  readonly none: readonly number[];
  readonly abs32: readonly number[];
  readonly pcrel32: readonly number[];
  readonly abs64: readonly number[];
  readonly pcrel64: readonly number[];
}

/** is_none_reloc / is_32bit_abs_reloc / is_32bit_pcrel_reloc / is_64bit_{abs,pcrel}_reloc. */
const CLASSES: ReadonlyMap<number, RelocClass> = new Map([
  [3, { none: [0], abs32: [1], pcrel32: [2], abs64: [], pcrel64: [] }],
  [6, { none: [0], abs32: [1], pcrel32: [2], abs64: [], pcrel64: [] }],
  [62, { none: [0], abs32: [10], pcrel32: [2], abs64: [1], pcrel64: [24] }],
  [183, { none: [0, 256], abs32: [258, 1], pcrel32: [261, 3], abs64: [257], pcrel64: [260] }],
  [22, { none: [0], abs32: [4], pcrel32: [5], abs64: [22], pcrel64: [23] }],
]);

/**
 * Apply the relocations for `section` to `bytes` (its contents, modified in place). Returns false
 * where readelf's apply_relocations fails (the relocation's symbol section is not a symbol table,
 * or the relocations cannot be read), in which case readelf prints nothing for the section.
 */
export function applyRelocations(elf: ElfFile, section: SectionHeader, bytes: Uint8Array): boolean {
  if (elf.header.type !== ET_REL) return true;
  const secs = elf.sections;
  const shnum = elf.shnum;
  for (const relsec of secs) {
    if (relsec.type !== SHT_RELA && relsec.type !== SHT_REL) continue;
    if (relsec.info >= shnum || relsec.info !== section.index || relsec.size === 0n || relsec.link >= shnum) continue;
    const symsec = secs[relsec.link] as SectionHeader;
    if (symsec.type !== SHT_SYMTAB && symsec.type !== SHT_DYNSYM) return false;
    const isRela = relsec.type === SHT_RELA;
    const raw = fileBytes(elf, relsec.offset, relsec.size);
    if (!raw) return false;
    const relocs = decodeRelocations(
      raw,
      isRela ? "rela" : "rel",
      { is64: elf.is64, littleEndian: elf.littleEndian },
      { allowTrailing: true },
    );
    const syms = readelfSymtab(elf, symsec, false)?.syms ?? [];
    const cls = CLASSES.get(elf.header.machine);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const le = elf.littleEndian;
    for (const rp of relocs) {
      if (!cls || cls.none.includes(rp.type)) continue;
      const size = cls.abs32.includes(rp.type) || cls.pcrel32.includes(rp.type) ? 4 : 8;
      const pcrel = cls.pcrel32.includes(rp.type) || cls.pcrel64.includes(rp.type);
      if (size === 8 && !cls.abs64.includes(rp.type) && !pcrel) continue;
      if (rp.offset + BigInt(size) > BigInt(bytes.length)) continue;
      if (rp.sym >= syms.length) continue;
      const sym = syms[rp.sym];
      if (!sym) continue;
      const symType = sym.info & 0xf;
      if (rp.sym !== 0 && symType !== STT_COMMON && symType > STT_SECTION) continue;
      const at = Number(rp.offset);
      let addend = rp.kind === "rela" ? BigInt.asUintN(64, rp.addend) : 0n;
      if (rp.kind === "rel") addend += size === 4 ? BigInt(view.getUint32(at, le)) : view.getBigUint64(at, le);
      let value = (addend + sym.value) & MASK64;
      if (pcrel) value = (value - rp.offset) & MASK64;
      if (size === 4) view.setUint32(at, Number(value & 0xffffffffn), le);
      else view.setBigUint64(at, value, le);
    }
    return true;
  }
  return true;
}
