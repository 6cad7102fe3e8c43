import { VM_ACCESS_FLAGS, VM_MAYSHARE } from "./prot-flags.ts";

/**
 * The inode side of a mapped file: identity as /proc/pid/maps prints it, plus its bytes. The shim
 * never opens files; the process layer builds one of these per inode and shares it between opens,
 * so a MAP_SHARED store through one mapping is seen by every other mapping and by read().
 */
export interface MappedInode {
  readonly devMajor: number;
  readonly devMinor: number;
  readonly ino: number;
  /** d_path of the file as maps prints it (no " (deleted)" suffix; see `deleted`). */
  readonly path: string;
  /** Current size in bytes. Bytes past it in the last page read as zero; whole pages past it fault (SIGBUS). */
  readonly size: number;
  /** Bytes [offset, offset+length) with offset+length ≤ size. */
  read(offset: number, length: number): Uint8Array;
  /** Store bytes (MAP_SHARED writes), offset+length ≤ size. Absent: a read-only object (stores are dropped). */
  write?(offset: number, bytes: Uint8Array): void;
  /** Unlinked: maps appends " (deleted)". */
  readonly deleted?: boolean;
  /**
   * Whether the file system's file_operations->get_unmapped_area aligns mappings for THP
   * (thp_get_unmapped_area: ext4, xfs, btrfs). Default true; false for tmpfs mounted huge=never
   * (shmem_get_unmapped_area then keeps the plain placement) or a file system without the hook.
   */
  readonly thpAlign?: boolean;
}

/**
 * An open file description (struct file) as mmap() receives it through an fd. vma_merge compares
 * `vma->vm_file` pointers, so two mmaps merge only through the SAME OpenFile object: pass the same
 * object for every mmap of one fd (and of its dups), a new one per open().
 */
export interface OpenFile {
  readonly inode: MappedInode;
  /** FMODE_READ: opened O_RDONLY or O_RDWR. mmap of any kind needs it (else EACCES). */
  readonly readable: boolean;
  /** FMODE_WRITE: MAP_SHARED + PROT_WRITE needs it (else EACCES); without it VM_MAYWRITE is dropped. */
  readonly writable: boolean;
  /** O_APPEND with FMODE_WRITE: MAP_SHARED is EACCES. */
  readonly append?: boolean;
  /** On a noexec mount: PROT_EXEC is EPERM and VM_MAYEXEC is dropped. */
  readonly noexec?: boolean;
  /**
   * get_file / fput: every VMA mapping this file holds a reference (vma->vm_file), taken when the
   * VMA enters the address space (mmap, split, fork) and dropped when it leaves (munmap, merge,
   * MAP_FIXED replacement), so the file outlives close(fd) for as long as it is mapped.
   */
  readonly get?: () => void;
  readonly put?: () => void;
}

/**
 * One virtual memory area, [start, end), as the kernel's struct vm_area_struct: the fields that decide
 * placement, merging, faults and the /proc/pid/maps line. Addresses are page-aligned safe integers.
 * Read-only view: only AddressSpace changes VMAs.
 */
export interface Vma {
  readonly start: number;
  readonly end: number;
  /** vm_flags: VM_READ/WRITE/EXEC, VM_SHARED/VM_MAYSHARE, VM_MAY*, VM_ACCOUNT, VM_GROWSDOWN, … */
  readonly flags: number;
  /** The mapped file (vm_file), undefined for anonymous memory (MAP_SHARED|MAP_ANONYMOUS has a shmem file). */
  readonly file: OpenFile | undefined;
  /** vm_pgoff: file offset of `start` in pages (for anonymous private VMAs: start >> PAGE_SHIFT, as Linux). */
  readonly pgoff: number;
  /**
   * Special name: "[heap]", "[stack]", "[vdso]", "[vvar]", "[vvar_vclock]", or an anonymous name set by
   * prctl(PR_SET_VMA_ANON_NAME), stored as given and printed "[anon:NAME]" (`anonName`).
   */
  readonly special: string | undefined;
  readonly anonName: string | undefined;
  /**
   * Identity of the anon_vma (0 = none yet). Linux attaches one at the first write fault of a private
   * mapping; two VMAs with different anon_vmas never merge, so maps can differ after writes.
   */
  readonly anonVma: number;
}

/** Internal mutable form. */
export interface MutableVma {
  start: number;
  end: number;
  flags: number;
  file: OpenFile | undefined;
  pgoff: number;
  special: string | undefined;
  anonName: string | undefined;
  anonVma: number;
  /** Set in a fork child on VMAs whose anon_vma came from the parent (anon_vma_chain not singular). */
  uncowedParents?: boolean | undefined;
}

/** PROT_* bits of a VMA. */
export function vmaProt(vma: Vma): number {
  return vma.flags & VM_ACCESS_FLAGS;
}

/** The maps `s`/`p` column: VM_MAYSHARE (a read-only-opened MAP_SHARED file still shows `s`). */
export function vmaIsShared(vma: Vma): boolean {
  return (vma.flags & VM_MAYSHARE) !== 0;
}
