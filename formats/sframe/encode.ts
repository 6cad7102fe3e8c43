import { ByteWriter } from "../bytes/writer.ts";
import { LdsimError } from "../errors.ts";
import {
  SFRAME_BASE_REG_SP,
  SFRAME_F_FDE_FUNC_START_PCREL,
  SFRAME_FRE_TYPE_ADDR1,
  SFRAME_FRE_TYPE_ADDR1_LIMIT,
  SFRAME_FRE_TYPE_ADDR2,
  SFRAME_FRE_TYPE_ADDR2_LIMIT,
  SFRAME_FRE_TYPE_ADDR4,
  SFRAME_HEADER_SIZE,
  SFRAME_MAGIC,
  SFRAME_V1_FDE_SIZE,
  SFRAME_V2_FDE_SIZE,
  SFRAME_V3_FDE_INDEX_SIZE,
  SFRAME_V3_FDE_SIGNAL_BIT,
  SFRAME_V3_FDE_TYPE_MASK,
} from "./constants.ts";
import type { SframePcType, SframeSectionData, SframeVersion } from "./types.ts";

/**
 * The SFrame encoder: a typed description of a section → its bytes, for V1 (tests), V2 and V3.
 * Deterministic: the same description always gives the same bytes.
 *
 * Every field that GNU tools choose has a default that makes the choice the way they do (binutils
 * `gas/gen-sframe.c`, `libsframe/sframe.c` encoder): the FRE start-address width is the smallest that
 * holds the function size (`sframe_calc_fre_type`), the data-word width the smallest that holds every
 * word of the FRE, FRE blocks follow in FDE order right after each other. Each default can be
 * overridden with the stored value, so a decoded section — including linked output whose FRE blocks
 * are NOT in FDE order (ld sorts the FDE table, not the FRE data) — is re-encoded byte for byte:
 * see `describeSframe`.
 */

/** One Frame Row Entry. */
export interface SframeFreDescription {
  /** `sfre_start_address`: first covered PC, as an offset from the function start (or in the block, MASK). */
  readonly startOffset: number;
  /**
   * The data words (CFA, then RA/FP per ABI; FLEX: control word/displacement pairs). Signed values and
   * their unsigned encodings are both accepted: a word is stored modulo 2^(8 × width).
   */
  readonly dataWords: readonly number[];
  /** SFRAME_BASE_REG_FP (0) / SFRAME_BASE_REG_SP (1). Default SP. Ignored when `info` is given. */
  readonly cfaBaseReg?: 0 | 1;
  /** AArch64: RA is PAC-signed here (FRE info bit 7). Ignored when `info` is given. */
  readonly mangledRa?: boolean;
  /** Width of every data word; default: the smallest signed width that holds them all. */
  readonly dataWordSize?: 1 | 2 | 4;
  /**
   * The raw `sfre_info` byte. When given it is stored verbatim and decides the data-word count and
   * width (`dataWords` must then have exactly that many words).
   */
  readonly info?: number;
}

/** One function: its FDE fields and FREs. */
export interface SframeFunctionDescription {
  /**
   * Section-relative start of the function (what a decoder reports as `funcStart`: PC minus the
   * section's address). The stored field is derived from it: minus the field's own section offset
   * when the header has SFRAME_F_FDE_FUNC_START_PCREL, else the value itself.
   */
  readonly start: number;
  /** `func_size` in bytes. */
  readonly size: number;
  readonly fres: readonly SframeFreDescription[];
  /** FRE start-address width code (SFRAME_FRE_TYPE_ADDR1/2/4); default from `size`. */
  readonly freType?: number;
  /** Default "inc". "mask" is what ld writes for PLT entries (with `repSize`). */
  readonly pcType?: SframePcType;
  /** AArch64 pauth key (info bit 5). */
  readonly pauthKey?: 0 | 1;
  /** V3 signal frame (info bit 7). */
  readonly signal?: boolean;
  /** Raw info byte; overrides freType/pcType/pauthKey/signal when given. */
  readonly info?: number;
  /** `rep_size` (V2/V3), default 0. */
  readonly repSize?: number;
  /** V3 `sfda_func_info2` FDE type: SFRAME_FDE_TYPE_DEFAULT (0, default) / SFRAME_FDE_TYPE_FLEX (1). */
  readonly fdeType?: number;
  /** Raw V3 `sfda_func_info2`; overrides `fdeType` when given. */
  readonly info2?: number;
  /** V2 `sfde_func_padding2`, default 0. */
  readonly padding?: number;
  /**
   * Offset in the FRE sub-section of this function's data (V3: its attribute block). Default: right
   * after the previous function's data, in FDE order. Explicit offsets may leave gaps (zero-filled) but
   * must not overlap.
   */
  readonly startFreOff?: number;
}

/** A whole section. */
export interface SframeDescription {
  readonly version: SframeVersion;
  /** Byte order of the section (the target's): x86-64/AArch64-LE little, s390x big. */
  readonly littleEndian: boolean;
  /** Raw `sfp_flags` (SFRAME_F_*). */
  readonly flags: number;
  /** `sfh_abi_arch` (SFRAME_ABI_*). */
  readonly abiArch: number;
  /** `sfh_cfa_fixed_fp_offset` (i8), 0 = not fixed. */
  readonly cfaFixedFpOffset: number;
  /** `sfh_cfa_fixed_ra_offset` (i8), 0 = not fixed; AMD64 −8. */
  readonly cfaFixedRaOffset: number;
  readonly functions: readonly SframeFunctionDescription[];
  /** Auxiliary header bytes (`sfh_auxhdr_len` is their length); default none. */
  readonly auxHeader?: Uint8Array;
  /** `sfh_fdeoff`, default 0. */
  readonly fdeOff?: number;
  /** `sfh_freoff`, default: just past the FDE table. */
  readonly freOff?: number;
  /**
   * `sfh_fre_len`; default: the end of the last function's data. A larger value zero-pads the FRE
   * sub-section.
   */
  readonly freLen?: number;
  /** Bytes after the FRE sub-section (section padding), default none. */
  readonly trailing?: Uint8Array;
  /**
   * Header values to write instead of the computed ones — for malformed inputs in tests of decoders
   * and of the kernel's checks. Never needed for a valid section.
   */
  readonly override?: {
    readonly magic?: number;
    readonly numFdes?: number;
    readonly numFres?: number;
    readonly freLen?: number;
  };
}

/** A description the encoder cannot represent (a value that does not fit its field, overlapping data…). */
export class SframeEncodeError extends LdsimError {
  override name = "SframeEncodeError";
  /** Dotted path of the offending description field, e.g. `functions[3].fres[0].startOffset`. */
  readonly field: string;
  constructor(field: string, message: string) {
    super(`SFrame encoder: ${field}: ${message}`);
    this.field = field;
  }
}

/** `sframe_calc_fre_type`: the smallest FRE start-address width that holds offsets up to `funcSize`. */
export function calcFreType(funcSize: number): number {
  if (funcSize < SFRAME_FRE_TYPE_ADDR1_LIMIT) return SFRAME_FRE_TYPE_ADDR1;
  if (funcSize < SFRAME_FRE_TYPE_ADDR2_LIMIT) return SFRAME_FRE_TYPE_ADDR2;
  return SFRAME_FRE_TYPE_ADDR4;
}

/** The smallest data-word width (1, 2 or 4 bytes) holding every word as a signed value. */
export function calcDataWordSize(words: readonly number[]): 1 | 2 | 4 {
  let size: 1 | 2 | 4 = 1;
  for (const w of words) {
    if (w < -0x8000 || w > 0x7fff) return 4;
    if (w < -0x80 || w > 0x7f) size = 2;
  }
  return size;
}

/** Build an FDE info byte (`SFRAME_V1_FUNC_INFO` + pauth key + V3 signal bit). */
export function fdeInfoByte(fields: {
  readonly freType: number;
  readonly pcType?: SframePcType;
  readonly pauthKey?: 0 | 1;
  readonly signal?: boolean;
}): number {
  return (
    (fields.freType & 0xf) |
    (fields.pcType === "mask" ? 0x10 : 0) |
    (fields.pauthKey === 1 ? 0x20 : 0) |
    (fields.signal ? SFRAME_V3_FDE_SIGNAL_BIT : 0)
  );
}

/** Build an FRE info byte (`SFRAME_V1_FRE_INFO` + mangled-RA bit). */
export function freInfoByte(fields: {
  readonly cfaBaseReg: 0 | 1;
  readonly dataWordCount: number;
  readonly dataWordSize: 1 | 2 | 4;
  readonly mangledRa?: boolean;
}): number {
  const code = fields.dataWordSize === 1 ? 0 : fields.dataWordSize === 2 ? 1 : 2;
  return (fields.cfaBaseReg & 1) | ((fields.dataWordCount & 0xf) << 1) | (code << 5) | (fields.mangledRa ? 0x80 : 0);
}

const ADDR_SIZE = [1, 2, 4] as const;

function fdeEntrySize(version: SframeVersion): number {
  return version === 3 ? SFRAME_V3_FDE_INDEX_SIZE : version === 2 ? SFRAME_V2_FDE_SIZE : SFRAME_V1_FDE_SIZE;
}

function checkUint(field: string, value: number, bits: number): void {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
    throw new SframeEncodeError(field, `${value} does not fit in an unsigned ${bits}-bit field`);
  }
}

function checkInt(field: string, value: number, bits: number): void {
  const lim = 2 ** (bits - 1);
  if (!Number.isInteger(value) || value < -lim || value >= lim) {
    throw new SframeEncodeError(field, `${value} does not fit in a signed ${bits}-bit field`);
  }
}

/** The bytes of one function's FRE data (V3: attribute block first). */
function encodeFunctionData(
  w: ByteWriter,
  version: SframeVersion,
  fn: SframeFunctionDescription,
  path: string,
  info: number,
): number {
  const freType = info & 0xf;
  const addrSize = ADDR_SIZE[freType as 0 | 1 | 2];
  if (addrSize === undefined) {
    throw new SframeEncodeError(`${path}.freType`, `FRE type ${freType} (expected 0, 1 or 2)`);
  }
  if (version === 3) {
    checkUint(`${path}.fres.length`, fn.fres.length, 16);
    const info2 = fn.info2 ?? (fn.fdeType ?? 0) & SFRAME_V3_FDE_TYPE_MASK;
    checkUint(`${path}.info2`, info2, 8);
    const repSize = fn.repSize ?? 0;
    checkUint(`${path}.repSize`, repSize, 8);
    w.u16(fn.fres.length).u8(info).u8(info2).u8(repSize);
  }
  let count = 0;
  fn.fres.forEach((fre, j) => {
    const fpath = `${path}.fres[${j}]`;
    checkUint(`${fpath}.startOffset`, fre.startOffset, addrSize * 8);
    let size: 1 | 2 | 4;
    let freInfo: number;
    if (fre.info !== undefined) {
      checkUint(`${fpath}.info`, fre.info, 8);
      const code = (fre.info >> 5) & 3;
      if (code === 3) throw new SframeEncodeError(`${fpath}.info`, "data-word size code 3 is invalid");
      size = (1 << code) as 1 | 2 | 4;
      if (((fre.info >> 1) & 0xf) !== fre.dataWords.length) {
        throw new SframeEncodeError(
          `${fpath}.dataWords`,
          `${fre.dataWords.length} words but the info byte says ${(fre.info >> 1) & 0xf}`,
        );
      }
      freInfo = fre.info;
    } else {
      if (fre.dataWords.length > 15) {
        throw new SframeEncodeError(`${fpath}.dataWords`, `${fre.dataWords.length} words (at most 15)`);
      }
      size = fre.dataWordSize ?? calcDataWordSize(fre.dataWords);
      freInfo = freInfoByte({
        cfaBaseReg: fre.cfaBaseReg ?? SFRAME_BASE_REG_SP,
        dataWordCount: fre.dataWords.length,
        dataWordSize: size,
        mangledRa: fre.mangledRa ?? false,
      });
    }
    if (addrSize === 1) w.u8(fre.startOffset);
    else if (addrSize === 2) w.u16(fre.startOffset);
    else w.u32(fre.startOffset);
    w.u8(freInfo);
    const bits = size * 8;
    fre.dataWords.forEach((word, k) => {
      const lo = -(2 ** (bits - 1));
      if (!Number.isInteger(word) || word < lo || word >= 2 ** bits) {
        throw new SframeEncodeError(`${fpath}.dataWords[${k}]`, `${word} does not fit in ${size} byte(s)`);
      }
      const u = word < 0 ? word + 2 ** bits : word;
      if (size === 1) w.u8(u);
      else if (size === 2) w.u16(u);
      else w.u32(u);
    });
    count++;
  });
  return count;
}

/** Encode a section. Throws SframeEncodeError for a description that cannot be stored. */
export function encodeSframe(desc: SframeDescription): Uint8Array {
  const { version } = desc;
  if (version !== 1 && version !== 2 && version !== 3) {
    throw new SframeEncodeError("version", `${String(version)} (expected 1, 2 or 3)`);
  }
  const le = desc.littleEndian;
  const aux = desc.auxHeader ?? new Uint8Array(0);
  checkUint("auxHeader.length", aux.length, 8);
  checkUint("flags", desc.flags, 8);
  checkUint("abiArch", desc.abiArch, 8);
  checkInt("cfaFixedFpOffset", desc.cfaFixedFpOffset, 8);
  checkInt("cfaFixedRaOffset", desc.cfaFixedRaOffset, 8);
  const headerSize = SFRAME_HEADER_SIZE + aux.length;
  const entrySize = fdeEntrySize(version);
  const numFdes = desc.functions.length;
  const fdeOff = desc.fdeOff ?? 0;
  const freOff = desc.freOff ?? fdeOff + numFdes * entrySize;
  checkUint("fdeOff", fdeOff, 32);
  checkUint("freOff", freOff, 32);
  if (freOff < fdeOff + numFdes * entrySize) {
    throw new SframeEncodeError("freOff", `${freOff} overlaps the FDE table (ends at ${fdeOff + numFdes * entrySize})`);
  }
  const pcrel = (desc.flags & SFRAME_F_FDE_FUNC_START_PCREL) !== 0;

  // FRE data of each function, laid out at its start offset.
  const infos: number[] = [];
  const blocks: { off: number; bytes: Uint8Array; path: string }[] = [];
  let numFres = 0;
  let cursor = 0;
  desc.functions.forEach((fn, i) => {
    const path = `functions[${i}]`;
    checkUint(`${path}.size`, fn.size, 32);
    const info =
      fn.info ??
      fdeInfoByte({
        freType: fn.freType ?? calcFreType(fn.size),
        pcType: fn.pcType ?? "inc",
        pauthKey: fn.pauthKey ?? 0,
        signal: version === 3 && (fn.signal ?? false),
      });
    checkUint(`${path}.info`, info, 8);
    infos.push(info);
    const w = new ByteWriter(le, 64);
    numFres += encodeFunctionData(w, version, fn, path, info);
    const off = fn.startFreOff ?? cursor;
    checkUint(`${path}.startFreOff`, off, 32);
    const bytes = w.finish();
    blocks.push({ off, bytes, path });
    cursor = off + bytes.length;
  });
  let freLen = 0;
  for (const b of blocks) freLen = Math.max(freLen, b.off + b.bytes.length);
  if (desc.freLen !== undefined) {
    checkUint("freLen", desc.freLen, 32);
    if (desc.freLen < freLen) {
      throw new SframeEncodeError("freLen", `${desc.freLen} is shorter than the FRE data (${freLen} bytes)`);
    }
    freLen = desc.freLen;
  }
  const fres = new Uint8Array(freLen);
  const used = [...blocks].sort((a, b) => a.off - b.off);
  used.forEach((b, k) => {
    const prev = used[k - 1];
    if (prev && prev.off + prev.bytes.length > b.off && b.bytes.length > 0) {
      throw new SframeEncodeError(`${b.path}.startFreOff`, `FRE data at ${b.off} overlaps ${prev.path}'s`);
    }
    fres.set(b.bytes, b.off);
  });

  const o = desc.override ?? {};
  const w = new ByteWriter(le, headerSize + freOff + freLen + (desc.trailing?.length ?? 0));
  w.u16(o.magic ?? SFRAME_MAGIC)
    .u8(version)
    .u8(desc.flags)
    .u8(desc.abiArch)
    .i8(desc.cfaFixedFpOffset)
    .i8(desc.cfaFixedRaOffset)
    .u8(aux.length)
    .u32(o.numFdes ?? numFdes)
    .u32(o.numFres ?? numFres)
    .u32(o.freLen ?? freLen)
    .u32(fdeOff)
    .u32(freOff)
    .bytes(aux);
  while (w.length < headerSize + fdeOff) w.u8(0);
  desc.functions.forEach((fn, i) => {
    const path = `functions[${i}]`;
    const entryOffset = headerSize + fdeOff + i * entrySize;
    checkInt(`${path}.start`, fn.start, 54);
    const raw = pcrel ? fn.start - entryOffset : fn.start;
    const block = blocks[i] as { off: number };
    const info = infos[i] as number;
    if (version === 3) {
      w.u64(BigInt(raw)).u32(fn.size).u32(block.off);
      return;
    }
    checkInt(`${path}.start`, raw, 32);
    w.i32(raw).u32(fn.size).u32(block.off);
    checkUint(`${path}.fres.length`, fn.fres.length, 32);
    w.u32(fn.fres.length).u8(info);
    if (version === 2) {
      const repSize = fn.repSize ?? 0;
      const padding = fn.padding ?? 0;
      checkUint(`${path}.repSize`, repSize, 8);
      checkUint(`${path}.padding`, padding, 16);
      w.u8(repSize).u16(padding);
    }
  });
  while (w.length < headerSize + freOff) w.u8(0);
  w.bytes(fres);
  if (desc.trailing) w.bytes(desc.trailing);
  return w.finish();
}

/**
 * The description of a decoded section with every stored choice explicit (raw info bytes, data-word
 * widths, FRE block offsets, sub-section offsets, trailing bytes), so that
 * `encodeSframe(describeSframe(decodeSframeData(bytes)))` gives `bytes` back exactly.
 * Data words are given signed (sign-extended at their stored width).
 */
export function describeSframe(data: SframeSectionData): SframeDescription {
  const h = data.header;
  const version = h.preamble.version as SframeVersion;
  const functions = data.functions.map(({ fde, fres }): SframeFunctionDescription => {
    const common = {
      start: fde.funcStart,
      size: fde.funcSize,
      info: fde.info,
      startFreOff: fde.startFreOff,
      fres: fres.map(
        (fre): SframeFreDescription => ({
          startOffset: fre.startOffset,
          info: fre.info,
          dataWords: fre.dataWords.map((word) => signed(word, fre.dataWordSize)),
        }),
      ),
    };
    if (fde.version === 3) return { ...common, info2: fde.info2, repSize: fde.repSize };
    if (fde.version === 2) return { ...common, repSize: fde.repSize, padding: fde.padding };
    return common;
  });
  return {
    version,
    littleEndian: h.littleEndian,
    flags: h.preamble.flags,
    abiArch: h.abiArch,
    cfaFixedFpOffset: h.cfaFixedFpOffset,
    cfaFixedRaOffset: h.cfaFixedRaOffset,
    auxHeader: h.auxHeader,
    fdeOff: h.fdeOff,
    freOff: h.freOff,
    freLen: h.freLen,
    functions,
    trailing: data.trailing,
  };
}

function signed(word: number, size: 1 | 2 | 4): number {
  if (size === 1) return (word << 24) >> 24;
  if (size === 2) return (word << 16) >> 16;
  return word | 0;
}
