import { FormatError } from "../errors.ts";

/** What kind of structural problem a decoder found (stable names for tests and callers). */
export type SframeFormatErrorKind =
  | "truncated"
  | "bad-magic"
  | "bad-version"
  | "bad-flags"
  | "bad-offsets"
  | "bad-fde"
  | "bad-fre"
  | "unsupported";

/**
 * Malformed SFrame bytes. `offset` is the section offset of the offending field or structure;
 * `expected` says what a valid section has there, so the message reads
 * `.sframe: FRE 3 of FDE 1 at 0x4a: data-word size code 3 (expected 0, 1 or 2)`.
 */
export class SframeFormatError extends FormatError {
  override name = "SframeFormatError";
  readonly kind: SframeFormatErrorKind;
  readonly expected: string;
  constructor(
    kind: SframeFormatErrorKind,
    message: string,
    options: { offset: number; expected: string; source?: string | undefined },
  ) {
    super(`${message} (expected ${options.expected})`, { source: options.source, offset: options.offset });
    this.kind = kind;
    this.expected = options.expected;
  }
}
