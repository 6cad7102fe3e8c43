import { EndianReader } from "../formats/bytes/endian.ts";
import {
  ET_DYN,
  PF_R,
  PF_W,
  PF_X,
  PT_DYNAMIC,
  PT_GNU_RELRO,
  PT_GNU_SFRAME,
  PT_LOAD,
} from "../formats/elf/constants.ts";
import { decodeProgramHeaders } from "../formats/elf/program-headers.ts";
import type { ProgramHeader } from "../formats/elf/types.ts";
import { FormatError, LdsimError } from "../formats/errors.ts";
import { strerror } from "../kernel-shim/errno.ts";
import type { Process } from "../kernel-shim/process/process.ts";
import { syscall } from "../kernel-shim/syscalls/dispatch.ts";
import { userMmap } from "./user-mmap.ts";

/** ld.so's `struct filebuf`: `open_verify` reads this many bytes first (glibc elf/dl-load.c). */
export const FILEBUF_SIZE = 832;

const AT_FDCWD = -100;
const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const AT_EMPTY_PATH = 0x1000;
const PROT_NONE = 0;
const PROT_READ = 1;
const PROT_WRITE = 2;
const PROT_EXEC = 4;
const MAP_PRIVATE = 0x02;
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;
const MAP_DENYWRITE = 0x0800;
/** glibc's MAP_COPY. */
const MAP_COPY = MAP_PRIVATE | MAP_DENYWRITE;

/** A loader failure, with the message glibc's `_dl_signal_error` would print. */
export class LoaderError extends LdsimError {
  override name = "LoaderError";
  constructor(
    readonly object: string,
    readonly reason: string,
    readonly errno?: number,
  ) {
    super(`${object}: ${reason}${errno ? `: ${strerror(errno)}` : ""}`);
  }
}

/** One `struct loadcmd` (elf/dl-load.h). */
interface LoadCmd {
  readonly mapstart: bigint;
  readonly mapend: bigint;
  readonly dataend: bigint;
  readonly allocend: bigint;
  readonly mapoff: bigint;
  readonly prot: number;
}

/** What `_dl_map_object_from_fd` leaves in the link map for a mapped object. */
export interface MappedLib {
  readonly path: string;
  /** l_addr: load bias. */
  readonly lAddr: bigint;
  readonly mapStart: bigint;
  readonly mapEnd: bigint;
  readonly phdrs: readonly ProgramHeader[];
  readonly dev: bigint;
  readonly ino: bigint;
  readonly relro: { readonly addr: bigint; readonly size: bigint } | undefined;
  readonly dynamicAddr: bigint | undefined;
}

function protOf(flags: number): number {
  return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) | (flags & PF_X ? PROT_EXEC : 0);
}

const alignDown = (v: bigint, a: bigint) => v & ~(a - 1n);
const alignUp = (v: bigint, a: bigint) => (v + a - 1n) & ~(a - 1n);

function check(object: string, ret: bigint, what: string): bigint {
  if (ret < 0n && ret > -4096n) throw new LoaderError(object, what, Number(-ret));
  return ret;
}

/**
 * Open and map one shared object as glibc 2.36's ld.so does (`_dl_map_object_from_fd` +
 * `_dl_map_segments`, elf/dl-load.c and elf/dl-map-segments.h), through the process's syscalls only:
 * `openat(O_RDONLY|O_CLOEXEC)`, `read(fd, 832)`, `pread64` of the phdrs when they lie beyond the first
 * 832 bytes, `newfstatat(fd, "", AT_EMPTY_PATH)`, the whole-span `mmap` from the file with the first
 * segment's protection (or an anonymous over-reservation when `p_align` exceeds the page size), the
 * `MAP_FIXED` segments, one `PROT_NONE` `mprotect` for holes, the `.bss` partial-page memset (a user
 * write, no syscall) and anonymous tail, then `close`.
 *
 * Scope: ET_DYN objects. Verification of the ELF header follows `open_verify`'s order for the checks
 * that matter to mapping; the rest of the loader (relocation, symbols) is outside this function.
 */
export function mapObject(proc: Process, path: string): MappedLib {
  const fd = check(
    path,
    syscall(proc, "openat", AT_FDCWD, path, O_RDONLY | O_CLOEXEC),
    "cannot open shared object file",
  );
  try {
    const fb = new Uint8Array(FILEBUF_SIZE);
    const n = Number(check(path, syscall(proc, "read", fd, fb, FILEBUF_SIZE), "cannot read file data"));
    const head = fb.subarray(0, n);
    if (n < 64) throw new LoaderError(path, "file too short");
    if (head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) {
      throw new LoaderError(path, "invalid ELF header");
    }
    if (head[4] !== 2) throw new LoaderError(path, `wrong ELF class: ELFCLASS${head[4] === 1 ? "32" : "NONE"}`);
    const le = head[5] === 1;
    const r = new EndianReader(head, le, 0, path);
    const type = r.u16(16);
    const phoff = r.u64n(32);
    const phentsize = r.u16(54);
    const phnum = r.u16(56);
    if (phentsize !== 56) throw new LoaderError(path, "ELF file's phentsize not the expected size");
    if (type !== ET_DYN) throw new LoaderError(path, "cannot dynamically load executable");
    let phBytes: Uint8Array;
    if (phoff + phnum * 56 <= n) phBytes = head.subarray(phoff, phoff + phnum * 56);
    else {
      phBytes = new Uint8Array(phnum * 56);
      const got = check(path, syscall(proc, "pread64", fd, phBytes, phnum * 56, phoff), "cannot read file data");
      if (Number(got) !== phnum * 56) throw new LoaderError(path, "cannot read file data");
    }
    const statBuf = new Uint8Array(144);
    check(path, syscall(proc, "newfstatat", fd, "", statBuf, AT_EMPTY_PATH), "cannot stat shared object");
    const sv = new DataView(statBuf.buffer);
    const dev = sv.getBigUint64(0, true);
    const ino = sv.getBigUint64(8, true);

    // The link map's view of the headers: parsed from the bytes read through the syscalls above (the
    // loader never reads the file behind the kernel's back).
    const phdrs = phdrsFromBytes(phBytes, phoff, phnum, path, le);
    return { ...mapSegments(proc, fd, path, phdrs, type), dev, ino };
  } finally {
    syscall(proc, "close", fd);
  }
}

/**
 * The `stacktrace_setup(STACKTRACE_REGISTER_SFRAME, …)` calls for a newly mapped object: one per
 * executable PT_LOAD, with the PT_GNU_SFRAME address and p_memsz (sframe-and-kernel.md §4). Returns
 * each call's raw result; failures are for the caller to log (glibc-style) and, by default, ignore.
 */
export function registerSframe(proc: Process, lib: Pick<MappedLib, "lAddr" | "phdrs">): bigint[] {
  const sf = lib.phdrs.find((p) => p.type === PT_GNU_SFRAME);
  if (!sf) return [];
  const results: bigint[] = [];
  for (const p of lib.phdrs) {
    if (p.type !== PT_LOAD || (p.flags & PF_X) === 0) continue;
    results.push(syscall(proc, "stacktrace_setup", 1, lib.lAddr + sf.vaddr, sf.memsz, lib.lAddr + p.vaddr, p.memsz));
  }
  return results;
}

/** `stacktrace_setup(STACKTRACE_UNREGISTER_SFRAME, sframe, 0, 0, 0)`, before the object is unmapped. */
export function unregisterSframe(proc: Process, lib: Pick<MappedLib, "lAddr" | "phdrs">): bigint | undefined {
  const sf = lib.phdrs.find((p) => p.type === PT_GNU_SFRAME);
  if (!sf) return undefined;
  return syscall(proc, "stacktrace_setup", 2, lib.lAddr + sf.vaddr, 0, 0, 0);
}

/** The program headers as ld.so sees them: within the 832-byte file buffer, or the pread copy. */
export function phdrsFromBytes(
  phBytes: Uint8Array,
  phoff: number,
  phnum: number,
  path: string,
  /** EI_DATA: little-endian unless the machine is big-endian (s390x). */
  le = true,
): readonly ProgramHeader[] {
  // No headers: nothing to parse, and e_phoff may then be anything (glibc's pread of 0 bytes
  // succeeds at any offset) — it must not size a buffer.
  if (phnum === 0) return [];
  // ld.so walks e_phnum Elf64_Phdr entries of the buffer it read (no PN_XNUM escape: glibc takes
  // e_phnum as it is); the header was checked by the caller (ELFCLASS64, phentsize 56).
  if (phBytes.length < phnum * 56) {
    throw new FormatError(`program headers: ${phBytes.length} bytes for ${phnum} entries`, {
      source: path,
      offset: phoff,
    });
  }
  return decodeProgramHeaders(phBytes, phnum, true, le);
}

/**
 * The mapping half of `_dl_map_object_from_fd` (glibc 2.36 elf/dl-load.c + elf/dl-map-segments.h):
 * load commands from the PT_LOADs, the whole-span mmap (or over-aligned reservation), the
 * PROT_NONE hole, the MAP_FIXED segments and the .bss. ET_EXEC maps every segment at its address
 * (only the main program, when ld.so was run directly). Leaves `fd` open.
 */
export function mapSegments(
  proc: Process,
  fd: bigint,
  path: string,
  phdrs: readonly ProgramHeader[],
  type: number = ET_DYN,
): Omit<MappedLib, "dev" | "ino"> {
  const page = BigInt(proc.mm.pageSize);
  const cmds: LoadCmd[] = [];
  let alignMax = page;
  let relro: MappedLib["relro"];
  let dynamicAddr: bigint | undefined;
  for (const p of phdrs) {
    if (p.type === PT_LOAD) {
      if ((p.vaddr - p.offset) % page !== 0n) {
        throw new LoaderError(path, "ELF load command address/offset not page-aligned");
      }
      cmds.push({
        mapstart: alignDown(p.vaddr, page),
        mapend: alignUp(p.vaddr + p.filesz, page),
        dataend: p.vaddr + p.filesz,
        allocend: p.vaddr + p.memsz,
        mapoff: alignDown(p.offset, page),
        prot: protOf(p.flags),
      });
      if (p.align > alignMax && (p.align & (p.align - 1n)) === 0n) alignMax = p.align;
    } else if (p.type === PT_GNU_RELRO) relro = { addr: p.vaddr, size: p.memsz };
    else if (p.type === PT_DYNAMIC) dynamicAddr = p.vaddr;
  }
  if (cmds.length === 0) throw new LoaderError(path, "object file has no loadable segments");
  const c0 = cmds[0] as LoadCmd;
  const last = cmds[cmds.length - 1] as LoadCmd;
  const maplength = last.allocend - c0.mapstart;
  const hasHoles = cmds.some((c, i) => i > 0 && (cmds[i - 1] as LoadCmd).mapend !== c.mapstart);

  // _dl_map_segment: the whole span from the file, or an aligned carve-out of a larger reservation.
  let mapStart: bigint;
  const exec = type !== ET_DYN;
  if (exec) {
    // ET_EXEC: l_addr = 0, every segment (c0 included) MAP_FIXED at its own address, no hole fill.
    mapStart = c0.mapstart;
  } else if (alignMax <= page) {
    mapStart = check(
      path,
      userMmap(proc, 0, maplength, c0.prot, MAP_COPY, fd, c0.mapoff),
      "failed to map segment from shared object",
    );
  } else {
    const maplen = maplength >= alignMax ? maplength + alignMax : 2n * alignMax;
    const start = check(
      path,
      userMmap(proc, 0, maplen, PROT_NONE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0),
      "failed to map segment from shared object",
    );
    const aligned = alignUp(start, alignMax);
    const mapped = userMmap(proc, aligned, maplength, c0.prot, MAP_COPY | MAP_FIXED, fd, c0.mapoff);
    // glibc `_dl_map_segment` unmaps the whole reservation before returning the failure.
    if (mapped < 0n && mapped > -4096n) syscall(proc, "munmap", start, maplen);
    check(path, mapped, "failed to map segment from shared object");
    if (aligned !== start) syscall(proc, "munmap", start, aligned - start);
    const end = alignUp(aligned + maplength, page);
    if (start + maplen !== end) syscall(proc, "munmap", end, start + maplen - end);
    mapStart = aligned;
  }
  const lAddr = mapStart - c0.mapstart;
  if (hasHoles && !exec) {
    if (last.mapstart < c0.mapend) throw new LoaderError(path, "ELF load command address/offset not page-aligned");
    check(
      path,
      syscall(proc, "mprotect", lAddr + c0.mapend, last.mapstart - c0.mapend, PROT_NONE),
      "cannot change memory protections",
    );
  }
  for (const c of cmds) {
    if ((c !== c0 || exec) && c.mapend > c.mapstart) {
      check(
        path,
        userMmap(proc, lAddr + c.mapstart, c.mapend - c.mapstart, c.prot, MAP_FIXED | MAP_COPY, fd, c.mapoff),
        "failed to map segment from shared object",
      );
    }
    if (c.allocend > c.dataend) {
      const zero = lAddr + c.dataend;
      const zeroend = lAddr + c.allocend;
      let zeropage = alignUp(zero, page);
      if (zeroend < zeropage) zeropage = zeroend;
      if (zeropage > zero) {
        // memset of the partial page: an ordinary user write, no syscall (the page is writable;
        // glibc mprotects it writable first in the rare read-only .bss case).
        // glibc checks this mprotect (DL_MAP_SEGMENTS_ERROR_MPROTECT) before its memset.
        if ((c.prot & PROT_WRITE) === 0) {
          check(
            path,
            syscall(proc, "mprotect", alignDown(zero, page), page, c.prot | PROT_WRITE),
            "cannot change memory protections",
          );
        }
        proc.mm.writeUser(Number(zero), new Uint8Array(Number(zeropage - zero)));
        if ((c.prot & PROT_WRITE) === 0) syscall(proc, "mprotect", alignDown(zero, page), page, c.prot);
      }
      if (zeroend > zeropage) {
        check(
          path,
          userMmap(proc, zeropage, zeroend - zeropage, c.prot, MAP_ANONYMOUS | MAP_PRIVATE | MAP_FIXED, -1, 0),
          "cannot map zero-fill pages",
        );
      }
    }
  }
  return {
    path,
    lAddr,
    mapStart,
    mapEnd: mapStart + maplength,
    phdrs,
    relro,
    dynamicAddr: dynamicAddr === undefined ? undefined : lAddr + dynamicAddr,
  };
}
