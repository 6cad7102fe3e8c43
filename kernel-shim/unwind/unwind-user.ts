import type { SframeRegRule, SframeRow } from "../../formats/sframe/types.ts";
import { UNWIND_ARCHES, type UnwindArch, type UnwindArchInfo } from "./arch.ts";
import type {
  SframeFinder,
  UnwindFrame,
  UnwindMemory,
  UnwindMethod,
  UnwindOptions,
  UnwindStop,
  UnwindTrace,
  UserRegs,
} from "./types.ts";

/** UNWIND_MAX_ENTRIES on 64-bit: (4096 - sizeof(struct unwind_cache)) / sizeof(long), ~511. */
export const UNWIND_MAX_ENTRIES = 511;

const U64 = (v: bigint) => BigInt.asUintN(64, v);

/** `struct unwind_user_state`: the registers being walked up the stack. */
interface State {
  ip: bigint;
  sp: bigint;
  fp: bigint;
  /** Link register (aarch64 x30 / s390x r14), meaningful only while topmost. */
  ra: bigint | undefined;
  topmost: boolean;
}

/** A step either moves the state to the caller or fails with a reason (the state is left unchanged). */
type StepResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** The one success result (steps run per frame: no object per successful check). */
const OK: StepResult = { ok: true };

/**
 * Walk a user stack as the kernel's `unwind_user()` does (kernel/unwind/user.c in the SFrame series):
 * record the current PC, then find the caller with the first method that applies — SFrame when a
 * registered section covers the PC, else frame pointers — until a method fails, the outermost frame
 * is reached, or the entry limit is hit. Each step computes into locals and commits only when every
 * check passed (CFA must grow, be word aligned, and every user read must succeed).
 */
export function unwindUser(
  archName: UnwindArch,
  regs: UserRegs,
  memory: UnwindMemory,
  sframe: SframeFinder | null,
  options: UnwindOptions = {},
): UnwindTrace {
  const arch = UNWIND_ARCHES[archName];
  const max = options.maxEntries ?? UNWIND_MAX_ENTRIES;
  const fpFallback = options.fpFallback ?? true;
  const outermostPolicy = options.outermost ?? "kernel-v3-einval";
  const anyFrameRegs = options.registerRules === "unwound-sp-fp";
  const state: State = { ip: regs.pc, sp: regs.sp, fp: regs.fp, ra: regs.ra, topmost: true };
  const frames: UnwindFrame[] = [];
  let stop: UnwindStop | undefined;

  while (stop === undefined) {
    const pc = state.ip;
    if (frames.length >= max) {
      stop = { kind: "max-depth", detail: `${max} entries recorded` };
      break;
    }
    let method: UnwindMethod | undefined;
    let sframeMiss: string | undefined;

    // Method 1: SFrame (available when the mm has any registered section).
    if (sframe) {
      const found = sframe.find(pc);
      if (!found.ok) {
        sframeMiss = `${found.errno}: ${found.reason}`;
      } else if (found.row.outermost) {
        if (outermostPolicy === "spec-stop") {
          frames.push({ pc });
          stop = { kind: "outermost", detail: "SFrame row with RA undefined (outermost frame)" };
          break;
        }
        // The newest kernel code rejects the N=0 row's zero CFA control word with EINVAL before
        // marking the frame outermost, so the lookup counts as failed and FP is tried next.
        sframeMiss = "EINVAL: RA-undefined row rejected (CFA control word reg_p = 0)";
      } else {
        const r = stepSframe(arch, state, found.row, memory, anyFrameRegs);
        if (!r.ok) {
          frames.push({ pc });
          stop = { kind: "sframe-step-failed", detail: r.reason };
          break;
        }
        method = "sframe";
      }
    }

    // Method 2: frame pointers.
    if (method === undefined) {
      if (!fpFallback || arch.fpFrame === null) {
        frames.push(sframeMiss ? { pc, sframeMiss } : { pc });
        stop = {
          kind: "no-method",
          detail: sframeMiss
            ? `no SFrame row (${sframeMiss}) and ${arch.fpFrame ? "frame-pointer fallback disabled" : `no frame-pointer unwinder for ${arch.name}`}`
            : "no SFrame section registered and frame-pointer fallback disabled",
        };
        break;
      }
      const r = stepFp(arch, state, memory);
      if (!r.ok) {
        frames.push(sframeMiss ? { pc, sframeMiss } : { pc });
        stop = { kind: "fp-step-failed", detail: r.reason };
        break;
      }
      method = "fp";
    }
    frames.push(sframeMiss ? { pc, method, sframeMiss } : { pc, method });
  }
  return { arch: archName, frames, stop };
}

function hex(v: bigint): string {
  return `0x${v.toString(16)}`;
}

/** Read a register a rule names; only the topmost frame has registers beyond SP/FP/RA. */
function regValue(arch: UnwindArchInfo, state: State, regnum: number): bigint | undefined {
  if (regnum === arch.dwarfSp) return state.sp;
  if (regnum === arch.dwarfFp) return state.fp;
  if (arch.dwarfRa !== null && regnum === arch.dwarfRa) return state.ra;
  return undefined;
}

/** Apply an RA/FP rule (`unwind_user_next_common`); `current` is the value RETAIN keeps. */
function applyRule(
  arch: UnwindArchInfo,
  state: State,
  rule: SframeRegRule,
  cfa: bigint,
  memory: UnwindMemory,
  what: "RA" | "FP",
  anyFrameRegs: boolean,
): { ok: true; value: bigint } | { ok: false; reason: string } {
  switch (rule.kind) {
    case "same":
      if (what === "FP") return { ok: true, value: state.fp };
      // RETAIN for RA: only the topmost frame, and only where RA lives in a register (not x86).
      if (!state.topmost || arch.dwarfRa === null || state.ra === undefined) {
        return { ok: false, reason: `RA rule RETAIN outside the topmost frame or without a link register` };
      }
      return { ok: true, value: state.ra };
    case "undefined":
      return { ok: false, reason: `${what} undefined` };
    case "cfa": {
      const addr = U64(cfa + BigInt(rule.offset));
      if (!rule.deref) return { ok: true, value: addr };
      const v = memory.readWord(addr);
      return v === undefined ? { ok: false, reason: `fault reading ${what} at ${hex(addr)}` } : { ok: true, value: v };
    }
    case "reg": {
      const known = rule.regnum === arch.dwarfSp || rule.regnum === arch.dwarfFp;
      if (!state.topmost && !(anyFrameRegs && known)) {
        return { ok: false, reason: `${what} rule names register ${rule.regnum} below the topmost frame` };
      }
      const base = regValue(arch, state, rule.regnum);
      if (base === undefined) return { ok: false, reason: `${what} rule names unavailable register ${rule.regnum}` };
      const addr = U64(base + BigInt(rule.offset));
      if (!rule.deref) return { ok: true, value: addr };
      const v = memory.readWord(addr);
      return v === undefined ? { ok: false, reason: `fault reading ${what} at ${hex(addr)}` } : { ok: true, value: v };
    }
  }
}

/** The checks every method shares: CFA must grow and be word aligned (`unwind_user_next_common`). */
function checkCfa(state: State, cfa: bigint, wordSize: number): StepResult {
  // The topmost frame may keep CFA == SP (a function's first instruction on arches with a link
  // register); every other frame must move strictly up the stack.
  const floor = state.topmost ? state.sp - 1n : state.sp;
  if (cfa <= floor) return { ok: false, reason: `CFA ${hex(cfa)} does not grow past SP ${hex(state.sp)}` };
  if (cfa % BigInt(wordSize) !== 0n) return { ok: false, reason: `CFA ${hex(cfa)} is not ${wordSize}-byte aligned` };
  return OK;
}

function commit(state: State, ip: bigint, sp: bigint, fp: bigint): StepResult {
  state.ip = ip;
  state.sp = sp;
  state.fp = fp;
  state.ra = undefined;
  state.topmost = false;
  return OK;
}

function stepSframe(
  arch: UnwindArchInfo,
  state: State,
  row: SframeRow,
  memory: UnwindMemory,
  anyFrameRegs: boolean,
): StepResult {
  const rule = row.cfa;
  if (rule === null) return { ok: false, reason: "no CFA rule" };
  let base: bigint | undefined;
  if (rule.base === "sp") base = state.sp;
  else if (rule.base === "fp") {
    if (state.fp < state.sp) return { ok: false, reason: `FP ${hex(state.fp)} below SP ${hex(state.sp)}` };
    base = state.fp;
  } else {
    const known = rule.regnum === arch.dwarfSp || rule.regnum === arch.dwarfFp;
    if (!state.topmost && !(anyFrameRegs && known)) {
      return { ok: false, reason: `CFA based on register ${rule.regnum} below the topmost frame` };
    }
    base = regValue(arch, state, rule.regnum);
    if (base === undefined) return { ok: false, reason: `CFA register ${rule.regnum} unavailable` };
  }
  let cfa = U64(base + BigInt(rule.offset));
  if (rule.deref) {
    const v = memory.readWord(cfa);
    if (v === undefined) return { ok: false, reason: `fault dereferencing CFA at ${hex(cfa)}` };
    cfa = v;
  }
  const c = checkCfa(state, cfa, arch.wordSize);
  if (!c.ok) return c;
  const ra = applyRule(arch, state, row.ra, cfa, memory, "RA", anyFrameRegs);
  if (!ra.ok) return ra;
  const fp = applyRule(arch, state, row.fp, cfa, memory, "FP", anyFrameRegs);
  if (!fp.ok) return fp;
  return commit(state, ra.value, U64(cfa + BigInt(row.spOffset)), fp.value);
}

function stepFp(arch: UnwindArchInfo, state: State, memory: UnwindMemory): StepResult {
  const layout = arch.fpFrame;
  if (layout === null) return { ok: false, reason: `no frame-pointer unwinder for ${arch.name}` };
  if (state.fp < state.sp) return { ok: false, reason: `FP ${hex(state.fp)} below SP ${hex(state.sp)}` };
  const cfa = U64(state.fp + BigInt(layout.cfaOffset));
  const c = checkCfa(state, cfa, arch.wordSize);
  if (!c.ok) return c;
  const raAddr = U64(cfa + BigInt(layout.raOffset));
  const ra = memory.readWord(raAddr);
  if (ra === undefined) return { ok: false, reason: `fault reading RA at ${hex(raAddr)}` };
  const fpAddr = U64(cfa + BigInt(layout.fpOffset));
  const fp = memory.readWord(fpAddr);
  if (fp === undefined) return { ok: false, reason: `fault reading FP at ${hex(fpAddr)}` };
  return commit(state, ra, cfa, fp);
}
