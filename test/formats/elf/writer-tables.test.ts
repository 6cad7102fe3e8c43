/**
 * The writer's table encoders against GNU ld 2.40's own output: given the inputs ld had (symbol
 * names in .dynsym order, the relative-relocation addresses readelf lists, the version entries
 * readelf -V prints), the encoders must reproduce ld's .gnu.hash, .relr.dyn, .gnu.version_d and
 * .gnu.version_r byte for byte. Inputs come from the committed `readelf -W -a` text where there is
 * one, so the reader under test does not supply the expected side.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ElfFile } from "../../../formats/elf/file.ts";
import {
  bucketCount,
  encodeGnuHash,
  encodeRelr,
  encodeVerdef,
  encodeVerneed,
  gnuHashOrder,
  StringTableBuilder,
  type VerdefEntry,
  type VerneedEntry,
} from "../../../formats/elf/writer-tables.ts";

const fixtures = join(import.meta.dirname, "../../fixtures");
const open = (rel: string) => ElfFile.fromBytes(new Uint8Array(readFileSync(join(fixtures, rel))), rel);
const readelfText = (rel: string) => readFileSync(join(fixtures, `${rel}.readelf-a.txt`), "utf8");

function sectionBytes(elf: ElfFile, name: string): Uint8Array {
  const s = elf.section(name);
  if (!s) throw new Error(`${elf.name} has no ${name}`);
  return elf.sectionData(s);
}

/** Names in .dynsym order from `readelf --dyn-syms` text (version suffixes dropped). */
function dynsymNames(rel: string): string[] {
  const text = readFileSync(join(fixtures, `${rel}.readelf-dyn-syms.txt`), "utf8");
  const names: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s+(\d+): \S+\s+\d+ \S+\s+\S+\s+\S+\s+\S+ ?(.*)$/.exec(line);
    if (m) names[Number(m[1])] = (m[2] ?? "").replace(/@.*$/, "").trim();
  }
  return names;
}

/** GNU-ld-linked fixtures that have a .gnu.hash (glibc's own libraries use -O1 bucket counts, so none here). */
const gnuHashFiles = [
  "elf/x86_64/libtiny.so",
  "elf/x86_64/librelr.so",
  "elf/i386/libfixture.so.1",
  "elf/i386/main",
  "elf/i386/librelr.so",
];
const sframeGnuHashFiles = ["x86_64", "aarch64", "s390x"].flatMap((a) =>
  ["liba.so", "libb.so", "main"].map((f) => `sframe/v3/${a}/${f}`),
);

describe("writer tables: byte-identical to GNU ld 2.40", () => {
  it.each(gnuHashFiles)(".gnu.hash of %s", (rel) => {
    const elf = open(rel);
    const real = sectionBytes(elf, ".gnu.hash");
    const view = new DataView(real.buffer, real.byteOffset, real.byteLength);
    const symoffset = view.getUint32(4, elf.littleEndian);
    const names = dynsymNames(rel);
    const hashed = names.slice(symoffset);
    // ld orders the hashed symbols by bucket; the file's order must already be ours.
    const { order, nbuckets } = gnuHashOrder(hashed);
    expect(order).toEqual(hashed.map((_, i) => i));
    const ours = encodeGnuHash(hashed, nbuckets, hashed.length === 0 ? 1 : symoffset, elf.is64, elf.littleEndian);
    expect(Buffer.from(ours).toString("hex")).toBe(Buffer.from(real).toString("hex"));
  });

  it.each(sframeGnuHashFiles)(".gnu.hash of %s (binutils 2.46 ld, big and little endian)", (rel) => {
    const elf = open(rel);
    const real = sectionBytes(elf, ".gnu.hash");
    const view = new DataView(real.buffer, real.byteOffset, real.byteLength);
    const symoffset = view.getUint32(4, elf.littleEndian);
    // No committed --dyn-syms text for these: names come from .dynstr via the symbol entries' st_name.
    const dynsym = elf.section(".dynsym");
    const dynstr = elf.section(".dynstr");
    if (!dynsym || !dynstr) throw new Error("missing dynamic symbol table");
    const strtab = elf.sectionData(dynstr);
    const syms = elf.sectionReader(dynsym);
    const ent = Number(dynsym.entsize);
    const names: string[] = [];
    for (let i = 0; i < syms.length / ent; i++) names.push(elf.stringAt(strtab, syms.u32(i * ent)));
    // A table with Bloom shift 0 is ld's empty table (no defined symbols to hash; symoffset is 1
    // whatever follows).
    const hashed = view.getUint32(12, elf.littleEndian) === 0 ? [] : names.slice(symoffset);
    const nbuckets = view.getUint32(0, elf.littleEndian);
    if (hashed.length > 0) expect(nbuckets).toBe(bucketCount(hashed.length, true));
    const ours = encodeGnuHash(hashed, nbuckets, symoffset, elf.is64, elf.littleEndian);
    expect(Buffer.from(ours).toString("hex")).toBe(Buffer.from(real).toString("hex"));
  });

  it.each(["elf/x86_64/librelr.so", "elf/i386/librelr.so"])(".relr.dyn of %s from readelf's offset list", (rel) => {
    const elf = open(rel);
    const text = readelfText(rel);
    const start = text.indexOf("Relocation section '.relr.dyn'");
    const block = text.slice(start).split("\n\n")[0] ?? "";
    const count = Number(/(\d+) offsets/.exec(block)?.[1]);
    const addresses = [...block.matchAll(/^([0-9a-f]{8,16})$/gm)].map((m) => BigInt(`0x${m[1]}`));
    expect(addresses).toHaveLength(count);
    expect(count).toBeGreaterThan(150);
    const ours = encodeRelr(addresses, elf.is64, elf.littleEndian);
    expect(Buffer.from(ours).toString("hex")).toBe(Buffer.from(sectionBytes(elf, ".relr.dyn")).toString("hex"));
  });

  /** Offsets of names in the file's real .dynstr, so the encoders write ld's sh_name values. */
  function realStrings(elf: ElfFile): Pick<StringTableBuilder, "offsetOf"> {
    const table = sectionBytes(elf, ".dynstr");
    const text = Buffer.from(table).toString("latin1");
    return {
      offsetOf(s: string) {
        const at = text.indexOf(`\0${s}\0`);
        if (at < 0) throw new Error(`${s} not in .dynstr`);
        return at + 1;
      },
    };
  }

  it("verdef and verneed of i386/libfixture.so.1 and i386/main from readelf -V", () => {
    for (const rel of ["elf/i386/libfixture.so.1", "elf/i386/main"]) {
      const elf = open(rel);
      const text = readelfText(rel);
      const defs: VerdefEntry[] = [];
      for (const m of text.matchAll(/Flags: (\w+)\s+Index: (\d+)\s+Cnt: (\d+)\s+Name: (\S+)|Parent \d+: (\S+)/g)) {
        if (m[5] !== undefined) {
          const last = defs.pop();
          if (last) defs.push({ ...last, names: [...last.names, m[5]] });
        } else {
          defs.push({ index: Number(m[2]), flags: m[1] === "BASE" ? 1 : m[1] === "WEAK" ? 2 : 0, names: [m[4] ?? ""] });
        }
      }
      const needs: VerneedEntry[] = [];
      for (const m of text.matchAll(/File: (\S+)\s+Cnt: \d+|Name: (\S+)\s+Flags: (\w+)\s+Version: (\d+)/g)) {
        if (m[1] !== undefined) needs.push({ file: m[1], versions: [] });
        else {
          const last = needs.pop();
          const v = { name: m[2] ?? "", flags: m[3] === "WEAK" ? 2 : 0, index: Number(m[4]) };
          if (last) needs.push({ ...last, versions: [...last.versions, v] });
        }
      }
      const strings = realStrings(elf);
      if (defs.length > 0) {
        const ours = encodeVerdef(defs, strings, elf.littleEndian);
        expect(Buffer.from(ours).toString("hex")).toBe(
          Buffer.from(sectionBytes(elf, ".gnu.version_d")).toString("hex"),
        );
      }
      expect(needs.length).toBeGreaterThan(0);
      const ours = encodeVerneed(needs, strings, elf.littleEndian);
      expect(Buffer.from(ours).toString("hex")).toBe(Buffer.from(sectionBytes(elf, ".gnu.version_r")).toString("hex"));
    }
  });

  it("string tables start with NUL and share repeated names", () => {
    const t = new StringTableBuilder();
    expect(t.add("")).toBe(0);
    expect(t.add("libc.so.6")).toBe(1);
    expect(t.add("puts")).toBe(11);
    expect(t.add("libc.so.6")).toBe(1);
    expect(Buffer.from(t.finish()).toString("latin1")).toBe("\0libc.so.6\0puts\0");
    expect(() => t.add("bad\0name")).toThrow(/not a byte string/);
  });
});
