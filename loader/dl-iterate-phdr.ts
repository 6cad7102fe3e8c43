import type { ProgramHeader } from "../formats/elf/types.ts";
import { dlState } from "./dl-state.ts";
import type { Rtld } from "./rtld.ts";

/** `struct dl_phdr_info` as the callback sees it. */
export interface DlPhdrInfo {
  readonly dlpi_addr: bigint;
  /** l_name: "" for the main program. */
  readonly dlpi_name: string;
  readonly dlpi_phdr: readonly ProgramHeader[];
  readonly dlpi_phnum: number;
  /** GL(dl_load_adds): objects ever added. */
  readonly dlpi_adds: number;
  /** adds - objects loaded now. */
  readonly dlpi_subs: number;
  readonly dlpi_tls_modid: number;
}

/**
 * elf/dl-iteratephdr.c `__dl_iterate_phdr`: the namespace's objects in load (l_next) order; a
 * nonzero callback return stops the walk and is returned.
 */
export function dlIteratePhdr(rtld: Rtld, callback: (info: DlPhdrInfo) => number): number {
  const st = dlState(rtld);
  const loaded = rtld.ns.maps.filter((m) => !m.faked);
  for (const l of loaded) {
    const r = callback({
      dlpi_addr: l.addr,
      dlpi_name: l.name,
      dlpi_phdr: l.phdrs,
      dlpi_phnum: l.phdrs.length,
      dlpi_adds: st.loadAdds,
      dlpi_subs: st.loadAdds - loaded.length,
      dlpi_tls_modid: l.tlsModid,
    });
    if (r !== 0) return r;
  }
  return 0;
}
