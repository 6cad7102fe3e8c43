import type { AddressSpace } from "../../kernel-shim/mm/address-space.ts";
import type { KernelOptions } from "../../kernel-shim/process/kernel.ts";
import type { Process } from "../../kernel-shim/process/process.ts";
import type { KernelSframe } from "../../kernel-shim/sframe/kernel-sframe.ts";
import type { SframeFinder } from "../../kernel-shim/unwind/types.ts";
import type { MappedLib } from "../../loader/map-object.ts";

/** The registration designs the lab compares (issue #11). */
export type DesignName = "syscall" | "prctl" | "mmap-detect" | "lazy" | "none";

export const DESIGN_NAMES: readonly DesignName[] = ["syscall", "prctl", "mmap-detect", "lazy", "none"];

/** A run-time code blob (JIT): anonymous text and the SFrame section built for it in anonymous memory. */
export interface JitBlob {
  readonly text: bigint;
  readonly textLen: bigint;
  readonly sframe: bigint;
  readonly sframeLen: bigint;
}

/**
 * What a sample at one PC would get, decided without changing any state: the section the kernel
 * would use (start address), a lazy resolution of the VMA's file, or nothing (frame pointers only).
 */
export type Probe =
  | { readonly kind: "section"; readonly sframeStart: bigint }
  | { readonly kind: "resolve" }
  | { readonly kind: "none" };

/** One design instantiated for one run: the kernel it configures and what ld.so / a JIT do under it. */
export interface DesignRuntime {
  readonly name: DesignName;
  readonly ks: KernelSframe;
  /** Kernel options this design sets (exec hook, syscall/prctl handlers, mm hooks). */
  readonly kernelOptions: Pick<KernelOptions, "sframe" | "stacktraceSetup" | "prctl" | "sframeMmHooks">;
  /** ld.so, right after `_dl_map_object_from_fd` mapped an object (before relocation and init). */
  afterMap(proc: Process, lib: Pick<MappedLib, "lAddr" | "phdrs">): void;
  /** ld.so's `_dl_unmap_segments`, just before the object's `munmap`. */
  beforeUnmap(proc: Process, lib: Pick<MappedLib, "lAddr" | "phdrs">): void;
  /** A JIT after it wrote code and its section; false when the design has no way to register it. */
  registerJit(proc: Process, jit: JitBlob): boolean;
  /** A JIT before it frees the code. */
  unregisterJit(proc: Process, jit: JitBlob): void;
  /** The kernel unwinder's SFrame method for `mm` (null: none, frame pointers only). */
  finder(mm: AddressSpace): SframeFinder | null;
  probe(mm: AddressSpace, pc: bigint): Probe;
  /** Kernel memory held for SFrame in `mm` now (registry entries, plus any per-file cache). */
  kernelBytes(mm: AddressSpace): number;
  /** Kernel-side work counters (file header reads, misses …) for the cost column. */
  kernelWork(): Readonly<Record<string, number>>;
}

export interface Design {
  readonly name: DesignName;
  /** One line: who registers what, when. */
  readonly summary: string;
  create(): DesignRuntime;
}
