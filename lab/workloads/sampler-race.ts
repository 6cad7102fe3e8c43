import { returnAddressInto } from "../../kernel-shim/unwind/call-sites.ts";
import { ObjectSet } from "../../kernel-shim/unwind/mapped-object.ts";
import { synthesizeStack } from "../../kernel-shim/unwind/stack-synth.ts";
import type { World } from "../world.ts";
import { prepareFixtureSample } from "./chain.ts";
import { LIBA, LIBB, MAIN } from "./fixture-files.ts";
import { copyOf } from "./temp-files.ts";
import type { Workload } from "./types.ts";

/**
 * One sample of thread C while it runs the foreign code (a copy of the fixture program, built without
 * frame pointers): main_step ← main, both in C's copy.
 */
function sampleForeign(w: World, foreign: string): void {
  const objs = new ObjectSet(w.objects().objects.filter((o) => o.path === foreign));
  const pcs = [returnAddressInto(objs, "main_step", "liba_entry"), returnAddressInto(objs, "main", "main_step")];
  // C's own stack, well below B's (thread B's frames sit 4 KiB under the top of the stack).
  const top = (BigInt(w.mm.startStack) - 0x8000n) & ~0xfn;
  const stack = synthesizeStack(w.mm, objs, "x86_64", pcs, { top });
  w.unwind(stack.regs, pcs);
}

/**
 * A multithreaded process whose sampler races dlclose (the races of issue #7):
 * - thread B runs the host → liba → libb → host chain for the whole run and is sampled (unwound) at
 *   EVERY system-call boundary of the other threads — every interleaving a sample could hit;
 * - thread A dlopens and dlcloses a plugin (a copy of libb.so) `cycles` times;
 * - thread C is a runtime with its own ELF loader (no registration call under any design) that maps
 *   a copy of the fixture program (position-independent, no frame pointers, another layout than the
 *   plugin: a byte-identical copy at the same address would make a stale entry point at identical
 *   bytes and hide the reuse) right after A's munmap — at the address just freed — and unmaps it again.
 *
 * C is sampled once per cycle while its code runs (before A's late unregister in the munmap-first order).
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
      const foreign = copyOf(MAIN, "foreign");
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
          sampleForeign(w, foreign);
          w.unmapOnly(c);
        } else {
          w.unmapOnly(p, "ld.so unmap");
          const c = w.mapForeign(foreign);
          sampleForeign(w, foreign);
          w.unregisterOnly(p.lib);
          w.unmapOnly(c);
        }
      }
      w.sampler = undefined;
    },
  };
}
