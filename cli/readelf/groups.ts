import { SHT_GROUP, SHT_SYMTAB } from "../../formats/elf/constants.ts";
import { decodeLatin1, type ElfFile } from "../../formats/elf/file.ts";
import { printableSectionName, readelfStringTable } from "./sections.ts";

/** `readelf -g`: section groups, as binutils readelf.c `process_section_groups` prints them. */

const GRP_COMDAT = 0x1;
const GRP_MASKOS = 0x0ff00000;
const GRP_MASKPROC = 0xf0000000;
const STT_SECTION = 3;

/** readelf `get_group_flags`. */
function groupFlags(flags: number): string {
  if (flags === 0) return "";
  if (flags === GRP_COMDAT) return "COMDAT ";
  const os = (flags & GRP_MASKOS) !== 0 ? "<OS specific>" : "";
  const proc = (flags & GRP_MASKPROC) >>> 0 !== 0 ? "<PROC specific>" : "";
  const unknown = (flags & ~(GRP_COMDAT | GRP_MASKOS | GRP_MASKPROC)) !== 0 ? "<unknown>" : "";
  return `[0x${(flags >>> 0).toString(16)}: ${os}${proc}${unknown}]`;
}

function cString(bytes: Uint8Array, offset: number): string {
  let end = bytes.indexOf(0, offset);
  if (end < 0) end = bytes.length;
  return decodeLatin1(bytes, offset, end);
}

function tryBytes(elf: ElfFile, offset: bigint, size: bigint): Uint8Array | undefined {
  if (offset + size > BigInt(elf.source.size)) return undefined;
  return elf.readBytes(Number(offset), Number(size), "group data");
}

export function formatSectionGroups(elf: ElfFile): string {
  const shnum = elf.header.shoff === 0n ? 0 : elf.shnum;
  if (shnum === 0) return "\nThere are no section groups in this file.\n";
  const secs = elf.sections;
  const groups = secs.filter((s) => s.type === SHT_GROUP);
  if (groups.length === 0) return "\nThere are no section groups in this file.\n";
  const strtab = readelfStringTable(elf);
  const symSize = elf.is64 ? 24 : 16;
  const claimed = new Set<number>();
  let out = "";
  for (const g of groups) {
    const symtab = secs[g.link];
    if (g.link >= shnum || !symtab || symtab.type !== SHT_SYMTAB) continue;
    const nsyms = Number(symtab.size / BigInt(symSize));
    if (g.info >= nsyms) continue;
    const symBytes = tryBytes(elf, symtab.offset + BigInt(g.info * symSize), BigInt(symSize));
    if (!symBytes) continue;
    const r = elf.reader(Number(symtab.offset) + g.info * symSize, symSize, "group symbol");
    const stName = r.u32(0);
    const stInfo = r.u8(elf.is64 ? 4 : 12);
    const stShndx = r.u16(elf.is64 ? 6 : 14);
    let groupName: string;
    if ((stInfo & 0xf) === STT_SECTION) {
      const target = secs[stShndx];
      if (stShndx === 0 || stShndx >= shnum || !target) continue;
      groupName = !strtab
        ? "<no-strings>"
        : target.nameOffset >= strtab.length
          ? "<corrupt>"
          : cString(strtab, target.nameOffset);
    } else {
      const strSec = symtab.link < shnum ? secs[symtab.link] : undefined;
      const strings = strSec ? tryBytes(elf, strSec.offset, strSec.size) : undefined;
      groupName = strings && stName < strings.length ? cString(strings, stName) : "<corrupt>";
    }
    // CHECK_ENTSIZE has already set a group's entsize to 4.
    if (4n > g.size) continue;
    const data = tryBytes(elf, g.offset, g.size);
    if (!data) continue;
    const dr = elf.reader(Number(g.offset), data.length, "group section");
    const size = Number(g.size / 4n) - 1;
    out += `\n${groupFlags(dr.u32(0))}group section [${String(g.index).padStart(5)}] \`${printableSectionName(strtab, g)}' [${groupName}] contains ${size} sections:\n`;
    out += "   [Index]    Name\n";
    for (let j = 0; j < size; j++) {
      const entry = dr.u32(4 + 4 * j);
      if (entry >= shnum) continue;
      if (claimed.has(entry) && entry !== 0) continue;
      claimed.add(entry);
      const sec = secs[entry];
      if (sec) out += `   [${String(entry).padStart(5)}]   ${printableSectionName(strtab, sec)}\n`;
    }
  }
  return out;
}
