import { EndianReader } from "../bytes/endian.ts";
import type { ByteSource } from "../bytes/source.ts";
import { FormatError } from "../errors.ts";
import {
  PERF_ATTR_SIZE_VER0,
  PERF_FILE_HEADER_SIZE,
  PERF_MAGIC1,
  PERF_MAGIC2,
  PERF_MAGIC2_SWAPPED,
} from "./constants.ts";
import { PerfDataError } from "./errors.ts";

/** struct perf_file_section: a byte range of the file. */
export interface FileSection {
  readonly offset: number;
  readonly size: number;
}

/** struct perf_file_header (tools/perf/util/header.h). */
export interface PerfFileHeader {
  readonly littleEndian: boolean;
  /** sizeof(perf_file_header) as written (104). */
  readonly size: number;
  /** sizeof(struct perf_file_attr) as written by the recording perf: its perf_event_attr + 16. */
  readonly attrSize: number;
  readonly attrs: FileSection;
  readonly data: FileSection;
  readonly eventTypes: FileSection;
  /** adds_features: the feature bits set, in increasing order. */
  readonly features: readonly number[];
}

function section(r: EndianReader, at: number, what: string, source: string): FileSection {
  const offset = r.u64n(at, `${what}.offset`);
  const size = r.u64n(at + 8, `${what}.size`);
  if (offset + size > Number.MAX_SAFE_INTEGER) {
    throw new PerfDataError(`${what} range overflows`, { source, offset: 0, structure: "file header" });
  }
  return { offset, size };
}

/**
 * Read the file header (perf_header.c `perf_file_header__read`): the magic decides the byte order;
 * a pipe-mode stream (header size 16) and the v1 format are refused with a typed error.
 */
export function readFileHeader(src: ByteSource): PerfFileHeader {
  const structure = "file header";
  if (src.size < 16) {
    throw new PerfDataError(`file is ${src.size} bytes, shorter than a perf.data header`, {
      source: src.name,
      offset: 0,
      structure,
    });
  }
  const head = src.read(0, Math.min(src.size, PERF_FILE_HEADER_SIZE));
  const le = new EndianReader(head, true, 0, src.name);
  const magic = le.u64(0, "magic");
  let littleEndian: boolean;
  if (magic === PERF_MAGIC2) littleEndian = true;
  else if (magic === PERF_MAGIC2_SWAPPED) littleEndian = false;
  else if (magic === PERF_MAGIC1) {
    throw new PerfDataError("version-1 perf.data (magic PERFFILE) is not supported", {
      source: src.name,
      offset: 0,
      structure,
    });
  } else {
    throw new PerfDataError(`bad magic 0x${magic.toString(16)} (expected "PERFILE2")`, {
      source: src.name,
      offset: 0,
      structure,
    });
  }
  const r = new EndianReader(head, littleEndian, 0, src.name);
  const size = r.u64n(8, "header size");
  if (size === 16) {
    throw new PerfDataError("pipe-mode perf.data (written to stdout) is not supported; record with -o FILE", {
      source: src.name,
      offset: 0,
      structure,
    });
  }
  if (size < PERF_FILE_HEADER_SIZE || head.length < PERF_FILE_HEADER_SIZE) {
    throw new PerfDataError(`header size ${size} < ${PERF_FILE_HEADER_SIZE} or file shorter than the header`, {
      source: src.name,
      offset: 0,
      structure,
    });
  }
  try {
    const attrSize = r.u64n(16, "attr_size");
    if (attrSize < PERF_ATTR_SIZE_VER0 + 16 || attrSize > 4096) {
      throw new PerfDataError(`attr_size ${attrSize} is not a perf_file_attr size`, {
        source: src.name,
        offset: 16,
        structure,
      });
    }
    const features: number[] = [];
    for (let w = 0; w < 4; w++) {
      const word = r.u64(72 + w * 8, "adds_features");
      for (let b = 0; b < 64; b++) if ((word >> BigInt(b)) & 1n) features.push(w * 64 + b);
    }
    return {
      littleEndian,
      size,
      attrSize,
      attrs: section(r, 24, "attrs", src.name),
      data: section(r, 40, "data", src.name),
      eventTypes: section(r, 56, "event_types", src.name),
      features,
    };
  } catch (e) {
    if (e instanceof PerfDataError || !(e instanceof FormatError)) throw e;
    throw new PerfDataError(e.message, { source: src.name, offset: Number(e.offset ?? 0), structure });
  }
}
