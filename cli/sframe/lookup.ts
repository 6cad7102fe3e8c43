import type { ElfFile } from "../../formats/elf/file.ts";
import { LdsimError } from "../../formats/errors.ts";
import { SFRAME_FDE_TYPE_FLEX } from "../../formats/sframe/constants.ts";
import { decodeSframe } from "../../formats/sframe/decode.ts";
import { findFreByAddress } from "../../formats/sframe/find-fre.ts";
import { interpretFre } from "../../formats/sframe/interpret.ts";
import { locateSframe } from "../../formats/sframe/locate.ts";
import type { SframeFde, SframeFre, SframeRegRule, SframeRow } from "../../formats/sframe/types.ts";

/**
 * `ldsim sframe lookup FILE PC...`: the unwind row libsframe's `sframe_find_fre` returns for each
 * address, found the way a loader finds the data (PT_GNU_SFRAME, else the `.sframe` section) and
 * printed in the notation of the fixtures' `*.sframe-lookup.txt` (`cfa=sp+16 fp=c-16 ra=c-8`).
 */

/** One looked-up address. */
export type SframeLookupResult =
  | {
      readonly ok: true;
      /** The address asked for (link-time address, as in the file). */
      readonly pc: bigint;
      readonly fde: SframeFde;
      /** Link-time address of the function. */
      readonly funcAddress: bigint;
      readonly fre: SframeFre;
      readonly row: SframeRow;
    }
  | { readonly ok: false; readonly pc: bigint; readonly code: string; readonly message: string };

/** No SFrame data in the file, or an address that is not a number. */
export class SframeLookupError extends LdsimError {
  override name = "SframeLookupError";
}

/** Parse a PC argument: `0x…` hex, or decimal. */
export function parsePc(text: string): bigint {
  const t = text.trim();
  if (/^0x[0-9a-f]+$/i.test(t) || /^[0-9]+$/.test(t)) return BigInt(t);
  throw new SframeLookupError(`bad address '${text}' (expected 0x-prefixed hex or decimal)`);
}

/** Look up each address in the SFrame data of `elf`. */
export function lookupSframe(elf: ElfFile, pcs: readonly bigint[]): SframeLookupResult[] {
  const loc = locateSframe(elf);
  if (!loc) throw new SframeLookupError(`${elf.name}: no PT_GNU_SFRAME segment or .sframe section`);
  const section = decodeSframe(loc.bytes, { vaddr: loc.vaddr, source: elf.name });
  const ctx = { header: section.header, version: section.version, source: elf.name };
  return pcs.map((pc): SframeLookupResult => {
    const r = findFreByAddress(section, pc);
    if (!r.ok) return { ok: false, pc, code: r.code, message: r.message };
    return {
      ok: true,
      pc,
      fde: r.fde,
      funcAddress: section.funcAddress(r.fde),
      fre: r.fre,
      row: interpretFre(ctx, r.fde, r.fre),
    };
  });
}

/**
 * One line per result:
 * `0x1026: fde[0] start=0x1020 size=16 fre[1] +0x6 cfa=sp+24 fp=u ra=c-8`; a failure reads
 * `0x2000: SFRAME_ERR_FDE_NOTFOUND: no FDE covers section offset …`.
 */
export function formatLookupLine(r: SframeLookupResult): string {
  const pc = `0x${r.pc.toString(16)}`;
  if (!r.ok) return `${pc}: ${r.code}: ${r.message}`;
  return `${pc}: fde[${r.fde.index}] start=0x${r.funcAddress.toString(16)} size=${r.fde.funcSize} ${formatFreRow(r.fde, r.fre, r.row)}`;
}

/**
 * `fre[1] +0x6 cfa=sp+24 fp=u ra=c-8` — the fixtures' notation for an FRE and its row (FLEX rows:
 * `cfa=r10+0 fp=(r6+0) ra=padding(default rule) raw=[0x51,0x0,0x0,0x33,0x0]`).
 */
export function formatFreRow(fde: SframeFde, fre: SframeFre, row: SframeRow): string {
  const head = `fre[${fre.index}] +0x${fre.startOffset.toString(16)}`;
  if (row.outermost || !row.cfa) return `${head} RA-undefined (outermost frame)`;
  const flex = fde.version === 3 && fde.fdeType === SFRAME_FDE_TYPE_FLEX;
  const c = row.cfa;
  let cfa: string;
  if (flex) {
    const text = `r${c.regnum}${signed(c.offset)}`;
    cfa = c.deref ? `(${text})` : text;
  } else {
    cfa = `${c.base}+${c.offset}`;
  }
  const fp = ruleText(row.fp, row.fpSource, flex);
  const ra = ruleText(row.ra, row.raSource, flex);
  // FLEX rows also show their raw words (control words and displacements, as stored).
  const raw = flex ? ` raw=[${fre.dataWords.map((w) => `0x${w.toString(16)}`).join(",")}]` : "";
  return `${head} cfa=${cfa} fp=${fp} ra=${ra}${raw}`;
}

function ruleText(rule: SframeRegRule, source: SframeRow["raSource"], flex: boolean): string {
  if (source === "padding") return "padding(default rule)";
  if (flex && source === "header") return "fixed";
  switch (rule.kind) {
    case "undefined":
      return "undefined";
    case "same":
      return "u";
    case "cfa":
      return rule.deref ? `c${signed(rule.offset)}` : `=c${signed(rule.offset)}`;
    case "reg": {
      const text = `r${rule.regnum}${signed(rule.offset)}`;
      return rule.deref ? `(${text})` : text;
    }
  }
}

function signed(v: number): string {
  return v < 0 ? `${v}` : `+${v}`;
}

/** The `--json` form: plain data, 64-bit values as hex strings. */
export function lookupJson(r: SframeLookupResult): unknown {
  const pc = `0x${r.pc.toString(16)}`;
  if (!r.ok) return { pc, ok: false, code: r.code, message: r.message };
  const f = r.fde;
  return {
    pc,
    ok: true,
    fde: {
      index: f.index,
      start: `0x${r.funcAddress.toString(16)}`,
      size: f.funcSize,
      pcType: f.pcType,
      fdeType: f.version === 3 ? (f.fdeType === SFRAME_FDE_TYPE_FLEX ? "flex" : "default") : "default",
      signal: f.version === 3 && f.signal,
      repSize: f.repSize,
    },
    fre: {
      index: r.fre.index,
      startOffset: r.fre.startOffset,
      dataWords: r.fre.dataWords,
      dataWordSize: r.fre.dataWordSize,
    },
    row: r.row,
    text: formatFreRow(r.fde, r.fre, r.row),
  };
}
