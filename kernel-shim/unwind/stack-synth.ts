import type { CfiRow } from "../../formats/dwarf/eh-frame.ts";
import { LdsimError } from "../../formats/errors.ts";
import type { SframeRow } from "../../formats/sframe/types.ts";
import type { AddressSpace } from "../mm/address-space.ts";
import { UNWIND_ARCHES, type UnwindArch } from "./arch.ts";
import type { ObjectSet } from "./mapped-object.ts";
import type { UserRegs } from "./types.ts";

/**
 * How one function's frame is really laid out at one PC — taken from the object's own SFrame section
 * when it has one (what gas derived from the compiler's CFI), else from its `.eh_frame` CFI. This is
 * the ground truth the synthesizer writes, independent of what the kernel has been told.
 */
export interface FrameLayout {
  readonly source: "sframe" | "eh_frame";
  /** CFA = base + offset, then `*CFA` when deref (DRAP frames). */
  readonly cfa: { readonly base: "sp" | "fp"; readonly offset: number; readonly deref: boolean };
  /** Where the return address is: at CFA + offset, in the link register, or nowhere (outermost). */
  readonly ra:
    | { readonly kind: "cfa"; readonly offset: number }
    | { readonly kind: "lr" }
    | { readonly kind: "undefined" };
  /** Where the caller's frame pointer is: saved at CFA + offset, at *(FP + offset), or untouched. */
  readonly fp:
    | { readonly kind: "cfa"; readonly offset: number }
    | { readonly kind: "fp"; readonly offset: number }
    | { readonly kind: "same" };
}

export class SynthesisError extends LdsimError {
  override name = "SynthesisError";
}

function fromSframe(row: SframeRow, pc: bigint): FrameLayout | undefined {
  if (row.outermost || row.cfa === null) {
    return {
      source: "sframe",
      cfa: { base: "sp", offset: 8, deref: false },
      ra: { kind: "undefined" },
      fp: { kind: "same" },
    };
  }
  if (row.cfa.base === "reg") return undefined;
  const ra: FrameLayout["ra"] =
    row.ra.kind === "cfa" && row.ra.deref
      ? { kind: "cfa", offset: row.ra.offset }
      : row.ra.kind === "same"
        ? { kind: "lr" }
        : row.ra.kind === "undefined"
          ? { kind: "undefined" }
          : fail(`RA rule ${row.ra.kind} at 0x${pc.toString(16)} cannot be synthesized`);
  const fp: FrameLayout["fp"] =
    row.fp.kind === "same"
      ? { kind: "same" }
      : row.fp.kind === "cfa" && row.fp.deref
        ? { kind: "cfa", offset: row.fp.offset }
        : row.fp.kind === "reg" && row.fp.deref && row.fp.offset !== undefined
          ? { kind: "fp", offset: row.fp.offset }
          : fail(`FP rule at 0x${pc.toString(16)} cannot be synthesized`);
  return { source: "sframe", cfa: { base: row.cfa.base, offset: row.cfa.offset, deref: row.cfa.deref }, ra, fp };
}

function fromCfi(row: CfiRow, arch: UnwindArch): FrameLayout | undefined {
  const a = UNWIND_ARCHES[arch];
  if (row.cfa.kind !== "reg-offset") return undefined;
  const base = row.cfa.reg === a.dwarfSp ? "sp" : row.cfa.reg === a.dwarfFp ? "fp" : undefined;
  if (!base) return undefined;
  const raRule = row.regs.get(row.raRegister);
  const ra: FrameLayout["ra"] =
    raRule?.kind === "undefined"
      ? { kind: "undefined" }
      : raRule?.kind === "offset"
        ? { kind: "cfa", offset: raRule.offset }
        : a.dwarfRa !== null
          ? { kind: "lr" }
          : { kind: "undefined" };
  const fpRule = row.regs.get(a.dwarfFp);
  const fp: FrameLayout["fp"] = fpRule?.kind === "offset" ? { kind: "cfa", offset: fpRule.offset } : { kind: "same" };
  return { source: "eh_frame", cfa: { base, offset: row.cfa.offset, deref: false }, ra, fp };
}

function fail(message: string): never {
  throw new SynthesisError(message);
}

/** The layout at run-time `pc`: the object's SFrame row, else its CFI row. */
export function frameLayoutAt(objects: ObjectSet, arch: UnwindArch, pc: bigint): FrameLayout {
  const obj = objects.at(pc);
  if (!obj) fail(`0x${pc.toString(16)} is not in the text of any mapped object`);
  const sf = obj.sframeRowAt(pc);
  const fromSf = sf ? fromSframe(sf, pc) : undefined;
  if (fromSf) return fromSf;
  const cfi = obj.ehFrame?.rowFor(pc - obj.bias);
  const fromEh = cfi ? fromCfi(cfi, arch) : undefined;
  if (fromEh) return fromEh;
  return fail(`${obj.path}: no usable SFrame or CFI row at 0x${(pc - obj.bias).toString(16)}`);
}

export interface SynthesizedStack {
  readonly regs: UserRegs;
  /** The frames written, innermost first: PC, CFA and where its layout came from. */
  readonly frames: ReadonlyArray<{ readonly pc: bigint; readonly cfa: bigint; readonly layout: FrameLayout }>;
  /** Every word written: address → value. */
  readonly words: ReadonlyMap<bigint, bigint>;
}

export interface SynthesisOptions {
  /** Highest address the outermost frame's CFA may take (default: 4 KiB below mm.startStack). */
  readonly top?: bigint;
  /**
   * The frame-pointer register value a function built without frame pointers leaves behind when it
   * uses the register for data: any value that is not a frame address. Default 0x1 (misaligned, so a
   * frame-pointer walk that reaches it stops, as on real hardware it would stop or go astray).
   */
  readonly junkFp?: bigint;
}

/**
 * Write a real user stack for a chain of frames and return the registers of the innermost one, so a
 * sample can be taken anywhere. `pcs` are innermost first: the sampled PC, then each caller's return
 * address (see `returnAddressInto`). Each frame is laid out as its code really lays it out
 * (`frameLayoutAt`): its CFA, the saved return address, the saved frame pointer where the function
 * saves one, the DRAP slot of a realigned frame. Functions without frame pointers leave a junk value
 * in the FP register. The words are written with kernel-side writes (FOLL_FORCE), as a debugger would.
 */
export function synthesizeStack(
  mm: AddressSpace,
  objects: ObjectSet,
  arch: UnwindArch,
  pcs: readonly bigint[],
  options: SynthesisOptions = {},
): SynthesizedStack {
  if (pcs.length === 0) fail("empty frame chain");
  const a = UNWIND_ARCHES[arch];
  const layouts = pcs.map((pc) => frameLayoutAt(objects, arch, pc));
  const words = new Map<bigint, bigint>();
  const put = (addr: bigint, value: bigint, what: string) => {
    const prev = words.get(addr);
    if (prev !== undefined && prev !== value) {
      fail(
        `${what}: stack slot 0x${addr.toString(16)} is needed for two values (0x${prev.toString(16)}, 0x${value.toString(16)})`,
      );
    }
    words.set(addr, value);
  };
  const junk = options.junkFp ?? 1n;
  let cfa = options.top ?? (BigInt(mm.startStack) - 0x1000n) & ~0xfn;
  // Caller's view going down: the outermost frame has no caller (FP 0, as _start clears it).
  let callerFp = 0n;
  let callerSp = 0n;
  const frames: Array<{ pc: bigint; cfa: bigint; layout: FrameLayout }> = [];
  let innermost: UserRegs | undefined;
  for (let k = pcs.length - 1; k >= 0; k--) {
    const pc = pcs[k] as bigint;
    const l = layouts[k] as FrameLayout;
    const outer = k === pcs.length - 1;
    if (!outer) cfa = callerSp;
    // RA slot: the caller's return address (outermost: none, or 0 as crt1's _start leaves).
    const ra = outer ? 0n : (pcs[k + 1] as bigint);
    if (l.ra.kind === "cfa") put(cfa + BigInt(l.ra.offset), ra, `RA of frame ${k}`);
    // FP of this frame and its saved copy of the caller's FP.
    let fp: bigint;
    let sp: bigint;
    if (l.cfa.base === "fp" && !l.cfa.deref) {
      fp = cfa - BigInt(l.cfa.offset);
      sp = fp - 0x20n;
    } else if (l.cfa.base === "fp" && l.cfa.deref) {
      // Realigned (DRAP) frame: the FP points into a 64-byte aligned area holding a pointer to the CFA.
      fp = ((cfa - 0x40n) & ~0x3fn) - 0x40n;
      put(fp + BigInt(l.cfa.offset), cfa, `DRAP slot of frame ${k}`);
      sp = fp - 0x40n;
    } else if (!l.cfa.deref) {
      sp = cfa - BigInt(l.cfa.offset);
      // FP untouched: the caller's. FP saved in a frame record while the CFA is SP-based (a realigned
      // frame's epilogue): the record is still in memory, just below SP. Otherwise FP holds data.
      fp = l.fp.kind === "same" ? callerFp : l.fp.kind === "fp" ? sp - 0x40n : junk;
    } else {
      return fail(`frame ${k} (0x${pc.toString(16)}): SP-based dereferenced CFA cannot be synthesized`);
    }
    if (l.fp.kind === "cfa") put(cfa + BigInt(l.fp.offset), callerFp, `saved FP of frame ${k}`);
    else if (l.fp.kind === "fp") {
      put(fp + BigInt(l.fp.offset), callerFp, `saved FP of frame ${k}`);
      // A realigned frame still builds a frame record at FP for frame-pointer walkers: gcc's DRAP
      // prologue pushes a copy of the return address (`push -8(%r10); push %rbp; mov %rsp,%rbp`).
      if (l.fp.offset === 0) put(fp + 8n, ra, `frame record RA copy of frame ${k}`);
    } else if (l.cfa.base === "fp" && fp !== callerFp) {
      return fail(`frame ${k} (0x${pc.toString(16)}) uses FP for its CFA but does not save the caller's FP`);
    }
    if (sp % 8n !== 0n && k > 0) fail(`frame ${k}: SP 0x${sp.toString(16)} is not word aligned`);
    frames.unshift({ pc, cfa, layout: l });
    callerFp = fp;
    callerSp = sp;
    if (k === 0) {
      innermost = {
        pc,
        sp,
        fp,
        ...(a.dwarfRa !== null && l.ra.kind === "lr" ? { ra: pcs.length > 1 ? (pcs[1] as bigint) : 0n } : {}),
      };
    }
  }
  const le = a.littleEndian;
  for (const [addr, value] of words) {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, value), le);
    try {
      mm.kernelWrite(Number(addr), b);
    } catch (e) {
      fail(`stack slot 0x${addr.toString(16)} is not mapped (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  return { regs: innermost as UserRegs, frames, words };
}
