import { sampleFixtureChain } from "./chain.ts";
import { LIBA, LIBB, MAIN } from "./fixture-files.ts";
import type { Workload } from "./types.ts";

/**
 * A dlopen-heavy plugin host: the fixture program exec'd, then `cycles` rounds of "dlopen" of the
 * plugin pair (libb.so, then liba.so which needs it) and "dlclose" of both, sampling the
 * host → liba → libb → host chain every `sampleEvery` rounds while the plugins are open.
 *
 * dlopen/dlclose are modelled by their system calls: ld.so's mapping of each object (`mapObject`, the
 * exact openat/read/fstat/mmap/mprotect/close sequence of glibc 2.36) followed by the design's
 * registration, and `_dl_unmap_segments`' unregister + munmap of the whole span. Relocation, init/fini
 * and reference counting make no system calls and do not change what the kernel sees.
 */
export function pluginHostWorkload(cycles = 1000, sampleEvery = 100): Workload {
  return {
    name: "plugin-host",
    title: `Plugin host (${cycles} dlopen/dlclose cycles of a 2-library plugin)`,
    description: `exec of the fixture main, then ${cycles} × (dlopen libb.so + liba.so, dlclose both) — the mmap/munmap sequence of glibc 2.36's ld.so with each design's calls — sampling the 8-frame chain every ${sampleEvery} cycles.`,
    run(w) {
      w.exec(MAIN, [MAIN]);
      for (let i = 0; i < cycles; i++) {
        const b = w.load(LIBB);
        const a = w.load(LIBA);
        if (i % sampleEvery === 0) sampleFixtureChain(w);
        w.unload(a);
        w.unload(b);
      }
    },
  };
}
