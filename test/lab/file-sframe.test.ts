/**
 * What the kernel-side designs (mmap-detect, lazy) read from a file — PT_GNU_SFRAME and the executable
 * PT_LOADs — equals GNU readelf -lW's program headers stored with the fixtures (real tool output), and
 * the bias they derive from a VMA puts the text where ld.so mapped it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { MappedInode } from "../../kernel-shim/mm/vma.ts";
import { readFileSframeInfo, textInVma } from "../../kernel-shim/sframe/policies/file-sframe.ts";

const ROOT = join(import.meta.dirname, "..", "fixtures", "sframe");

function inodeOf(path: string): MappedInode {
  const bytes = new Uint8Array(readFileSync(path));
  return {
    devMajor: 0,
    devMinor: 0,
    ino: 1,
    path,
    size: bytes.length,
    read: (o, l) => bytes.subarray(o, o + l),
  };
}

/** readelf -lW's GNU_SFRAME and "R E" LOAD rows: [offset, vaddr, memsz]. */
function fromReadelf(text: string): { sframe?: bigint[]; texts: bigint[][] } {
  const texts: bigint[][] = [];
  let sframe: bigint[] | undefined;
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[0] !== "GNU_SFRAME" && f[0] !== "LOAD") continue;
    const row = [BigInt(f[1] ?? 0), BigInt(f[2] ?? 0), BigInt(f[5] ?? 0)];
    if (f[0] === "GNU_SFRAME") sframe = row;
    else if (/ E /.test(line)) texts.push(row);
  }
  return sframe ? { sframe, texts } : { texts };
}

const cases: string[] = [];
for (const v of ["v1", "v3"]) {
  for (const arch of readdirSync(join(ROOT, v))) {
    for (const f of readdirSync(join(ROOT, v, arch))) {
      if (f.endsWith(".readelf-l.txt")) cases.push(join(ROOT, v, arch, f.replace(/\.readelf-l\.txt$/, "")));
    }
  }
}

describe("readFileSframeInfo against readelf -lW", () => {
  it.each(cases)("%s", (file) => {
    const info = readFileSframeInfo(inodeOf(file));
    const want = fromReadelf(readFileSync(`${file}.readelf-l.txt`, "latin1"));
    expect(info).toBeDefined();
    const seg = (s: { offset: bigint; vaddr: bigint; memsz: bigint }) => [s.offset, s.vaddr, s.memsz];
    expect(info?.sframe ? seg(info.sframe) : undefined).toEqual(want.sframe);
    expect(info?.texts.map(seg)).toEqual(want.texts);
  });

  it("derives the load bias from a text VMA as ld.so maps it (offset page → vaddr)", () => {
    const info = readFileSframeInfo(inodeOf(join(ROOT, "v3", "x86_64", "libb.so")));
    if (!info) throw new Error("no info");
    // ld.so maps the R E segment (offset 0x1000, vaddr 0x1000) at l_addr + 0x1000.
    const at = textInVma(info, { start: 0x7f0000001000, end: 0x7f0000002000, pgoff: 1 }, 4096);
    expect(at?.bias).toBe(0x7f0000000000n);
    expect(textInVma(info, { start: 0x7f0000002000, end: 0x7f0000003000, pgoff: 2 }, 4096)).toBeUndefined();
  });

  it("answers undefined for a file that is not ELF64 or whose headers run past its end", () => {
    expect(readFileSframeInfo({ ...inodeOf(join(ROOT, "README.md")) })).toBeUndefined();
    const bytes = new Uint8Array(readFileSync(join(ROOT, "v3", "x86_64", "libb.so"))).slice(0, 200);
    expect(
      readFileSframeInfo({
        devMajor: 0,
        devMinor: 0,
        ino: 2,
        path: "t",
        size: 200,
        read: (o, l) => bytes.subarray(o, o + l),
      }),
    ).toBeUndefined();
  });
});
