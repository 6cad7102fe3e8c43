import { FormatError } from "../errors.ts";

/**
 * A malformed perf.data file. `offset` is the file offset of the record (or header structure) that is
 * wrong, so a user can look at it with `perf script -D` (which prints the same offsets) or a hex dump.
 */
export class PerfDataError extends FormatError {
  override name = "PerfDataError";
  /** What was being read: "file header", "attr", "feature BUILD_ID", "record SAMPLE", … */
  readonly structure: string;
  constructor(message: string, options: { source: string; offset: number; structure: string }) {
    super(`${options.structure} at offset 0x${options.offset.toString(16)}: ${message}`, options);
    this.structure = options.structure;
  }
}
