import { FormatError, RangeOverflowError } from "../errors.ts";

/**
 * Endian-aware reads from a byte array. Every read is bounds-checked and throws a FormatError naming
 * the absolute offset (`base + offset`), so structure decoders never read out of bounds.
 * 64-bit fields come back as bigint; `u64n` converts with a check instead of losing precision.
 */
export class EndianReader {
  private readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly littleEndian: boolean,
    /** Absolute offset of `bytes[0]` in its source, for error messages. */
    readonly base = 0,
    readonly sourceName?: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get length(): number {
    return this.bytes.length;
  }
  private need(offset: number, size: number, what: string): void {
    if (offset < 0 || offset + size > this.bytes.length) {
      throw new FormatError(
        `${what}: ${size}-byte read at 0x${(this.base + offset).toString(16)} is outside the data (0x${this.base.toString(16)}..0x${(this.base + this.bytes.length).toString(16)})`,
        { source: this.sourceName, offset: this.base + offset },
      );
    }
  }
  u8(offset: number, what = "u8"): number {
    this.need(offset, 1, what);
    return this.view.getUint8(offset);
  }
  i8(offset: number, what = "i8"): number {
    this.need(offset, 1, what);
    return this.view.getInt8(offset);
  }
  u16(offset: number, what = "u16"): number {
    this.need(offset, 2, what);
    return this.view.getUint16(offset, this.littleEndian);
  }
  i16(offset: number, what = "i16"): number {
    this.need(offset, 2, what);
    return this.view.getInt16(offset, this.littleEndian);
  }
  u32(offset: number, what = "u32"): number {
    this.need(offset, 4, what);
    return this.view.getUint32(offset, this.littleEndian);
  }
  i32(offset: number, what = "i32"): number {
    this.need(offset, 4, what);
    return this.view.getInt32(offset, this.littleEndian);
  }
  u64(offset: number, what = "u64"): bigint {
    this.need(offset, 8, what);
    return this.view.getBigUint64(offset, this.littleEndian);
  }
  i64(offset: number, what = "i64"): bigint {
    this.need(offset, 8, what);
    return this.view.getBigInt64(offset, this.littleEndian);
  }
  /** A 64-bit field that must fit in a JS number (offsets, sizes, counts). */
  u64n(offset: number, what = "u64"): number {
    return toSafeNumber(this.u64(offset, what), what, this.base + offset, this.sourceName);
  }
}

/** Checked bigint → number conversion: throws RangeOverflowError instead of losing precision. */
export function toSafeNumber(value: bigint, what: string, offset?: number, sourceName?: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeOverflowError(`${what} 0x${value.toString(16)} does not fit in 53 bits`, {
      source: sourceName,
      offset,
    });
  }
  return Number(value);
}
