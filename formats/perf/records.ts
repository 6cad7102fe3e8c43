import { EndianReader } from "../bytes/endian.ts";
import { decodeLatin1 } from "../elf/file.ts";
import { FormatError } from "../errors.ts";
import type { PerfEventAttr, PerfFileAttr } from "./attr.ts";
import {
  PERF_FORMAT,
  PERF_RECORD,
  PERF_RECORD_MISC,
  PERF_RECORD_NAMES,
  PERF_SAMPLE,
  PERF_SAMPLE_KNOWN,
} from "./constants.ts";
import { PerfDataError } from "./errors.ts";

/** The sample_id trailer of a non-sample record (attr.sample_id_all): time and thread of the event. */
export interface SampleId {
  readonly pid?: number;
  readonly tid?: number;
  readonly time?: bigint;
  readonly id?: bigint;
  readonly cpu?: number;
}

interface RecordBase {
  /** File offset of the record's perf_event_header (as `perf script -D` prints it). */
  readonly offset: number;
  readonly type: number;
  readonly misc: number;
  readonly size: number;
  /** Event time (SAMPLE TIME, or the sample_id trailer); undefined when the record has none. */
  readonly time: bigint | undefined;
}

/** PERF_RECORD_MMAP and PERF_RECORD_MMAP2 (struct perf_record_mmap / perf_record_mmap2). */
export interface MmapRecord extends RecordBase {
  readonly kind: "mmap";
  readonly pid: number;
  readonly tid: number;
  readonly addr: bigint;
  readonly len: bigint;
  readonly pgoff: bigint;
  readonly filename: string;
  /** MMAP2 only: PROT_* and MAP_* of the mapping (MMAP: undefined; exec unless misc MMAP_DATA). */
  readonly prot: number | undefined;
  readonly flags: number | undefined;
  readonly maj?: number;
  readonly min?: number;
  readonly ino?: bigint;
  /** MMAP2 with PERF_RECORD_MISC_MMAP_BUILD_ID: the build-id in hex. */
  readonly buildId?: string;
}

export interface CommRecord extends RecordBase {
  readonly kind: "comm";
  readonly pid: number;
  readonly tid: number;
  readonly comm: string;
  /** PERF_RECORD_MISC_COMM_EXEC: the comm changed because the thread exec'd (old mappings are gone). */
  readonly exec: boolean;
}

/** PERF_RECORD_FORK / PERF_RECORD_EXIT (struct perf_record_fork). */
export interface TaskRecord extends RecordBase {
  readonly kind: "fork" | "exit";
  readonly pid: number;
  readonly ppid: number;
  readonly tid: number;
  readonly ptid: number;
}

/** Registers of a REGS_USER sample: the values of the bits set in `mask`, in bit order. */
export interface SampleRegs {
  /** PERF_SAMPLE_REGS_ABI_*: 0 none (a kernel thread), 1 32-bit, 2 64-bit. */
  readonly abi: bigint;
  readonly mask: bigint;
  readonly values: readonly bigint[];
  /** The k-th sampled register (`values[k]`), read without building the whole array. */
  value(k: number): bigint | undefined;
}

/**
 * A REGS_USER block read from the record on demand: a replay uses three or four of the 17+ sampled
 * registers, and decoding all of them made a bigint each per sample (garbage-collector work). Reads
 * come from the record's bytes, so (as the stack copy) they are valid while the record's bytes are.
 */
class RecordRegs implements SampleRegs {
  private cached: readonly bigint[] | undefined;
  constructor(
    readonly abi: bigint,
    readonly mask: bigint,
    private readonly dv: DataView,
    private readonly at: number,
    private readonly count: number,
    private readonly le: boolean,
  ) {}
  get values(): readonly bigint[] {
    if (this.cached === undefined) {
      const v = new Array<bigint>(this.count);
      for (let i = 0; i < this.count; i++) v[i] = this.dv.getBigUint64(this.at + i * 8, this.le);
      this.cached = v;
    }
    return this.cached;
  }
  value(k: number): bigint | undefined {
    if (this.cached !== undefined) return this.cached[k];
    return k >= 0 && k < this.count ? this.dv.getBigUint64(this.at + k * 8, this.le) : undefined;
  }
}

/** A PERF_SAMPLE_STACK_USER copy: `dynSize` valid bytes of the `size` reserved. */
export interface StackUser {
  readonly bytes: Uint8Array;
  readonly size: number;
  readonly dynSize: number;
  /** The same bytes as `view` from `viewOffset` (the read buffer's view: no view made per sample). */
  readonly view: DataView;
  readonly viewOffset: number;
}

/** The stack copy inside the record's buffer; `bytes` is made only when asked for. */
class RecordStack implements StackUser {
  constructor(
    private readonly buffer: Uint8Array,
    readonly view: DataView,
    readonly viewOffset: number,
    readonly size: number,
    readonly dynSize: number,
  ) {}
  get bytes(): Uint8Array {
    return this.buffer.subarray(this.viewOffset, this.viewOffset + this.dynSize);
  }
}

const NO_CALLCHAIN: readonly bigint[] = Object.freeze([]);

const NO_STACK: StackUser = new RecordStack(new Uint8Array(0), new DataView(new ArrayBuffer(0)), 0, 0, 0);

// Hot-path constants as module locals (read once, not through the import binding per record).
const TYPE_SAMPLE = PERF_RECORD.SAMPLE;
const TYPE_FINISHED_ROUND = PERF_RECORD.FINISHED_ROUND;
const CPUMODE_MASK = PERF_RECORD_MISC.CPUMODE_MASK;

export interface SampleRecord extends RecordBase {
  readonly kind: "sample";
  /** Index of the attr (event) this sample belongs to. */
  readonly attrIndex: number;
  readonly id: bigint | undefined;
  readonly ip: bigint | undefined;
  readonly pid: number | undefined;
  readonly tid: number | undefined;
  readonly addr: bigint | undefined;
  readonly cpu: number | undefined;
  readonly period: bigint | undefined;
  /** PERF_SAMPLE_CALLCHAIN as stored, context markers included. */
  readonly callchain: readonly bigint[] | undefined;
  readonly regsUser: SampleRegs | undefined;
  /** PERF_SAMPLE_STACK_USER: the `dyn_size` valid bytes copied from the user SP up. */
  readonly stackUser: StackUser | undefined;
  /** misc & PERF_RECORD_MISC_CPUMODE_MASK: where the sample hit (user, kernel…). */
  readonly cpumode: number;
}

export interface FinishedRoundRecord extends RecordBase {
  readonly kind: "finished-round";
}

/** A record the replay does not interpret (LOST, THROTTLE, ID_INDEX, …): type and place only. */
export interface OtherRecord extends RecordBase {
  readonly kind: "other";
}

export type PerfRecord = MmapRecord | CommRecord | TaskRecord | SampleRecord | FinishedRoundRecord | OtherRecord;

/** Name of a record type as `perf script -D` prints it. */
export function recordTypeName(type: number): string {
  return PERF_RECORD_NAMES[type] ?? `type ${type}`;
}

function popcount(v: bigint): number {
  let n = 0;
  for (let x = v; x !== 0n; x &= x - 1n) n++;
  return n;
}

/** Bytes of the sample_id trailer for `attr` (perf_evsel__id_hdr_size). */
export function sampleIdSize(attr: PerfEventAttr): number {
  if (!attr.sampleIdAll) return 0;
  const t = attr.sampleType;
  let n = 0;
  for (const bit of [PERF_SAMPLE.TID, PERF_SAMPLE.TIME, PERF_SAMPLE.ID, PERF_SAMPLE.STREAM_ID, PERF_SAMPLE.CPU]) {
    if (t & bit) n += 8;
  }
  if (t & PERF_SAMPLE.IDENTIFIER) n += 8;
  return n;
}

/** The sample fields an attr's sample_type selects, as plain booleans and counts. */
interface SampleLayout {
  readonly identifier: boolean;
  readonly ip: boolean;
  readonly tid: boolean;
  readonly time: boolean;
  readonly addr: boolean;
  readonly id: boolean;
  readonly streamId: boolean;
  readonly cpu: boolean;
  readonly period: boolean;
  readonly read: boolean;
  readonly readGroup: boolean;
  /** u64s of time_enabled/time_running. */
  readonly readTimes: number;
  /** u64s per value: the value, plus id and lost when read_format has them. */
  readonly readPerValue: number;
  readonly callchain: boolean;
  readonly raw: boolean;
  readonly branchStack: boolean;
  readonly regsUser: boolean;
  readonly regsMask: bigint;
  readonly regsCount: number;
  readonly stackUser: boolean;
  /** Bytes of the fixed fields before READ (IDENTIFIER … PERIOD). */
  readonly fixedBytes: number;
  /** Where PERF_SAMPLE_IDENTIFIER / PERF_SAMPLE_ID sits in a sample, when present. */
  readonly idAt: number | undefined;
  /** Unknown sample_type bits in hex, or "" when all are known. */
  readonly unknownBits: string;
}

function sampleLayout(attr: PerfEventAttr): SampleLayout {
  const t = attr.sampleType;
  const has = (b: bigint) => (t & b) !== 0n;
  const f = attr.readFormat;
  const fixed = [
    PERF_SAMPLE.IDENTIFIER,
    PERF_SAMPLE.IP,
    PERF_SAMPLE.TID,
    PERF_SAMPLE.TIME,
    PERF_SAMPLE.ADDR,
    PERF_SAMPLE.ID,
    PERF_SAMPLE.STREAM_ID,
    PERF_SAMPLE.CPU,
    PERF_SAMPLE.PERIOD,
  ].filter(has).length;
  let idAt: number | undefined;
  if (has(PERF_SAMPLE.IDENTIFIER)) idAt = 8;
  else if (has(PERF_SAMPLE.ID)) {
    idAt = 8 + [PERF_SAMPLE.IP, PERF_SAMPLE.TID, PERF_SAMPLE.TIME, PERF_SAMPLE.ADDR].filter(has).length * 8;
  }
  const unknown = t & ~PERF_SAMPLE_KNOWN;
  return {
    identifier: has(PERF_SAMPLE.IDENTIFIER),
    ip: has(PERF_SAMPLE.IP),
    tid: has(PERF_SAMPLE.TID),
    time: has(PERF_SAMPLE.TIME),
    addr: has(PERF_SAMPLE.ADDR),
    id: has(PERF_SAMPLE.ID),
    streamId: has(PERF_SAMPLE.STREAM_ID),
    cpu: has(PERF_SAMPLE.CPU),
    period: has(PERF_SAMPLE.PERIOD),
    read: has(PERF_SAMPLE.READ),
    readGroup: (f & PERF_FORMAT.GROUP) !== 0n,
    readTimes:
      ((f & PERF_FORMAT.TOTAL_TIME_ENABLED) !== 0n ? 1 : 0) + ((f & PERF_FORMAT.TOTAL_TIME_RUNNING) !== 0n ? 1 : 0),
    readPerValue: 1 + ((f & PERF_FORMAT.ID) !== 0n ? 1 : 0) + ((f & PERF_FORMAT.LOST) !== 0n ? 1 : 0),
    callchain: has(PERF_SAMPLE.CALLCHAIN),
    raw: has(PERF_SAMPLE.RAW),
    branchStack: has(PERF_SAMPLE.BRANCH_STACK),
    regsUser: has(PERF_SAMPLE.REGS_USER),
    regsMask: attr.sampleRegsUser,
    regsCount: popcount(attr.sampleRegsUser),
    stackUser: has(PERF_SAMPLE.STACK_USER),
    fixedBytes: fixed * 8,
    idAt,
    unknownBits: unknown === 0n ? "" : `0x${unknown.toString(16)}`,
  };
}

/**
 * Decodes records of one file. The attr of a record is found from its sample id when the file has
 * several attrs (evlist__event2evsel): PERF_SAMPLE_IDENTIFIER puts it first in samples and last in
 * trailers; plain PERF_SAMPLE_ID sits at a fixed position computed from the sample_type.
 */
export class RecordDecoder {
  private readonly byId = new Map<bigint, number>();
  /** Per attr: which sample fields are present, decided once from sample_type (no bigint work per sample). */
  private readonly layouts: readonly SampleLayout[];
  constructor(
    readonly attrs: readonly PerfFileAttr[],
    readonly littleEndian: boolean,
    readonly source: string,
  ) {
    attrs.forEach((a, i) => {
      for (const id of a.ids) this.byId.set(id, i);
    });
    this.layouts = attrs.map((a) => sampleLayout(a.attr));
  }

  private fail(offset: number, type: number, message: string): never {
    throw new PerfDataError(message, { source: this.source, offset, structure: `record ${recordTypeName(type)}` });
  }

  /** Decode the record whose bytes (header included) are `bytes`, found at file offset `offset`. */
  decode(bytes: Uint8Array, offset: number): PerfRecord {
    return this.decodeAt(
      bytes,
      new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      0,
      bytes.length,
      offset,
    );
  }

  /**
   * Decode the record of `length` bytes at `at` in `buffer` (`view` is a view of the same bytes),
   * found at file offset `offset`: the streaming reader's window, with no view made per record.
   */
  decodeAt(buffer: Uint8Array, view: DataView, at: number, length: number, offset: number): PerfRecord {
    if (length >= 8) {
      // Samples (nearly every record) take the direct path: every read below is checked against the
      // record's size and fails with a PerfDataError itself.
      const le = this.littleEndian;
      const type = view.getUint32(at, le);
      if (type === TYPE_SAMPLE) {
        const size = view.getUint16(at + 6, le);
        if (size <= length)
          return this.decodeSample(buffer, view, at, { offset, type, misc: view.getUint16(at + 4, le), size });
      } else if (type === TYPE_FINISHED_ROUND) {
        // One per round of samples: no reader object or spread for a record that is only a marker.
        return {
          offset,
          type,
          misc: view.getUint16(at + 4, le),
          size: view.getUint16(at + 6, le),
          kind: "finished-round",
          time: undefined,
        };
      }
    }
    const bytes = at === 0 && length === buffer.length ? buffer : buffer.subarray(at, at + length);
    const r = new EndianReader(bytes, this.littleEndian, offset, this.source);
    const type = r.u32(0);
    const misc = r.u16(4);
    const size = r.u16(6);
    try {
      return this.decodeChecked(r, type, misc, size, offset);
    } catch (e) {
      if (e instanceof PerfDataError || !(e instanceof FormatError)) throw e;
      return this.fail(offset, type, e.message);
    }
  }

  private attrForTrailer(r: EndianReader, size: number): number {
    if (this.attrs.length === 1) return 0;
    const first = (this.attrs[0] as PerfFileAttr).attr;
    if (!first.sampleIdAll) return 0;
    const t = first.sampleType;
    let id: bigint | undefined;
    if (t & PERF_SAMPLE.IDENTIFIER) id = r.u64(size - 8, "sample_id identifier");
    else if (t & PERF_SAMPLE.ID) {
      let after = 0;
      if (t & PERF_SAMPLE.STREAM_ID) after += 8;
      if (t & PERF_SAMPLE.CPU) after += 8;
      id = r.u64(size - 8 - after, "sample_id id");
    }
    return id === undefined ? 0 : (this.byId.get(id) ?? 0);
  }

  private trailer(r: EndianReader, size: number, attrIndex: number): SampleId {
    const attr = (this.attrs[attrIndex] as PerfFileAttr).attr;
    const n = sampleIdSize(attr);
    if (n === 0) return {};
    let at = size - n;
    const t = attr.sampleType;
    const out: { -readonly [K in keyof SampleId]: SampleId[K] } = {};
    if (t & PERF_SAMPLE.TID) {
      out.pid = r.u32(at, "sample_id pid");
      out.tid = r.u32(at + 4, "sample_id tid");
      at += 8;
    }
    if (t & PERF_SAMPLE.TIME) {
      out.time = r.u64(at, "sample_id time");
      at += 8;
    }
    if (t & PERF_SAMPLE.ID) {
      out.id = r.u64(at, "sample_id id");
      at += 8;
    }
    if (t & PERF_SAMPLE.STREAM_ID) at += 8;
    if (t & PERF_SAMPLE.CPU) out.cpu = r.u32(at, "sample_id cpu");
    return out;
  }

  /** A NUL-terminated string in [at, end). */
  private string(r: EndianReader, at: number, end: number): string {
    const b = r.bytes.subarray(at, Math.max(at, end));
    const nul = b.indexOf(0);
    return decodeLatin1(b, 0, nul < 0 ? b.length : nul);
  }

  private decodeChecked(r: EndianReader, type: number, misc: number, size: number, offset: number): PerfRecord {
    const base = { offset, type, misc, size };
    switch (type) {
      case PERF_RECORD.SAMPLE:
        return this.decodeSample(
          r.bytes,
          new DataView(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength),
          0,
          base,
        );
      case PERF_RECORD.MMAP:
      case PERF_RECORD.MMAP2: {
        const ai = this.attrForTrailer(r, size);
        const tr = this.trailer(r, size, ai);
        const end = size - sampleIdSize((this.attrs[ai] as PerfFileAttr).attr);
        const common = {
          ...base,
          kind: "mmap" as const,
          time: tr.time,
          pid: r.u32(8, "pid"),
          tid: r.u32(12, "tid"),
          addr: r.u64(16, "addr"),
          len: r.u64(24, "len"),
          pgoff: r.u64(32, "pgoff"),
        };
        if (type === PERF_RECORD.MMAP) {
          return { ...common, filename: this.string(r, 40, end), prot: undefined, flags: undefined };
        }
        const withId = (misc & PERF_RECORD_MISC.MMAP_BUILD_ID) !== 0;
        const ident = withId
          ? {
              buildId: Array.from(r.bytes.subarray(44, 44 + Math.min(20, r.u8(40, "build_id_size"))), (b) =>
                b.toString(16).padStart(2, "0"),
              ).join(""),
            }
          : { maj: r.u32(40, "maj"), min: r.u32(44, "min"), ino: r.u64(48, "ino") };
        return {
          ...common,
          ...ident,
          prot: r.u32(64, "prot"),
          flags: r.u32(68, "flags"),
          filename: this.string(r, 72, end),
        };
      }
      case PERF_RECORD.COMM: {
        const ai = this.attrForTrailer(r, size);
        const tr = this.trailer(r, size, ai);
        const end = size - sampleIdSize((this.attrs[ai] as PerfFileAttr).attr);
        return {
          ...base,
          kind: "comm",
          time: tr.time,
          pid: r.u32(8, "pid"),
          tid: r.u32(12, "tid"),
          comm: this.string(r, 16, end),
          exec: (misc & PERF_RECORD_MISC.COMM_EXEC) !== 0,
        };
      }
      case PERF_RECORD.FORK:
      case PERF_RECORD.EXIT:
        return {
          ...base,
          kind: type === PERF_RECORD.FORK ? "fork" : "exit",
          pid: r.u32(8, "pid"),
          ppid: r.u32(12, "ppid"),
          tid: r.u32(16, "tid"),
          ptid: r.u32(20, "ptid"),
          time: r.u64(24, "time"),
        };
      case PERF_RECORD.FINISHED_ROUND:
        return { ...base, kind: "finished-round", time: undefined };
      default:
        return { ...base, kind: "other", time: undefined };
    }
  }

  /** A field group that does not fit the rest of the record: the error perf's parser would give (-EFAULT). */
  private overrun(base: Omit<RecordBase, "time">, at: number, n: number, what: string): never {
    return this.fail(
      base.offset,
      base.type,
      `${what}: ${n} bytes at record offset 0x${at.toString(16)} run past the record (size 0x${base.size.toString(16)})`,
    );
  }

  /**
   * A count or size field (u64) that must fit the rest of the record once multiplied by `unit`,
   * checked before it is used: a count in the record never drives a read or an allocation beyond it.
   */
  private count(
    base: Omit<RecordBase, "time">,
    dv: DataView,
    o: number,
    at: number,
    unit: number,
    what: string,
  ): number {
    const end = base.size;
    if (at + 8 > end) this.overrun(base, at, 8, what);
    const le = this.littleEndian;
    const hi = dv.getUint32(o + at + (le ? 4 : 0), le);
    const lo = dv.getUint32(o + at + (le ? 0 : 4), le);
    if (hi !== 0 || lo * unit > end - at - 8)
      this.overrun(base, at + 8, end + 1, `${what} ${hi !== 0 ? "> 2^32" : `${lo}`}`);
    return lo;
  }

  /**
   * perf_evsel__parse_sample: the fields in the order sample_type defines (include/uapi/linux/perf_event.h).
   * Straight-line reads with one bounds check per field group (this runs once per sample: no closures,
   * no per-field reader objects). The stack copy is a view of the record's bytes, not a copy.
   */
  private decodeSample(bytes: Uint8Array, dv: DataView, o: number, base: Omit<RecordBase, "time">): SampleRecord {
    const le = this.littleEndian;
    const end = base.size;
    let attrIndex = 0;
    if (this.attrs.length > 1) {
      const l0 = this.layouts[0] as SampleLayout;
      if (l0.idAt !== undefined) {
        if (l0.idAt + 8 > end) this.overrun(base, l0.idAt, 8, "sample id");
        attrIndex = this.byId.get(dv.getBigUint64(o + l0.idAt, le)) ?? 0;
      }
    }
    const L = this.layouts[attrIndex] as SampleLayout;
    if (L.unknownBits)
      this.fail(base.offset, base.type, `sample_type has bits this reader does not know (${L.unknownBits})`);
    let at = 8;
    if (at + L.fixedBytes > end) this.overrun(base, at, L.fixedBytes, "sample header fields");
    // Every fixed field (IDENTIFIER … PERIOD) is inside the check above.
    let id: bigint | undefined;
    if (L.identifier) {
      id = dv.getBigUint64(o + at, le);
      at += 8;
    }
    let ip: bigint | undefined;
    if (L.ip) {
      ip = dv.getBigUint64(o + at, le);
      at += 8;
    }
    let pid: number | undefined;
    let tid: number | undefined;
    if (L.tid) {
      pid = dv.getUint32(o + at, le);
      tid = dv.getUint32(o + at + 4, le);
      at += 8;
    }
    let time: bigint | undefined;
    if (L.time) {
      time = dv.getBigUint64(o + at, le);
      at += 8;
    }
    let addr: bigint | undefined;
    if (L.addr) {
      addr = dv.getBigUint64(o + at, le);
      at += 8;
    }
    if (L.id) {
      id = dv.getBigUint64(o + at, le);
      at += 8;
    }
    if (L.streamId) at += 8;
    let cpu: number | undefined;
    if (L.cpu) {
      cpu = dv.getUint32(o + at, le);
      at += 8;
    }
    let period: bigint | undefined;
    if (L.period) {
      period = dv.getBigUint64(o + at, le);
      at += 8;
    }
    if (L.read) {
      let n = 8 * (1 + L.readTimes + L.readPerValue - 1);
      let what = "read";
      if (L.readGroup) {
        const nr = this.count(base, dv, o, at, 8 * L.readPerValue, "read nr");
        at += 8;
        n = 8 * (L.readTimes + nr * L.readPerValue);
        what = "read group";
      }
      if (at + n > end) this.overrun(base, at, n, what);
      at += n;
    }
    let callchain: readonly bigint[] | undefined;
    if (L.callchain) {
      const nr = this.count(base, dv, o, at, 8, "callchain nr");
      at += 8;
      // An empty chain (perf record --call-graph dwarf stores none for user samples) is shared.
      if (nr === 0) callchain = NO_CALLCHAIN;
      else {
        const chain = new Array<bigint>(nr);
        for (let i = 0; i < nr; i++) chain[i] = dv.getBigUint64(o + at + i * 8, le);
        callchain = chain;
      }
      at += nr * 8;
    }
    if (L.raw) {
      if (at + 4 > end) this.overrun(base, at, 4, "raw size");
      const n = dv.getUint32(o + at, le);
      at += 4;
      if (at + n > end) this.overrun(base, at, n, "raw data");
      at += n;
    }
    if (L.branchStack) {
      // PERF_SAMPLE_BRANCH_HW_INDEX adds hw_idx; perf knows from branch_sample_type, not kept here.
      const nr = this.count(base, dv, o, at, 24, "branch nr");
      at += 8 + nr * 24;
    }
    let regsUser: SampleRegs | undefined;
    if (L.regsUser) {
      if (at + 8 > end) this.overrun(base, at, 8, "regs_user abi");
      const abi = dv.getBigUint64(o + at, le);
      at += 8;
      const n = abi === 0n ? 0 : L.regsCount;
      if (at + n * 8 > end) this.overrun(base, at, n * 8, "regs_user");
      regsUser = new RecordRegs(abi, L.regsMask, dv, o + at, n, le);
      at += n * 8;
    }
    let stackUser: SampleRecord["stackUser"];
    if (L.stackUser) {
      const n = this.count(base, dv, o, at, 1, "stack_user size");
      at += 8;
      if (n === 0) stackUser = NO_STACK;
      else {
        if (at + n + 8 > end) this.overrun(base, at, n + 8, "stack_user data");
        const dataAt = at;
        at += n;
        const dyn = dv.getBigUint64(o + at, le);
        at += 8;
        if (dyn > BigInt(n)) {
          this.fail(base.offset, base.type, `stack_user dyn_size 0x${dyn.toString(16)} > size 0x${n.toString(16)}`);
        }
        const d = Number(dyn);
        stackUser = new RecordStack(bytes, dv, o + dataAt, n, d);
      }
    }
    // Explicit fields, not `...base`: V8 builds spread literals of this size on a slow path.
    return {
      offset: base.offset,
      type: base.type,
      misc: base.misc,
      size: base.size,
      kind: "sample",
      time,
      attrIndex,
      id,
      ip,
      pid,
      tid,
      addr,
      cpu,
      period,
      callchain,
      regsUser,
      stackUser,
      cpumode: base.misc & CPUMODE_MASK,
    };
  }
}
