import type { ProgramHeader } from "../formats/elf/types.ts";
import { dlState } from "./dl-state.ts";
import { Rtld } from "./rtld.ts";
import { initStartupTls } from "./tls.ts";

/** The vDSO's program headers, from its ELF header in memory (setup_vdso reads them the same way). */
function vdsoPhdrs(rtld: Rtld, base: bigint): readonly ProgramHeader[] {
  const r = rtld.proc.mm.tryReadUser(Number(base), 64);
  if (!r.ok) return [];
  const dv = new DataView(r.bytes.buffer, r.bytes.byteOffset, 64);
  return Rtld.phdrsFromMemory(rtld.proc, base + dv.getBigUint64(32, true), dv.getUint16(56, true));
}

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
  // Module ids of the startup objects are assigned by then (init_tls).
  initStartupTls(rtld);
  const loaded = rtld.ns.maps.filter((m) => !m.faked);
  for (const l of loaded) {
    const phdrs = l.isVdso && l.phdrs.length === 0 ? vdsoPhdrs(rtld, l.addr) : l.phdrs;
    const r = callback({
      dlpi_addr: l.addr,
      dlpi_name: l.name,
      dlpi_phdr: phdrs,
      dlpi_phnum: phdrs.length,
      dlpi_adds: st.loadAdds,
      dlpi_subs: st.loadAdds - loaded.length,
      dlpi_tls_modid: l.tlsModid,
    });
    if (r !== 0) return r;
  }
  return 0;
}
