import { Errno } from "../errno.ts";
import { sysBrk } from "./brk.ts";
import { type ForkResult, forkAddressSpace } from "./fork.ts";
import { type LayoutOptions, layoutFor, type MmArch, type MmLayout } from "./layout-constants.ts";
import { renderMaps } from "./maps.ts";
import { getUnmappedArea, type MmapFlags, sysMmap } from "./mmap.ts";
import { sysMprotect } from "./mprotect.ts";
import { sysMunmap } from "./munmap.ts";
import { PageStore } from "./page-store.ts";
import { setAnonName } from "./prctl-anon-name.ts";
import { VM_ACCOUNT, VM_DONTEXPAND, VM_GROWSDOWN, VM_MAYBITS, VM_PFNMAP, VM_READ, VM_WRITE } from "./prot-flags.ts";
import { type AccessResult, type FaultKind, UserFault, untouchedZeroRun, userAccess } from "./user-access.ts";
import type { MutableVma, OpenFile, Vma } from "./vma.ts";
import { VmaTree } from "./vma-tree.ts";

export type { AccessResult, FaultKind, OpenFile, Vma };
export { UserFault };

/** A raw 64-bit syscall argument as it sits in a register: any number or bigint, reduced modulo 2^64. */
export type UWord = number | bigint;

export interface AddressSpaceOptions extends LayoutOptions {
  /** vm.max_map_count (65530 by default). */
  readonly maxMapCount?: number;
}

/**
 * One process's address space: the kernel's mm_struct with its VMAs, the page contents behind them,
 * and the memory system calls with Linux 6.x semantics (x86_64 rules; aarch64/s390x layouts).
 *
 * Syscall methods (`mmap`, `munmap`, `mprotect`, `brk`) take raw register values and return what
 * the kernel's syscall returns: a value ≥ 0, or `-errno` (see `isSyscallError` in ../errno.ts).
 * They never throw for bad arguments.
 *
 * User-memory accessors model two views:
 *  - `readUser`/`writeUser`: what user code (and copy_from_user/copy_to_user) sees — faults on
 *    unmapped, PROT_NONE, write-protected, or past-EOF pages; they grow a [stack] VMA like a user fault.
 *  - `kernelRead`/`kernelWrite`: access_process_vm with FOLL_FORCE — ignore protection (exec building
 *    the stack, a debugger poke, unwinder tests synthesizing frames) but still need a mapping.
 */
export class AddressSpace {
  readonly layout: MmLayout;
  /** @internal VMAs sorted by start. */
  readonly tree = new VmaTree();
  /** @internal Private (anonymous or copied-on-write) page contents by virtual page number. */
  readonly pages: PageStore;
  /** vm.max_map_count. */
  readonly maxMapCount: number;

  /** mm->start_brk, mm->brk: set by exec through `initBrk`, moved by `brk`. */
  startBrk = 0;
  brkValue = 0;
  /** mm->start_stack (bprm->p after exec): the VMA containing it prints as [stack]. */
  startStack = 0;

  /**
   * Bumped by every call that can change a mapping, its rights or which pages are present
   * (mmap, munmap, mprotect, brk, the exec-side setup): user-access caches keyed by it
   * (WordWriter) know when to check again.
   */
  generation = 0;

  /** @internal Next anon_vma identity (anon_vma_prepare). */
  nextAnonVma = 1;
  /** @internal Next inode number for MAP_SHARED|MAP_ANONYMOUS shmem objects. */
  nextShmemIno = 1;

  constructor(layout: MmLayout, options: { readonly maxMapCount?: number } = {}) {
    this.layout = layout;
    this.pages = new PageStore(layout.pageSize);
    this.maxMapCount = options.maxMapCount ?? 65530;
  }

  /** A fresh, empty address space with the layout exec would pick on `arch`. */
  static forArch(arch: MmArch = "x86_64", options: AddressSpaceOptions = {}): AddressSpace {
    return new AddressSpace(layoutFor(arch, options), options);
  }

  get pageSize(): number {
    return this.layout.pageSize;
  }

  // ---- system calls (raw ABI: result ≥ 0 or -errno) -------------------------------------------

  /**
   * mmap(addr, length, prot, flags, fd, offset). `file` is the open file behind `fd` (undefined for
   * MAP_ANONYMOUS, or when fd is not open: then -EBADF as ksys_mmap_pgoff). `offset` in bytes.
   * Returns the mapped address or -EINVAL/-ENOMEM/-EEXIST/-EACCES/-EPERM/-EOVERFLOW/-EOPNOTSUPP/-EBADF/-ENODEV.
   */
  mmap(addr: UWord, length: UWord, prot: number, flags: number, file?: OpenFile, offset: UWord = 0): number {
    this.generation++;
    return sysMmap(this, addr, length, prot, flags, file, offset);
  }

  /** munmap(addr, length): 0, or -EINVAL (unaligned, zero/overflowing length, beyond TASK_SIZE) / -ENOMEM (map count). */
  munmap(addr: UWord, length: UWord): number {
    this.generation++;
    return sysMunmap(this, addr, length);
  }

  /**
   * mprotect(addr, length, prot): 0, or -EINVAL (unaligned, unknown prot bits), -ENOMEM (range not
   * fully mapped — VMAs before the hole keep the change, as Linux), -EACCES (PROT_WRITE on a
   * read-only-opened MAP_SHARED file, or a right not in VM_MAY*).
   */
  mprotect(addr: UWord, length: UWord, prot: number): number {
    this.generation++;
    return sysMprotect(this, addr, length, prot);
  }

  /** brk(addr): the new break, or the unchanged current one when refused (the syscall never returns -errno). */
  brk(addr: UWord): number {
    this.generation++;
    return sysBrk(this, addr);
  }

  /** prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, addr, len, name): 0 or -EINVAL/-ENOMEM/-EBADF. */
  setAnonName(addr: UWord, length: UWord, name: string | undefined): number {
    this.generation++;
    return setAnonName(this, addr, length, name);
  }

  // ---- exec-side helpers (kernel internal) --------------------------------------------------

  /**
   * get_unmapped_area as exec and the vdso code call it: a free range of `length` bytes (top-down
   * below mmap_base, honouring a free `hint` first), or -ENOMEM. Nothing is mapped.
   */
  getUnmappedArea(length: number, hint = 0, flags: MmapFlags = 0): number {
    return getUnmappedArea(this, hint, length, flags, undefined, 0);
  }

  /**
   * binfmt_elf: mm->start_brk = mm->brk = `start` (page-aligned end of the bss; exec may randomize it).
   * No VMA is created until brk() grows the heap.
   */
  initBrk(start: number): void {
    this.startBrk = start;
    this.brkValue = start;
  }

  /**
   * exec's setup_arg_pages: the [stack] VMA ending at layout.stackTop, covering `argBytes` of
   * strings/auxv (rounded up to pages) plus the kernel's 128 KiB stack_expand, limited by RLIMIT_STACK.
   * Sets start_stack to the top minus `argBytes` unless given (`bprm->p`). Returns a snapshot of the VMA.
   */
  setupStack(argBytes: number, startStack?: number): Vma {
    const ps = this.pageSize;
    const top = this.layout.stackTop;
    const argSize = Math.max(ps, Math.ceil(argBytes / ps) * ps);
    const rlim = Math.floor(this.layout.stackRlimit / ps) * ps;
    const size = Math.min(rlim, argSize + 131072);
    const start = top - size;
    this.generation++;
    this.tree.removeRange(start, top);
    this.pages.dropRange(start, top);
    const vma: MutableVma = {
      start,
      end: top,
      // VM_STACK_FLAGS: VM_GROWSDOWN | VM_DATA_DEFAULT_FLAGS | VM_ACCOUNT.
      flags: VM_READ | VM_WRITE | VM_MAYBITS | VM_GROWSDOWN | VM_ACCOUNT,
      file: undefined,
      pgoff: start / ps,
      special: undefined,
      anonName: undefined,
      // copy_strings wrote the arguments: the stack has an anon_vma from the start.
      anonVma: this.nextAnonVma++,
    };
    this.tree.insert(vma);
    this.startStack = startStack ?? top - argBytes;
    return { ...vma };
  }

  /**
   * _install_special_mapping: a named kernel mapping such as "[vdso]", "[vvar]" or "[vvar_vclock]"
   * at [start, start+length) with `prot`, never merged (VM_DONTEXPAND); `bytes` (the vDSO image)
   * fill it from the start. Returns 0 or -EINVAL/-EEXIST when unaligned or overlapping.
   */
  mapSpecial(name: string, start: number, length: number, prot: number, bytes?: Uint8Array): number {
    const ps = this.pageSize;
    const end = start + Math.ceil(length / ps) * ps;
    if (start % ps !== 0 || length <= 0 || end > this.layout.taskSize) return -Errno.EINVAL;
    if (this.tree.firstIntersecting(start, end) !== undefined) return -Errno.EEXIST;
    this.generation++;
    const vma: MutableVma = {
      start,
      end,
      flags: (prot & 7) | VM_MAYBITS | VM_DONTEXPAND | (name === "[vdso]" ? 0 : VM_PFNMAP),
      file: undefined,
      pgoff: 0,
      special: name,
      anonName: undefined,
      anonVma: 0,
    };
    this.tree.insert(vma);
    if (bytes) this.kernelWrite(start, bytes.subarray(0, end - start));
    return 0;
  }

  /**
   * Install a VMA exactly as given, without merging (kernel-internal: exec's own mappings built
   * elsewhere, or tests replaying a real process's /proc/self/maps). The range must be page-aligned
   * and free. `flags` are vm_flags (VM_MAY* are added for the access bits present when omitted).
   * Returns 0, -EINVAL or -EEXIST.
   */
  installVma(spec: {
    readonly start: number;
    readonly end: number;
    readonly flags: number;
    readonly file?: OpenFile | undefined;
    readonly pgoff?: number;
    readonly special?: string | undefined;
    readonly anonName?: string | undefined;
  }): number {
    const ps = this.pageSize;
    if (spec.start % ps !== 0 || spec.end % ps !== 0 || spec.end <= spec.start) return -Errno.EINVAL;
    if (this.tree.firstIntersecting(spec.start, spec.end)) return -Errno.EEXIST;
    this.generation++;
    this.tree.insert({
      start: spec.start,
      end: spec.end,
      flags: spec.flags,
      file: spec.file,
      pgoff: spec.pgoff ?? (spec.file ? 0 : spec.start / ps),
      special: spec.special,
      anonName: spec.anonName,
      anonVma: 0,
    });
    return 0;
  }

  // ---- lookup ---------------------------------------------------------------------------------

  /** The VMA containing `addr`, or undefined. O(log n). */
  findVma(addr: number): Vma | undefined {
    return this.tree.containing(addr);
  }

  /** The kernel's find_vma(): the first VMA with end > addr (it may start above addr). */
  findVmaFrom(addr: number): Vma | undefined {
    return this.tree.firstEndingAfter(addr);
  }

  /** All VMAs in address order (a snapshot). */
  vmas(): readonly Vma[] {
    return this.tree.snapshot();
  }

  /** mm->map_count. */
  get mapCount(): number {
    return this.tree.size;
  }

  /** /proc/pid/maps as Linux prints it. */
  renderMaps(): string {
    return renderMaps(this);
  }

  // ---- memory access --------------------------------------------------------------------------

  /** User-side read (copy_from_user): the bytes, or throws UserFault (errno EFAULT, with its kind). */
  readUser(addr: number, length: number): Uint8Array {
    const r = userAccess(this, addr, length, undefined, "user");
    if (!r.ok) throw r.fault;
    return r.bytes;
  }

  /** User-side write (copy_to_user): throws UserFault ("write-protected" for a non-writable page). */
  writeUser(addr: number, bytes: Uint8Array): void {
    const r = userAccess(this, addr, bytes.length, bytes, "user");
    if (!r.ok) throw r.fault;
  }

  /** copy_from_user without throwing: `{ ok: true, bytes }` or `{ ok: false, fault }` (syscalls map the fault to -EFAULT). */
  tryReadUser(addr: number, length: number): AccessResult {
    return userAccess(this, addr, length, undefined, "user");
  }

  /**
   * The length of the run of never-written private anonymous memory at `addr` (at most `max` bytes):
   * what a user read would see as zeros, found without copying (for huge read/write counts).
   */
  untouchedZeroRun(addr: number, max: number): number {
    return untouchedZeroRun(this, addr, max);
  }

  /** copy_to_user without throwing. */
  tryWriteUser(addr: number, bytes: Uint8Array): AccessResult {
    return userAccess(this, addr, bytes.length, bytes, "user");
  }

  /** Kernel-side read ignoring protection (FOLL_FORCE); throws UserFault only for unmapped or past-EOF pages. */
  kernelRead(addr: number, length: number): Uint8Array {
    const r = userAccess(this, addr, length, undefined, "force");
    if (!r.ok) throw r.fault;
    return r.bytes;
  }

  /**
   * Kernel-side write ignoring protection (exec building the stack, ptrace POKEDATA, tests synthesizing
   * frames). A private page is copied on write as a FOLL_FORCE write does; a MAP_SHARED file page is
   * written through. Throws UserFault only for unmapped or past-EOF pages.
   */
  kernelWrite(addr: number, bytes: Uint8Array): void {
    const r = userAccess(this, addr, bytes.length, bytes, "force");
    if (!r.ok) throw r.fault;
  }

  /** Read a little-endian u64 as the unwinder's get_user does: undefined on any fault. */
  readU64(addr: number): bigint | undefined {
    const r = userAccess(this, addr, 8, undefined, "user");
    if (!r.ok) return undefined;
    return new DataView(r.bytes.buffer, r.bytes.byteOffset, 8).getBigUint64(0, true);
  }

  // ---- fork ---------------------------------------------------------------------------------

  /**
   * dup_mmap for fork(): a child address space with the same VMAs (VM_DONTCOPY skipped,
   * VM_WIPEONFORK emptied), private pages copied (the effect of COW), MAP_SHARED objects shared.
   */
  fork(): ForkResult {
    return forkAddressSpace(this);
  }
}
