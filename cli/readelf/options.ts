/** Options shared by the `ldsim readelf` formatters (GNU readelf's meanings). */
export interface ReadelfOptions {
  /** -W: wide output, no line truncation. */
  readonly wide: boolean;
  /** -s / --syms: print .symtab (and .dynsym). */
  readonly syms?: boolean;
  /** --dyn-syms: print .dynsym only. */
  readonly dynSyms?: boolean;
}
