import { FormatError } from "../errors.ts";

/**
 * `.eh_frame` call frame information (DWARF CFI as GCC and glibc emit it: LSB 4.1 §10.6 and DWARF 4
 * §6.4): CIEs, FDEs and the row an FDE's instructions produce at a PC. ldsim uses it where a function
 * has no SFrame entry (glibc on this machine is built without SFrame), to know how that function's
 * frame is really laid out. Read-only, bounds-checked, every loop bounded by the input length.
 */

/** How a register's caller value is recovered at one row. */
export type CfiRegRule =
  | { readonly kind: "undefined" }
  | { readonly kind: "same" }
  /** Saved at CFA + offset. */
  | { readonly kind: "offset"; readonly offset: number }
  /** The value is CFA + offset. */
  | { readonly kind: "val-offset"; readonly offset: number }
  | { readonly kind: "register"; readonly reg: number }
  | { readonly kind: "expression" | "val-expression"; readonly expr: Uint8Array };

export type CfiCfaRule =
  | { readonly kind: "reg-offset"; readonly reg: number; readonly offset: number }
  | { readonly kind: "expression"; readonly expr: Uint8Array };

export interface CfiRow {
  /** First PC this row applies to. */
  readonly loc: bigint;
  readonly cfa: CfiCfaRule;
  /** Rules for registers that have one; absent registers are "same" (or the CIE's default). */
  readonly regs: ReadonlyMap<number, CfiRegRule>;
  readonly raRegister: number;
  /** CIE augmentation "S": the function is a signal trampoline. */
  readonly signalFrame: boolean;
}

export interface Cie {
  readonly offset: number;
  readonly version: number;
  readonly augmentation: string;
  readonly codeAlign: number;
  readonly dataAlign: number;
  readonly raRegister: number;
  readonly fdeEncoding: number;
  readonly lsdaEncoding: number;
  readonly signalFrame: boolean;
  readonly initialInstructions: Uint8Array;
}

export interface Fde {
  readonly offset: number;
  readonly cie: Cie;
  readonly pcBegin: bigint;
  readonly pcRange: bigint;
  readonly instructions: Uint8Array;
}

class Cursor {
  pos: number;
  private readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
    readonly le: boolean,
    readonly source: string,
  ) {
    this.pos = start;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number, what: string): void {
    if (this.pos + n > this.end) {
      throw new FormatError(`${what} at offset 0x${this.pos.toString(16)} runs past its entry`, {
        source: this.source,
        offset: this.pos,
      });
    }
  }
  u8(what = "u8"): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }
  u16(what = "u16"): number {
    this.need(2, what);
    const v = this.view.getUint16(this.pos, this.le);
    this.pos += 2;
    return v;
  }
  u32(what = "u32"): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, this.le);
    this.pos += 4;
    return v;
  }
  u64(what = "u64"): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, this.le);
    this.pos += 8;
    return v;
  }
  uleb(what = "uleb128"): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.u8(what);
      if (shift < 64n) result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if ((b & 0x80) === 0) return result;
    }
  }
  /**
   * A ULEB128 as a number, as `Number(uleb())` gives it: read without bigint when it has at most 4
   * bytes (below 2^28, exact either way), else through `uleb`.
   */
  ulebN(what = "uleb128"): number {
    const start = this.pos;
    let result = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      const b = this.u8(what);
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
    }
    this.pos = start;
    return Number(this.uleb(what));
  }
  /** An SLEB128 as a number, as `Number(sleb())` gives it (bigint only past 4 bytes). */
  slebN(what = "sleb128"): number {
    const start = this.pos;
    let result = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      const b = this.u8(what);
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) {
        const bits = shift + 7;
        return b & 0x40 ? result - 2 ** bits : result;
      }
    }
    this.pos = start;
    return Number(this.sleb(what));
  }
  sleb(what = "sleb128"): bigint {
    let result = 0n;
    let shift = 0n;
    let b: number;
    do {
      b = this.u8(what);
      if (shift < 64n) result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
    } while (b & 0x80);
    if (b & 0x40 && shift < 64n) result -= 1n << shift;
    return BigInt.asIntN(64, result);
  }
  cstring(what: string): string {
    let s = "";
    for (;;) {
      const b = this.u8(what);
      if (b === 0) return s;
      s += String.fromCharCode(b);
    }
  }
  bytesN(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

const DW_EH_PE_omit = 0xff;

/** Read a pointer in a DW_EH_PE_* encoding; `pcBase` is the address of the field (for pcrel). */
function readEncoded(c: Cursor, enc: number, sectionAddr: bigint, is64: boolean, what: string): bigint {
  const fieldAddr = sectionAddr + BigInt(c.pos);
  let v: bigint;
  switch (enc & 0x0f) {
    case 0x00:
      v = is64 ? c.u64(what) : BigInt(c.u32(what));
      break;
    case 0x01:
      v = c.uleb(what);
      break;
    case 0x02:
      v = BigInt(c.u16(what));
      break;
    case 0x03:
      v = BigInt(c.u32(what));
      break;
    case 0x04:
      v = c.u64(what);
      break;
    case 0x09:
      v = c.sleb(what);
      break;
    case 0x0a:
      v = BigInt.asIntN(16, BigInt(c.u16(what)));
      break;
    case 0x0b:
      v = BigInt.asIntN(32, BigInt(c.u32(what)));
      break;
    case 0x0c:
      v = BigInt.asIntN(64, c.u64(what));
      break;
    default:
      throw new FormatError(`${what}: unsupported pointer encoding 0x${enc.toString(16)}`, {
        source: c.source,
        offset: c.pos,
      });
  }
  switch (enc & 0x70) {
    case 0x00:
      break;
    case 0x10:
      v += fieldAddr;
      break;
    default:
      throw new FormatError(`${what}: unsupported pointer application 0x${(enc & 0x70).toString(16)}`, {
        source: c.source,
        offset: c.pos,
      });
  }
  return BigInt.asUintN(64, v);
}

/**
 * The CIEs and FDEs of an `.eh_frame` section whose first byte is at virtual address `sectionAddr`,
 * with FDEs sorted by start address for lookup.
 */
export class EhFrame {
  readonly fdes: readonly Fde[];
  private readonly cies = new Map<number, Cie>();

  constructor(
    readonly bytes: Uint8Array,
    readonly sectionAddr: bigint,
    readonly littleEndian: boolean,
    readonly is64: boolean,
    readonly source = ".eh_frame",
  ) {
    const fdes: Fde[] = [];
    let pos = 0;
    while (pos + 4 <= bytes.length) {
      const c = new Cursor(bytes, pos, bytes.length, littleEndian, source);
      let length = BigInt(c.u32("entry length"));
      if (length === 0n) break; // terminator
      if (length === 0xffffffffn) length = c.u64("64-bit entry length");
      const bodyStart = c.pos;
      const end = bodyStart + Number(length);
      if (length > BigInt(bytes.length) || end > bytes.length) {
        throw new FormatError(
          `CFI entry at 0x${pos.toString(16)} (length 0x${length.toString(16)}) runs past the section`,
          {
            source,
            offset: pos,
          },
        );
      }
      const body = new Cursor(bytes, bodyStart, end, littleEndian, source);
      const id = body.u32("CIE id");
      if (id === 0) this.parseCie(pos, body);
      else {
        const ciePos = bodyStart - id;
        const cie = this.cieAt(ciePos);
        fdes.push(this.parseFde(pos, body, cie));
      }
      pos = end;
    }
    fdes.sort((a, b) => (a.pcBegin < b.pcBegin ? -1 : a.pcBegin > b.pcBegin ? 1 : 0));
    this.fdes = fdes;
  }

  private cieAt(pos: number): Cie {
    const known = this.cies.get(pos);
    if (known) return known;
    if (pos < 0 || pos + 8 > this.bytes.length) {
      throw new FormatError(`FDE names a CIE at 0x${pos.toString(16)} outside the section`, {
        source: this.source,
        offset: pos,
      });
    }
    const c = new Cursor(this.bytes, pos, this.bytes.length, this.littleEndian, this.source);
    const len = c.u32("CIE length");
    const end = c.pos + len;
    const body = new Cursor(this.bytes, c.pos, Math.min(end, this.bytes.length), this.littleEndian, this.source);
    if (body.u32("CIE id") !== 0) {
      throw new FormatError(`FDE names 0x${pos.toString(16)} as its CIE, but that entry is not a CIE`, {
        source: this.source,
        offset: pos,
      });
    }
    return this.parseCie(pos, body);
  }

  private parseCie(pos: number, c: Cursor): Cie {
    const version = c.u8("CIE version");
    const augmentation = c.cstring("CIE augmentation");
    if (augmentation.includes("eh")) c.pos += this.is64 ? 8 : 4;
    const codeAlign = Number(c.uleb("code alignment"));
    const dataAlign = Number(c.sleb("data alignment"));
    const raRegister = version === 1 ? c.u8("RA register") : Number(c.uleb("RA register"));
    let fdeEncoding = 0;
    let lsdaEncoding = DW_EH_PE_omit;
    let signalFrame = false;
    if (augmentation.startsWith("z")) {
      const augLen = Number(c.uleb("augmentation length"));
      const augEnd = c.pos + augLen;
      for (const ch of augmentation.slice(1)) {
        if (ch === "R") fdeEncoding = c.u8("FDE pointer encoding");
        else if (ch === "L") lsdaEncoding = c.u8("LSDA encoding");
        else if (ch === "P") {
          const enc = c.u8("personality encoding");
          readEncoded(c, enc & 0x7f, this.sectionAddr, this.is64, "personality");
        } else if (ch === "S") signalFrame = true;
      }
      c.pos = augEnd;
    }
    const cie: Cie = {
      offset: pos,
      version,
      augmentation,
      codeAlign,
      dataAlign,
      raRegister,
      fdeEncoding,
      lsdaEncoding,
      signalFrame,
      initialInstructions: c.bytesN(c.end - c.pos, "CIE instructions"),
    };
    this.cies.set(pos, cie);
    return cie;
  }

  private parseFde(pos: number, c: Cursor, cie: Cie): Fde {
    const pcBegin = readEncoded(c, cie.fdeEncoding, this.sectionAddr, this.is64, "FDE pc_begin");
    const pcRange = readEncoded(c, cie.fdeEncoding & 0x0f, this.sectionAddr, this.is64, "FDE pc_range");
    if (cie.augmentation.startsWith("z")) {
      const augLen = Number(c.uleb("FDE augmentation length"));
      c.bytesN(augLen, "FDE augmentation data");
    }
    return { offset: pos, cie, pcBegin, pcRange, instructions: c.bytesN(c.end - c.pos, "FDE instructions") };
  }

  /** The FDE covering `pc` (binary search over sorted starts), or undefined. */
  fdeFor(pc: bigint): Fde | undefined {
    let lo = 0;
    let hi = this.fdes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.fdes[mid] as Fde).pcBegin <= pc) lo = mid + 1;
      else hi = mid;
    }
    const f = this.fdes[lo - 1];
    return f && pc < f.pcBegin + f.pcRange ? f : undefined;
  }

  /** The CFI row in effect at `pc`, or undefined when no FDE covers it. */
  rowFor(pc: bigint): CfiRow | undefined {
    const fde = this.fdeFor(pc);
    if (!fde) return undefined;
    return executeCfi(fde, pc, this.littleEndian, this.source);
  }
}

interface MutableRow {
  loc: bigint;
  cfa: CfiCfaRule;
  regs: Map<number, CfiRegRule>;
}

/**
 * The CFA instruction interpreter of `executeCfi` (DWARF 4 §6.4.2). A class rather than closures
 * made per call: the whole of an object's .eh_frame is run when it is converted to SFrame, and the
 * per-call function objects were a sixth of that time.
 */
class CfiMachine {
  readonly row: MutableRow;
  private readonly codeAlign: bigint;
  /** The CIE's initial rules (DW_CFA_restore), while the FDE's instructions run. */
  private initial: Map<number, CfiRegRule> | undefined;

  constructor(
    readonly fde: Fde,
    private readonly pc: bigint,
    private readonly littleEndian: boolean,
    private readonly source: string,
    private readonly onRow: ((row: CfiRow) => void) | undefined,
  ) {
    this.row = { loc: fde.pcBegin, cfa: { kind: "reg-offset", reg: 0, offset: 0 }, regs: new Map() };
    this.codeAlign = BigInt(fde.cie.codeAlign);
  }

  snapshot(): CfiRow {
    const cie = this.fde.cie;
    return {
      loc: this.row.loc,
      cfa: this.row.cfa,
      regs: new Map(this.row.regs),
      raRegister: cie.raRegister,
      signalFrame: cie.signalFrame,
    };
  }

  /** Move to the next row; true when it starts past `pc` (the row covering `pc` is complete). */
  private advance(delta: bigint): boolean {
    const row = this.row;
    const next = row.loc + delta * this.codeAlign;
    if (this.onRow && this.initial !== undefined && next !== row.loc) this.onRow(this.snapshot());
    if (next > this.pc) return true;
    row.loc = next;
    return false;
  }

  private restore(reg: number): void {
    const r = this.initial?.get(reg);
    if (r) this.row.regs.set(reg, r);
    else this.row.regs.delete(reg);
  }

  /** Run `code`; `initial` is undefined for the CIE's initial instructions. True when stopped at `pc`. */
  run(code: Uint8Array, initial: Map<number, CfiRegRule> | undefined): boolean {
    this.initial = initial;
    const row = this.row;
    const source = this.source;
    const dataAlign = this.fde.cie.dataAlign;
    const c = new Cursor(code, 0, code.length, this.littleEndian, source);
    const stack: Array<{ cfa: CfiCfaRule; regs: Map<number, CfiRegRule> }> = [];
    while (c.pos < c.end) {
      const op = c.u8("CFA opcode");
      const hi = op & 0xc0;
      const low = op & 0x3f;
      if (hi === 0x40) {
        if (this.advance(BigInt(low))) return true;
        continue;
      }
      if (hi === 0x80) {
        row.regs.set(low, { kind: "offset", offset: c.ulebN() * dataAlign });
        continue;
      }
      if (hi === 0xc0) {
        this.restore(low);
        continue;
      }
      switch (op) {
        case 0x00: // nop
          break;
        case 0x01: // set_loc
          row.loc = readEncoded(c, this.fde.cie.fdeEncoding, 0n, true, "DW_CFA_set_loc");
          if (row.loc > this.pc) return true;
          break;
        case 0x02:
          if (this.advance(BigInt(c.u8()))) return true;
          break;
        case 0x03:
          if (this.advance(BigInt(c.u16()))) return true;
          break;
        case 0x04:
          if (this.advance(BigInt(c.u32()))) return true;
          break;
        case 0x05: {
          const reg = c.ulebN();
          row.regs.set(reg, { kind: "offset", offset: c.ulebN() * dataAlign });
          break;
        }
        case 0x06:
          this.restore(c.ulebN());
          break;
        case 0x07:
          row.regs.set(c.ulebN(), { kind: "undefined" });
          break;
        case 0x08:
          row.regs.set(c.ulebN(), { kind: "same" });
          break;
        case 0x09: {
          const reg = c.ulebN();
          row.regs.set(reg, { kind: "register", reg: c.ulebN() });
          break;
        }
        case 0x0a:
          if (stack.length > 1024) throw new FormatError("DW_CFA_remember_state nested too deeply", { source });
          stack.push({ cfa: row.cfa, regs: new Map(row.regs) });
          break;
        case 0x0b: {
          const st = stack.pop();
          if (!st) throw new FormatError("DW_CFA_restore_state without remember_state", { source });
          // The CFA rule is part of the remembered state (DWARF 4 §6.4.2.4).
          row.cfa = st.cfa;
          row.regs = st.regs;
          break;
        }
        case 0x0c: {
          const reg = c.ulebN();
          row.cfa = { kind: "reg-offset", reg, offset: c.ulebN() };
          break;
        }
        case 0x0d: {
          const reg = c.ulebN();
          row.cfa = { kind: "reg-offset", reg, offset: row.cfa.kind === "reg-offset" ? row.cfa.offset : 0 };
          break;
        }
        case 0x0e:
          if (row.cfa.kind === "reg-offset") row.cfa = { kind: "reg-offset", reg: row.cfa.reg, offset: c.ulebN() };
          else c.uleb();
          break;
        case 0x0f:
          row.cfa = { kind: "expression", expr: c.bytesN(c.ulebN(), "CFA expression") };
          break;
        case 0x10: {
          const reg = c.ulebN();
          row.regs.set(reg, { kind: "expression", expr: c.bytesN(c.ulebN(), "expression") });
          break;
        }
        case 0x11: {
          const reg = c.ulebN();
          row.regs.set(reg, { kind: "offset", offset: c.slebN() * dataAlign });
          break;
        }
        case 0x12: {
          const reg = c.ulebN();
          row.cfa = { kind: "reg-offset", reg, offset: c.slebN() * dataAlign };
          break;
        }
        case 0x13:
          if (row.cfa.kind === "reg-offset") {
            row.cfa = { kind: "reg-offset", reg: row.cfa.reg, offset: c.slebN() * dataAlign };
          } else c.sleb();
          break;
        case 0x14: {
          const reg = c.ulebN();
          row.regs.set(reg, { kind: "val-offset", offset: c.ulebN() * dataAlign });
          break;
        }
        case 0x15: {
          const reg = c.ulebN();
          row.regs.set(reg, { kind: "val-offset", offset: c.slebN() * dataAlign });
          break;
        }
        case 0x16: {
          const reg = c.ulebN();
          row.regs.set(reg, { kind: "val-expression", expr: c.bytesN(c.ulebN(), "expression") });
          break;
        }
        case 0x2d: // DW_CFA_GNU_window_save / AArch64 negate_ra_state: no register rule change here
          break;
        case 0x2e: // DW_CFA_GNU_args_size
          c.uleb();
          break;
        case 0x2f: {
          const reg = c.ulebN();
          row.regs.set(reg, { kind: "offset", offset: -c.ulebN() * dataAlign });
          break;
        }
        default:
          throw new FormatError(`unknown CFA opcode 0x${op.toString(16)}`, { source, offset: c.pos - 1 });
      }
    }
    return false;
  }
}

/** Run the CIE's initial instructions and the FDE's instructions up to the row covering `pc`. */
export function executeCfi(
  fde: Fde,
  pc: bigint,
  littleEndian: boolean,
  source = ".eh_frame",
  onRow?: (row: CfiRow) => void,
): CfiRow {
  const m = new CfiMachine(fde, pc, littleEndian, source, onRow);
  m.run(fde.cie.initialInstructions, undefined);
  const initial = new Map(m.row.regs);
  m.row.loc = fde.pcBegin;
  m.run(fde.instructions, initial);
  const last = m.snapshot();
  if (onRow) onRow(last);
  return last;
}

/** Every row of an FDE, in address order (each row applies from its `loc` to the next row's). */
export function cfiRows(fde: Fde, littleEndian: boolean, source = ".eh_frame"): CfiRow[] {
  const rows: CfiRow[] = [];
  executeCfi(fde, fde.pcBegin + fde.pcRange, littleEndian, source, (r) => {
    if (r.loc < fde.pcBegin + fde.pcRange) rows.push(r);
  });
  return rows;
}
