import { EndianReader } from "../bytes/endian.ts";
import { type ByteSource, FileSource } from "../bytes/source.ts";
import { genericEventName, type PerfFileAttr, readAttrs } from "./attr.ts";
import { PERF_EVENT_HEADER_SIZE, PERF_RECORD } from "./constants.ts";
import { PerfDataError } from "./errors.ts";
import { type PerfFeatures, readFeatures } from "./features.ts";
import { type PerfFileHeader, readFileHeader } from "./file-header.ts";
import { type PerfRecord, RecordDecoder, recordTypeName } from "./records.ts";

/** Bytes read from the file at a time while streaming records (records are ≤ 64 KiB each). */
const WINDOW = 1 << 20;

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

  private constructor(readonly source: ByteSource) {
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

  static open(source: ByteSource): PerfData {
    return new PerfData(source);
  }

  /** Open a file by path (positional reads; call `close`). */
  static openPath(path: string): PerfData {
    const src = new FileSource(path);
    try {
      return new PerfData(src);
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
  *records(): Generator<PerfRecord> {
    const src = this.source;
    const fail = (offset: number, message: string, type?: number): never => {
      throw new PerfDataError(message, {
        source: src.name,
        offset,
        structure: type === undefined ? "record" : `record ${recordTypeName(type)}`,
      });
    };
    let winStart = 0;
    let win: Uint8Array = new Uint8Array(0);
    const view = (at: number, len: number): Uint8Array => {
      if (at < winStart || at + len > winStart + win.length) {
        const n = Math.min(Math.max(WINDOW, len), src.size - at);
        win = src.read(at, n);
        winStart = at;
      }
      return win.subarray(at - winStart, at - winStart + len);
    };
    let pos = this.header.data.offset;
    while (pos < this.dataEnd) {
      if (pos + PERF_EVENT_HEADER_SIZE > src.size) {
        fail(pos, `file truncated: the record header needs 8 bytes, the file ends at 0x${src.size.toString(16)}`);
      }
      if (pos + PERF_EVENT_HEADER_SIZE > this.dataEnd) {
        fail(pos, `record header runs past the data section end 0x${this.dataEnd.toString(16)}`);
      }
      const h = new EndianReader(view(pos, PERF_EVENT_HEADER_SIZE), this.header.littleEndian, pos, src.name);
      const type = h.u32(0);
      const size = h.u16(6);
      if (size < PERF_EVENT_HEADER_SIZE) fail(pos, `record size ${size} is smaller than its header`, type);
      if (pos + size > src.size) {
        fail(
          pos,
          `file truncated: record of 0x${size.toString(16)} bytes, the file ends at 0x${src.size.toString(16)}`,
          type,
        );
      }
      if (pos + size > this.dataEnd)
        fail(pos, `record of 0x${size.toString(16)} bytes runs past the data section end`, type);
      if (type === PERF_RECORD.COMPRESSED) fail(pos, "compressed records (perf record -z) are not supported", type);
      let extra = 0;
      // PERF_RECORD_AUXTRACE is followed by its trace data, outside header.size (session.c).
      if (type === PERF_RECORD.AUXTRACE) {
        const a = new EndianReader(view(pos, size), this.header.littleEndian, pos, src.name);
        const n = a.u64(8, "auxtrace size");
        if (n > BigInt(this.dataEnd - pos - size))
          fail(pos, `auxtrace data of 0x${n.toString(16)} bytes runs past the data`, type);
        extra = Number(n);
      }
      yield this.decoder.decode(view(pos, size), pos);
      pos += size + extra;
    }
  }

  /**
   * Records in the order perf's ordered-events queue delivers them: the records between two
   * FINISHED_ROUND markers, stably sorted by time (records without a time keep their place at the
   * front of their round). perf flushes rounds the same way (util/ordered-events.c), so samples come
   * out in `perf script` order while at most one round is held in memory.
   */
  *ordered(): Generator<PerfRecord> {
    let round: PerfRecord[] = [];
    const flush = function* (): Generator<PerfRecord> {
      const timed = round.filter((r) => r.time !== undefined);
      const untimed = round.filter((r) => r.time === undefined);
      timed.sort((a, b) =>
        (a.time as bigint) < (b.time as bigint) ? -1 : (a.time as bigint) > (b.time as bigint) ? 1 : 0,
      );
      yield* untimed;
      yield* timed;
      round = [];
    };
    for (const r of this.records()) {
      if (r.kind === "finished-round") {
        yield* flush();
        continue;
      }
      round.push(r);
    }
    yield* flush();
  }
}
