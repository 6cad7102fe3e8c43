import { higherPrimeNumber } from "./higher-prime-number.ts";
import type { Rtld } from "./rtld.ts";

/**
 * The memory side of the namespace's STB_GNU_UNIQUE table (glibc 2.36 elf/dl-lookup.c
 * `do_lookup_unique`, `struct unique_sym_table` in ldsodefs.h). The table itself (which name is
 * bound to which definition) is kept by symbol-lookup.ts; what this file adds is what ld.so
 * allocates for it, because those allocations are visible: during startup they come from ld.so's
 * minimal malloc, whose mmaps move everything mapped after them (a C++ program's libstdc++ defines
 * a few hundred unique symbols, enough to need a fresh 8 KiB mmap).
 *
 * glibc, on a name the table does not hold yet: the first such lookup callocs
 * INITIAL_NUNIQUE_SYM_TABLE (31) entries; later ones first expand the table when
 * `size * 3 <= n_elements * 4` — calloc of `_dl_higher_prime_number (size + 1)` entries, then
 * `tab->free` of the old array (the minimal malloc can only give back its last block, which the old
 * array no longer is) — then enter the name and count it.
 */

/** sizeof (struct unique_sym) on LP64: uint32_t hashval (padded to 8), name, sym, map pointers. */
export const UNIQUE_SYM_SIZE = 32;
export const INITIAL_NUNIQUE_SYM_TABLE = 31;

/** What ld.so keeps for the table: its current array and size (tab->entries, tab->size). */
export interface UniqueTableMemory {
  entries: bigint | undefined;
  size: number;
}

/**
 * The allocations of one insertion of a new name into the table, `held` names being in it before
 * (tab->n_elements). Call exactly when do_lookup_unique is about to enter a name it did not find.
 */
export function allocateForInsert(rtld: Rtld, mem: UniqueTableMemory, held: number): void {
  if (mem.entries === undefined) {
    mem.size = INITIAL_NUNIQUE_SYM_TABLE;
    mem.entries = rtld.malloc.calloc(UNIQUE_SYM_SIZE * mem.size);
    return;
  }
  if (mem.size * 3 <= held * 4) {
    const newsize = higherPrimeNumber(mem.size + 1);
    const fresh = rtld.malloc.calloc(UNIQUE_SYM_SIZE * newsize);
    rtld.malloc.free(mem.entries);
    mem.entries = fresh;
    mem.size = newsize;
  }
}
