import {
  ET_DYN,
  ET_EXEC,
  PF_R,
  PF_W,
  PF_X,
  PT_GNU_SFRAME,
  PT_GNU_STACK,
  PT_INTERP,
  PT_LOAD,
} from "../../formats/elf/constants.ts";
import { Errno, type ErrnoName } from "../errno.ts";
import { realpathOnce } from "../fs/realpath-once.ts";
import { type FsFile, isReg, X_OK } from "../fs/types.ts";
import { AddressSpace } from "../mm/address-space.ts";
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_PRIVATE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from "../mm/prot-flags.ts";
import type { OpenFile } from "../mm/vma.ts";
import type { ExecImage, Process } from "../process/process.ts";
import { zeroRegisters } from "../process/registers.ts";
import { type ExecArchProfile, execProfile } from "./arch-profile.ts";
import { ExecRandom } from "./aslr.ts";
import * as AT from "./auxv.ts";
import {
  BINPRM_BUF_SIZE,
  decodeHeader,
  ELF64_PHDR_SIZE,
  elfRead,
  hasElfMagic,
  type KElfHeader,
  type KPhdr,
  loadElfPhdrs,
} from "./elf-read.ts";
import { copyArgStrings, createElfTables } from "./initial-stack.ts";
import { resolvePath } from "./path.ts";

/**
 * execve(2) of an ELF file, as fs/exec.c (do_execveat_common, bprm_execve) and fs/binfmt_elf.c
 * (load_elf_binary, load_elf_interp, elf_load, elf_map, create_elf_tables) do it on Linux 6.x.
 *
 * Every check runs in the kernel's order with the kernel's errno, and all of them run before the
 * point of no return (begin_new_exec): until then a failure returns -errno and leaves the process as
 * it was. Errno meaning, as the kernel assigns it: a bad main binary is ENOEXEC (other binfmt handlers
 * may try; we have none, so exec fails with it), PT_INTERP shorter than 2, longer than PATH_MAX or not
 * NUL-terminated is ENOEXEC, an interpreter with bad magic/arch/phdrs is ELIBBAD, an ET_DYN without
 * PT_LOAD is EINVAL, a segment beyond TASK_SIZE is EINVAL (ENOMEM for the interpreter), a mapping
 * failure is mmap's errno. After the point of no return a failure kills the process (SIGSEGV).
 */
export interface ExecOptions {
  readonly argv?: readonly string[];
  readonly envp?: readonly string[];
  /** Architecture facts (platform, hwcaps, vDSO layout); defaults from `execProfile(kernel.arch)`. */
  readonly profile?: Partial<ExecArchProfile>;
  /** Bytes of the vDSO image placed at the start of [vdso] (e.g. test/fixtures/vdso/*.so); zero pages otherwise. */
  readonly vdsoImage?: Uint8Array;
  /** Seed of the AT_RANDOM bytes (default 0); ASLR itself follows the kernel's `aslrSeed`. */
  readonly randomSeed?: number;
  readonly cred?: { readonly uid: number; readonly euid: number; readonly gid: number; readonly egid: number };
  /** AT_SECURE (setuid exec). */
  readonly secure?: boolean;
}

export type ExecOutcome =
  | { readonly ok: true; readonly image: ExecImage }
  | { readonly ok: false; readonly errno: ErrnoName; readonly stage: string; readonly fatal: boolean };

const PATH_MAX = 4096;

function fail(errno: ErrnoName, stage: string, fatal = false): ExecOutcome {
  return { ok: false, errno, stage, fatal };
}

/** An exec'd file: its open handle, its d_path and the OpenFile the mappings go through. */
interface ExecFile {
  readonly file: FsFile;
  readonly realPath: string;
  /** The same, as the function that resolves it (for holders that keep it unresolved). */
  readonly realPathOnce: () => string;
  readonly mmFile: OpenFile;
}

/** do_open_execat: must exist, be a regular file and be executable (EACCES otherwise). */
function openExec(proc: Process, path: string): ExecFile | ErrnoName {
  const fs = proc.kernel.fs;
  const st = fs.stat(path);
  if (!st.ok) return st.errno;
  if (!isReg(st.value)) return "EACCES";
  const acc = fs.access(path, X_OK);
  if (!acc.ok) return acc.errno === "ENOENT" || acc.errno === "ENOTDIR" ? acc.errno : "EACCES";
  const f = fs.open(path, { stat: st.value });
  if (!f.ok) return f.errno;
  // d_path, resolved when something reads it (/proc/self/exe, maps, an SFrame registration).
  const realPath = realpathOnce(fs, path);
  const inode = proc.kernel.inodes.get(f.value, realPath);
  return {
    file: f.value,
    get realPath() {
      return realPath();
    },
    realPathOnce: realPath,
    mmFile: { inode, readable: true, writable: false },
  };
}

/** `make_prot` (arch_elf_adjust_prot is the identity on x86_64/arm64-without-BTI/s390x). */
function makeProt(pFlags: number): number {
  return (
    ((pFlags & PF_R) !== 0 ? PROT_READ : 0) |
    ((pFlags & PF_W) !== 0 ? PROT_WRITE : 0) |
    ((pFlags & PF_X) !== 0 ? PROT_EXEC : 0)
  );
}

/** Kernel address arithmetic: unsigned long, wrapping at 2^64. */
function u(v: bigint): bigint {
  return BigInt.asUintN(64, v);
}

class Loader {
  readonly mm: AddressSpace;
  readonly ps: bigint;
  readonly taskSize: bigint;
  constructor(mm: AddressSpace) {
    this.mm = mm;
    this.ps = BigInt(mm.pageSize);
    this.taskSize = BigInt(mm.layout.taskSize);
  }
  pageStart(v: bigint): bigint {
    return u(v) & ~(this.ps - 1n);
  }
  pageOffset(v: bigint): bigint {
    return u(v) & (this.ps - 1n);
  }
  pageAlign(v: bigint): bigint {
    return u(v + this.ps - 1n) & ~(this.ps - 1n);
  }
  badAddr(v: bigint): boolean {
    return u(v) >= this.taskSize;
  }
  /** vm_mmap's result as the kernel's unsigned long (an error is a huge value). */
  vmMmap(file: OpenFile | undefined, addr: bigint, len: bigint, prot: number, flags: number, off: bigint): bigint {
    if (len > BigInt(Number.MAX_SAFE_INTEGER) || addr > BigInt(Number.MAX_SAFE_INTEGER))
      return u(-BigInt(Errno.ENOMEM));
    return u(BigInt(this.mm.mmap(addr, len, prot, flags, file, off)));
  }

  /** `elf_map`: map the file part of a segment; with total_size reserve the whole image first. */
  elfMap(file: OpenFile, addr: bigint, ph: KPhdr, prot: number, type: number, totalSize: bigint): bigint {
    let size = ph.filesz + this.pageOffset(ph.vaddr);
    const off = u(ph.offset - this.pageOffset(ph.vaddr));
    addr = this.pageStart(addr);
    size = this.pageAlign(size);
    if (size === 0n) return addr;
    if (totalSize !== 0n) {
      const total = this.pageAlign(totalSize);
      const mapAddr = this.vmMmap(file, addr, total, prot, type, off);
      if (!this.badAddr(mapAddr) && total > size) this.mm.munmap(mapAddr + size, total - size);
      return mapAddr;
    }
    return this.vmMmap(file, addr, size, prot, type, off);
  }

  /** `padzero`: clear the rest of the page after p_filesz; fails (EFAULT) only on an unwritable page. */
  padzero(address: bigint): boolean {
    const nbyte = this.pageOffset(address);
    if (nbyte === 0n) return true;
    const len = Number(this.ps - nbyte);
    return this.mm.tryWriteUser(Number(address), new Uint8Array(len)).ok;
  }

  /** `vm_brk_flags`: an anonymous rw mapping (plus exec if asked) for the bss beyond the file pages. */
  vmBrk(start: bigint, len: bigint, exec: boolean): bigint {
    if (len === 0n) return 0n;
    const r = this.vmMmap(
      undefined,
      start,
      len,
      PROT_READ | PROT_WRITE | (exec ? PROT_EXEC : 0),
      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
      0n,
    );
    return this.badAddr(r) ? r : 0n;
  }

  /** `elf_load`: file pages, then the zeroed tail and the anonymous bss. */
  elfLoad(file: OpenFile, addr: bigint, ph: KPhdr, prot: number, type: number, totalSize: bigint): bigint {
    let mapAddr: bigint;
    let zeroStart: bigint;
    let zeroEnd: bigint;
    if (ph.filesz !== 0n) {
      mapAddr = this.elfMap(file, addr, ph, prot, type, totalSize);
      if (this.badAddr(mapAddr)) return mapAddr;
      zeroStart = mapAddr + this.pageOffset(ph.vaddr) + ph.filesz;
      zeroEnd = mapAddr + this.pageOffset(ph.vaddr) + ph.memsz;
      if (ph.memsz > ph.filesz) {
        // Zero the end of the last file page; an error matters only if the segment is writable.
        if (!this.padzero(zeroStart) && (prot & PROT_WRITE) !== 0) return u(-BigInt(Errno.EFAULT));
      }
    } else {
      mapAddr = zeroStart = this.pageStart(addr);
      zeroEnd = zeroStart + this.pageOffset(ph.vaddr) + ph.memsz;
    }
    if (ph.memsz > ph.filesz) {
      const zs = this.pageAlign(zeroStart);
      const ze = this.pageAlign(zeroEnd);
      const err = this.vmBrk(zs, ze - zs, (prot & PROT_EXEC) !== 0);
      if (err !== 0n) mapAddr = err;
    }
    return mapAddr;
  }
}

/** `total_mapping_size`: from the lowest PT_LOAD page to the end of the highest PT_LOAD. */
export function totalMappingSize(phdrs: readonly KPhdr[], pageSize: number): bigint {
  let min = u(-1n);
  let max = 0n;
  let any = false;
  const ps = BigInt(pageSize);
  for (const ph of phdrs) {
    if (ph.type !== PT_LOAD) continue;
    const start = ph.vaddr & ~(ps - 1n);
    if (start < min) min = start;
    const end = u(ph.vaddr + ph.memsz);
    if (end > max) max = end;
    any = true;
  }
  return any ? u(max - min) : 0n;
}

/** `maximum_alignment`: the largest power-of-two p_align of the PT_LOADs, at least a page (0 when none). */
export function maximumAlignment(phdrs: readonly KPhdr[], pageSize: number): bigint {
  let a = 0n;
  for (const ph of phdrs) {
    if (ph.type !== PT_LOAD) continue;
    const al = ph.align;
    if (al === 0n || (al & (al - 1n)) !== 0n) continue;
    if (al > a) a = al;
  }
  const ps = BigInt(pageSize);
  return (a + ps - 1n) & ~(ps - 1n);
}

function checkArch(hdr: KElfHeader, profile: ExecArchProfile): boolean {
  if (hdr.machine !== profile.machine) return false;
  // s390's elf_check_arch also demands ELFCLASS64; x86_64 and arm64 check e_machine only.
  if (profile.arch === "s390x" && hdr.ident[4] !== 2) return false;
  return true;
}

/** `load_elf_interp`: returns the load address or an error value (≥ TASK_SIZE). */
function loadElfInterp(
  ld: Loader,
  hdr: KElfHeader,
  interp: ExecFile,
  noBase: bigint,
  phdrs: readonly KPhdr[],
  profile: ExecArchProfile,
): bigint {
  let loadAddr = 0n;
  let loadAddrSet = false;
  // `error = ~0UL` for the first checks: the caller turns it into (int)-1, i.e. -EPERM.
  if (hdr.type !== ET_EXEC && hdr.type !== ET_DYN) return u(-1n);
  if (!checkArch(hdr, profile)) return u(-1n);
  let totalSize = totalMappingSize(phdrs, ld.mm.pageSize);
  if (totalSize === 0n) return u(-BigInt(Errno.EINVAL));
  for (const ph of phdrs) {
    if (ph.type !== PT_LOAD) continue;
    let type = MAP_PRIVATE;
    const prot = makeProt(ph.flags);
    const vaddr = ph.vaddr;
    if (hdr.type === ET_EXEC || loadAddrSet) type |= MAP_FIXED;
    else if (noBase !== 0n && hdr.type === ET_DYN) loadAddr = u(-vaddr);
    const mapAddr = ld.elfLoad(interp.mmFile, u(loadAddr + vaddr), ph, prot, type, totalSize);
    totalSize = 0n;
    if (ld.badAddr(mapAddr)) return mapAddr;
    if (!loadAddrSet && hdr.type === ET_DYN) {
      loadAddr = u(mapAddr - ld.pageStart(vaddr));
      loadAddrSet = true;
    }
    const k = u(loadAddr + ph.vaddr);
    if (ld.badAddr(k) || ph.filesz > ph.memsz || ph.memsz > ld.taskSize || ld.taskSize - ph.memsz < k) {
      return u(-BigInt(Errno.ENOMEM));
    }
  }
  return loadAddr;
}

function errnoOfValue(v: bigint): ErrnoName {
  const n = Number(-BigInt.asIntN(64, v));
  const name = (Object.keys(Errno) as ErrnoName[]).find((k) => Errno[k] === n);
  return name ?? "EINVAL";
}

/** IS_ERR_VALUE: the top 4095 values of the address space. */
function isErrValue(v: bigint): boolean {
  return u(v) >= u(-4095n);
}

/** Register the SFrame of one loaded object through the hook: once per PF_X program header. */
function registerSframe(
  proc: Process,
  phdrs: readonly KPhdr[],
  bias: bigint,
  object: "executable" | "interpreter",
  path: () => string,
): void {
  const sf = phdrs.find((p) => p.type === PT_GNU_SFRAME);
  if (!sf) return;
  for (const ph of phdrs) {
    if ((ph.flags & PF_X) === 0) continue;
    proc.kernel.sframe.registerAtExec(proc, {
      sframeAddr: Number(u(bias + sf.vaddr)),
      sframeLen: Number(sf.memsz),
      textStart: Number(u(bias + ph.vaddr)),
      textLen: Number(ph.memsz),
      object,
      path: path(),
    });
  }
}

/**
 * execve(path, argv, envp) for `proc`: 0 on success (the process now runs the new image: pc at the
 * interpreter's or the program's entry, sp at argc), or -errno. See ExecOutcome for details.
 */
export function execve(proc: Process, path: string, options: ExecOptions = {}): number {
  const r = execElf(proc, path, options);
  return r.ok ? 0 : -Errno[r.errno];
}

export function execElf(proc: Process, pathIn: string, options: ExecOptions = {}): ExecOutcome {
  const kernel = proc.kernel;
  const profile = execProfile(kernel.arch, options.profile);
  const le = profile.littleEndian;
  const path = resolvePath(proc.cwd, pathIn);
  const argv = options.argv ?? [pathIn];
  const envp = options.envp ?? [];

  // ---- do_execveat_common / bprm_execve: open, copy strings, read bprm->buf ----
  const exe = openExec(proc, path);
  if (typeof exe === "string") return fail(exe, "open_exec");
  const closeAll: FsFile[] = [exe.file];
  const done = (o: ExecOutcome): ExecOutcome => {
    for (const f of closeAll) f.close();
    return o;
  };
  // The new mm's layout decides where the strings go (STACK_TOP, randomized under ASLR).
  const mm = AddressSpace.forArch(kernel.arch, kernel.aslrSeed === undefined ? {} : { randomizeSeed: kernel.aslrSeed });
  const strings = copyArgStrings(BigInt(mm.layout.stackTop), pathIn, argv, envp, mm.layout.stackRlimit);
  if (typeof strings === "string") return done(fail(strings, "copy_strings"));
  const head = exe.file.pread(0, BINPRM_BUF_SIZE);
  if (!head.ok) return done(fail(head.errno, "prepare_binprm"));

  // ---- load_elf_binary: consistency checks (-ENOEXEC) ----
  const ex = decodeHeader(head.value, le);
  if (!hasElfMagic(ex.ident)) return done(fail("ENOEXEC", "e_ident"));
  if (ex.type !== ET_EXEC && ex.type !== ET_DYN) return done(fail("ENOEXEC", "e_type"));
  if (!checkArch(ex, profile)) return done(fail("ENOEXEC", "elf_check_arch"));
  const phdrs = loadElfPhdrs(ex, exe.file, le, profile.phdrPageLimit ? mm.pageSize : undefined);
  if (!phdrs) return done(fail("ENOEXEC", "load_elf_phdrs"));

  // PT_INTERP: only the first one counts.
  let interp: ExecFile | undefined;
  let interpPath: string | undefined;
  let interpHdr: KElfHeader | undefined;
  for (const ph of phdrs) {
    if (ph.type !== PT_INTERP) continue;
    if (ph.filesz > BigInt(PATH_MAX) || ph.filesz < 2n) return done(fail("ENOEXEC", "PT_INTERP size"));
    const name = elfRead(exe.file, ph.offset, Number(ph.filesz));
    if (typeof name === "string") return done(fail(name, "PT_INTERP read"));
    if (name[name.length - 1] !== 0) return done(fail("ENOEXEC", "PT_INTERP not NUL-terminated"));
    interpPath = Buffer.from(name.subarray(0, name.indexOf(0))).toString("latin1");
    const ip = openExec(proc, resolvePath(proc.cwd, interpPath));
    if (typeof ip === "string") return done(fail(ip, "open_exec(interpreter)"));
    interp = ip;
    closeAll.push(ip.file);
    const ih = elfRead(ip.file, 0n, 64);
    if (typeof ih === "string") return done(fail(ih, "interpreter header"));
    interpHdr = decodeHeader(ih, le);
    break;
  }
  let executableStack = false;
  for (const ph of phdrs) if (ph.type === PT_GNU_STACK) executableStack = (ph.flags & PF_X) !== 0;

  let interpPhdrs: KPhdr[] | undefined;
  if (interp && interpHdr) {
    if (!hasElfMagic(interpHdr.ident)) return done(fail("ELIBBAD", "interpreter e_ident"));
    if (!checkArch(interpHdr, profile)) return done(fail("ELIBBAD", "interpreter elf_check_arch"));
    interpPhdrs = loadElfPhdrs(interpHdr, interp.file, le, profile.phdrPageLimit ? mm.pageSize : undefined);
    if (!interpPhdrs) return done(fail("ELIBBAD", "interpreter load_elf_phdrs"));
  }

  // ---- begin_new_exec: the point of no return ----
  kernel.sframe.onMmRelease?.(proc);
  proc.mm = mm;
  proc.fds.closeOnExec();
  proc.setExePath(exe.realPathOnce);
  proc.regs = zeroRegisters(kernel.arch);
  proc.tidAddress = 0n;
  proc.fsBase = 0n;
  proc.gsBase = 0n;
  const killed = (errno: ErrnoName, stage: string): ExecOutcome => {
    // After begin_new_exec the old image is gone: the kernel sends SIGSEGV (force_fatal_sig).
    proc.exit(128 + 11);
    return done(fail(errno, stage, true));
  };
  const randomize = kernel.aslrSeed !== undefined;
  const rnd = new ExecRandom(kernel.aslrSeed ?? 0);

  // setup_arg_pages: the [stack] VMA with the strings at its top.
  const argBytes = Number(BigInt(mm.layout.stackTop) - strings.p);
  const stack = mm.setupStack(argBytes);
  // PT_GNU_STACK with PF_X (EXSTACK_ENABLE_X): setup_arg_pages adds VM_EXEC to the stack VMA.
  if (executableStack) mm.mprotect(stack.start, stack.end - stack.start, PROT_READ | PROT_WRITE | PROT_EXEC);
  mm.kernelWrite(Number(strings.p), strings.bytes);

  // ---- map the program's PT_LOADs ----
  const ld = new Loader(mm);
  let loadBias = 0n;
  let phdrAddr = 0n;
  let firstPtLoad = true;
  let elfBrk = 0n;
  let startCode = u(-1n);
  let endCode = 0n;
  let startData = 0n;
  let endData = 0n;
  for (const ph of phdrs) {
    if (ph.type !== PT_LOAD) continue;
    const prot = makeProt(ph.flags);
    let flags = MAP_PRIVATE;
    const vaddr = ph.vaddr;
    let totalSize = 0n;
    if (!firstPtLoad) flags |= MAP_FIXED;
    else if (ex.type === ET_EXEC) flags |= MAP_FIXED_NOREPLACE;
    else {
      totalSize = totalMappingSize(phdrs, mm.pageSize);
      if (totalSize === 0n) return killed("EINVAL", "total_mapping_size");
      const alignment = maximumAlignment(phdrs, mm.pageSize);
      if (interp) {
        // A PIE: ELF_ET_DYN_BASE (+ arch_mmap_rnd under ASLR), aligned as the segments ask.
        loadBias = BigInt(mm.layout.elfEtDynBase);
        if (randomize) loadBias += BigInt(rnd.bits(28)) * ld.ps;
        if (alignment !== 0n) loadBias &= ~(alignment - 1n);
        flags |= MAP_FIXED_NOREPLACE;
      } else if (alignment > ld.ps) {
        // A loader with large alignment: find room, then place it aligned there.
        loadBias = ld.elfLoad(exe.mmFile, 0n, ph, prot, flags, totalSize);
        if (ld.badAddr(loadBias)) return killed(isErrValue(loadBias) ? errnoOfValue(loadBias) : "EINVAL", "elf_load");
        mm.munmap(loadBias, totalSize);
        loadBias &= ~(alignment - 1n);
        flags |= MAP_FIXED_NOREPLACE;
      } else loadBias = 0n;
      loadBias = ld.pageStart(loadBias - vaddr);
    }
    const error = ld.elfLoad(exe.mmFile, u(loadBias + vaddr), ph, prot, flags, totalSize);
    if (ld.badAddr(error)) return killed(isErrValue(error) ? errnoOfValue(error) : "EINVAL", "elf_load");
    if (firstPtLoad) {
      firstPtLoad = false;
      if (ex.type === ET_DYN) loadBias = u(loadBias + error - ld.pageStart(loadBias + vaddr));
    }
    if (ph.offset <= ex.phoff && ex.phoff < ph.offset + ph.filesz) phdrAddr = u(ex.phoff - ph.offset + ph.vaddr);
    let k = ph.vaddr;
    if ((ph.flags & PF_X) !== 0 && k < startCode) startCode = k;
    if (startData < k) startData = k;
    if (ld.badAddr(k) || ph.filesz > ph.memsz || ph.memsz > ld.taskSize || ld.taskSize - ph.memsz < k) {
      return killed("EINVAL", "segment beyond TASK_SIZE");
    }
    k = ph.vaddr + ph.filesz;
    if ((ph.flags & PF_X) !== 0 && endCode < k) endCode = k;
    if (endData < k) endData = k;
    k = ph.vaddr + ph.memsz;
    if (k > elfBrk) elfBrk = k;
  }
  const eEntry = u(ex.entry + loadBias);
  phdrAddr = u(phdrAddr + loadBias);
  elfBrk = u(elfBrk + loadBias);
  startCode = u(startCode + loadBias);
  endCode = u(endCode + loadBias);
  startData = u(startData + loadBias);
  endData = u(endData + loadBias);

  // ---- the interpreter ----
  let elfEntry: bigint;
  let interpLoadAddr = 0n;
  if (interp && interpHdr && interpPhdrs) {
    elfEntry = loadElfInterp(ld, interpHdr, interp, loadBias, interpPhdrs, profile);
    if (!isErrValue(elfEntry)) {
      interpLoadAddr = elfEntry;
      elfEntry = u(elfEntry + interpHdr.entry);
    }
    if (ld.badAddr(elfEntry)) {
      const errno = isErrValue(elfEntry) ? (elfEntry === u(-1n) ? "EPERM" : errnoOfValue(elfEntry)) : "EINVAL";
      return killed(errno, "load_elf_interp");
    }
  } else {
    elfEntry = eEntry;
    if (ld.badAddr(elfEntry)) return killed("EINVAL", "e_entry beyond TASK_SIZE");
  }

  // The kernel series registers the program's and the interpreter's .sframe here.
  registerSframe(proc, phdrs, loadBias, "executable", exe.realPathOnce);
  if (interp && interpPhdrs && interpPath !== undefined) {
    registerSframe(proc, interpPhdrs, interpLoadAddr, "interpreter", interp.realPathOnce);
  }

  // ---- ARCH_SETUP_ADDITIONAL_PAGES: the vDSO area, one top-down area below what is mapped ----
  let vdsoBase = 0;
  if (profile.vdso.length > 0) {
    const total = profile.vdso.reduce((n, p) => n + p.pages, 0) * mm.pageSize;
    const area = mm.getUnmappedArea(total);
    if (area < 0) return killed("ENOMEM", "map_vdso");
    let at = area;
    for (const part of profile.vdso) {
      const len = part.pages * mm.pageSize;
      const image = part.name === "[vdso]" ? options.vdsoImage : undefined;
      const r = mm.mapSpecial(part.name, at, len, part.prot, image);
      if (r < 0) return killed(errnoOfValue(BigInt(r)), "map_vdso");
      if (part.name === "[vdso]") vdsoBase = at;
      at += len;
    }
  }

  // ---- create_elf_tables ----
  const cred = options.cred ?? { uid: 0, euid: 0, gid: 0, egid: 0 };
  const tables = createElfTables({
    strings,
    alignJitter: randomize ? rnd.below(8192) : 0,
    platform: profile.platform,
    random16: new ExecRandom(options.randomSeed ?? 0).bytes16(),
    littleEndian: le,
    auxv: ({ platform, random, execfn }) => {
      const a: (readonly [number, bigint])[] = [];
      // ARCH_DLINFO first (x86_64: AT_SYSINFO_EHDR when the vDSO is mapped, AT_MINSIGSTKSZ).
      if (vdsoBase !== 0) a.push([AT.AT_SYSINFO_EHDR, BigInt(vdsoBase)]);
      if (profile.minSigStkSz !== undefined) a.push([AT.AT_MINSIGSTKSZ, BigInt(profile.minSigStkSz)]);
      a.push([AT.AT_HWCAP, profile.hwcap]);
      a.push([AT.AT_PAGESZ, BigInt(mm.pageSize)]);
      a.push([AT.AT_CLKTCK, 100n]);
      a.push([AT.AT_PHDR, phdrAddr]);
      a.push([AT.AT_PHENT, BigInt(ELF64_PHDR_SIZE)]);
      a.push([AT.AT_PHNUM, BigInt(ex.phnum)]);
      a.push([AT.AT_BASE, interpLoadAddr]);
      a.push([AT.AT_FLAGS, 0n]);
      a.push([AT.AT_ENTRY, eEntry]);
      a.push([AT.AT_UID, BigInt(cred.uid)]);
      a.push([AT.AT_EUID, BigInt(cred.euid)]);
      a.push([AT.AT_GID, BigInt(cred.gid)]);
      a.push([AT.AT_EGID, BigInt(cred.egid)]);
      a.push([AT.AT_SECURE, options.secure ? 1n : 0n]);
      a.push([AT.AT_RANDOM, random]);
      if (profile.hwcap2 !== undefined) a.push([AT.AT_HWCAP2, profile.hwcap2]);
      a.push([AT.AT_EXECFN, execfn]);
      if (platform !== undefined) a.push([AT.AT_PLATFORM, platform]);
      if (profile.rseq) {
        a.push([AT.AT_RSEQ_FEATURE_SIZE, BigInt(profile.rseq.featureSize)]);
        a.push([AT.AT_RSEQ_ALIGN, BigInt(profile.rseq.align)]);
      }
      return a;
    },
  });
  mm.kernelWrite(Number(tables.infoAddr), tables.info);
  mm.kernelWrite(Number(tables.sp), tables.table);
  mm.startStack = Number(tables.sp);

  // ---- brk ----
  let brkMoved = false;
  if (ex.type === ET_DYN && !interp) {
    // A static PIE / a loader run directly: brk moves to ELF_ET_DYN_BASE, out of the mmap region.
    elfBrk = BigInt(mm.layout.elfEtDynBase);
    brkMoved = true;
  }
  let brk = ld.pageAlign(elfBrk);
  if (randomize) {
    if (!brkMoved) brk += ld.ps;
    // arch_randomize_brk (x86_64): randomize_page(brk, 32 MiB).
    brk += BigInt(rnd.below(0x02000000 / mm.pageSize)) * ld.ps;
  }
  mm.initBrk(Number(brk));

  // ---- START_THREAD ----
  proc.regs.pc = elfEntry;
  proc.regs.sp = tables.sp;
  const image: ExecImage = {
    filename: pathIn,
    argv: [...argv],
    envp: [...envp],
    loadBias: Number(loadBias),
    entry: Number(eEntry),
    startPc: Number(elfEntry),
    interpBase: Number(interpLoadAddr),
    // Resolved now: an accessor here made the image object slow to use (measured: ldd sweep +20%).
    interpPath: interp ? interp.realPath : undefined,
    phdrAddr: Number(phdrAddr),
    vdsoBase,
    auxv: tables.auxv,
    sp: Number(tables.sp),
    argStart: Number(strings.argStart),
    envStart: Number(strings.envStart),
    envEnd: Number(strings.envEnd),
    startCode: Number(startCode),
    endCode: Number(endCode),
    startData: Number(startData),
    endData: Number(endData),
    startBrk: Number(brk),
  };
  proc.image = image;
  return done({ ok: true, image });
}
