/**
 * IFUNC resolution. ld.so calls an STT_GNU_IFUNC symbol's resolver (or an IRELATIVE relocation's
 * `l_addr + r_addend`) and stores what it returns; the model cannot run machine code, so the value
 * comes from a named, documented IfuncModel and every resolution is recorded with the model that
 * decided it (`ifuncResolutions`), so output can say which implementation was assumed.
 *
 * Models, consulted in order (the default list; `setIfuncModels` replaces it):
 * 1. "measured-glibc" (`MEASURED_LIBC_MODEL`): glibc's libc.so.6 and ld.so resolvers, as measured on the
 *    machine that generated loader/ifunc-measured.ts (scripts/measure-ifunc.ts: the values real
 *    ld.so stored for libc's IRELATIVE relocations and dlsym's answers for its IFUNC symbols, on that
 *    CPU). Used only when the loaded libc's NT_GNU_BUILD_ID matches the measured build: the CPU is
 *    ASSUMED to be the measuring one (its model and feature-flag hash are recorded in the table).
 * 2. "trivial-resolver" (`TRIVIAL_RESOLVER_MODEL`, x86_64): a resolver whose code is
 *    `[endbr64] [push %rbp; mov %rsp,%rbp] lea disp(%rip),%rax [pop %rbp] ret` — one that always
 *    returns the same function, as a test's or a CPU-independent library's does — returns that
 *    function; its bytes are read from process memory.
 * 3. "resolver-address" (the fallback): the resolver's own address is stored. Wrong as a value (the
 *    real GOT holds the chosen implementation) but deterministic and visibly marked.
 */
import { MEASURED_IFUNCS } from "./ifunc-measured.ts";
import type { LinkMap } from "./link-map.ts";
import type { Rtld } from "./rtld.ts";

export interface IfuncResolution {
  readonly map: LinkMap;
  readonly resolver: bigint;
  readonly value: bigint;
  readonly model: string;
  readonly symbol: string | undefined;
}

export interface IfuncModel {
  readonly name: string;
  /** The value the resolver at `resolver` (in `map`) would return; undefined = this model has no answer. */
  resolve(rtld: Rtld, map: LinkMap, resolver: bigint, symbol: string | undefined): bigint | undefined;
}

export const RESOLVER_ADDRESS_MODEL: IfuncModel = {
  name: "resolver-address",
  resolve: (_rtld, _map, resolver) => resolver,
};

/** A measured table: object basename → (resolver offset → implementation offset), both from l_addr. */
export function tableIfuncModel(name: string, table: ReadonlyMap<string, ReadonlyMap<bigint, bigint>>): IfuncModel {
  return {
    name,
    resolve(_rtld, map, resolver) {
      const base = map.name.slice(map.name.lastIndexOf("/") + 1);
      const t = table.get(base) ?? (map.dynamic?.soname ? table.get(map.dynamic.soname) : undefined);
      const off = t?.get(resolver - map.addr);
      return off === undefined ? undefined : map.addr + off;
    },
  };
}

const PT_NOTE = 4;
const NT_GNU_BUILD_ID = 3;

/** The NT_GNU_BUILD_ID of a mapped object, read from its PT_NOTE segments in memory (hex), if any. */
export function buildIdOf(rtld: Rtld, map: LinkMap): string | undefined {
  for (const ph of map.phdrs) {
    if (ph.type !== PT_NOTE || ph.filesz > 0x10000n) continue;
    let b: Uint8Array;
    try {
      b = rtld.proc.mm.readUser(Number(map.addr + ph.vaddr), Number(ph.filesz));
    } catch {
      continue;
    }
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const align = ph.align === 8n ? 8 : 4;
    for (let o = 0; o + 12 <= b.length; ) {
      const namesz = dv.getUint32(o, true);
      const descsz = dv.getUint32(o + 4, true);
      const type = dv.getUint32(o + 8, true);
      const name = o + 12;
      const desc = name + Math.ceil(namesz / align) * align;
      if (desc + descsz > b.length) break;
      if (
        type === NT_GNU_BUILD_ID &&
        namesz === 4 &&
        b[name] === 0x47 &&
        b[name + 1] === 0x4e &&
        b[name + 2] === 0x55
      ) {
        return Buffer.from(b.subarray(desc, desc + descsz)).toString("hex");
      }
      o = desc + Math.ceil(descsz / align) * align;
    }
  }
  return undefined;
}

/** The measured table that applies to a map (its soname and NT_GNU_BUILD_ID match), or null: decided once per map. */
const measuredTables = new WeakMap<LinkMap, (typeof MEASURED_IFUNCS)[number] | null>();

const measuredName = MEASURED_IFUNCS[0]
  ? `measured-glibc (${MEASURED_IFUNCS[0].cpuModel}, flags ${MEASURED_IFUNCS[0].cpuFlagsHash})`
  : "measured-glibc";

export const MEASURED_LIBC_MODEL: IfuncModel = {
  name: measuredName,
  resolve(rtld, map, resolver) {
    let t = measuredTables.get(map);
    if (t === undefined) {
      const named = MEASURED_IFUNCS.find((x) => map.nameMatches(x.soname) || map.dynamic?.soname === x.soname);
      t = named && buildIdOf(rtld, map) === named.buildId ? named : null;
      measuredTables.set(map, t);
    }
    if (!t) return undefined;
    const off = t.pairs.get(resolver - map.addr);
    if (off === undefined) return undefined;
    return off === -1n ? 0n : map.addr + off;
  },
};

/** `[endbr64] [push %rbp; mov %rsp,%rbp] lea disp32(%rip),%rax [pop %rbp] ret`: the lea's target. */
export const TRIVIAL_RESOLVER_MODEL: IfuncModel = {
  name: "trivial-resolver",
  resolve(rtld, _map, resolver) {
    if (rtld.options.machine !== undefined && rtld.options.machine !== 62) return undefined;
    let b: Uint8Array;
    try {
      b = rtld.proc.mm.readUser(Number(resolver), 20);
    } catch {
      return undefined;
    }
    let o = 0;
    const at = (...bytes: number[]) => bytes.every((x, i) => b[o + i] === x);
    if (at(0xf3, 0x0f, 0x1e, 0xfa)) o += 4;
    const frame = at(0x55, 0x48, 0x89, 0xe5);
    if (frame) o += 4;
    if (!at(0x48, 0x8d, 0x05)) return undefined;
    const disp = new DataView(b.buffer, b.byteOffset + o + 3, 4).getInt32(0, true);
    o += 7;
    const target = resolver + BigInt(o) + BigInt(disp);
    if (frame) {
      if (!at(0x5d)) return undefined;
      o += 1;
    }
    return at(0xc3) ? target : undefined;
  },
};

interface IfuncState {
  models: readonly IfuncModel[];
  readonly log: IfuncResolution[];
}
const states = new WeakMap<Rtld, IfuncState>();
function state(rtld: Rtld): IfuncState {
  let s = states.get(rtld);
  if (!s) {
    s = { models: [MEASURED_LIBC_MODEL, TRIVIAL_RESOLVER_MODEL], log: [] };
    states.set(rtld, s);
  }
  return s;
}

/** Choose the models consulted (in order) before the resolver-address fallback. */
export function setIfuncModels(rtld: Rtld, models: readonly IfuncModel[]): void {
  state(rtld).models = models;
}

/** Every IFUNC resolution so far, with the model that decided it. */
export function ifuncResolutions(rtld: Rtld): readonly IfuncResolution[] {
  return state(rtld).log;
}

/** `elf_ifunc_invoke` stand-in: the value stored for the resolver at `resolver` in `map`. */
export function callIfuncResolver(rtld: Rtld, map: LinkMap, resolver: bigint, symbol?: string): bigint {
  const s = state(rtld);
  for (const m of s.models) {
    const v = m.resolve(rtld, map, resolver, symbol);
    if (v !== undefined) {
      s.log.push({ map, resolver, value: v, model: m.name, symbol });
      return v;
    }
  }
  s.log.push({ map, resolver, value: resolver, model: RESOLVER_ADDRESS_MODEL.name, symbol });
  return resolver;
}
