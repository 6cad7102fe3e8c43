import type { AddressSpace } from "../../kernel-shim/mm/address-space.ts";
import type { KernelSframe } from "../../kernel-shim/sframe/kernel-sframe.ts";
import type { Probe } from "./types.ts";

/** The registry-based probe: the section `mtree_load` would return for `pc`, or none. */
export function registryProbe(ks: KernelSframe, mm: AddressSpace, pc: bigint): Probe {
  const sec = ks.registryOf(mm).lookup(pc);
  return sec ? { kind: "section", sframeStart: sec.sframeStart } : { kind: "none" };
}

export function registryBytes(ks: KernelSframe, mm: AddressSpace): number {
  return ks.registryOf(mm).kernelBytes;
}
