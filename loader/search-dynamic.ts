import { type DynamicNames, MemoryStringTable } from "../formats/elf/dynamic.ts";
import {
  DT_AUXILIARY,
  DT_FILTER,
  DT_FLAGS_1,
  DT_NEEDED,
  DT_RPATH,
  DT_RUNPATH,
  DT_SONAME,
  DT_STRSZ,
  DT_STRTAB,
} from "../formats/elf/dynamic-tags.ts";
import { FormatError, hex } from "../formats/errors.ts";
import type { AddressSpace } from "../kernel-shim/mm/address-space.ts";

/** The dynamic-section facts the search for dependencies needs (a subset of `l_info`). */
export interface SearchDynamic extends DynamicNames {
  readonly flags1: bigint;
}

const ENT = 16;
const MAX_ENTRIES = 4096;
const TAG_NEEDED = Number(DT_NEEDED);
const TAG_STRTAB = Number(DT_STRTAB);
const TAG_STRSZ = Number(DT_STRSZ);
const TAG_SONAME = Number(DT_SONAME);
const TAG_RPATH = Number(DT_RPATH);
const TAG_RUNPATH = Number(DT_RUNPATH);
const TAG_AUXILIARY = Number(DT_AUXILIARY);
const TAG_FILTER = Number(DT_FILTER);
const TAG_FLAGS_1 = Number(DT_FLAGS_1);

/**
 * `elf_get_dynamic_info` for what `_dl_map_object_deps` and the search read: the Elf64_Dyn array at
 * `ld` walked up to DT_NULL in process memory (little-endian), and the names its string entries
 * point at in DT_STRTAB + `lAddr`. The same reads and answers as readDynamicFromMemory + decodeDynamic
 * + dynamicNames (formats/elf/dynamic.ts), in one pass that decodes only the tags the search uses:
 * memory is read a page at most (≤ 32 entries) at a time, so a fault comes at the same entry; the
 * last entry of a tag wins, list tags keep their order; a missing DT_NULL within 4096 entries and a
 * DT_STRTAB without DT_STRSZ are FormatErrors.
 */
export function readSearchDynamic(mm: AddressSpace, ld: bigint, lAddr: bigint, source: string): SearchDynamic {
  const page = mm.pageSize;
  let at = Number(ld);
  let chunk: Uint8Array = new Uint8Array(0);
  let view = new DataView(chunk.buffer);
  let pos = 0;
  // String offsets by tag (the strings are read once DT_STRTAB is known: it may come after them).
  const needed: bigint[] = [];
  const auxiliary: bigint[] = [];
  const filter: bigint[] = [];
  let soname: bigint | undefined;
  let rpath: bigint | undefined;
  let runpath: bigint | undefined;
  let strtab: bigint | undefined;
  let strsz: bigint | undefined;
  let flags1 = 0n;
  let terminated = false;
  for (let i = 0; i < MAX_ENTRIES; i++) {
    if (pos + ENT > chunk.length) {
      const toBoundary = page - (at % page);
      chunk = mm.readUser(at, toBoundary >= ENT ? Math.min(toBoundary - (toBoundary % ENT), 32 * ENT) : ENT);
      view = new DataView(chunk.buffer, chunk.byteOffset, chunk.length);
      pos = 0;
      if (chunk.length < ENT)
        throw new FormatError(`short read of dynamic entry ${i} at ${hex(BigInt(at))}`, { source });
    }
    const lo = view.getUint32(pos, true);
    const hi = view.getUint32(pos + 4, true);
    if (hi === 0) {
      if (lo === 0) {
        terminated = true;
        break;
      }
      switch (lo) {
        case TAG_NEEDED:
          needed.push(view.getBigUint64(pos + 8, true));
          break;
        case TAG_AUXILIARY:
          auxiliary.push(view.getBigUint64(pos + 8, true));
          break;
        case TAG_FILTER:
          filter.push(view.getBigUint64(pos + 8, true));
          break;
        case TAG_SONAME:
          soname = view.getBigUint64(pos + 8, true);
          break;
        case TAG_RPATH:
          rpath = view.getBigUint64(pos + 8, true);
          break;
        case TAG_RUNPATH:
          runpath = view.getBigUint64(pos + 8, true);
          break;
        case TAG_STRTAB:
          strtab = view.getBigUint64(pos + 8, true);
          break;
        case TAG_STRSZ:
          strsz = view.getBigUint64(pos + 8, true);
          break;
        case TAG_FLAGS_1:
          flags1 = view.getBigUint64(pos + 8, true);
          break;
      }
    }
    pos += ENT;
    at += ENT;
  }
  if (!terminated) {
    throw new FormatError(`no DT_NULL within ${MAX_ENTRIES} dynamic entries from ${hex(ld)}`, { source, offset: ld });
  }
  if (strtab === undefined) {
    return { needed: [], soname: undefined, rpath: undefined, runpath: undefined, auxiliary: [], filter: [], flags1 };
  }
  if (strsz === undefined) throw new FormatError("DT_STRTAB without DT_STRSZ", { source });
  if (strsz > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatError(`DT_STRSZ ${hex(strsz)} is too large`, { source });
  const strings = new MemoryStringTable(
    (a, n) => mm.readUser(Number(a), n),
    strtab + lAddr,
    Number(strsz),
    strtab,
    source,
    page,
  );
  // dynamicNames' order: the list tags (in the array's order), then SONAME, RPATH, RUNPATH.
  const out = {
    needed: needed.map((v) => strings.get(v)),
    auxiliary: auxiliary.map((v) => strings.get(v)),
    filter: filter.map((v) => strings.get(v)),
    soname: soname === undefined ? undefined : strings.get(soname),
    rpath: rpath === undefined ? undefined : strings.get(rpath),
    runpath: runpath === undefined ? undefined : strings.get(runpath),
    flags1,
  };
  return out;
}
