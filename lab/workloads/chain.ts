import { returnAddressInto } from "../../kernel-shim/unwind/call-sites.ts";
import { synthesizeStack } from "../../kernel-shim/unwind/stack-synth.ts";
import type { World } from "../world.ts";

/**
 * The fixture program's deepest chain, innermost first (test/fixtures/sframe/src): main_callback
 * (called back through a function pointer) ← libb_deep ← libb_aligned ← libb_leaf ← liba_mid ←
 * liba_entry ← main_step ← main. liba.so keeps frame pointers, libb.so and main do not.
 */
export const FIXTURE_CHAIN = [
  "main_callback",
  "libb_deep",
  "libb_aligned",
  "libb_leaf",
  "liba_mid",
  "liba_entry",
  "main_step",
  "main",
] as const;

/** A prepared sample: registers of the innermost frame and the true chain of PCs. */
export interface PreparedSample {
  readonly regs: { readonly pc: bigint; readonly sp: bigint; readonly fp: bigint };
  readonly truth: readonly bigint[];
}

/**
 * Write the real stack of the chain (each frame laid out as its code lays it out, from the objects'
 * own SFrame/CFI) for the objects mapped now, and return the sample's registers and true PCs.
 */
export function prepareFixtureSample(world: World, spinOffset = 0x47n): PreparedSample {
  const objects = world.objects();
  const pcs = [
    objects.symbol("main_callback") + spinOffset,
    ...FIXTURE_CHAIN.slice(1).map((caller, i) => returnAddressInto(objects, caller, FIXTURE_CHAIN[i] as string)),
  ];
  const stack = synthesizeStack(world.mm, objects, "x86_64", pcs);
  return { regs: stack.regs, truth: pcs };
}

/** Prepare and unwind one sample of the fixture chain. */
export function sampleFixtureChain(world: World): void {
  const s = prepareFixtureSample(world);
  world.unwind(s.regs, s.truth);
}
