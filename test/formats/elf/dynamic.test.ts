/**
 * The dynamic section reader against GNU readelf -d (run at test time on committed fixtures), plus
 * byte-level cases built by hand for the rules readelf and ld.so share (stop at DT_NULL, ignore a
 * partial trailing entry) and a property test that no input crashes the parser.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PT_LOAD } from "../../../formats/elf/constants.ts";
import {
  DynamicStringTable,
  decodeDynamic,
  dynamicNames,
  dynamicStringsFromFile,
  dynamicStringsFromMemory,
  dynList,
  dynValue,
  encodeDynamic,
  parseDynamic,
  readDynamic,
  readDynamicFromMemory,
} from "../../../formats/elf/dynamic.ts";
import { DT_NEEDED, DT_NULL, DT_SONAME, DT_STRSZ, DT_STRTAB } from "../../../formats/elf/dynamic-tags.ts";
import { ElfFile } from "../../../formats/elf/file.ts";
import { FormatError } from "../../../formats/errors.ts";

const hasReadelf = spawnSync("readelf", ["--version"]).status === 0;
if (!hasReadelf) console.warn("dynamic.test: GNU readelf not found; parity checks skipped");

const FIX = join(import.meta.dirname, "..", "..", "fixtures");
const FILES = [
  "readelf/x86_64/libfull.so",
  "readelf/x86_64/librunpath.so",
  "readelf/x86_64/libfull-noshdr.so",
  "readelf/x86_64/main-pie",
  "readelf/x86_64/main-nopie",
  "readelf/i686/liblib.so",
  "readelf/i686/libtextrel.so",
  "readelf/i686/main-nopie",
  "sframe/v3/s390x/libb.so",
  "sframe/v3/s390x/main",
  "sframe/v1/aarch64/main",
];

interface ReadelfDyn {
  offset: number;
  count: number;
  rows: { tag: bigint; type: string; text: string }[];
}

function readelfDynamic(path: string): ReadelfDyn {
  const out = spawnSync("readelf", ["-W", "-d", path], { encoding: "latin1" }).stdout;
  const head = /Dynamic section at offset 0x([0-9a-f]+) contains (\d+) entr/.exec(out);
  if (!head) throw new Error(`no dynamic section in readelf output for ${path}`);
  const rows = [...out.matchAll(/^ 0x([0-9a-f]+) \(([^)]+)\) *(.*)$/gm)].map((m) => ({
    tag: BigInt(`0x${m[1]}`),
    type: m[2] as string,
    text: m[3] as string,
  }));
  return { offset: Number.parseInt(head[1] as string, 16), count: Number(head[2]), rows };
}

const bracketed = (rows: ReadelfDyn["rows"], label: string) =>
  rows.filter((r) => r.text.startsWith(`${label}: [`)).map((r) => r.text.slice(label.length + 3, -1));

describe.skipIf(!hasReadelf)("readDynamic against readelf -d", () => {
  for (const f of FILES) {
    it(f, () => {
      const path = join(FIX, f);
      const want = readelfDynamic(path);
      const elf = ElfFile.openPath(path);
      try {
        const dyn = readDynamic(elf);
        expect(dyn).toBeDefined();
        if (!dyn) return;
        expect(dyn.offset).toBe(want.offset);
        expect(dyn.entries.length).toBe(want.count);
        expect(dyn.terminated).toBe(true);
        expect(dyn.entries.map((e) => e.tag)).toEqual(want.rows.map((r) => r.tag));
        // Values readelf prints as plain numbers.
        want.rows.forEach((r, i) => {
          const v = dyn.entries[i]?.value;
          const hexm = /^0x([0-9a-f]+)$/.exec(r.text);
          const decm = /^(\d+)( \(bytes\))?$/.exec(r.text);
          if (hexm) expect([r.type, v]).toEqual([r.type, BigInt(`0x${hexm[1]}`)]);
          else if (decm) expect([r.type, v]).toEqual([r.type, BigInt(decm[1] as string)]);
        });

        const decoded = decodeDynamic(dyn.entries);
        expect(decoded.entries.length).toBe(want.count - 1);
        const strings = dynamicStringsFromFile(elf, decoded);
        expect(strings).toBeDefined();
        if (!strings) return;
        const names = dynamicNames(decoded, strings);
        expect(names.needed).toEqual(bracketed(want.rows, "Shared library"));
        expect(names.soname ? [names.soname] : []).toEqual(bracketed(want.rows, "Library soname"));
        expect(names.rpath ? [names.rpath] : []).toEqual(bracketed(want.rows, "Library rpath"));
        expect(names.runpath ? [names.runpath] : []).toEqual(bracketed(want.rows, "Library runpath"));
        expect(names.auxiliary).toEqual(bracketed(want.rows, "Auxiliary library"));
        expect(names.filter).toEqual(bracketed(want.rows, "Filter library"));

        // The loader's path: the same table read from "memory" where the PT_LOADs were mapped.
        const bias = 0x7f1234560000n;
        const loads = elf.programHeaders.filter((p) => p.type === PT_LOAD);
        const read = (addr: bigint, len: number): Uint8Array => {
          const seg = loads.find((p) => addr >= p.vaddr + bias && addr + BigInt(len) <= p.vaddr + bias + p.filesz);
          if (!seg) throw new Error(`unmapped ${addr.toString(16)}`);
          return elf.readBytes(Number(addr - bias - seg.vaddr + seg.offset), len);
        };
        const mem = dynamicStringsFromMemory(read, decoded, bias, f);
        expect(mem && dynamicNames(decoded, mem)).toEqual(names);
      } finally {
        elf.close();
      }
    });
  }
});

/** Build raw dynamic bytes for a class and byte order. */
function dynBytes(is64: boolean, le: boolean, entries: readonly (readonly [bigint, bigint])[], extra = 0): Uint8Array {
  const ent = is64 ? 16 : 8;
  const b = new Uint8Array(entries.length * ent + extra);
  const v = new DataView(b.buffer);
  entries.forEach(([t, x], i) => {
    if (is64) {
      v.setBigUint64(i * ent, t, le);
      v.setBigUint64(i * ent + 8, x, le);
    } else {
      v.setUint32(i * ent, Number(t), le);
      v.setUint32(i * ent + 4, Number(x), le);
    }
  });
  return b;
}

describe("parseDynamic on hand-built bytes", () => {
  for (const is64 of [false, true]) {
    for (const le of [true, false]) {
      it(`ELF${is64 ? 64 : 32} ${le ? "LSB" : "MSB"}: stops after DT_NULL, keeps it, ignores what follows`, () => {
        const bytes = dynBytes(is64, le, [
          [DT_NEEDED, 1n],
          [DT_STRTAB, 0x1234n],
          [DT_NULL, 0n],
          [DT_NEEDED, 99n],
        ]);
        const p = parseDynamic(bytes, is64, le);
        expect(p.terminated).toBe(true);
        expect(p.entries.map((e) => [e.tag, e.value])).toEqual([
          [DT_NEEDED, 1n],
          [DT_STRTAB, 0x1234n],
          [DT_NULL, 0n],
        ]);
      });
      it(`ELF${is64 ? 64 : 32} ${le ? "LSB" : "MSB"}: no DT_NULL, partial trailing entry ignored`, () => {
        const bytes = dynBytes(is64, le, [[DT_SONAME, 5n]], 3);
        const p = parseDynamic(bytes, is64, le);
        expect(p.terminated).toBe(false);
        expect(p.entries.map((e) => [e.tag, e.value])).toEqual([[DT_SONAME, 5n]]);
      });
    }
  }
  it("keeps all 64 bits of d_val", () => {
    const p = parseDynamic(dynBytes(true, true, [[DT_STRTAB, 0xffff_ffff_ffff_fff0n]]), true, true);
    expect(p.entries[0]?.value).toBe(0xffff_ffff_ffff_fff0n);
  });
});

describe("decodeDynamic", () => {
  it("a later entry overrides an earlier one; lists keep every value in order; DT_NULL ends it", () => {
    const p = parseDynamic(
      dynBytes(true, true, [
        [DT_NEEDED, 1n],
        [DT_STRTAB, 0x100n],
        [DT_NEEDED, 7n],
        [DT_STRTAB, 0x200n],
        [DT_NULL, 0n],
      ]),
      true,
      true,
    );
    const d = decodeDynamic(p.entries);
    expect(dynValue(d, DT_STRTAB)).toBe(0x200n);
    expect(dynList(d, DT_NEEDED)).toEqual([1n, 7n]);
    expect(dynList(d, DT_SONAME)).toEqual([]);
    expect(dynValue(d, DT_NULL)).toBeUndefined();
  });
});

describe("typed errors", () => {
  it("a string offset outside DT_STRTAB", () => {
    const t = new DynamicStringTable(new TextEncoder().encode("\0libc.so.6\0"), 0x400n, "x");
    expect(t.get(1n)).toBe("libc.so.6");
    expect(() => t.get(11n)).toThrow(FormatError);
  });
  it("an unterminated string", () => {
    const t = new DynamicStringTable(new TextEncoder().encode("\0abc"), 0n);
    expect(() => t.get(1n)).toThrow(FormatError);
  });
  it("DT_STRTAB outside every PT_LOAD, and DT_STRTAB without DT_STRSZ", () => {
    const elf = ElfFile.openPath(join(FIX, "readelf/x86_64/libfull.so"));
    try {
      const far = decodeDynamic([
        { index: 0, tag: DT_STRTAB, value: 0x7000_0000n },
        { index: 1, tag: DT_STRSZ, value: 16n },
      ]);
      expect(() => dynamicStringsFromFile(elf, far)).toThrow(FormatError);
      const noSize = decodeDynamic([{ index: 0, tag: DT_STRTAB, value: 0x3a8n }]);
      expect(() => dynamicStringsFromFile(elf, noSize)).toThrow(FormatError);
    } finally {
      elf.close();
    }
  });
});

describe("parseDynamic never crashes", () => {
  it("arbitrary bytes: entries bounded by the input, only the last may be DT_NULL", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.boolean(), fc.boolean(), (bytes, is64, le) => {
        const p = parseDynamic(bytes, is64, le);
        expect(p.entries.length).toBeLessThanOrEqual(Math.floor(bytes.length / (is64 ? 16 : 8)));
        p.entries.forEach((e, i) => {
          if (e.tag === DT_NULL) expect(i).toBe(p.entries.length - 1);
        });
        expect(p.terminated).toBe(p.entries.at(-1)?.tag === DT_NULL);
      }),
    );
  });
});

describe("readDynamicFromMemory and encodeDynamic", () => {
  it.skipIf(!hasReadelf)("walks a mapped image's PT_DYNAMIC to DT_NULL and agrees with the file reader", () => {
    for (const f of FILES) {
      const elf = ElfFile.openPath(join(FIX, f));
      try {
        const fromFile = readDynamic(elf);
        const ph = elf.programHeaders.find((p) => p.type === 2);
        if (!fromFile || !ph) continue;
        const bias = 0x5555_0000_0000n;
        const loads = elf.programHeaders.filter((p) => p.type === PT_LOAD);
        const read = (addr: bigint, len: number) => {
          const seg = loads.find((p) => addr >= p.vaddr + bias && addr + BigInt(len) <= p.vaddr + bias + p.filesz);
          if (!seg) throw new FormatError(`unmapped ${addr.toString(16)}`);
          return elf.readBytes(Number(addr - bias - seg.vaddr + seg.offset), len);
        };
        const mem = readDynamicFromMemory(read, ph.vaddr + bias, elf.is64, elf.littleEndian);
        expect(mem.entries).toEqual(fromFile.entries);
      } finally {
        elf.close();
      }
    }
  });
  it("reading a page at a time gives the same entries, and the same fault, as entry by entry", () => {
    // A memory of 3 pages of 256 bytes where only [0, readable) can be read: a read touching past it
    // throws, as readUser faults on an unmapped page. The array starts anywhere and ends anywhere.
    const page = 256;
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.integer({ min: 0, max: 2 * page }),
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 1, max: 3 }),
        (is64, start, count, readablePages) => {
          const ent = is64 ? 16 : 8;
          const entries = [
            ...Array.from({ length: count }, (_, i) => ({ tag: DT_NEEDED, value: BigInt(i) })),
            { tag: DT_NULL, value: 0n },
          ];
          const mem = new Uint8Array(3 * page + 64 * ent);
          mem.set(encodeDynamic(entries, is64, true), start);
          const readable = readablePages * page;
          const touched: number[] = [];
          const read = (addr: bigint, len: number) => {
            const a = Number(addr);
            touched.push(a + len);
            if (a + len > readable) throw new FormatError(`fault at ${a}`);
            return mem.slice(a, a + len);
          };
          const one = (granule: number | undefined) => {
            try {
              const r = readDynamicFromMemory(read, BigInt(start), is64, true, granule ? { granule } : {});
              return { entries: r.entries };
            } catch (e) {
              return { fault: (e as Error).message.startsWith("fault") };
            }
          };
          const byEntry = one(undefined);
          const maxByEntry = Math.max(...touched);
          touched.length = 0;
          const byPage = one(page);
          expect(byPage).toEqual(byEntry);
          // Never a page further than the entry-by-entry walk went.
          expect(Math.ceil(Math.max(...touched) / page)).toBeLessThanOrEqual(Math.ceil(maxByEntry / page));
        },
      ),
    );
  });
  it("strings read from memory where asked equal the whole-table reader's, errors included", () => {
    const elf = ElfFile.openPath(join(FIX, "readelf/x86_64/libfull.so"));
    try {
      const d = decodeDynamic(readDynamic(elf)?.entries ?? []);
      const table = dynamicStringsFromFile(elf, d);
      expect(table).toBeDefined();
      if (!table) return;
      const base = 0x7000_0000n;
      let reads = 0;
      const read = (addr: bigint, len: number) => {
        reads++;
        const off = Number(addr - base);
        if (off < 0 || off + len > table.bytes.length) throw new FormatError("outside the table");
        return table.bytes.slice(off, off + len);
      };
      const lazy = dynamicStringsFromMemory(read, d, base - (dynValue(d, DT_STRTAB) ?? 0n), elf.name, 64);
      expect(lazy).toBeDefined();
      if (!lazy) return;
      expect(reads).toBe(0);
      const outcome = (t: { get(o: bigint): string }, o: bigint) => {
        try {
          return t.get(o);
        } catch (e) {
          return e instanceof FormatError ? `FormatError ${e.message}` : "other";
        }
      };
      for (let o = -1; o <= table.bytes.length + 1; o++) {
        expect(outcome(lazy, BigInt(o))).toBe(outcome(table, BigInt(o)));
      }
      expect(dynamicNames(d, lazy)).toEqual(dynamicNames(d, table));
    } finally {
      elf.close();
    }
  });
  it("a walk with no DT_NULL stops at maxEntries with a FormatError", () => {
    const ones = encodeDynamic(
      Array.from({ length: 8 }, () => ({ tag: DT_NEEDED, value: 1n })),
      true,
      true,
    );
    const read = (addr: bigint, len: number) => ones.subarray(Number(addr), Number(addr) + len);
    expect(() => readDynamicFromMemory(read, 0n, true, true, { maxEntries: 8 })).toThrow(FormatError);
  });
  it("encode then parse gives the entries back, both classes and byte orders", () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.tuple(fc.bigInt({ min: 1n, max: 0xffffffffn }), fc.bigInt({ min: 0n, max: 0xffffffffn })), {
          maxLength: 20,
        }),
        (is64, le, pairs) => {
          const entries = [...pairs.map(([tag, value]) => ({ tag, value })), { tag: DT_NULL, value: 0n }];
          const p = parseDynamic(encodeDynamic(entries, is64, le), is64, le);
          expect(p.entries.map(({ tag, value }) => ({ tag, value }))).toEqual(entries);
        },
      ),
    );
  });
  it("a value wider than the class is refused", () => {
    expect(() => encodeDynamic([{ tag: DT_NEEDED, value: 1n << 32n }], false, true)).toThrow(FormatError);
  });
});
