import { EndianReader } from "../bytes/endian.ts";
import type { ByteSource } from "../bytes/source.ts";
import { decodeLatin1 } from "../elf/file.ts";
import { FormatError } from "../errors.ts";
import { decodeAttr, type PerfEventAttr } from "./attr.ts";
import { HEADER_FEAT, PERF_RECORD_MISC } from "./constants.ts";
import { PerfDataError } from "./errors.ts";
import type { FileSection, PerfFileHeader } from "./file-header.ts";

/** One HEADER_BUILD_ID entry: the build-id perf saw for a DSO path. */
export interface BuildIdEntry {
  readonly pid: number;
  /** Lower-case hex, as `perf buildid-list` prints it. */
  readonly buildId: string;
  readonly filename: string;
  /** header.misc cpumode (kernel / user / guest). */
  readonly cpumode: number;
}

/** One HEADER_EVENT_DESC entry: an event's name and the sample ids that carry it. */
export interface EventDesc {
  readonly name: string;
  readonly attr: PerfEventAttr;
  readonly ids: readonly bigint[];
}

/** The feature sections the replay uses; others are listed in `present` only. */
export interface PerfFeatures {
  /** Feature bits present (adds_features). */
  readonly present: readonly number[];
  readonly hostname?: string;
  readonly osRelease?: string;
  readonly version?: string;
  /** uname -m of the recording machine ("x86_64", "aarch64"). */
  readonly arch?: string;
  readonly cmdline?: readonly string[];
  readonly buildIds?: readonly BuildIdEntry[];
  readonly eventDesc?: readonly EventDesc[];
  /** Features whose section could not be read, with why (a truncated file loses them; records may still be readable). */
  readonly problems: readonly string[];
}

/** perf_header.c do_read_string: u32 length (including NUL padding), then the bytes. */
function readString(r: EndianReader, at: number, what: string): { value: string; next: number } {
  const len = r.u32(at, `${what} length`);
  if (at + 4 + len > r.length) {
    throw new FormatError(`${what}: string of ${len} bytes runs past its section`, {
      source: r.sourceName,
      offset: r.base + at,
    });
  }
  const bytes = r.bytes.subarray(at + 4, at + 4 + len);
  const nul = bytes.indexOf(0);
  return { value: decodeLatin1(bytes, 0, nul < 0 ? len : nul), next: at + 4 + len };
}

/**
 * The feature sections (perf_header__process_sections): an array of perf_file_section right after the
 * data section, one per feature bit set, in bit order. Each section is read on its own, so one bad
 * section costs that feature only (recorded in `problems`), never the whole file.
 */
export function readFeatures(src: ByteSource, h: PerfFileHeader): PerfFeatures {
  const problems: string[] = [];
  const out: {
    -readonly [K in keyof PerfFeatures]: PerfFeatures[K];
  } = { present: h.features, problems };
  if (h.features.length === 0) return out;
  const indexAt = h.data.offset + h.data.size;
  const indexLen = h.features.length * 16;
  if (h.data.size === 0 || indexAt + indexLen > src.size) {
    problems.push(
      `feature index at 0x${indexAt.toString(16)} (${h.features.length} entries) is not inside the file (size 0x${src.size.toString(16)})`,
    );
    return out;
  }
  const idx = new EndianReader(src.read(indexAt, indexLen), h.littleEndian, indexAt, src.name);
  h.features.forEach((feat, i) => {
    const sec: FileSection = { offset: Number(idx.u64(i * 16)), size: Number(idx.u64(i * 16 + 8)) };
    const known = Object.values(HEADER_FEAT).includes(feat as never);
    if (!known) return;
    if (!Number.isSafeInteger(sec.offset + sec.size) || sec.offset + sec.size > src.size) {
      problems.push(
        `feature ${feat}: section [0x${sec.offset.toString(16)}, +0x${sec.size.toString(16)}) past end of file`,
      );
      return;
    }
    try {
      readFeature(src, h, feat, sec, out);
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      problems.push(`feature ${feat}: ${e.message}`);
    }
  });
  return out;
}

function readFeature(
  src: ByteSource,
  h: PerfFileHeader,
  feat: number,
  sec: FileSection,
  out: { -readonly [K in keyof PerfFeatures]: PerfFeatures[K] },
): void {
  const wanted: readonly number[] = [
    HEADER_FEAT.HOSTNAME,
    HEADER_FEAT.OSRELEASE,
    HEADER_FEAT.VERSION,
    HEADER_FEAT.ARCH,
    HEADER_FEAT.CMDLINE,
    HEADER_FEAT.BUILD_ID,
    HEADER_FEAT.EVENT_DESC,
  ];
  if (!wanted.includes(feat)) return;
  const r = new EndianReader(src.read(sec.offset, sec.size), h.littleEndian, sec.offset, src.name);
  switch (feat) {
    case HEADER_FEAT.HOSTNAME:
      out.hostname = readString(r, 0, "hostname").value;
      return;
    case HEADER_FEAT.OSRELEASE:
      out.osRelease = readString(r, 0, "osrelease").value;
      return;
    case HEADER_FEAT.VERSION:
      out.version = readString(r, 0, "version").value;
      return;
    case HEADER_FEAT.ARCH:
      out.arch = readString(r, 0, "arch").value;
      return;
    case HEADER_FEAT.CMDLINE: {
      const n = r.u32(0, "cmdline nr");
      const args: string[] = [];
      let at = 4;
      // Each string is ≥ 4 bytes: a count larger than that cannot fit (no allocation driven by it).
      if (n * 4 > r.length) throw new FormatError(`cmdline: ${n} strings cannot fit in ${r.length} bytes`);
      for (let i = 0; i < n; i++) {
        const s = readString(r, at, "cmdline");
        args.push(s.value);
        at = s.next;
      }
      out.cmdline = args;
      return;
    }
    case HEADER_FEAT.BUILD_ID:
      out.buildIds = readBuildIds(r, src.name);
      return;
    case HEADER_FEAT.EVENT_DESC:
      out.eventDesc = readEventDesc(r, h, src.name);
      return;
  }
}

/** HEADER_BUILD_ID: perf_record_header_build_id records (header, pid, build_id[24], filename). */
function readBuildIds(r: EndianReader, source: string): BuildIdEntry[] {
  const out: BuildIdEntry[] = [];
  let at = 0;
  while (at + 8 <= r.length) {
    const misc = r.u16(at + 4, "build_id misc");
    const size = r.u16(at + 6, "build_id size");
    if (size < 36 || at + size > r.length) {
      throw new PerfDataError(`build-id entry size ${size} is not inside the section`, {
        source,
        offset: r.base + at,
        structure: "feature BUILD_ID",
      });
    }
    const pid = r.i32(at + 8, "build_id pid");
    // With PERF_RECORD_MISC_BUILD_ID_SIZE the id's length is in byte 20; otherwise 20 bytes (SHA-1).
    const idLen = misc & PERF_RECORD_MISC.BUILD_ID_SIZE ? Math.min(20, r.u8(at + 12 + 20)) : 20;
    const id = Array.from(r.bytes.subarray(at + 12, at + 12 + idLen), (b) => b.toString(16).padStart(2, "0")).join("");
    const nameBytes = r.bytes.subarray(at + 36, at + size);
    const nul = nameBytes.indexOf(0);
    out.push({
      pid,
      buildId: id,
      filename: decodeLatin1(nameBytes, 0, nul < 0 ? nameBytes.length : nul),
      cpumode: misc & PERF_RECORD_MISC.CPUMODE_MASK,
    });
    at += size;
  }
  return out;
}

/** HEADER_EVENT_DESC: u32 nr, u32 attr_size, then per event: attr, u32 nr_ids, name string, u64 ids[]. */
function readEventDesc(r: EndianReader, h: PerfFileHeader, source: string): EventDesc[] {
  const nr = r.u32(0, "event_desc nr");
  const attrSize = r.u32(4, "event_desc attr_size");
  if (attrSize < 64 || nr * (attrSize + 8) > r.length) {
    throw new FormatError(`event_desc: ${nr} events of attr_size ${attrSize} cannot fit in ${r.length} bytes`, {
      source,
      offset: r.base,
    });
  }
  const out: EventDesc[] = [];
  let at = 8;
  for (let i = 0; i < nr; i++) {
    const attr = decodeAttr(r.bytes.subarray(at, at + attrSize), h.littleEndian, r.base + at, source);
    at += attrSize;
    const nIds = r.u32(at, "event_desc nr_ids");
    const name = readString(r, at + 4, "event_desc name");
    at = name.next;
    if (at + nIds * 8 > r.length) throw new FormatError(`event_desc: ${nIds} ids run past the section`);
    const ids: bigint[] = [];
    for (let k = 0; k < nIds; k++) ids.push(r.u64(at + k * 8, "event_desc id"));
    at += nIds * 8;
    out.push({ name: name.value, attr, ids });
  }
  return out;
}
