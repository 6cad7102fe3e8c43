import { PT_GNU_EH_FRAME, PT_GNU_SFRAME } from "../formats/elf/constants.ts";
import { dlState } from "./dl-state.ts";
import type { LinkMap } from "./link-map.ts";
import type { Rtld } from "./rtld.ts";

/** DLFO_FLAG_SFRAME (glibc 2.42 dlfcn/dlfcn.h): dlfo_sframe is valid. */
export const DLFO_FLAG_SFRAME = 1n;

/** `struct dl_find_object` (glibc 2.35; dlfo_sframe from 2.42). */
export interface DlFindObject {
  readonly dlfo_flags: bigint;
  readonly dlfo_map_start: bigint;
  readonly dlfo_map_end: bigint;
  readonly dlfo_link_map: LinkMap;
  /** PT_GNU_EH_FRAME run-time address (0 when none). */
  readonly dlfo_eh_frame: bigint;
  /** PT_GNU_SFRAME run-time address (0 when none; glibc 2.42). */
  readonly dlfo_sframe: bigint;
}

/**
 * `_dl_find_object(pc, &result)`: the object whose [l_map_start, l_map_end) holds pc, from the data
 * `_dl_find_object_update` (end of dlopen, after relocation) and `_dl_find_object_dlclose` (before
 * the unmap) maintain — so an object being loaded is not found before its dlopen completes. Returns
 * undefined for -1.
 */
export function dlFindObject(rtld: Rtld, pc: bigint): DlFindObject | undefined {
  for (const l of dlState(rtld).findObjects) {
    const end = l.mapEnd !== 0n ? l.mapEnd : l.mapStart;
    if (pc < l.mapStart || pc >= end) continue;
    const eh = l.phdrs.find((p) => p.type === PT_GNU_EH_FRAME);
    const sf = l.phdrs.find((p) => p.type === PT_GNU_SFRAME);
    return {
      dlfo_flags: sf ? DLFO_FLAG_SFRAME : 0n,
      dlfo_map_start: l.mapStart,
      dlfo_map_end: end,
      dlfo_link_map: l,
      dlfo_eh_frame: eh ? l.addr + eh.vaddr : 0n,
      dlfo_sframe: sf ? l.addr + sf.vaddr : 0n,
    };
  }
  return undefined;
}
