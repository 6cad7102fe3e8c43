import {
  SFRAME_HEADER_SIZE,
  SFRAME_MAGIC,
  SFRAME_MAGIC_SWAPPED,
  SFRAME_V1_F_ALL_FLAGS,
  SFRAME_V1_FDE_SIZE,
  SFRAME_V2_F_ALL_FLAGS,
  SFRAME_V2_FDE_SIZE,
  SFRAME_V3_F_ALL_FLAGS,
  SFRAME_V3_FDE_INDEX_SIZE,
  SFRAME_VERSION_1,
  SFRAME_VERSION_2,
  SFRAME_VERSION_3,
} from "./constants.ts";
import { SframeFormatError } from "./errors.ts";
import type { SframeHeader, SframeLayout, SframeVersion } from "./types.ts";

/** Byte order of SFrame bytes from the magic, or undefined when the magic is neither 0xdee2 nor swapped. */
export function sframeByteOrder(bytes: Uint8Array): "little" | "big" | undefined {
  if (bytes.length < 2) return undefined;
  const le = (bytes[0] as number) | ((bytes[1] as number) << 8);
  if (le === SFRAME_MAGIC) return "little";
  if (le === SFRAME_MAGIC_SWAPPED) return "big";
  return undefined;
}

/** Flag bits each version defines (libsframe `sframe_header_sanity_check_p`). */
export function validFlagsFor(version: number): number {
  if (version === SFRAME_VERSION_3) return SFRAME_V3_F_ALL_FLAGS;
  if (version === SFRAME_VERSION_2) return SFRAME_V2_F_ALL_FLAGS;
  return SFRAME_V1_F_ALL_FLAGS;
}

/** Size of one entry of the FDE sub-section: V1 17, V2 20, V3 16 (index entry). */
export function fdeEntrySizeFor(version: SframeVersion): number {
  if (version === SFRAME_VERSION_3) return SFRAME_V3_FDE_INDEX_SIZE;
  if (version === SFRAME_VERSION_2) return SFRAME_V2_FDE_SIZE;
  return SFRAME_V1_FDE_SIZE;
}

/**
 * Read the 28-byte header (+ aux header) in the section's own byte order. Checks only that the
 * bytes are there and the magic is recognisable; what a valid header looks like is the caller's
 * policy (`checkHeader` below for decoding, validate.ts for the kernel).
 */
export function readSframeHeader(bytes: Uint8Array, source?: string): SframeHeader {
  if (bytes.length < SFRAME_HEADER_SIZE) {
    throw new SframeFormatError("truncated", `SFrame header needs 28 bytes, only ${bytes.length} present`, {
      offset: 0,
      expected: "at least 28 bytes",
      source,
    });
  }
  const order = sframeByteOrder(bytes);
  if (order === undefined) {
    const v = new DataView(bytes.buffer, bytes.byteOffset, 2).getUint16(0, true);
    throw new SframeFormatError("bad-magic", `bad SFrame magic 0x${v.toString(16).padStart(4, "0")}`, {
      offset: 0,
      expected: "0xdee2 in either byte order",
      source,
    });
  }
  const le = order === "little";
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const auxHeaderLength = dv.getUint8(7);
  const end = SFRAME_HEADER_SIZE + auxHeaderLength;
  if (end > bytes.length) {
    throw new SframeFormatError(
      "truncated",
      `SFrame aux header (${auxHeaderLength} bytes) extends past the data (${bytes.length} bytes)`,
      { offset: 7, expected: `sfh_auxhdr_len <= ${bytes.length - SFRAME_HEADER_SIZE}`, source },
    );
  }
  return {
    preamble: { magic: dv.getUint16(0, le), version: dv.getUint8(2), flags: dv.getUint8(3) },
    littleEndian: le,
    abiArch: dv.getUint8(4),
    cfaFixedFpOffset: dv.getInt8(5),
    cfaFixedRaOffset: dv.getInt8(6),
    auxHeaderLength,
    auxHeader: bytes.slice(SFRAME_HEADER_SIZE, end),
    numFdes: dv.getUint32(8, le),
    numFres: dv.getUint32(12, le),
    freLen: dv.getUint32(16, le),
    fdeOff: dv.getUint32(20, le),
    freOff: dv.getUint32(24, le),
  };
}

/** Sub-section positions the header implies (no checks). */
export function layoutOf(header: SframeHeader, version: SframeVersion): SframeLayout {
  const headerSize = SFRAME_HEADER_SIZE + header.auxHeaderLength;
  const fdeEntrySize = fdeEntrySizeFor(version);
  const fdesOffset = headerSize + header.fdeOff;
  const fresOffset = headerSize + header.freOff;
  return {
    headerSize,
    fdesOffset,
    fdeEntrySize,
    fdesEnd: fdesOffset + header.numFdes * fdeEntrySize,
    fresOffset,
    fresEnd: fresOffset + header.freLen,
  };
}

export interface HeaderCheckOptions {
  /** Reject flag bits the version does not define, as libsframe does (default true). */
  readonly strictFlags?: boolean;
  readonly source?: string | undefined;
}

/**
 * The decoder's header policy: libsframe's `sframe_header_sanity_check_p` (known version, flags within
 * the version's set, fdeoff <= freoff) plus what libsframe leaves unchecked on the native-endian path:
 * the FDE table ends before the FRE sub-section starts, and both lie inside the bytes.
 */
export function checkHeader(
  bytes: Uint8Array,
  header: SframeHeader,
  options: HeaderCheckOptions = {},
): { version: SframeVersion; layout: SframeLayout } {
  const source = options.source;
  const { version, flags } = header.preamble;
  if (version !== SFRAME_VERSION_1 && version !== SFRAME_VERSION_2 && version !== SFRAME_VERSION_3) {
    throw new SframeFormatError("bad-version", `unknown SFrame version ${version}`, {
      offset: 2,
      expected: "1, 2 or 3",
      source,
    });
  }
  const valid = validFlagsFor(version);
  if ((options.strictFlags ?? true) && (flags & ~valid) !== 0) {
    throw new SframeFormatError("bad-flags", `SFrame V${version} flags 0x${flags.toString(16)} have undefined bits`, {
      offset: 3,
      expected: `flags within 0x${valid.toString(16)}`,
      source,
    });
  }
  if (header.fdeOff > header.freOff) {
    throw new SframeFormatError("bad-offsets", `sfh_fdeoff 0x${header.fdeOff.toString(16)} > sfh_freoff`, {
      offset: 20,
      expected: `sfh_fdeoff <= sfh_freoff (0x${header.freOff.toString(16)})`,
      source,
    });
  }
  const layout = layoutOf(header, version);
  if (layout.fdesEnd > layout.fresOffset) {
    throw new SframeFormatError(
      "bad-offsets",
      `FDE table (${header.numFdes} × ${layout.fdeEntrySize} bytes from 0x${layout.fdesOffset.toString(16)}) overlaps the FRE sub-section at 0x${layout.fresOffset.toString(16)}`,
      {
        offset: 8,
        expected: `sfh_num_fdes <= ${Math.floor((layout.fresOffset - layout.fdesOffset) / layout.fdeEntrySize)}`,
        source,
      },
    );
  }
  if (layout.fresEnd > bytes.length) {
    throw new SframeFormatError(
      "truncated",
      `FRE sub-section 0x${layout.fresOffset.toString(16)}..0x${layout.fresEnd.toString(16)} extends past the data (0x${bytes.length.toString(16)} bytes)`,
      {
        offset: 16,
        expected: `sfh_freoff + sfh_fre_len <= 0x${(bytes.length - layout.headerSize).toString(16)}`,
        source,
      },
    );
  }
  return { version, layout };
}
