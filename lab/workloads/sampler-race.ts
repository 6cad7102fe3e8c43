import { prepareFixtureSample } from "./chain.ts";
import { LIBA, LIBB, MAIN } from "./fixture-files.ts";
import { copyOf } from "./temp-files.ts";
import type { Workload } from "./types.ts";

/**
 * A multithreaded process whose sampler races dlclose (the races of issue #7):
 * - thread B runs the host → liba → libb → host chain for the whole run and is sampled (unwound) at
 *   EVERY system-call boundary of the other threads — every interleaving a sample could hit;
 * - thread A dlopens and dlcloses a plugin (a copy of libb.so) `cycles` times;
 * - thread C is a runtime with its own ELF loader (no registration call under any design) that maps
 *   a copy of liba.so (another layout: a byte-identical copy at the same address would make a stale
 *   entry point at identical bytes and hide the reuse) right after A's munmap — at the address just freed — and unmaps it again.
 *
 * `order` is ld.so's dlclose order: "unregister-first" (Josh Poimboeuf's glibc patch: unregister, then
 * munmap) or "munmap-first" (the other order issue #7 asks about), where C's mapping lands between
 * A's munmap and its late unregister: the stale entry then covers C's code.
 */
export function samplerRaceWorkload(
  cycles = 50,
  order: "unregister-first" | "munmap-first" = "unregister-first",
): Workload {
  const late = order === "munmap-first";
  return {
    name: late ? "sampler-race-late-unregister" : "sampler-race",
    title: `Sampler racing dlclose (${cycles} cycles, dlclose ${late ? "munmaps before unregistering" : "unregisters before munmap"})`,
    description: `thread B (host → liba → libb → host) unwound at every system-call boundary while thread A dlopens/dlcloses a plugin ${cycles} times and thread C, a runtime with its own ELF loader, maps code at the address A just freed${late ? " — between A's munmap and A's late unregister" : ""}.`,
    run(w) {
      const plugin = copyOf(LIBB, "plugin.so");
      const foreign = copyOf(LIBA, "foreign.so");
      w.exec(MAIN, [MAIN]);
      w.load(LIBA);
      w.load(LIBB);
      const b = prepareFixtureSample(w);
      w.sampler = (world) => void world.unwind(b.regs, b.truth);
      for (let i = 0; i < cycles; i++) {
        const p = w.load(plugin);
        if (!late) {
          w.unload(p);
          const c = w.mapForeign(foreign);
          w.unmapOnly(c);
        } else {
          w.unmapOnly(p, "ld.so unmap");
          const c = w.mapForeign(foreign);
          w.unregisterOnly(p.lib);
          w.unmapOnly(c);
        }
      }
      w.sampler = undefined;
    },
  };
}
