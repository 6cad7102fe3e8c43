import type { ElfFile } from "../../formats/elf/file.ts";
import { dynamicSymbols, type SymbolTable, staticSymbols } from "../../formats/elf/symbols.ts";

const STB_LOCAL = 0;
const STB_GLOBAL = 1;
const STB_WEAK = 2;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;

interface Candidate {
  readonly name: string;
  readonly bind: number;
  readonly size: bigint;
}

function underscores(name: string): number {
  let n = 0;
  while (name[n] === "_") n++;
  return n;
}

/**
 * perf's choice among symbols at one address (tools/perf/util/symbol.c choose_best_symbol): a sized
 * symbol over a zero-sized one, non-weak over weak, global over local, fewer leading underscores,
 * then the longer name. So `perf script` prints `__vdso_time`, not its weak alias `time`.
 */
function better(a: Candidate, b: Candidate): Candidate {
  if ((a.size === 0n) !== (b.size === 0n)) return a.size !== 0n ? a : b;
  if ((a.bind === STB_WEAK) !== (b.bind === STB_WEAK)) return a.bind !== STB_WEAK ? a : b;
  if ((a.bind === STB_GLOBAL) !== (b.bind === STB_GLOBAL)) return a.bind === STB_GLOBAL ? a : b;
  const ua = underscores(a.name);
  const ub = underscores(b.name);
  if (ua !== ub) return ua < ub ? a : b;
  return b.name.length > a.name.length ? b : a;
}

/** The name perf prints for each function address of an object (link-time addresses). */
export class BestSymbols {
  private map: Map<bigint, Candidate> | undefined;
  constructor(private readonly elf: ElfFile) {}

  nameAt(linkAddr: bigint): string | undefined {
    if (!this.map) this.map = this.build();
    return this.map.get(linkAddr)?.name;
  }

  private build(): Map<bigint, Candidate> {
    const out = new Map<bigint, Candidate>();
    const add = (t: SymbolTable | undefined) => {
      if (!t) return;
      for (let i = 1; i < t.count; i++) {
        const s = t.symbol(i);
        if ((s.type !== STT_FUNC && s.type !== STT_GNU_IFUNC) || s.shndx === 0 || s.value === 0n) continue;
        if (s.bind !== STB_LOCAL && s.bind !== STB_GLOBAL && s.bind !== STB_WEAK) continue;
        // perf strips symbol versions (`__libc_start_main@@GLIBC_2.34` prints without the version).
        const raw = t.name(i);
        const at = raw.indexOf("@");
        const c = { name: at > 0 ? raw.slice(0, at) : raw, bind: s.bind, size: s.size };
        const prev = out.get(s.value);
        out.set(s.value, prev ? better(prev, c) : c);
      }
    };
    add(staticSymbols(this.elf));
    add(dynamicSymbols(this.elf));
    return out;
  }
}
