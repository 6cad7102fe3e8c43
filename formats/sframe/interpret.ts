import {
  DWARF_REG_SP_FP,
  SFRAME_ABI_S390X_ENDIAN_BIG,
  SFRAME_FDE_TYPE_DEFAULT,
  SFRAME_FDE_TYPE_FLEX,
  SFRAME_S390X_CFA_OFFSET_ADJUSTMENT,
  SFRAME_S390X_CFA_OFFSET_ALIGNMENT_FACTOR,
  SFRAME_S390X_SP_VAL_OFFSET,
  SFRAME_V3_FLEX_CTRL_DEREF_P,
  SFRAME_V3_FLEX_CTRL_REG_P,
  SFRAME_V3_FLEX_CTRL_REGNUM_SHIFT,
  SFRAME_VERSION_2,
} from "./constants.ts";
import { signExtend } from "./decode.ts";
import { SframeFormatError } from "./errors.ts";
import type {
  SframeCfaRule,
  SframeFde,
  SframeFre,
  SframeHeader,
  SframeRegRule,
  SframeRow,
  SframeRuleSource,
} from "./types.ts";

/** What interpretation needs from the section: its header and version. */
export interface SframeInterpretContext {
  readonly header: SframeHeader;
  readonly version: number;
  readonly source?: string | undefined;
}

const SAME: SframeRegRule = Object.freeze({ kind: "same" });
const UNDEFINED: SframeRegRule = Object.freeze({ kind: "undefined" });

/**
 * The unwind row an FRE encodes (spec "Default FDE Type Interpretation" / "Flexible FDE Type
 * Interpretation"; libsframe 2.46 `sframe_fre_get_{cfa,ra,fp}_offset`; kernel
 * `__read_{default,flex_fde}_fre_datawords`):
 *
 * - N = 0: RA undefined, outermost frame (V2 erratum 2, V3).
 * - DEFAULT: dw0 = CFA offset from SP/FP (FRE bit 0); RA = header fixed offset if set, else dw1;
 *   FP = header fixed offset if set, else the next word (dw1 when RA is fixed, else dw2).
 *   s390x: CFA offset decodes as `stored*8 + 160`; an RA word of 0 is padding (RA not saved);
 *   V2 only: an RA/FP word with LSB 1 names a DWARF register (`value >> 1`).
 * - FLEX (V3): (control, displacement) pairs for CFA, RA, FP; a control word 0 is padding for that
 *   entity (one word); absent/padded RA/FP fall back to the header's fixed offsets.
 *
 * Words beyond those the rules use are ignored here (the kernel's validation rejects them:
 * validate.ts). Throws SframeFormatError for an unknown FDE type, a FLEX FRE with fewer than 2 words,
 * or a FLEX CFA whose control word has reg_p = 0.
 */
export function interpretFre(ctx: SframeInterpretContext, fde: SframeFde, fre: SframeFre): SframeRow {
  const h = ctx.header;
  const s390 = h.abiArch === SFRAME_ABI_S390X_ENDIAN_BIG;
  const signal = fde.version === 3 ? fde.signal : false;
  const base = {
    signal,
    mangledRa: fre.mangledRa,
    pauthKey: fde.pauthKey,
    spOffset: s390 ? SFRAME_S390X_SP_VAL_OFFSET : 0,
  };
  if (fre.dataWordCount === 0) {
    return { ...base, cfa: null, ra: UNDEFINED, raSource: "absent", fp: SAME, fpSource: "absent", outermost: true };
  }
  const fdeType = fde.version === 3 ? fde.fdeType : SFRAME_FDE_TYPE_DEFAULT;
  const regs = DWARF_REG_SP_FP[h.abiArch];
  const size = fre.dataWordSize;
  const words = fre.dataWords;
  const word = (k: number): number => signExtend(words[k] as number, size);
  const decodeCfa = (v: number): number =>
    s390 ? v * SFRAME_S390X_CFA_OFFSET_ALIGNMENT_FACTOR - SFRAME_S390X_CFA_OFFSET_ADJUSTMENT : v;
  const fixedRa = fallback(h.cfaFixedRaOffset);
  const fixedFp = fallback(h.cfaFixedFpOffset);

  if (fdeType === SFRAME_FDE_TYPE_DEFAULT) {
    const spBased = fre.cfaBaseReg === 1;
    const cfa: SframeCfaRule = {
      base: spBased ? "sp" : "fp",
      regnum: regs ? (spBased ? regs.sp : regs.fp) : -1,
      offset: decodeCfa(word(0)),
      deref: false,
    };
    let next = 1;
    let ra: SframeRegRule;
    let raSource: SframeRuleSource;
    if (h.cfaFixedRaOffset !== 0) {
      ra = fixedRa.rule;
      raSource = "header";
    } else if (next < fre.dataWordCount) {
      const v = word(next++);
      if (s390 && v === 0) {
        ra = SAME;
        raSource = "padding";
      } else {
        ra = savedAt(v, s390 && ctx.version === SFRAME_VERSION_2);
        raSource = "dataword";
      }
    } else {
      ra = SAME;
      raSource = "absent";
    }
    let fp: SframeRegRule;
    let fpSource: SframeRuleSource;
    if (h.cfaFixedFpOffset !== 0) {
      fp = fixedFp.rule;
      fpSource = "header";
    } else if (next < fre.dataWordCount) {
      fp = savedAt(word(next), s390 && ctx.version === SFRAME_VERSION_2);
      fpSource = "dataword";
    } else {
      fp = SAME;
      fpSource = "absent";
    }
    return { ...base, cfa, ra, raSource, fp, fpSource, outermost: false };
  }

  if (fdeType === SFRAME_FDE_TYPE_FLEX) {
    if (fre.dataWordCount < 2) {
      throw new SframeFormatError(
        "bad-fre",
        `FLEX FRE ${fre.index} of FDE ${fde.index} has ${fre.dataWordCount} data word`,
        {
          offset: fre.offset,
          expected: "at least 2 data words (CFA control word and displacement)",
          source: ctx.source,
        },
      );
    }
    const ctrl = words[0] as number;
    if ((ctrl & SFRAME_V3_FLEX_CTRL_REG_P) === 0) {
      throw new SframeFormatError(
        "bad-fre",
        `FLEX FRE ${fre.index} of FDE ${fde.index}: CFA control word 0x${ctrl.toString(16)} has reg_p = 0`,
        {
          offset: fre.offset,
          expected: "CFA control word with reg_p (bit 0) set",
          source: ctx.source,
        },
      );
    }
    const regnum = ctrl >>> SFRAME_V3_FLEX_CTRL_REGNUM_SHIFT;
    const cfa: SframeCfaRule = {
      base: regs && regnum === regs.sp ? "sp" : regs && regnum === regs.fp ? "fp" : "reg",
      regnum,
      offset: decodeCfa(word(1)),
      deref: (ctrl & SFRAME_V3_FLEX_CTRL_DEREF_P) !== 0,
    };
    let k = 2;
    const entity = (fixed: { rule: SframeRegRule; source: SframeRuleSource }) => {
      if (fre.dataWordCount - k < 2) return fixed;
      const c = words[k++] as number;
      if (c === 0) return { rule: fixed.rule, source: "padding" as SframeRuleSource };
      const disp = word(k++);
      return { rule: flexRule(c, disp), source: "dataword" as SframeRuleSource };
    };
    const ra = entity(fixedRa);
    const fp = entity(fixedFp);
    return { ...base, cfa, ra: ra.rule, raSource: ra.source, fp: fp.rule, fpSource: fp.source, outermost: false };
  }

  throw new SframeFormatError("bad-fde", `FDE ${fde.index} has unknown FDE type ${fdeType}`, {
    offset: fde.version === 3 ? fde.attrOffset + 3 : fde.offset,
    expected: "SFRAME_FDE_TYPE_DEFAULT (0) or SFRAME_FDE_TYPE_FLEX (1)",
    source: ctx.source,
  });
}

/** The rule a header fixed offset implies: `*(CFA + off)`, or "same" when the offset is 0 (not fixed). */
function fallback(fixed: number): { rule: SframeRegRule; source: SframeRuleSource } {
  if (fixed === 0) return { rule: SAME, source: "absent" };
  return { rule: { kind: "cfa", offset: fixed, deref: true }, source: "header" };
}

/** A DEFAULT-FDE RA/FP word: saved at CFA + v; V2 s390x: LSB 1 = "in DWARF register v >> 1". */
function savedAt(v: number, s390RegTrick: boolean): SframeRegRule {
  if (s390RegTrick && (v & 1) === 1) return { kind: "reg", regnum: v >> 1, offset: 0, deref: false };
  return { kind: "cfa", offset: v, deref: true };
}

/** A FLEX (control, displacement) pair for RA/FP (kernel `sframe_init_rule_data`). */
function flexRule(ctrl: number, disp: number): SframeRegRule {
  const deref = (ctrl & SFRAME_V3_FLEX_CTRL_DEREF_P) !== 0;
  if (ctrl & SFRAME_V3_FLEX_CTRL_REG_P) {
    return { kind: "reg", regnum: ctrl >>> SFRAME_V3_FLEX_CTRL_REGNUM_SHIFT, offset: disp, deref };
  }
  return { kind: "cfa", offset: disp, deref };
}
