/**
 * Convenience builders over `writeElf` for the synthetic objects tests, the loader and the examples
 * need: a shared library with some functions and data, a NEEDED chain and a RUNPATH, or a dynamic
 * executable. They produce what GNU ld would for the same symbols, minus code: each function is a
 * stub that returns 0 (or the bytes given), each import a .got.plt slot with a jump-slot relocation.
 */
import { EM_386, EM_AARCH64, EM_S390, EM_X86_64, SHT_GNU_SFRAME, SHT_NOBITS } from "./constants.ts";
import { assembleElf } from "./writer.ts";
import type {
  DynamicSymbolSpec,
  ElfImage,
  RelocationSpec,
  SectionSpec,
  SymbolSpec,
  VersionSpec,
} from "./writer-types.ts";

export interface FunctionSpec {
  readonly name: string;
  /** st_size (default: the code's length, or 16). */
  readonly size?: number;
  /** Machine code; default a stub returning 0, padded with traps. */
  readonly code?: Uint8Array;
  readonly bind?: "global" | "weak" | "local";
  readonly visibility?: "default" | "hidden" | "protected";
  /** Version definition this symbol belongs to (must be listed in `versions.definitions`). */
  readonly version?: string;
  /** Non-default version (`name@VER`). */
  readonly hidden?: boolean;
}

export interface DataSpec {
  readonly name: string;
  /** Initial contents; a symbol with neither bytes nor `readonly` goes to .bss when it has only a size. */
  readonly bytes?: Uint8Array;
  readonly size?: number;
  readonly readonly?: boolean;
  readonly bind?: "global" | "weak" | "local";
  readonly version?: string;
}

export interface ImportSpec {
  readonly name: string;
  /** Needed version (must be listed in `versions.needs`). */
  readonly version?: string;
  readonly weak?: boolean;
}

export interface TargetSpec {
  readonly class?: 32 | 64;
  readonly endian?: "little" | "big";
  readonly machine?: number;
  readonly pageSize?: number;
}

export interface ObjectSpec extends TargetSpec {
  readonly needed?: readonly string[];
  readonly runpath?: string;
  readonly rpath?: string;
  readonly functions?: readonly FunctionSpec[];
  readonly data?: readonly DataSpec[];
  /** Functions called through .got.plt (jump-slot relocations, DT_JMPREL). */
  readonly imports?: readonly (string | ImportSpec)[];
  /** Data referenced through .got (glob-dat relocations). */
  readonly importedData?: readonly (string | ImportSpec)[];
  /** Contents of an allocated `.sframe` section (gets PT_GNU_SFRAME). */
  readonly sframe?: Uint8Array;
  /** Constructors (function names), in DT_INIT_ARRAY. */
  readonly initArray?: readonly string[];
  readonly versions?: VersionSpec;
  readonly hashStyle?: "gnu" | "sysv" | "both";
  /** DF_BIND_NOW + DF_1_NOW, and .got.plt becomes part of RELRO (ld -z now). */
  readonly bindNow?: boolean;
  readonly flags?: number;
  readonly flags1?: number;
  /** Emit .symtab/.strtab too (default true, as an unstripped link). */
  readonly symtab?: boolean;
  /** Extra sections (e.g. notes, a custom .sframe with other flags). */
  readonly sections?: readonly SectionSpec[];
}

export interface SharedLibrarySpec extends ObjectSpec {
  readonly soname: string;
}

export interface ExecutableSpec extends ObjectSpec {
  /** Program interpreter (default: the machine's glibc ld.so path). */
  readonly interp?: string;
  /** Entry point symbol (default: the first function). */
  readonly entry?: string;
  /** Position-independent executable (ET_DYN with PT_INTERP), the default; false gives ET_EXEC. */
  readonly pie?: boolean;
}

const DF_BIND_NOW = 0x8;
const DF_1_NOW = 0x1;
const DF_1_PIE = 0x08000000;

/** glibc's ld.so path per machine (`sysdeps/unix/sysv/linux/<arch>/ldconfig.h`). */
export function defaultInterpreter(machine: number, is64: boolean): string {
  switch (machine) {
    case EM_X86_64:
      return "/lib64/ld-linux-x86-64.so.2";
    case EM_386:
      return "/lib/ld-linux.so.2";
    case EM_AARCH64:
      return "/lib/ld-linux-aarch64.so.1";
    case EM_S390:
      return is64 ? "/lib/ld64.so.1" : "/lib/ld.so.1";
    default:
      return "/lib/ld.so";
  }
}

/** A stub returning 0 for the machine (byte order matters only where instructions are words). */
export function returnZeroStub(machine: number, littleEndian: boolean): Uint8Array {
  switch (machine) {
    case EM_X86_64:
    case EM_386:
      return Uint8Array.of(0x31, 0xc0, 0xc3); // xor %eax,%eax; ret
    case EM_AARCH64: {
      const words = [0x52800000, 0xd65f03c0]; // mov w0, #0; ret
      const out = new Uint8Array(8);
      const v = new DataView(out.buffer);
      words.forEach((w, i) => {
        v.setUint32(i * 4, w, littleEndian);
      });
      return out;
    }
    case EM_S390:
      return Uint8Array.of(0xa7, 0x29, 0x00, 0x00, 0x07, 0xfe); // lghi %r2,0; br %r14
    default:
      return new Uint8Array(0);
  }
}

function trapByte(machine: number): number {
  return machine === EM_X86_64 || machine === EM_386 ? 0xcc : 0;
}

/**
 * Build a shared library (ET_DYN with DT_SONAME).
 *
 * ```ts
 * const foo = buildSharedLibrary({
 *   soname: "libfoo.so",
 *   needed: ["libbar.so", "libc.so.6"],
 *   runpath: "$ORIGIN",
 *   functions: [{ name: "foo", size: 32 }, { name: "foo_init" }],
 *   data: [{ name: "foo_counter", bytes: new Uint8Array(8) }],
 *   imports: ["bar"],
 *   initArray: ["foo_init"],
 *   sframe: sframeSectionBytes,
 * });
 * writeFileSync("libfoo.so", foo.bytes); // foo.symbolValue("foo") is its st_value
 * ```
 */
export function buildSharedLibrary(spec: SharedLibrarySpec): ElfImage {
  return buildObject(spec, { kind: "dyn", soname: spec.soname });
}

/** Build a dynamic executable (PIE by default) that ld.so can start. */
export function buildExecutable(spec: ExecutableSpec): ElfImage {
  const machine = spec.machine ?? EM_X86_64;
  const is64 = (spec.class ?? 64) === 64;
  const pie = spec.pie ?? true;
  const entry = spec.entry ?? spec.functions?.[0]?.name;
  return buildObject(spec, {
    kind: pie ? "dyn" : "exec",
    interp: spec.interp ?? defaultInterpreter(machine, is64),
    ...(entry === undefined ? {} : { entry }),
    pie,
  });
}

interface Shape {
  kind: "dyn" | "exec";
  soname?: string;
  interp?: string;
  entry?: string;
  pie?: boolean;
}

function buildObject(spec: ObjectSpec, shape: Shape): ElfImage {
  const machine = spec.machine ?? EM_X86_64;
  const is64 = (spec.class ?? 64) === 64;
  const le = (spec.endian ?? "little") === "little";
  const w = is64 ? 8 : 4;
  const sections: SectionSpec[] = [];
  const dynsyms: DynamicSymbolSpec[] = [];
  const symtab: SymbolSpec[] = [];
  const define = (s: DynamicSymbolSpec) => {
    if (s.bind !== "local") dynsyms.push(s);
    const { version: _v, hidden: _h, ...plain } = s;
    symtab.push(plain);
  };

  // .text: functions back to back, 16-byte aligned like gcc's -falign-functions default.
  const text: Uint8Array[] = [];
  let textSize = 0;
  for (const f of spec.functions ?? []) {
    const code = f.code ?? returnZeroStub(machine, le);
    const size = f.size ?? (f.code ? f.code.length : 16);
    const start = Math.ceil(textSize / 16) * 16;
    const body = new Uint8Array(Math.max(size, code.length)).fill(trapByte(machine));
    body.set(code);
    if (start > textSize) text.push(new Uint8Array(start - textSize).fill(trapByte(machine)));
    text.push(body);
    textSize = start + body.length;
    define({
      name: f.name,
      section: ".text",
      offset: start,
      size,
      type: "func",
      bind: f.bind ?? "global",
      visibility: f.visibility ?? "default",
      ...(f.version === undefined ? {} : { version: f.version }),
      ...(f.hidden ? { hidden: true } : {}),
    });
  }
  if (textSize > 0) sections.push({ name: ".text", flags: "ax", align: 16, data: concat(text, textSize) });

  if (spec.sframe) sections.push({ name: ".sframe", type: SHT_GNU_SFRAME, flags: "a", align: 8, data: spec.sframe });

  // Imports: .got for data (glob-dat), .got.plt for functions (three words reserved for ld.so, then
  // one slot per function, jump-slot relocations), as GNU ld lays them out.
  const undef = (i: string | ImportSpec, type: "func" | "object"): DynamicSymbolSpec => {
    const x = typeof i === "string" ? { name: i } : i;
    return { name: x.name, type, bind: x.weak ? "weak" : "global", ...(x.version ? { version: x.version } : {}) };
  };
  const relocations: RelocationSpec[] = [];
  const dataImports = (spec.importedData ?? []).map((i) => undef(i, "object"));
  if (dataImports.length > 0) {
    sections.push({ name: ".got", flags: "wa", align: w, relro: true, data: new Uint8Array(dataImports.length * w) });
    dataImports.forEach((s, i) => {
      dynsyms.push(s);
      relocations.push({ at: { section: ".got", offset: i * w }, type: "glob-dat", symbol: s.name, addend: 0n });
    });
  }
  const fnImports = (spec.imports ?? []).map((i) => undef(i, "func"));
  const plt: RelocationSpec[] = [];
  if (fnImports.length > 0) {
    sections.push({
      name: ".got.plt",
      flags: "wa",
      align: w,
      relro: spec.bindNow === true,
      data: new Uint8Array((3 + fnImports.length) * w),
    });
    fnImports.forEach((s, i) => {
      dynsyms.push(s);
      plt.push({ at: { section: ".got.plt", offset: (3 + i) * w }, type: "jump-slot", symbol: s.name, addend: 0n });
    });
  }

  // Data objects after the GOT, as GNU ld orders them: initialised to .data (.rodata when
  // read-only), size-only to .bss.
  for (const [name, flags, pick] of [
    [".rodata", "a", (d: DataSpec) => d.readonly === true],
    [".data", "wa", (d: DataSpec) => !d.readonly && d.bytes !== undefined],
    [".bss", "wa", (d: DataSpec) => !d.readonly && d.bytes === undefined],
  ] as const) {
    const objs = (spec.data ?? []).filter(pick);
    if (objs.length === 0) continue;
    let size = 0;
    const parts: { at: number; bytes: Uint8Array }[] = [];
    for (const d of objs) {
      const len = d.bytes?.length ?? d.size ?? w;
      const at = Math.ceil(size / w) * w;
      if (d.bytes) parts.push({ at, bytes: d.bytes });
      size = at + Math.max(len, d.size ?? 0);
      define({
        name: d.name,
        section: name,
        offset: at,
        size: d.size ?? len,
        type: "object",
        bind: d.bind ?? "global",
        ...(d.version === undefined ? {} : { version: d.version }),
      });
    }
    if (name === ".bss") {
      sections.push({ name, type: SHT_NOBITS, flags, align: w, size });
    } else {
      const bytes = new Uint8Array(size);
      for (const p of parts) bytes.set(p.bytes, p.at);
      sections.push({ name, flags, align: w, data: bytes });
    }
  }

  let flags = spec.flags;
  let flags1 = spec.flags1;
  if (spec.bindNow) {
    flags = (flags ?? 0) | DF_BIND_NOW;
    flags1 = (flags1 ?? 0) | DF_1_NOW;
  }
  if (shape.pie && shape.kind === "dyn") flags1 = (flags1 ?? 0) | DF_1_PIE;
  sections.push(...(spec.sections ?? []));

  return assembleElf({
    class: is64 ? 64 : 32,
    endian: le ? "little" : "big",
    machine,
    type: shape.kind,
    ...(spec.pageSize === undefined ? {} : { pageSize: spec.pageSize }),
    ...(shape.interp === undefined ? {} : { interp: shape.interp }),
    ...(shape.entry === undefined ? {} : { entry: shape.entry }),
    sections,
    ...(spec.symtab === false ? {} : { symbols: symtab }),
    dynamic: {
      ...(spec.needed ? { needed: spec.needed } : {}),
      ...(shape.soname === undefined ? {} : { soname: shape.soname }),
      ...(spec.runpath === undefined ? {} : { runpath: spec.runpath }),
      ...(spec.rpath === undefined ? {} : { rpath: spec.rpath }),
      symbols: dynsyms,
      ...(spec.hashStyle ? { hashStyle: spec.hashStyle } : {}),
      relocations,
      pltRelocations: plt,
      ...(plt.length > 0 ? { pltGot: ".got.plt" } : {}),
      ...(spec.initArray ? { initArray: spec.initArray } : {}),
      ...(flags === undefined ? {} : { flags }),
      ...(flags1 === undefined ? {} : { flags1 }),
      ...(spec.versions ? { versions: spec.versions } : {}),
    },
  });
}

function concat(parts: readonly Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
