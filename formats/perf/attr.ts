import { EndianReader } from "../bytes/endian.ts";
import type { ByteSource } from "../bytes/source.ts";
import { ATTR_FLAG, HW_EVENT_NAMES, PERF_TYPE_HARDWARE, PERF_TYPE_SOFTWARE, SW_EVENT_NAMES } from "./constants.ts";
import { PerfDataError } from "./errors.ts";
import type { FileSection, PerfFileHeader } from "./file-header.ts";

/** The fields of struct perf_event_attr the reader and the replay use. */
export interface PerfEventAttr {
  readonly type: number;
  /** attr.size as written (may be smaller than the file's attr_size for old ABIs). */
  readonly size: number;
  readonly config: bigint;
  /** sample_period, or sample_freq when `freq`. */
  readonly samplePeriod: bigint;
  readonly sampleType: bigint;
  readonly readFormat: bigint;
  /** The flag bitfield (disabled, inherit, …, mmap2, …) as one word. */
  readonly flags: bigint;
  readonly freq: boolean;
  readonly sampleIdAll: boolean;
  readonly excludeCallchainUser: boolean;
  /** 0 when the attr is older than PERF_ATTR_SIZE_VER3 (no user registers). */
  readonly sampleRegsUser: bigint;
  readonly sampleStackUser: number;
}

/** One entry of the attrs section: the attr and the sample ids that belong to it. */
export interface PerfFileAttr {
  readonly attr: PerfEventAttr;
  readonly ids: readonly bigint[];
  /** File offset of the attr, for messages. */
  readonly offset: number;
}

/** Decode a perf_event_attr of `bytes` (offset fields beyond `size` read as 0, as the kernel's copy does). */
export function decodeAttr(bytes: Uint8Array, littleEndian: boolean, base: number, source: string): PerfEventAttr {
  const r = new EndianReader(bytes, littleEndian, base, source);
  const size = r.u32(4, "attr.size");
  const has = (end: number) => bytes.length >= end && (size === 0 || size >= end);
  const flags = r.u64(40, "attr.flags");
  return {
    type: r.u32(0, "attr.type"),
    size,
    config: r.u64(8, "attr.config"),
    samplePeriod: r.u64(16, "attr.sample_period"),
    sampleType: r.u64(24, "attr.sample_type"),
    readFormat: r.u64(32, "attr.read_format"),
    flags,
    freq: (flags & ATTR_FLAG.FREQ) !== 0n,
    sampleIdAll: (flags & ATTR_FLAG.SAMPLE_ID_ALL) !== 0n,
    excludeCallchainUser: (flags & ATTR_FLAG.EXCLUDE_CALLCHAIN_USER) !== 0n,
    sampleRegsUser: has(88) ? r.u64(80, "attr.sample_regs_user") : 0n,
    sampleStackUser: has(92) ? r.u32(88, "attr.sample_stack_user") : 0,
  };
}

/**
 * The attrs section (perf_session__read_header): `attrs.size / attr_size` entries (perf_file_attr), each an
 * attr followed by a perf_file_section pointing at its u64 ids. Every range is checked against the file
 * before it is read, so a corrupt count or id range is a typed error, never a huge allocation.
 */
export function readAttrs(src: ByteSource, h: PerfFileHeader): PerfFileAttr[] {
  // attr_size is sizeof(struct perf_file_attr): the attr plus its 16-byte ids section.
  const entry = h.attrSize;
  const attrLen = entry - 16;
  const structure = "attrs section";
  if (h.attrs.offset + h.attrs.size > src.size) {
    throw new PerfDataError(
      `[0x${h.attrs.offset.toString(16)}, +0x${h.attrs.size.toString(16)}) extends past end of file`,
      {
        source: src.name,
        offset: h.attrs.offset,
        structure,
      },
    );
  }
  if (h.attrs.size % entry !== 0 || h.attrs.size === 0) {
    throw new PerfDataError(`size 0x${h.attrs.size.toString(16)} is not a multiple of attr_size (${entry})`, {
      source: src.name,
      offset: h.attrs.offset,
      structure,
    });
  }
  const out: PerfFileAttr[] = [];
  for (let at = h.attrs.offset; at < h.attrs.offset + h.attrs.size; at += entry) {
    const bytes = src.read(at, entry);
    const attr = decodeAttr(bytes.subarray(0, attrLen), h.littleEndian, at, src.name);
    const r = new EndianReader(bytes, h.littleEndian, at, src.name);
    const ids: FileSection = { offset: r.u64n(attrLen, "ids.offset"), size: r.u64n(attrLen + 8, "ids.size") };
    if (ids.size % 8 !== 0 || ids.offset + ids.size > src.size) {
      throw new PerfDataError(
        `ids [0x${ids.offset.toString(16)}, +0x${ids.size.toString(16)}) are not inside the file`,
        {
          source: src.name,
          offset: at,
          structure: "attr",
        },
      );
    }
    const idr = new EndianReader(src.read(ids.offset, ids.size), h.littleEndian, ids.offset, src.name);
    const list: bigint[] = [];
    for (let i = 0; i < ids.size; i += 8) list.push(idr.u64(i, "id"));
    out.push({ attr, ids: list, offset: at });
  }
  return out;
}

/** perf's name for an event when the file has no HEADER_EVENT_DESC (evsel__name for generic events). */
export function genericEventName(attr: PerfEventAttr): string {
  const c = Number(attr.config & 0xffffn);
  if (attr.type === PERF_TYPE_SOFTWARE && SW_EVENT_NAMES[c]) return SW_EVENT_NAMES[c] as string;
  if (attr.type === PERF_TYPE_HARDWARE && HW_EVENT_NAMES[c]) return HW_EVENT_NAMES[c] as string;
  return `raw 0x${attr.type.toString(16)}:0x${attr.config.toString(16)}`;
}
