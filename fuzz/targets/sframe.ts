import { formatSframeSection } from "../../cli/sframe/dump.ts";
import { LdsimError } from "../../formats/errors.ts";
import { decodeSframe, decodeSframeData } from "../../formats/sframe/decode.ts";
import { findFre } from "../../formats/sframe/find-fre.ts";
import { interpretFre } from "../../formats/sframe/interpret.ts";
import { checkHeaderForRegistration, validateSframeForKernel } from "../../formats/sframe/validate.ts";
import { mutateSframe } from "../engine/mutate-sframe.ts";
import type { Rng } from "../engine/rng.ts";
import { type FuzzSeed, type FuzzTarget, Steps } from "../engine/target.ts";
import { sframeFixtures } from "./fixtures.ts";

/** PCs worth looking up in a section: each function's first, second, middle and last byte, and past it. */
function probePcs(section: ReturnType<typeof decodeSframe>, steps: Steps): number[] {
  const pcs = [0, -1, 0x7fffffff, -0x80000000];
  const n = Math.min(section.numFdes, 64);
  for (let i = 0; i < n; i++) {
    const start = steps.run(() => section.funcStartAt(i));
    const size = steps.run(() => section.funcSizeAt(i));
    if (start === undefined || size === undefined) continue;
    pcs.push(start, start + 1, start + Math.floor(size / 2), start + size - 1, start + size);
  }
  return pcs;
}

/**
 * SFrame sections (extracted from every fixture that has one): the lazy decoder and the full one,
 * libsframe-style lookup of many PCs and interpretation of each FRE found, the kernel's registration
 * header checks and full validation (both byte orders, V1-V3 accepted), and the objdump dump in
 * both binutils styles.
 */
export const sframeTarget: FuzzTarget = {
  name: "sframe",
  describe: "decodeSframe/decodeSframeData/findFre/interpretFre/validate + objdump --sframe dump",
  seeds: () => sframeFixtures(),
  generate(rng: Rng, seeds: readonly FuzzSeed[]): Uint8Array {
    return mutateSframe(rng.pick(seeds).bytes, rng, rng.pick(seeds).bytes);
  },
  execute(input: Uint8Array): ReturnType<FuzzTarget["execute"]> {
    const steps = new Steps((e) => e instanceof LdsimError);
    const section = steps.run(() => decodeSframe(input, { source: "fuzz.sframe", vaddr: 0x1000n }));
    if (section) {
      for (const pc of probePcs(section, steps)) {
        const r = steps.run(() => findFre(section, pc));
        if (r && !r.ok) steps.answer(`findFre ${r.code}`, r.message);
        if (r?.ok) {
          const { fde, fre } = r;
          steps.run(() => interpretFre({ header: section.header, version: section.version, source: "fuzz" }, fde, fre));
        }
      }
    }
    const data = steps.run(() => decodeSframeData(input, { source: "fuzz.sframe" }));
    if (data) {
      steps.run(() => formatSframeSection(data, 0x1000n, "binutils-2.46"));
      steps.run(() => formatSframeSection(data, 0x1000n, "binutils-2.40"));
    }
    for (const littleEndian of [true, false]) {
      const h = steps.run(() =>
        checkHeaderForRegistration(input, { littleEndian, acceptedVersions: [1, 2, 3], requirePcrel: false }),
      );
      if (h && !h.ok) steps.answer(`kernel header ${h.errno}`, h.message);
      const v = steps.run(() =>
        validateSframeForKernel(input, {
          littleEndian,
          acceptedVersions: [1, 2, 3],
          requirePcrel: false,
          textStart: 0x7f0000000000n - 0x100000n,
          textEnd: 0x7f0000000000n + 0x100000n,
        }),
      );
      if (v && !v.ok) steps.answer(`kernel validation ${v.errno}`, v.message);
    }
    steps.run(() => validateSframeForKernel(input, {}));
    return steps.outcome();
  },
};
