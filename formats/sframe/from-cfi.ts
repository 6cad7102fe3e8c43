import { type CfiRow, cfiRows, type EhFrame } from "../dwarf/eh-frame.ts";
import { SFRAME_ABI_AMD64_ENDIAN_LITTLE, SFRAME_F_FDE_FUNC_START_PCREL, SFRAME_F_FDE_SORTED } from "./constants.ts";
import { encodeSframe, type SframeFreDescription, type SframeFunctionDescription } from "./encode.ts";

/**
 * Build an SFrame v3 section from `.eh_frame` CFI the way gas builds one from the same CFI directives
 * (binutils gas/gen-sframe.c, x86_64 only): per FDE, one FRE per distinct row; CFA from RSP or RBP plus
 * an offset; RA at the fixed CFA-8 (header); RBP's save slot when it has one; an "RA undefined" row
 * (no data words) for the outermost frame. A function whose CFI SFrame's default FDEs cannot express
 * (CFA from another register or an expression, RA elsewhere) gets no FDE, as gas warns "no SFrame FDE
 * emitted". Used to model "this library as if built with --gsframe" where the real file has no SFrame.
 */
export interface CfiConversion {
  readonly bytes: Uint8Array;
  readonly functions: number;
  /** FDEs left out, with why. */
  readonly skipped: ReadonlyArray<{ readonly pc: bigint; readonly reason: string }>;
}

const X86_RSP = 7;
const X86_RBP = 6;

function rowWords(row: CfiRow): { fre: Omit<SframeFreDescription, "startOffset">; key: string } | string {
  const ra = row.regs.get(row.raRegister);
  if (ra?.kind === "undefined") return { fre: { dataWords: [] }, key: "outermost" };
  if (row.cfa.kind !== "reg-offset") return "CFA is a DWARF expression";
  if (row.cfa.reg !== X86_RSP && row.cfa.reg !== X86_RBP) return `CFA based on register ${row.cfa.reg}`;
  if (ra === undefined || ra.kind !== "offset" || ra.offset !== -8) return "RA is not at CFA-8";
  const fp = row.regs.get(X86_RBP);
  if (fp && fp.kind !== "offset" && fp.kind !== "same" && fp.kind !== "undefined") return `RBP rule ${fp.kind}`;
  const words = [row.cfa.offset, ...(fp?.kind === "offset" ? [fp.offset] : [])];
  const base = row.cfa.reg === X86_RSP ? 1 : 0;
  return { fre: { dataWords: words, cfaBaseReg: base }, key: `${base}:${words.join(",")}` };
}

/**
 * Convert `eh` (an object's `.eh_frame`, link-time addresses) to SFrame bytes meant to be placed at
 * run-time address `sectionAddr` for an object loaded with bias `bias` (function starts are PC-relative).
 */
export function sframeFromCfi(eh: EhFrame, bias: bigint, sectionAddr: bigint): CfiConversion {
  const functions: SframeFunctionDescription[] = [];
  const skipped: Array<{ pc: bigint; reason: string }> = [];
  for (const fde of eh.fdes) {
    if (fde.pcRange === 0n || fde.pcRange > 0xffffffffn) continue;
    const rows = cfiRows(fde, eh.littleEndian, eh.source);
    const fres: SframeFreDescription[] = [];
    let lastKey: string | undefined;
    let reason: string | undefined;
    for (const row of rows) {
      const w = rowWords(row);
      if (typeof w === "string") {
        reason = w;
        break;
      }
      if (w.key === lastKey) continue;
      lastKey = w.key;
      fres.push({ startOffset: Number(row.loc - fde.pcBegin), ...w.fre });
    }
    if (reason !== undefined || fres.length === 0) {
      skipped.push({ pc: fde.pcBegin, reason: reason ?? "no rows" });
      continue;
    }
    const start = bias + fde.pcBegin - sectionAddr;
    if (start < BigInt(Number.MIN_SAFE_INTEGER) || start > BigInt(Number.MAX_SAFE_INTEGER)) {
      skipped.push({ pc: fde.pcBegin, reason: "too far from the section" });
      continue;
    }
    functions.push({ start: Number(start), size: Number(fde.pcRange), fres, signal: fde.cie.signalFrame });
  }
  functions.sort((a, b) => a.start - b.start);
  const bytes = encodeSframe({
    version: 3,
    littleEndian: true,
    flags: SFRAME_F_FDE_SORTED | SFRAME_F_FDE_FUNC_START_PCREL,
    abiArch: SFRAME_ABI_AMD64_ENDIAN_LITTLE,
    cfaFixedFpOffset: 0,
    cfaFixedRaOffset: -8,
    functions,
  });
  return { bytes, functions: functions.length, skipped };
}
