/**
 * IFUNC resolution. ld.so calls an STT_GNU_IFUNC symbol's resolver (or an IRELATIVE relocation's
 * `l_addr + r_addend`) and stores what it returns; the model cannot run machine code, so the value
 * comes from a named, documented IfuncModel and every resolution is recorded with the model that
 * decided it (`ifuncResolutions`), so output can say which implementation was assumed.
 *
 * Models:
 * - "resolver-address" (the fallback): the resolver's own address is stored. Wrong as a value (the
 *   real GOT holds the chosen implementation) but deterministic and visibly marked.
 * - a measured table (`tableIfuncModel`): for an object identified by its soname and a key, the
 *   implementation's offset the real resolver returned on the measuring machine, e.g. glibc's
 *   libc.so.6 on this CPU. Entries are keyed by the resolver's offset from l_addr; a miss falls back.
 */
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

interface IfuncState {
  models: readonly IfuncModel[];
  readonly log: IfuncResolution[];
}
const states = new WeakMap<Rtld, IfuncState>();
function state(rtld: Rtld): IfuncState {
  let s = states.get(rtld);
  if (!s) {
    s = { models: [], log: [] };
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
  for (const m of [...s.models, RESOLVER_ADDRESS_MODEL]) {
    const v = m.resolve(rtld, map, resolver, symbol);
    if (v !== undefined) {
      s.log.push({ map, resolver, value: v, model: m.name, symbol });
      return v;
    }
  }
  return resolver;
}
