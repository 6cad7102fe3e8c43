import { EndianReader } from "../bytes/endian.ts";
import { type ByteSource, FileSource } from "../bytes/source.ts";
import { genericEventName, type PerfFileAttr, readAttrs } from "./attr.ts";
import { PERF_EVENT_HEADER_SIZE, PERF_RECORD } from "./constants.ts";
import { PerfDataError } from "./errors.ts";
import { type PerfFeatures, readFeatures } from "./features.ts";
import { type PerfFileHeader, readFileHeader } from "./file-header.ts";
import { type PerfRecord, RecordDecoder, recordTypeName } from "./records.ts";

// Per-record constants as module locals (not read through the import binding per record).
const HEADER_SIZE = PERF_EVENT_HEADER_SIZE;
const TYPE_COMPRESSED = PERF_RECORD.COMPRESSED;
const TYPE_AUXTRACE = PERF_RECORD.AUXTRACE;

/**
 * Bytes read from the file at a time while streaming records (records are ≤ 64 KiB each). 256 KiB
 * read faster than 1 MiB or 4 MiB windows in a replay (measured: about 1 ms less in 17 per 50 MB):
 * the window being written and then decoded stays in the CPU's cache.
 */
const WINDOW = 1 << 18;

export interface PerfDataOptions {
  /** Bytes per positional read while streaming (default 256 KiB; tests use small ones to exercise reuse). */
  readonly windowBytes?: number;
}

/**
 * A perf.data file opened for streaming (the layout of tools/perf/util/header.c and session.c): the
 * header, attrs and feature sections are read at open; records are decoded one at a time from a
 * sliding window of positional reads, so a file of hundreds of MB is never loaded whole.
 */
export class PerfData {
  readonly header: PerfFileHeader;
  readonly attrs: readonly PerfFileAttr[];
  readonly features: PerfFeatures;
  /** Warnings about the file (a data size of 0, unreadable features), as perf prints them. */
  readonly warnings: readonly string[];
  private readonly decoder: RecordDecoder;
  private readonly dataEnd: number;
  private readonly window: number;

  private constructor(
    readonly source: ByteSource,
    options: PerfDataOptions,
  ) {
    this.window = Math.max(PERF_EVENT_HEADER_SIZE, options.windowBytes ?? WINDOW);
    this.header = readFileHeader(source);
    this.attrs = readAttrs(source, this.header);
    this.features = readFeatures(source, this.header);
    const warnings: string[] = [...this.features.problems];
    // An interrupted `perf record` leaves data.size = 0: perf warns and reads to the end of the file.
    if (this.header.data.size === 0) {
      warnings.push("the data size field is 0 (was perf record properly terminated?): reading to the end of the file");
      this.dataEnd = source.size;
    } else this.dataEnd = this.header.data.offset + this.header.data.size;
    this.warnings = warnings;
    this.decoder = new RecordDecoder(this.attrs, this.header.littleEndian, source.name);
  }

  static open(source: ByteSource, options: PerfDataOptions = {}): PerfData {
    return new PerfData(source, options);
  }

  /** Open a file by path (positional reads; call `close`). */
  static openPath(path: string, options: PerfDataOptions = {}): PerfData {
    const src = new FileSource(path);
    try {
      return new PerfData(src, options);
    } catch (e) {
      src.close();
      throw e;
    }
  }

  close(): void {
    if (this.source instanceof FileSource) this.source.close();
  }

  /** The name perf gives attr `i` (HEADER_EVENT_DESC, else the generic name). */
  eventName(i: number): string {
    const a = this.attrs[i];
    if (!a) return "unknown";
    const desc =
      this.features.eventDesc?.find((d) => d.ids.some((id) => a.ids.includes(id))) ?? this.features.eventDesc?.[i];
    return desc?.name ?? genericEventName(a.attr);
  }

  /** Records in file order. Throws PerfDataError naming the record's offset on a truncated or corrupt record. */
  records(): Generator<PerfRecord> {
    return this.scan(undefined);
  }

  /**
   * Records in file order for a consumer that is done with a record when it asks for the next one:
   * byte views inside a record (the stack copy of a sample) are valid only until then, because the
   * read buffers are reused rather than a fresh window allocated per read (fresh memory costs page
   * faults, zeroing and garbage collection: most of a replay's reading time).
   */
  transientRecords(): Generator<PerfRecord> {
    return this.scan({ free: [], retired: [], hold: false });
  }

  private *scan(pool: WindowPool | undefined): Generator<PerfRecord> {
    const src = this.source;
    const fail = (offset: number, message: string, type?: number): never => {
      throw new PerfDataError(message, {
        source: src.name,
        offset,
        structure: type === undefined ? "record" : `record ${recordTypeName(type)}`,
      });
    };
    // Buffers are recycled only for files (a BufferSource's reads are views of memory already there).
    const file = pool && src instanceof FileSource ? src : undefined;
    const window = this.window;
    let winStart = 0;
    let win: Uint8Array = new Uint8Array(0);
    /** The pooled buffer under `win`, when it is one. */
    let winBuf: Uint8Array | undefined;
    let winView = new DataView(win.buffer);
    // Make [at, at + len) part of the window: one positional read of a window (or of the record,
    // when larger) at a time. Records are views into the window, never copies; a window replaced
    // while records may still point into it is retired, and reused only once they are done.
    const cover = (at: number, len: number): void => {
      if (at < winStart || at + len > winStart + win.length) {
        const n = Math.min(Math.max(window, len), src.size - at);
        if (pool && winBuf) (pool.hold ? pool.retired : pool.free).push(winBuf);
        winBuf = undefined;
        if (file && pool && n <= window) {
          winBuf = pool.free.pop() ?? new Uint8Array(window);
          win = winBuf.subarray(0, n);
          file.readInto(at, win);
        } else win = src.read(at, n);
        winView = new DataView(win.buffer, win.byteOffset, win.byteLength);
        winStart = at;
      }
    };
    const le = this.header.littleEndian;
    let pos = this.header.data.offset;
    while (pos < this.dataEnd) {
      if (pos + HEADER_SIZE > src.size) {
        fail(pos, `file truncated: the record header needs 8 bytes, the file ends at 0x${src.size.toString(16)}`);
      }
      if (pos + HEADER_SIZE > this.dataEnd) {
        fail(pos, `record header runs past the data section end 0x${this.dataEnd.toString(16)}`);
      }
      cover(pos, HEADER_SIZE);
      const type = winView.getUint32(pos - winStart, le);
      const size = winView.getUint16(pos - winStart + 6, le);
      if (size < HEADER_SIZE) fail(pos, `record size ${size} is smaller than its header`, type);
      if (pos + size > src.size) {
        fail(
          pos,
          `file truncated: record of 0x${size.toString(16)} bytes, the file ends at 0x${src.size.toString(16)}`,
          type,
        );
      }
      if (pos + size > this.dataEnd)
        fail(pos, `record of 0x${size.toString(16)} bytes runs past the data section end`, type);
      if (type === TYPE_COMPRESSED) fail(pos, "compressed records (perf record -z) are not supported", type);
      cover(pos, size);
      let extra = 0;
      // PERF_RECORD_AUXTRACE is followed by its trace data, outside header.size (session.c).
      if (type === TYPE_AUXTRACE) {
        const a = new EndianReader(win.subarray(pos - winStart, pos - winStart + size), le, pos, src.name);
        const n = a.u64(8, "auxtrace size");
        if (n > BigInt(this.dataEnd - pos - size))
          fail(pos, `auxtrace data of 0x${n.toString(16)} bytes runs past the data`, type);
        extra = Number(n);
      }
      yield this.decoder.decodeAt(win, winView, pos - winStart, size, pos);
      pos += size + extra;
    }
  }

  /**
   * Records in the order perf's ordered-events queue delivers them: the records between two
   * FINISHED_ROUND markers, stably sorted by time (records without a time keep their place at the
   * front of their round). perf flushes rounds the same way (util/ordered-events.c), so samples come
   * out in `perf script` order while at most one round is held in memory. `transient`: the consumer is
   * done with each record when it asks for the next (as `transientRecords`), so read buffers are reused.
   */
  *ordered(options: { readonly transient?: boolean } = {}): Generator<PerfRecord> {
    // Transient: a round's records are all yielded (and the consumer is done with them) when the
    // flush ends, so the buffers retired while reading the round can be reused from then on.
    const pool: WindowPool | undefined = options.transient ? { free: [], retired: [], hold: true } : undefined;
    let round: PerfRecord[] = [];
    /** Whether the round's timed records came in time order already (the common case: one CPU). */
    let inOrder = true;
    let last: bigint | undefined;
    for (const r of this.scan(pool)) {
      if (r.kind !== "finished-round") {
        round.push(r);
        if (r.time !== undefined) {
          if (last !== undefined && r.time < last) inOrder = false;
          last = r.time;
        }
        continue;
      }
      // The round in delivery order, yielded here (not through a nested generator: one step per record).
      const timed = deliveryOrder(round, inOrder);
      for (let i = 0; i < timed.length; i++) yield timed[i] as PerfRecord;
      round = [];
      inOrder = true;
      last = undefined;
      if (pool) for (let b = pool.retired.pop(); b; b = pool.retired.pop()) pool.free.push(b);
    }
    const timed = deliveryOrder(round, inOrder);
    for (let i = 0; i < timed.length; i++) yield timed[i] as PerfRecord;
  }
}

/**
 * One round in delivery order: untimed records first, then the timed ones stably sorted by time.
 * `round` itself is returned when that is its order already (every record timed and in order).
 */
function deliveryOrder(round: PerfRecord[], inOrder: boolean): readonly PerfRecord[] {
  let untimed = 0;
  for (let i = 0; i < round.length; i++) if ((round[i] as PerfRecord).time === undefined) untimed++;
  if (untimed === 0 && inOrder) return round;
  const out: PerfRecord[] = [];
  const timed: PerfRecord[] = [];
  for (const r of round) {
    if (r.time === undefined) out.push(r);
    else timed.push(r);
  }
  if (!inOrder) {
    timed.sort((a, b) =>
      (a.time as bigint) < (b.time as bigint) ? -1 : (a.time as bigint) > (b.time as bigint) ? 1 : 0,
    );
  }
  for (const r of timed) out.push(r);
  return out;
}

/** Read buffers of the window size kept for reuse by the transient readers. */
interface WindowPool {
  readonly free: Uint8Array[];
  /** Buffers replaced while records of theirs may still be held (ordered: until the round is flushed). */
  readonly retired: Uint8Array[];
  /** Retire replaced buffers (ordered) rather than reuse them at once (records in file order). */
  readonly hold: boolean;
}
