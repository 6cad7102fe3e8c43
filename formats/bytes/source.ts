import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { FormatError } from "../errors.ts";

/**
 * A byte source with positional reads, as ld.so reads a library with `pread` rather than loading it
 * whole. Implementations: an in-memory buffer, or a file read on demand.
 */
export interface ByteSource {
  /** Display name used in error messages (usually the file name). */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /**
   * Read `length` bytes at `offset`. Throws a FormatError when the range is not inside the source,
   * so a header count can never drive a read (or an allocation) beyond the input's size.
   */
  read(offset: number, length: number): Uint8Array;
}

function checkRange(src: ByteSource, offset: number, length: number, what?: string): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new FormatError(`${what ?? "read"}: bad range (offset ${offset}, length ${length})`, {
      source: src.name,
      offset,
    });
  }
  if (offset + length > src.size) {
    throw new FormatError(
      `${what ?? "read"} (offset 0x${offset.toString(16)}, ${length} bytes) extends past end of file (size 0x${src.size.toString(16)})`,
      { source: src.name, offset },
    );
  }
}

/** A source over bytes already in memory. `read` returns views, not copies. */
export class BufferSource implements ByteSource {
  readonly size: number;
  constructor(
    readonly bytes: Uint8Array,
    readonly name = "<buffer>",
  ) {
    this.size = bytes.length;
  }
  read(offset: number, length: number): Uint8Array {
    checkRange(this, offset, length);
    return this.bytes.subarray(offset, offset + length);
  }
}

/** A source over a file on disk, read with positional reads on demand. Call `close` when done. */
export class FileSource implements ByteSource {
  readonly size: number;
  private fd: number | undefined;
  constructor(
    readonly path: string,
    readonly name = path,
  ) {
    this.fd = openSync(path, "r");
    this.size = fstatSync(this.fd).size;
  }
  read(offset: number, length: number): Uint8Array {
    checkRange(this, offset, length);
    if (this.fd === undefined) throw new FormatError("read after close", { source: this.name, offset });
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, out, done, length - done, offset + done);
      if (n === 0) throw new FormatError("file shrank while reading", { source: this.name, offset: offset + done });
      done += n;
    }
    return out;
  }
  /**
   * Fill `target` with the bytes at `offset` (a positional read into a caller's buffer, so a reader
   * streaming a large file can reuse its buffers instead of allocating one per read).
   */
  readInto(offset: number, target: Uint8Array): void {
    checkRange(this, offset, target.length);
    if (this.fd === undefined) throw new FormatError("read after close", { source: this.name, offset });
    let done = 0;
    while (done < target.length) {
      const n = readSync(this.fd, target, done, target.length - done, offset + done);
      if (n === 0) throw new FormatError("file shrank while reading", { source: this.name, offset: offset + done });
      done += n;
    }
  }
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

export { checkRange };
