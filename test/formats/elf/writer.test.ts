/**
 * The ELF writer, judged by the real tools: GNU readelf must accept every output without a warning
 * and report the headers, dynamic entries, symbols, versions and relocations that were asked for;
 * GNU ld must link a written relocatable object; the kernel and glibc's ld.so must load written
 * executables and libraries (x86_64 hosts). Then the same files go through ldsim's own readers.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  EM_386,
  EM_AARCH64,
  EM_S390,
  EM_X86_64,
  PT_GNU_RELRO,
  PT_LOAD,
  SHT_NOTE,
} from "../../../formats/elf/constants.ts";
import { decodeDynamic, dynamicNames, dynamicStringsFromFile, readDynamic } from "../../../formats/elf/dynamic.ts";
import { ElfFile } from "../../../formats/elf/file.ts";
import { hashLookup, hashTables } from "../../../formats/elf/hash-table.ts";
import { buildIdHex, fileNotes } from "../../../formats/elf/notes.ts";
import { sectionRelocations, sectionRelr } from "../../../formats/elf/relocations.ts";
import { dynamicSymbols, staticSymbols } from "../../../formats/elf/symbols.ts";
import { symbolVersioning } from "../../../formats/elf/versions.ts";
import { writeElf } from "../../../formats/elf/writer.ts";
import { buildExecutable, buildSharedLibrary, type SharedLibrarySpec } from "../../../formats/elf/writer-library.ts";

const has = (cmd: string, ...args: string[]) => spawnSync(cmd, args, { stdio: "ignore" }).status === 0;
const hasReadelf = has("readelf", "--version");
const isX86Host = process.arch === "x64" && process.platform === "linux";
const hasLd = has("ld", "--version");
const hasLd32 = has("i686-linux-gnu-ld", "--version");
const hasLdd = isX86Host && has("ldd", "--version");
const hasPython = isX86Host && has("python3", "-c", "import ctypes");
if (!hasReadelf) console.log("writer.test: GNU readelf not found; readelf parity tests skipped");
if (!isX86Host) console.log("writer.test: not an x86_64 Linux host; loader/kernel tests skipped");
if (isX86Host && !hasPython) console.log("writer.test: python3 with ctypes not found; dlopen tests skipped");
if (!hasLd) console.log("writer.test: GNU ld not found; ET_REL link test skipped");
if (!hasLd32) console.log("writer.test: i686-linux-gnu-ld (gcc-i686-linux-gnu) not found; ELF32 link test skipped");
if (isX86Host && !hasLdd) console.log("writer.test: ldd not found; NEEDED-chain test skipped");

const tmp = mkdtempSync(join(tmpdir(), "ldsim-writer-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function save(name: string, bytes: Uint8Array, mode = 0o644): string {
  const p = join(tmp, name);
  mkdirSync(join(p, ".."), { recursive: true });
  writeFileSync(p, bytes);
  chmodSync(p, mode);
  return p;
}

/** Run GNU readelf; any stderr output (a warning or error) fails the test. */
function readelf(path: string, ...flags: string[]): string {
  const r = spawnSync("readelf", ["-W", ...flags, path], { encoding: "utf8" });
  expect(r.stderr, `readelf ${flags.join(" ")} ${path}`).toBe("");
  expect(r.status).toBe(0);
  return r.stdout;
}

/** The Name column of `readelf --dyn-syms` / `-s` (version suffixes included), by table. */
function symbolNames(text: string, table: string): string[] {
  const start = text.indexOf(`Symbol table '${table}'`);
  if (start < 0) return [];
  const out: string[] = [];
  for (const line of text.slice(start).split("\n").slice(2)) {
    const m = /^\s+\d+: \S+\s+\d+ \S+\s+\S+\s+\S+\s+\S+ ?(.*)$/.exec(line);
    if (!m) break;
    out.push((m[1] ?? "").trim());
  }
  return out;
}

const fooCode = Uint8Array.of(0xb8, 42, 0, 0, 0, 0xc3); // mov $42,%eax; ret

/** The library most tests use: every feature of the shared-library builder at once. */
const fooSpec: SharedLibrarySpec = {
  soname: "libfoo.so",
  needed: ["libbar.so", "libc.so.6"],
  runpath: "$ORIGIN",
  functions: [
    { name: "foo", code: fooCode, version: "FOO_1" },
    { name: "foo_old", version: "FOO_0", hidden: true },
    { name: "foo_init" },
    { name: "foo_local", bind: "local" },
  ],
  data: [
    { name: "foo_counter", bytes: Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0) },
    { name: "foo_table", size: 64 },
    { name: "foo_ro", readonly: true, bytes: Uint8Array.of(1, 2, 3, 4) },
  ],
  imports: [{ name: "bar", version: "BAR_1" }, "puts"],
  importedData: ["environ"],
  initArray: ["foo_init"],
  sframe: new Uint8Array(40),
  versions: {
    definitions: [{ name: "FOO_0" }, { name: "FOO_1", parent: "FOO_0" }],
    needs: [{ file: "libbar.so", versions: [{ name: "BAR_1" }] }],
  },
};

const barSpec: SharedLibrarySpec = {
  soname: "libbar.so",
  needed: ["libc.so.6"],
  functions: [{ name: "bar", version: "BAR_1" }],
  versions: { definitions: [{ name: "BAR_1" }] },
};

interface Target {
  readonly label: string;
  readonly class: 32 | 64;
  readonly endian: "little" | "big";
  readonly machine: number;
  readonly classText: string;
  readonly dataText: string;
  readonly machineText: string;
  readonly relocs: readonly string[];
}

const targets: readonly Target[] = [
  {
    label: "x86_64",
    class: 64,
    endian: "little",
    machine: EM_X86_64,
    classText: "ELF64",
    dataText: "little endian",
    machineText: "Advanced Micro Devices X86-64",
    relocs: ["R_X86_64_RELATIVE", "R_X86_64_GLOB_DAT", "R_X86_64_JUMP_SLOT"],
  },
  {
    label: "i386",
    class: 32,
    endian: "little",
    machine: EM_386,
    classText: "ELF32",
    dataText: "little endian",
    machineText: "Intel 80386",
    relocs: ["R_386_RELATIVE", "R_386_GLOB_DAT", "R_386_JUMP_SLOT"],
  },
  {
    label: "aarch64",
    class: 64,
    endian: "little",
    machine: EM_AARCH64,
    classText: "ELF64",
    dataText: "little endian",
    machineText: "AArch64",
    relocs: ["R_AARCH64_RELATIVE", "R_AARCH64_GLOB_DAT", "R_AARCH64_JUMP_SLOT"],
  },
  {
    label: "s390x",
    class: 64,
    endian: "big",
    machine: EM_S390,
    classText: "ELF64",
    dataText: "big endian",
    machineText: "IBM S/390",
    relocs: ["R_390_RELATIVE", "R_390_GLOB_DAT", "R_390_JMP_SLOT"],
  },
  {
    label: "s390 (ELF32 big endian)",
    class: 32,
    endian: "big",
    machine: EM_S390,
    classText: "ELF32",
    dataText: "big endian",
    machineText: "IBM S/390",
    relocs: ["R_390_RELATIVE", "R_390_GLOB_DAT", "R_390_JMP_SLOT"],
  },
];

describe.skipIf(!hasReadelf)("ELF writer → GNU readelf", () => {
  it.each(targets)("$label shared library: accepted without warnings, reports what was asked", (t) => {
    const spec = { ...fooSpec, class: t.class, endian: t.endian, machine: t.machine };
    // Machine code only makes sense on x86; elsewhere keep the default stubs.
    const functions =
      t.machine === EM_X86_64 || t.machine === EM_386
        ? spec.functions
        : fooSpec.functions?.map(({ code: _c, ...f }) => f);
    const path = save(
      `${t.label}/libfoo.so`,
      buildSharedLibrary({ ...spec, ...(functions ? { functions } : {}) }).bytes,
    );
    const all = readelf(path, "-a");
    expect(all).toMatch(new RegExp(`Class:\\s+${t.classText}`));
    expect(all).toContain(t.dataText);
    expect(all).toMatch(/Type:\s+DYN \(Shared object file\)/);
    expect(all).toMatch(new RegExp(`Machine:\\s+${t.machineText.replace(/[()]/g, "\\$&")}`));

    const dyn = readelf(path, "-d");
    expect(dyn).toMatch(/\(NEEDED\)\s+Shared library: \[libbar\.so\]/);
    expect(dyn).toMatch(/\(NEEDED\)\s+Shared library: \[libc\.so\.6\]/);
    expect(dyn).toMatch(/\(SONAME\)\s+Library soname: \[libfoo\.so\]/);
    expect(dyn).toMatch(/\(RUNPATH\)\s+Library runpath: \[\$ORIGIN\]/);
    for (const tag of ["GNU_HASH", "HASH", "STRTAB", "SYMTAB", "STRSZ", "SYMENT", "INIT_ARRAY", "PLTGOT", "JMPREL"]) {
      expect(dyn).toContain(`(${tag})`);
    }
    for (const tag of ["VERDEF", "VERDEFNUM", "VERNEED", "VERNEEDNUM", "VERSYM"]) expect(dyn).toContain(`(${tag})`);
    expect(dyn).toContain(t.machine === EM_386 ? "(REL)" : "(RELA)");

    const dynsyms = symbolNames(readelf(path, "--dyn-syms"), ".dynsym");
    expect(dynsyms.slice().sort()).toEqual(
      [
        "",
        "environ",
        "bar@BAR_1 (4)",
        "puts",
        "foo@@FOO_1",
        "foo_old@FOO_0",
        "foo_init",
        "foo_counter",
        "foo_table",
        "foo_ro",
      ].sort(),
    );
    // -D finds the symbols through DT_HASH/DT_GNU_HASH rather than the section headers.
    expect(symbolNames(readelf(path, "-D", "--dyn-syms"), ".dynsym").sort()).toEqual(dynsyms.slice().sort());
    const symtab = symbolNames(readelf(path, "-s"), ".symtab");
    expect(symtab).toContain("foo_local");
    expect(symtab.indexOf("foo_local")).toBeLessThan(symtab.indexOf("foo"));

    const versions = readelf(path, "-V");
    expect(versions).toMatch(/Flags: BASE\s+Index: 1\s+Cnt: 1\s+Name: libfoo\.so/);
    expect(versions).toMatch(/Index: 2\s+Cnt: 1\s+Name: FOO_0/);
    expect(versions).toMatch(/Index: 3\s+Cnt: 2\s+Name: FOO_1/);
    expect(versions).toMatch(/Parent 1: FOO_0/);
    expect(versions).toMatch(/File: libbar\.so\s+Cnt: 1/);
    expect(versions).toMatch(/Name: BAR_1\s+Flags: none\s+Version: 4/);

    const relocs = readelf(path, "-r");
    for (const r of t.relocs) expect(relocs).toContain(r);

    const phdrs = readelf(path, "-l");
    for (const p of ["LOAD", "DYNAMIC", "GNU_SFRAME", "GNU_STACK", "GNU_RELRO"]) expect(phdrs).toContain(` ${p} `);
  });

  it("position-independent and fixed-address executables carry PHDR, INTERP and DEBUG", () => {
    for (const pie of [true, false]) {
      const path = save(
        `exe-${pie}`,
        buildExecutable({ pie, needed: ["libc.so.6"], functions: [{ name: "_start" }] }).bytes,
      );
      const h = readelf(path, "-h", "-l", "-d");
      expect(h).toMatch(pie ? /Type:\s+DYN/ : /Type:\s+EXEC \(Executable file\)/);
      expect(h).toContain("[Requesting program interpreter: /lib64/ld-linux-x86-64.so.2]");
      expect(h).toMatch(/^\s+PHDR\s+0x000040/m);
      expect(h).toContain("(DEBUG)");
      expect(h).toMatch(pie ? /\(FLAGS_1\)\s+Flags: PIE/ : /Entry point address:\s+0x4/);
    }
  });

  it("RELR: readelf decodes exactly the addresses given, ELF64 and ELF32", () => {
    for (const cls of [64, 32] as const) {
      const word = cls / 8;
      const offsets = [0, 1, 2, 8, 62, 63, 64, 200].map((i) => i * word);
      const image = writeElf({
        class: cls,
        machine: cls === 64 ? EM_X86_64 : EM_386,
        type: "dyn",
        sections: [{ name: ".data", flags: "wa", align: word, data: new Uint8Array(256 * word) }],
        dynamic: {
          soname: "librelr.so",
          symbols: [{ name: "d", section: ".data", type: "object", size: word }],
          relr: offsets.map((offset) => ({ section: ".data", offset })),
        },
      });
      const path = save(`relr${cls}.so`, image);
      const out = readelf(path, "-r", "-d");
      const data = ElfFile.fromBytes(image).section(".data");
      const expected = offsets.map((o) => (data?.addr ?? 0n) + BigInt(o));
      const listed = [...out.matchAll(/^([0-9a-f]{8,16})$/gm)].map((m) => BigInt(`0x${m[1]}`));
      expect(listed).toEqual(expected);
      expect(out).toMatch(/\(RELR\)/);
      expect(out).toMatch(new RegExp(`\\(RELRENT\\)\\s+${word} \\(bytes\\)`));
    }
  });

  it.skipIf(!hasLd)("GNU ld links a written relocatable object (ET_REL with .rela.text)", () => {
    const obj = writeElf({
      type: "rel",
      sections: [
        { name: ".text", flags: "ax", align: 16, data: Uint8Array.of(0xe8, 0, 0, 0, 0, 0xc3) },
        { name: ".data", flags: "wa", align: 8, data: new Uint8Array(8) },
      ],
      symbols: [
        { name: "obj.c", type: "file", bind: "local", shndx: "abs" },
        { name: "caller", section: ".text", size: 6, type: "func" },
        { name: "callee", type: "func" },
        { name: "ptr", section: ".data", size: 8, type: "object" },
      ],
      relocationSections: [
        { target: ".text", relocations: [{ at: 1n, type: 4 /* R_X86_64_PLT32 */, symbol: "callee", addend: -4n }] },
        { target: ".data", relocations: [{ at: 0n, type: "abs", symbol: "caller" }] },
      ],
    });
    const o = save("obj.o", obj);
    const text = readelf(o, "-a");
    expect(text).toMatch(/Type:\s+REL \(Relocatable file\)/);
    expect(text).toMatch(/R_X86_64_PLT32\s+0+ callee - 4/);
    expect(text).toMatch(/R_X86_64_64\s+0+ caller \+ 0/);
    const so = join(tmp, "objlinked.so");
    const r = spawnSync("ld", ["-shared", "-o", so, o], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const linked = readelf(so, "-r", "--dyn-syms");
    expect(linked).toMatch(/R_X86_64_JUMP_SLOT\s+0+ callee \+ 0/);
    expect(linked).toMatch(/R_X86_64_64\s+[0-9a-f]+ caller \+ 0/);
  });

  it("a note section gets PT_NOTE; readelf -n and ldsim's note reader both see the build id", () => {
    const id = Uint8Array.from({ length: 20 }, (_, i) => i * 13 + 1);
    const note = new Uint8Array(16 + 20);
    const v = new DataView(note.buffer);
    v.setUint32(0, 4, true);
    v.setUint32(4, 20, true);
    v.setUint32(8, 3, true); // NT_GNU_BUILD_ID
    note.set([0x47, 0x4e, 0x55, 0], 12);
    note.set(id, 16);
    const image = buildSharedLibrary({
      soname: "libnote.so",
      functions: [{ name: "f" }],
      sections: [{ name: ".note.gnu.build-id", type: SHT_NOTE, flags: "a", align: 4, data: note }],
    });
    const path = save("libnote.so", image.bytes);
    const hexId = Buffer.from(id).toString("hex");
    expect(readelf(path, "-n")).toContain(`Build ID: ${hexId}`);
    expect(readelf(path, "-l")).toMatch(/^\s+NOTE\s/m);
    const notes = fileNotes(ElfFile.fromBytes(image.bytes)).flatMap((g) => g.notes);
    expect(notes.map(buildIdHex)).toEqual([hexId]);
  });

  it.skipIf(!hasLd32)("ELF32 REL object: implicit addends land in the section, i686 ld links it", () => {
    const obj = writeElf({
      class: 32,
      machine: EM_386,
      type: "rel",
      sections: [{ name: ".text", flags: "ax", align: 16, data: Uint8Array.of(0xe8, 0, 0, 0, 0, 0xc3) }],
      symbols: [
        { name: "caller", section: ".text", size: 6, type: "func" },
        { name: "callee", type: "func" },
      ],
      relocationSections: [
        { target: ".text", relocations: [{ at: 1n, type: 4 /* R_386_PLT32 */, symbol: "callee", addend: -4n }] },
      ],
    });
    const text = ElfFile.fromBytes(obj).section(".text");
    expect([...obj.subarray(Number(text?.offset) + 1, Number(text?.offset) + 5)]).toEqual([0xfc, 0xff, 0xff, 0xff]);
    const o = save("obj32.o", obj);
    expect(readelf(o, "-r")).toMatch(/Relocation section '\.rel\.text'[\s\S]*R_386_PLT32\s+0+\s+callee/);
    const r = spawnSync("i686-linux-gnu-ld", ["-shared", "-o", join(tmp, "obj32.so"), o], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("output is deterministic", () => {
    expect(buildSharedLibrary(fooSpec).bytes).toEqual(buildSharedLibrary(fooSpec).bytes);
  });
});

describe("ELF writer → ldsim readers", () => {
  it.each(targets)("$label: headers, segments, dynamic names, hash lookups, versions, relocations", (t) => {
    const image = buildSharedLibrary({ ...fooSpec, class: t.class, endian: t.endian, machine: t.machine });
    const elf = ElfFile.fromBytes(image.bytes, "libfoo.so");
    expect(elf.is64).toBe(t.class === 64);
    expect(elf.littleEndian).toBe(t.endian === "little");
    expect(elf.header.machine).toBe(t.machine);
    // Every PT_LOAD: offset ≡ vaddr (mod p_align), as glibc _dl_map_segments requires.
    const loads = elf.programHeaders.filter((p) => p.type === PT_LOAD);
    expect(loads).toHaveLength(3);
    for (const p of loads) expect((p.vaddr - p.offset) % p.align).toBe(0n);

    const dyn = readDynamic(elf);
    if (!dyn) throw new Error("no dynamic section");
    const decoded = decodeDynamic(dyn.entries);
    const strings = dynamicStringsFromFile(elf, decoded);
    if (!strings) throw new Error("no DT_STRTAB");
    const names = dynamicNames(decoded, strings);
    expect(names.needed).toEqual(["libbar.so", "libc.so.6"]);
    expect(names.soname).toBe("libfoo.so");
    expect(names.runpath).toBe("$ORIGIN");

    const syms = dynamicSymbols(elf);
    if (!syms) throw new Error("no .dynsym");
    const tables = hashTables(elf);
    const versioning = symbolVersioning(elf);
    for (const name of ["foo", "foo_old", "foo_init", "foo_counter", "foo_table", "foo_ro"]) {
      // 64-bit s390 DT_HASH has 8-byte entries (GNU readelf's hash_ent_size; its -I histogram of
      // this file checks them); formats/elf/hash-table.ts reads them so.
      for (const table of [tables.gnu, tables.sysv]) {
        if (!table) throw new Error("missing hash table");
        const idx = hashLookup(table, name, (i) => syms.name(i) === name);
        expect(idx, `${table.kind} lookup of ${name}`).toBeDefined();
        expect(syms.symbol(idx ?? 0).value).toBe(image.symbolValue(name));
      }
    }
    for (const table of [tables.gnu, tables.sysv]) {
      if (table) expect(hashLookup(table, "missing", (i) => syms.name(i) === "missing")).toBeUndefined();
    }
    const versionOf = (name: string) => {
      for (let i = 0; i < syms.count; i++) if (syms.name(i) === name) return versioning?.versionOf(i);
      return undefined;
    };
    expect(versionOf("foo")?.entry?.name).toBe("FOO_1");
    expect(versionOf("foo_old")).toMatchObject({ hidden: true, entry: { name: "FOO_0" } });
    expect(versionOf("bar")?.entry).toMatchObject({ name: "BAR_1", kind: "need", file: "libbar.so" });

    const relocs = elf.sections.filter((s) => s.name.startsWith(".rel")).flatMap((s) => sectionRelocations(elf, s));
    expect(relocs).toHaveLength(4); // init_array relative, environ glob-dat, bar + puts jump slots
    expect(staticSymbols(elf)?.count).toBe(8);
  });

  it("RELR round trip through the ldsim decoder", () => {
    const offsets = [0, 8, 16, 24, 512, 520, 4096];
    const image = writeElf({
      type: "dyn",
      sections: [{ name: ".data", flags: "wa", align: 8, data: new Uint8Array(8192) }],
      dynamic: { relr: offsets.map((offset) => ({ section: ".data", offset })) },
    });
    const elf = ElfFile.fromBytes(image);
    const sec = elf.section(".relr.dyn");
    const data = elf.section(".data");
    if (!sec || !data) throw new Error("missing sections");
    expect(sectionRelr(elf, sec)).toEqual(offsets.map((o) => data.addr + BigInt(o)));
  });
});

describe.skipIf(!isX86Host)("ELF writer → kernel and glibc ld.so (x86_64 host)", () => {
  it("a written PIE and a fixed-address executable run and exit with the status their code sets", () => {
    const exitWith = (n: number) => Uint8Array.of(0xbf, n, 0, 0, 0, 0xb8, 60, 0, 0, 0, 0x0f, 0x05); // exit(n)
    for (const [pie, status] of [
      [true, 7],
      [false, 9],
    ] as const) {
      const exe = buildExecutable({
        pie,
        needed: ["libc.so.6"],
        functions: [{ name: "_start", code: exitWith(status) }],
      });
      const path = save(`run-${pie}`, exe.bytes, 0o755);
      expect(spawnSync(path).status).toBe(status);
    }
  });

  it.skipIf(!hasLdd)("ldd resolves a NEEDED chain through RUNPATH $ORIGIN", () => {
    const dir = join(tmp, "chain");
    save("chain/libfoo.so", buildSharedLibrary(fooSpec).bytes);
    save("chain/libbar.so", buildSharedLibrary(barSpec).bytes);
    const r = spawnSync("ldd", [join(dir, "libfoo.so")], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`libbar.so => ${dir}/libbar.so`);
    expect(r.stdout).toMatch(/libc\.so\.6 => \S+libc\.so\.6/);
  });

  it.skipIf(!hasPython)("dlopen + dlsym + call through GNU-hash-only and SysV-hash-only libraries", () => {
    for (const hashStyle of ["gnu", "sysv"] as const) {
      const dir = join(tmp, `dl-${hashStyle}`);
      save(`dl-${hashStyle}/libfoo.so`, buildSharedLibrary({ ...fooSpec, hashStyle }).bytes);
      save(`dl-${hashStyle}/libbar.so`, buildSharedLibrary({ ...barSpec, hashStyle }).bytes);
      const py = `import ctypes; l = ctypes.CDLL("${dir}/libfoo.so"); print(l.foo(), ctypes.c_long.in_dll(l, "foo_counter").value)`;
      const r = spawnSync("python3", ["-c", py], { encoding: "utf8" });
      expect(r.stderr).toBe("");
      expect(r.stdout.trim()).toBe("42 1");
    }
  });

  it.skipIf(!hasPython)("ld.so write-protects the RELRO region, which ends on a page boundary", () => {
    const image = buildSharedLibrary({
      soname: "librelro.so",
      needed: ["libc.so.6"],
      functions: [{ name: "f", code: fooCode }],
      data: [{ name: "d", bytes: new Uint8Array(8) }],
      imports: ["puts"],
      importedData: ["environ"],
      initArray: ["f"],
    });
    const elf = ElfFile.fromBytes(image.bytes);
    const relro = elf.programHeaders.find((p) => p.type === PT_GNU_RELRO);
    if (!relro) throw new Error("no PT_GNU_RELRO");
    expect((relro.vaddr + relro.memsz) % 0x1000n).toBe(0n);
    const path = save("relro/librelro.so", image.bytes);
    const py = `import ctypes; ctypes.CDLL("${path}"); print(open("/proc/self/maps").read())`;
    const r = spawnSync("python3", ["-c", py], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    const maps = r.stdout
      .split("\n")
      .filter((l) => l.endsWith(path))
      .map((l) => {
        const [range, perms] = l.split(" ");
        const [start, end] = (range ?? "").split("-").map((x) => BigInt(`0x${x}`));
        return { start: start ?? 0n, end: end ?? 0n, perms };
      });
    const base = maps[0]?.start ?? 0n;
    const page = (relro.vaddr / 0x1000n) * 0x1000n;
    const covering = maps.find((m) => m.start <= base + page && base + page < m.end);
    expect(covering?.perms).toBe("r--p");
    expect(maps.some((m) => m.perms === "rw-p")).toBe(true);
  });

  it.skipIf(!hasPython)("BIND_NOW: ld.so resolves every import at load time, and reports a missing one", () => {
    const ok = save(
      "now/libok.so",
      buildSharedLibrary({
        soname: "libok.so",
        needed: ["libc.so.6"],
        imports: ["puts"],
        bindNow: true,
        functions: [{ name: "f", code: fooCode }],
      }).bytes,
    );
    const bad = save(
      "now/libbad.so",
      buildSharedLibrary({ soname: "libbad.so", imports: ["no_such_function"], bindNow: true }).bytes,
    );
    const run = (p: string) =>
      spawnSync("python3", ["-c", `import ctypes; print(ctypes.CDLL("${p}").f())`], { encoding: "utf8" });
    expect(run(ok).stdout.trim()).toBe("42");
    expect(run(bad).stderr).toContain("undefined symbol: no_such_function");
  });
});
