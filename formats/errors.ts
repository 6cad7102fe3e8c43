/**
 * Typed errors shared by every layer. Each names what is wrong and where, so a user gets one clear
 * line (`liba.so: program header table (offset 0x40, …) extends past end of file (size 0x2a0)`)
 * instead of a stack trace. Code outside ldsim can tell ldsim's errors apart by `instanceof LdsimError`.
 */
export class LdsimError extends Error {
  override name = "LdsimError";
}

/** Malformed input bytes: the offset is where the offending field or structure starts. */
export class FormatError extends LdsimError {
  override name = "FormatError";
  /** Name of the file or section the bytes came from, when known. */
  readonly source: string | undefined;
  readonly offset: number | bigint | undefined;
  constructor(message: string, options: { source?: string | undefined; offset?: number | bigint | undefined } = {}) {
    super(options.source ? `${options.source}: ${message}` : message);
    this.source = options.source;
    this.offset = options.offset;
  }
}

/** A 64-bit value that does not fit where a JS number is needed (e.g. a file offset > 2^53). */
export class RangeOverflowError extends FormatError {
  override name = "RangeOverflowError";
}

/** Format an offset or size as the kernel and binutils print them: `0x2a0`. */
export function hex(value: number | bigint): string {
  return `0x${value.toString(16)}`;
}
