import { ELFMAG } from "../../formats/elf/constants.ts";
import type { ErrnoName } from "../errno.ts";
import type { FsFile } from "../fs/types.ts";

/**
 * The ELF header and program headers as binfmt_elf sees them: read in the KERNEL's byte order (a
 * struct cast over bytes, so a foreign-endian file simply fails elf_check_arch), all 64-bit fields
 * as bigint so overflow checks work like the kernel's unsigned long arithmetic.
 */
export interface KElfHeader {
  readonly ident: Uint8Array;
  readonly type: number;
  readonly machine: number;
  readonly entry: bigint;
  readonly phoff: bigint;
  readonly phentsize: number;
  readonly phnum: number;
}

export interface KPhdr {
  readonly index: number;
  readonly type: number;
  readonly flags: number;
  readonly offset: bigint;
  readonly vaddr: bigint;
  readonly filesz: bigint;
  readonly memsz: bigint;
  readonly align: bigint;
}

/** sizeof(struct elf64_phdr) */
export const ELF64_PHDR_SIZE = 56;
/** BINPRM_BUF_SIZE: exec reads this much of the file into bprm->buf before asking the handlers. */
export const BINPRM_BUF_SIZE = 256;

export function hasElfMagic(ident: Uint8Array): boolean {
  return ELFMAG.every((b, i) => ident[i] === b);
}

/** Decode an elf64 header from `buf` (at least 64 bytes; zero-padded like bprm->buf). */
export function decodeHeader(buf: Uint8Array, littleEndian: boolean): KElfHeader {
  const b = new Uint8Array(64);
  b.set(buf.subarray(0, 64));
  const v = new DataView(b.buffer);
  return {
    ident: b.slice(0, 16),
    type: v.getUint16(16, littleEndian),
    machine: v.getUint16(18, littleEndian),
    entry: v.getBigUint64(24, littleEndian),
    phoff: v.getBigUint64(32, littleEndian),
    phentsize: v.getUint16(54, littleEndian),
    phnum: v.getUint16(56, littleEndian),
  };
}

/** `elf_read`: the whole range or an errno (a short read is EIO). */
export function elfRead(file: FsFile, offset: bigint, length: number): Uint8Array | ErrnoName {
  if (offset > BigInt(Number.MAX_SAFE_INTEGER)) return "EINVAL";
  const r = file.pread(Number(offset), length);
  if (!r.ok) return r.errno;
  if (r.value.length !== length) return "EIO";
  return r.value;
}

/**
 * `load_elf_phdrs`: undefined when e_phentsize is not sizeof(elf64_phdr), when the table is empty or
 * larger than 64 KiB, or when it cannot be read in full. Older kernels also refused a table larger
 * than one page (`size > ELF_MIN_ALIGN`); Linux 6.18 does not (verified: 80 headers, 4480 bytes, get
 * past this check on this host), so that limit applies only when `pageLimit` is given.
 */
export function loadElfPhdrs(
  hdr: KElfHeader,
  file: FsFile,
  littleEndian: boolean,
  pageLimit?: number,
): KPhdr[] | undefined {
  if (hdr.phentsize !== ELF64_PHDR_SIZE) return undefined;
  const size = ELF64_PHDR_SIZE * hdr.phnum;
  if (size === 0 || size > 65536 || (pageLimit !== undefined && size > pageLimit)) return undefined;
  const bytes = elfRead(file, hdr.phoff, size);
  if (typeof bytes === "string") return undefined;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: KPhdr[] = [];
  for (let i = 0; i < hdr.phnum; i++) {
    const o = i * ELF64_PHDR_SIZE;
    out.push({
      index: i,
      type: v.getUint32(o, littleEndian),
      flags: v.getUint32(o + 4, littleEndian),
      offset: v.getBigUint64(o + 8, littleEndian),
      vaddr: v.getBigUint64(o + 16, littleEndian),
      filesz: v.getBigUint64(o + 32, littleEndian),
      memsz: v.getBigUint64(o + 40, littleEndian),
      align: v.getBigUint64(o + 48, littleEndian),
    });
  }
  return out;
}
