import {
  SFRAME_F_FDE_FUNC_START_PCREL,
  SFRAME_F_FDE_SORTED,
  SFRAME_V3_FDE_ATTR_SIZE,
  SFRAME_V3_FDE_SIGNAL_BIT,
  SFRAME_V3_FDE_TYPE_MASK,
  SFRAME_VERSION_2,
  SFRAME_VERSION_3,
} from "./constants.ts";
import { SframeFormatError } from "./errors.ts";
import { checkHeader, type HeaderCheckOptions, readSframeHeader } from "./header.ts";
import type {
  SframeDataWordSizeCode,
  SframeFde,
  SframeFre,
  SframeFunction,
  SframeHeader,
  SframeLayout,
  SframeSectionData,
  SframeVersion,
} from "./types.ts";

export interface SframeDecodeOptions extends HeaderCheckOptions {
  /**
   * Address of the first byte of `bytes` (section sh_addr / PT_GNU_SFRAME p_vaddr, plus the load bias
   * at run time). Function starts are section-relative; this turns them into PCs. Default 0.
   */
  readonly vaddr?: bigint;
}

/** Bytes of an FRE start address for FDE fre_type 0/1/2; 0 for an invalid type. */
export function freAddrSize(freType: number): number {
  return freType === 0 ? 1 : freType === 1 ? 2 : freType === 2 ? 4 : 0;
}

/** Sign-extend a data word read unsigned at `size` bytes. */
export function signExtend(value: number, size: number): number {
  if (size === 1) return (value << 24) >> 24;
  if (size === 2) return (value << 16) >> 16;
  return value | 0;
}

/**
 * A decoded SFrame section, decoded LAZILY: construction reads and checks the header only; FDEs and
 * FREs are read from the bytes on request, so a lookup touches O(log n) FDEs and one function's
 * FREs (like libsframe's decoder on its native-endian path, but bounds-checked everywhere).
 *
 * Every accessor throws SframeFormatError (with the section offset and what was expected) on a
 * structure that lies outside its sub-section or uses an invalid encoding; never reads out of bounds.
 */
export class SframeSection {
  readonly header: SframeHeader;
  readonly layout: SframeLayout;
  readonly version: SframeVersion;
  readonly vaddr: bigint;
  /** SFRAME_F_FDE_FUNC_START_PCREL: function starts are relative to the start field itself. */
  readonly pcrel: boolean;
  /** SFRAME_F_FDE_SORTED. */
  readonly sorted: boolean;
  readonly littleEndian: boolean;
  readonly source: string | undefined;
  /** @internal view over `bytes` for allocation-free reads. */
  readonly view: DataView;
  private fdeCache: (SframeFde | undefined)[] | undefined;
  // Hot-path copies (plain fields: no cross-module bindings or nested reads in the lookup loop).
  private readonly isV3: boolean;
  private readonly fdesOffset: number;
  private readonly fdeEntrySize: number;
  private freCache: (SframeFre[] | undefined)[] | undefined;
  private startIndex: Float64Array | undefined;
  /** @internal section offset of FDE 0's `func_size` field (entry i: `+ i * layout.fdeEntrySize`). */
  readonly sizeFieldOffset: number;

  constructor(
    readonly bytes: Uint8Array,
    options: SframeDecodeOptions = {},
  ) {
    this.source = options.source;
    this.header = readSframeHeader(bytes, options.source);
    const { version, layout } = checkHeader(bytes, this.header, options);
    this.version = version;
    this.layout = layout;
    this.vaddr = options.vaddr ?? 0n;
    this.littleEndian = this.header.littleEndian;
    this.pcrel = (this.header.preamble.flags & SFRAME_F_FDE_FUNC_START_PCREL) !== 0;
    this.sorted = (this.header.preamble.flags & SFRAME_F_FDE_SORTED) !== 0;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.isV3 = version === SFRAME_VERSION_3;
    this.fdesOffset = layout.fdesOffset;
    this.fdeEntrySize = layout.fdeEntrySize;
    this.sizeFieldOffset = layout.fdesOffset + (this.isV3 ? 8 : 4);
  }

  get numFdes(): number {
    return this.header.numFdes;
  }

  /** Section offset of FDE entry `i` (no check of `i`). */
  fdeOffset(i: number): number {
    return this.fdesOffset + i * this.fdeEntrySize;
  }

  /**
   * Section-relative function start of FDE `i`, read straight from the bytes without allocating
   * (the binary search's probe). A V3 i64 beyond ±2^53 raises SframeFormatError.
   */
  funcStartAt(i: number): number {
    const start = this.startOrNaN(i);
    if (Number.isNaN(start)) {
      throw new SframeFormatError("bad-fde", `FDE ${i} function start does not fit in 53 bits`, {
        offset: this.fdeOffset(i),
        expected: "|sfdi_func_start_offset| < 2^53",
        source: this.source,
      });
    }
    return start;
  }

  /** `funcStartAt(i)`, with NaN for a V3 start beyond ±2^53 instead of the error. */
  private startOrNaN(i: number): number {
    const off = this.fdeOffset(i);
    let raw: number;
    if (this.isV3) {
      // Two 32-bit halves: exact for |value| < 2^53 and no BigInt allocation on the lookup path.
      const le = this.littleEndian;
      const lo = this.view.getUint32(le ? off : off + 4, le);
      const hi = this.view.getInt32(le ? off + 4 : off, le);
      if (hi > 0x1fffff || hi < -0x200000) return Number.NaN;
      raw = hi * 0x100000000 + lo;
    } else {
      raw = this.view.getInt32(off, this.littleEndian);
    }
    return this.pcrel ? off + raw : raw;
  }

  /**
   * Every function start (`funcStartAt`, NaN where that throws), built on first use and kept: the
   * lookup's binary search probes this flat array instead of the FDE table's 16/17/20-byte strided
   * entries. One f64 per FDE entry (8 bytes for every 16 or more of input), so its size is bounded by
   * the FDE table that checkHeader proved lies inside the bytes.
   */
  funcStarts(): Float64Array {
    let starts = this.startIndex;
    if (starts === undefined) {
      starts = new Float64Array(this.header.numFdes);
      for (let i = 0; i < starts.length; i++) starts[i] = this.startOrNaN(i);
      this.startIndex = starts;
    }
    return starts;
  }

  /** `func_size` of FDE `i` (allocation-free). */
  funcSizeAt(i: number): number {
    return this.view.getUint32(this.fdeOffset(i) + (this.isV3 ? 8 : 4), this.littleEndian);
  }

  /** Decode FDE `i` (V3: index entry + attribute block). */
  fde(i: number): SframeFde {
    if (!Number.isInteger(i) || i < 0 || i >= this.header.numFdes) {
      throw new SframeFormatError("bad-fde", `FDE index ${i} out of range`, {
        offset: this.layout.fdesOffset,
        expected: `0 <= index < ${this.header.numFdes}`,
        source: this.source,
      });
    }
    const le = this.littleEndian;
    const dv = this.view;
    const offset = this.fdeOffset(i);
    const funcStart = this.funcStartAt(i);
    const { fresOffset, fresEnd } = this.layout;
    if (this.version === SFRAME_VERSION_3) {
      const rawStart = dv.getBigInt64(offset, le);
      const funcSize = dv.getUint32(offset + 8, le);
      const startFreOff = dv.getUint32(offset + 12, le);
      const attrOffset = fresOffset + startFreOff;
      if (attrOffset + SFRAME_V3_FDE_ATTR_SIZE > fresEnd) {
        throw new SframeFormatError(
          "bad-fde",
          `FDE ${i} attribute block at FRE offset 0x${startFreOff.toString(16)} lies outside the FRE sub-section (0x${(fresEnd - fresOffset).toString(16)} bytes)`,
          {
            offset: offset + 12,
            expected: `sfdi_func_start_fre_off <= 0x${(fresEnd - fresOffset - 5).toString(16)}`,
            source: this.source,
          },
        );
      }
      const numFres = dv.getUint16(attrOffset, le);
      const info = dv.getUint8(attrOffset + 2);
      const info2 = dv.getUint8(attrOffset + 3);
      const repSize = dv.getUint8(attrOffset + 4);
      return {
        version: 3,
        index: i,
        offset,
        rawStart,
        funcStart,
        funcSize,
        startFreOff,
        numFres,
        info,
        freType: info & 0xf,
        pcType: info & 0x10 ? "mask" : "inc",
        pauthKey: info & 0x20 ? 1 : 0,
        repSize,
        fresOffset: attrOffset + SFRAME_V3_FDE_ATTR_SIZE,
        attrOffset,
        info2,
        fdeType: info2 & SFRAME_V3_FDE_TYPE_MASK,
        signal: (info & SFRAME_V3_FDE_SIGNAL_BIT) !== 0,
      };
    }
    const rawStart = BigInt(dv.getInt32(offset, le));
    const funcSize = dv.getUint32(offset + 4, le);
    const startFreOff = dv.getUint32(offset + 8, le);
    const numFres = dv.getUint32(offset + 12, le);
    const info = dv.getUint8(offset + 16);
    const firstFre = fresOffset + startFreOff;
    if (firstFre > fresEnd) {
      throw new SframeFormatError(
        "bad-fde",
        `FDE ${i} first FRE at FRE offset 0x${startFreOff.toString(16)} lies outside the FRE sub-section (0x${(fresEnd - fresOffset).toString(16)} bytes)`,
        {
          offset: offset + 8,
          expected: `sfde_func_start_fre_off <= 0x${(fresEnd - fresOffset).toString(16)}`,
          source: this.source,
        },
      );
    }
    const freType = info & 0xf;
    const pcType = info & 0x10 ? ("mask" as const) : ("inc" as const);
    const pauthKey = info & 0x20 ? (1 as const) : (0 as const);
    if (this.version === SFRAME_VERSION_2) {
      return {
        version: 2,
        index: i,
        offset,
        rawStart,
        funcStart,
        funcSize,
        startFreOff,
        numFres,
        info,
        freType,
        pcType,
        pauthKey,
        repSize: dv.getUint8(offset + 17),
        fresOffset: firstFre,
        padding: dv.getUint16(offset + 18, le),
      };
    }
    return {
      version: 1,
      index: i,
      offset,
      rawStart,
      funcStart,
      funcSize,
      startFreOff,
      numFres,
      info,
      freType,
      pcType,
      pauthKey,
      repSize: 0,
      fresOffset: firstFre,
    };
  }

  /**
   * `fde(i)`, memoised: the FDE record is built once per index and shared (records are readonly).
   * The section's bytes are treated as immutable from construction on.
   */
  cachedFde(i: number): SframeFde {
    // One slot per FDE: bounded by the FDE table, which checkHeader proved lies inside the bytes.
    this.fdeCache ??= new Array(this.header.numFdes).fill(undefined);
    let fde = this.fdeCache[i];
    if (fde === undefined) {
      fde = this.fde(i);
      this.fdeCache[i] = fde;
    }
    return fde;
  }

  /** `freAt(fde, offset, j)`, memoised per FDE (FRE j of an FDE is always at the same offset). */
  cachedFre(fde: SframeFde, offset: number, j: number): SframeFre {
    this.freCache ??= new Array(this.header.numFdes).fill(undefined);
    let list = this.freCache[fde.index];
    if (list === undefined) {
      list = [];
      this.freCache[fde.index] = list;
    }
    let fre = list[j];
    if (fre === undefined || fre.offset !== offset) {
      fre = this.freAt(fde, offset, j);
      list[j] = fre;
    }
    return fre;
  }

  /**
   * Decode the FRE at section offset `offset` of a function whose FDE has `freType`. Bounds are the
   * FRE sub-section (the kernel's `fres_end`), not merely the buffer.
   */
  freAt(fde: SframeFde, offset: number, index: number): SframeFre {
    const addrSize = freAddrSize(fde.freType);
    const src = this.source;
    if (addrSize === 0) {
      throw new SframeFormatError("bad-fde", `FDE ${fde.index} has FRE type ${fde.freType}`, {
        offset: fde.version === 3 ? fde.attrOffset + 2 : fde.offset + 16,
        expected: "FRE type 0, 1 or 2 (ADDR1/ADDR2/ADDR4)",
        source: src,
      });
    }
    const { fresEnd } = this.layout;
    const where = `FRE ${index} of FDE ${fde.index} at 0x${offset.toString(16)}`;
    if (offset + addrSize + 1 > fresEnd) {
      throw new SframeFormatError("bad-fre", `${where}: start address and info byte extend past the FRE sub-section`, {
        offset,
        expected: `FRE header within ..0x${fresEnd.toString(16)}`,
        source: src,
      });
    }
    const dv = this.view;
    const le = this.littleEndian;
    const startOffset =
      addrSize === 1 ? dv.getUint8(offset) : addrSize === 2 ? dv.getUint16(offset, le) : dv.getUint32(offset, le);
    const info = dv.getUint8(offset + addrSize);
    const dataWordCount = (info >> 1) & 0xf;
    const sizeCode = (info >> 5) & 0x3;
    if (sizeCode === 3) {
      throw new SframeFormatError("bad-fre", `${where}: data-word size code 3`, {
        offset: offset + addrSize,
        expected: "size code 0, 1 or 2 (1, 2 or 4 bytes)",
        source: src,
      });
    }
    const dataWordSize = (1 << sizeCode) as 1 | 2 | 4;
    const wordsAt = offset + addrSize + 1;
    const size = addrSize + 1 + dataWordCount * dataWordSize;
    if (offset + size > fresEnd) {
      throw new SframeFormatError(
        "bad-fre",
        `${where}: ${dataWordCount} data words of ${dataWordSize} bytes extend past the FRE sub-section`,
        { offset: offset + addrSize, expected: `FRE within ..0x${fresEnd.toString(16)}`, source: src },
      );
    }
    const dataWords: number[] = new Array(dataWordCount);
    for (let k = 0; k < dataWordCount; k++) {
      const p = wordsAt + k * dataWordSize;
      dataWords[k] =
        dataWordSize === 1 ? dv.getUint8(p) : dataWordSize === 2 ? dv.getUint16(p, le) : dv.getUint32(p, le);
    }
    return {
      index,
      offset,
      size,
      startOffset,
      info,
      cfaBaseReg: (info & 1) as 0 | 1,
      dataWordCount,
      dataWordSizeCode: sizeCode as SframeDataWordSizeCode,
      dataWordSize,
      mangledRa: (info & 0x80) !== 0,
      dataWords,
    };
  }

  /**
   * All FREs of a function, in stored order. The loop is bounded by the bytes (each FRE consumes at
   * least 2), so a huge `numFres` ends in a typed error, not a long loop or a large allocation.
   */
  fres(fde: SframeFde): SframeFre[] {
    const out: SframeFre[] = [];
    let off = fde.fresOffset;
    for (let j = 0; j < fde.numFres; j++) {
      const fre = this.freAt(fde, off, j);
      out.push(fre);
      off += fre.size;
    }
    return out;
  }

  /** Every FDE with its FREs, in stored order. */
  functions(): SframeFunction[] {
    const out: SframeFunction[] = [];
    for (let i = 0; i < this.header.numFdes; i++) {
      const fde = this.fde(i);
      out.push({ fde, fres: this.fres(fde) });
    }
    return out;
  }

  /** Absolute address of a function: section vaddr + section-relative start (64-bit wrap-around). */
  funcAddress(fde: SframeFde): bigint {
    return BigInt.asUintN(64, this.vaddr + BigInt(fde.funcStart));
  }

  /** The full plain-data decode (for dumps, encoders and tests). */
  toData(): SframeSectionData {
    return {
      header: this.header,
      layout: this.layout,
      functions: this.functions(),
      trailing: this.bytes.slice(this.layout.fresEnd),
    };
  }
}

/** Decode the header of SFrame `bytes` (lazily; see SframeSection). Throws SframeFormatError. */
export function decodeSframe(bytes: Uint8Array, options: SframeDecodeOptions = {}): SframeSection {
  return new SframeSection(bytes, options);
}

/** Decode everything: header, every FDE and FRE. Throws SframeFormatError on the first problem. */
export function decodeSframeData(bytes: Uint8Array, options: SframeDecodeOptions = {}): SframeSectionData {
  return new SframeSection(bytes, options).toData();
}
