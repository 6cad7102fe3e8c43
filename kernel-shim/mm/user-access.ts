import { Errno, KernelError } from "../errno.ts";
import type { AddressSpace } from "./address-space.ts";
import { anonVmaPrepare } from "./merge.ts";
import {
  VM_ACCESS_FLAGS,
  VM_GROWSDOWN,
  VM_IO,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_PFNMAP,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
} from "./prot-flags.ts";
import type { MutableVma } from "./vma.ts";

/**
 * Why an access faulted:
 *  - "unmapped": no VMA (SIGSEGV SEGV_MAPERR);
 *  - "no-access": the VMA does not allow reading (PROT_NONE; SEGV_ACCERR);
 *  - "write-protected": a store to a page without PROT_WRITE (SEGV_ACCERR) — the loader asserts it never causes one;
 *  - "beyond-eof": a file page wholly past the end of the file (SIGBUS BUS_ADRERR, filemap_fault).
 */
export type FaultKind = "unmapped" | "no-access" | "write-protected" | "beyond-eof";

/** A user-memory fault. As copy_{from,to}_user it is EFAULT; user code would get `signal`. */
export class UserFault extends KernelError {
  override name = "UserFault";
  constructor(
    readonly kind: FaultKind,
    /** First faulting address. */
    readonly addr: number,
    readonly write: boolean,
  ) {
    super(Errno.EFAULT, `${write ? "write" : "read"} fault (${kind}) at 0x${addr.toString(16)}`);
  }
  get signal(): "SIGSEGV" | "SIGBUS" {
    return this.kind === "beyond-eof" ? "SIGBUS" : "SIGSEGV";
  }
}

export type AccessResult =
  | { readonly ok: true; readonly bytes: Uint8Array }
  | { readonly ok: false; readonly fault: UserFault };

type Mode = "user" | "force";

// Module-local copies of the flags read on every access (tsx's CommonJS output reads an imported
// binding through a getter call).
const VM_READ_ = VM_READ;
const VM_WRITE_ = VM_WRITE;
const VM_ACCESS_FLAGS_ = VM_ACCESS_FLAGS;

function readable(as: AddressSpace, flags: number): boolean {
  // arm64 can express exec-only pages but not write-only ones: its do_page_fault allows a read of
  // a VM_WRITE VMA ("Write implies read", arch/arm64/mm/fault.c).
  return as.layout.anyProtReadable ? (flags & VM_ACCESS_FLAGS_) !== 0 : (flags & (VM_READ_ | VM_WRITE_)) !== 0;
}

/**
 * Stack growth on a user fault below a VM_GROWSDOWN VMA (lock_mm_and_find_vma → expand_stack_locked):
 * allowed within RLIMIT_STACK and while the stack guard gap to the VMA below stays free.
 */
function tryExpandStack(as: AddressSpace, addr: number): MutableVma | undefined {
  const next = as.tree.firstEndingAfter(addr);
  if (!next || !(next.flags & VM_GROWSDOWN) || next.start <= addr) return undefined;
  const ps = as.pageSize;
  const newStart = Math.floor(addr / ps) * ps;
  if (newStart < as.layout.mmapMinAddr) return undefined;
  if (next.end - newStart > as.layout.stackRlimit) return undefined;
  const prev = as.tree.at(as.tree.indexOf(next) - 1);
  if (
    prev &&
    !(prev.flags & VM_GROWSDOWN) &&
    prev.flags & VM_ACCESS_FLAGS &&
    newStart - prev.end < as.layout.stackGuardGap
  )
    return undefined;
  if (prev && prev.end > newStart) return undefined;
  next.pgoff -= (next.start - newStart) / ps;
  next.start = newStart;
  anonVmaPrepare(as, next);
  return next;
}

/**
 * One access of [addr, addr+length): a read returns the bytes, a write (`data` given) stores them.
 * Checks every page before changing anything, so a faulting write leaves memory untouched.
 */
export function userAccess(
  as: AddressSpace,
  addr: number,
  length: number,
  data: Uint8Array | undefined,
  mode: Mode,
): AccessResult {
  const write = data !== undefined;
  if (length === 0) return { ok: true, bytes: new Uint8Array(0) };
  if (!Number.isSafeInteger(addr) || addr < 0 || !Number.isSafeInteger(length) || length < 0)
    return { ok: false, fault: new UserFault("unmapped", Math.max(0, addr || 0), write) };
  const fast = mode === "user" ? presentPageAccess(as, addr, length, data) : undefined;
  if (fast) return fast;
  const end = addr + length;
  if (end > as.layout.taskSize)
    return { ok: false, fault: new UserFault("unmapped", Math.max(addr, as.layout.taskSize), write) };
  const ps = as.pageSize;
  // Pass 1: find the VMAs and check rights and EOF for every page.
  const spans: { vma: MutableVma; from: number; to: number }[] = [];
  let cur = addr;
  while (cur < end) {
    let vma = as.tree.containing(cur);
    if (!vma && mode === "user") vma = tryExpandStack(as, cur);
    if (!vma) return { ok: false, fault: new UserFault("unmapped", cur, write) };
    const to = Math.min(end, vma.end);
    if (mode === "user") {
      if (!readable(as, vma.flags)) return { ok: false, fault: new UserFault("no-access", cur, write) };
      if (write && !(vma.flags & VM_WRITE)) return { ok: false, fault: new UserFault("write-protected", cur, write) };
    } else {
      // GUP check_vma_flags: no access to VM_IO/VM_PFNMAP; a forced write needs a COW (private) mapping.
      if (vma.flags & (VM_IO | VM_PFNMAP)) return { ok: false, fault: new UserFault("no-access", cur, write) };
      if (write && !(vma.flags & VM_WRITE) && (vma.flags & (VM_SHARED | VM_MAYWRITE)) !== VM_MAYWRITE)
        return { ok: false, fault: new UserFault("write-protected", cur, write) };
    }
    if (vma.file && !isSharedObject(vma)) {
      // Private file pages not yet copied read through to the file: whole pages past EOF are SIGBUS.
      const eofPages = Math.ceil(vma.file.inode.size / ps);
      for (let p = Math.floor(cur / ps) * ps; p < to; p += ps) {
        if (as.pages.has(p / ps)) continue;
        if (vma.pgoff + (p - vma.start) / ps >= eofPages)
          return { ok: false, fault: new UserFault("beyond-eof", Math.max(p, cur), write) };
      }
    } else if (vma.file) {
      const eofPages = Math.ceil(vma.file.inode.size / ps);
      const lastPage = vma.pgoff + (Math.ceil(to / ps) * ps - vma.start) / ps;
      if (lastPage > eofPages) {
        const firstBad = vma.start + (eofPages - vma.pgoff) * ps;
        if (firstBad < to) return { ok: false, fault: new UserFault("beyond-eof", Math.max(firstBad, cur), write) };
      }
    }
    spans.push({ vma, from: cur, to });
    cur = to;
  }
  // Pass 2: copy.
  const out = write ? (data as Uint8Array) : new Uint8Array(length);
  for (const { vma, from, to } of spans) {
    if (isSharedObject(vma)) {
      const file = (vma.file as NonNullable<MutableVma["file"]>).inode;
      const off = vma.pgoff * ps + (from - vma.start);
      const inFile = Math.max(0, Math.min(to - from, file.size - off));
      if (write) {
        // MAP_SHARED stores go to the file (bytes past EOF in the last page are not persisted).
        if (inFile > 0 && file.write) file.write(off, out.subarray(from - addr, from - addr + inFile));
      } else if (inFile > 0) {
        out.set(file.read(off, inFile), from - addr);
      }
      continue;
    }
    if (write) anonVmaPrepare(as, vma);
    for (let p = Math.floor(from / ps) * ps; p < to; p += ps) {
      const a = Math.max(p, from);
      const b = Math.min(p + ps, to);
      const vpn = p / ps;
      let page = as.pages.get(vpn);
      if (write) {
        if (!page) {
          page = backingPage(as, vma, p);
          as.pages.set(vpn, page);
        }
        page.set(out.subarray(a - addr, b - addr), a - p);
      } else if (page) {
        out.set(page.subarray(a - p, b - p), a - addr);
      } else if (vma.file) {
        // What backingPage(p).subarray(a - p, b - p) holds, without building the whole page: file
        // bytes up to EOF, zeros after (out is zero-filled).
        const inode = vma.file.inode;
        const off = (vma.pgoff + (p - vma.start) / ps) * ps + (a - p);
        const n = Math.max(0, Math.min(b - a, inode.size - off));
        if (n > 0) out.set(inode.read(off, n), a - addr);
      }
    }
  }
  return { ok: true, bytes: write ? new Uint8Array(0) : out };
}

/**
 * The common case of userAccess, without its span bookkeeping: a user access within one page that is
 * already in the page store, of a private VMA whose rights allow it. Every check the general path
 * would make passes for such a page (mapped, below TASK_SIZE, readable/writable, no EOF check for a
 * page already copied), so the result is the same; undefined sends everything else down that path.
 */
function presentPageAccess(
  as: AddressSpace,
  addr: number,
  length: number,
  data: Uint8Array | undefined,
): AccessResult | undefined {
  const ps = as.pageSize;
  const off = addr - Math.floor(addr / ps) * ps;
  if (off + length > ps) return undefined;
  const page = as.pages.get((addr - off) / ps);
  if (!page) return data === undefined ? absentPageRead(as, addr, length, off) : undefined;
  const vma = as.tree.containing(addr);
  if (!vma || isSharedObject(vma) || !readable(as, vma.flags)) return undefined;
  if (data === undefined) return { ok: true, bytes: page.slice(off, off + length) };
  if (!(vma.flags & VM_WRITE_)) return undefined;
  anonVmaPrepare(as, vma);
  page.set(data, off);
  return WRITTEN;
}

/**
 * A user read within one page not in the page store, of a private readable VMA, that cannot fault:
 * anonymous (zeros) or a file page before EOF (the file's bytes, zeros past its end) — what the
 * general path returns for it, without its span bookkeeping. Anything else goes to that path.
 */
function absentPageRead(as: AddressSpace, addr: number, length: number, off: number): AccessResult | undefined {
  const vma = as.tree.containing(addr);
  if (!vma || isSharedObject(vma) || !readable(as, vma.flags)) return undefined;
  const out = new Uint8Array(length);
  const file = vma.file;
  if (!file) return { ok: true, bytes: out };
  const ps = as.pageSize;
  const inode = file.inode;
  const pageIndex = vma.pgoff + (addr - off - vma.start) / ps;
  if (pageIndex >= Math.ceil(inode.size / ps)) return undefined;
  const fileOff = pageIndex * ps + off;
  const n = Math.max(0, Math.min(length, inode.size - fileOff));
  if (n > 0) out.set(inode.read(fileOff, n));
  return { ok: true, bytes: out };
}

const WRITTEN: AccessResult = { ok: true, bytes: new Uint8Array(0) };

/** Shared file pages (including read-only-opened MAP_SHARED, which cannot COW) live in the file object. */
function isSharedObject(vma: MutableVma): boolean {
  return vma.file !== undefined && (vma.flags & VM_MAYSHARE) !== 0;
}

/** The page as the backing shows it now: zeros, or file bytes with zeros past EOF. */
function backingPage(as: AddressSpace, vma: MutableVma, pageAddr: number): Uint8Array {
  const ps = as.pageSize;
  const page = as.pages.allocate();
  if (vma.file) {
    const off = (vma.pgoff + (pageAddr - vma.start) / ps) * ps;
    const n = Math.max(0, Math.min(ps, vma.file.inode.size - off));
    if (n > 0) page.set(vma.file.inode.read(off, n));
  }
  return page;
}

/**
 * How many bytes from `addr` (at most `max`) a user read would see as zeros without a fault: pages of
 * private anonymous VMAs that were never written (nothing in the page store). A huge write(2) of
 * untouched memory can then be accounted without copying it (the kernel copies it chunk by chunk).
 */
export function untouchedZeroRun(as: AddressSpace, addr: number, max: number): number {
  if (!Number.isSafeInteger(addr) || addr < 0 || !(max > 0)) return 0;
  const ps = as.pageSize;
  const end = Math.min(addr + max, as.layout.taskSize);
  let cur = addr;
  while (cur < end) {
    const vma = as.tree.containing(cur);
    if (!vma || vma.file || !readable(as, vma.flags)) break;
    const stop = Math.min(end, vma.end);
    const written = as.pages.firstIn(Math.floor(cur / ps), Math.ceil(stop / ps));
    if (written !== undefined) return Math.max(cur, written * ps) - addr;
    cur = stop;
  }
  return cur - addr;
}

const VM_MAYSHARE_ = VM_MAYSHARE;

/**
 * The page at `vpn` if a user write of [addr, addr+8) would take presentPageAccess's fast path: the
 * page is in the store, its VMA private, readable and writable (anon_vma prepared as that path does).
 */
function writablePresentPage(as: AddressSpace, addr: number, vpn: number): Uint8Array | undefined {
  const page = as.pages.get(vpn);
  if (!page) return undefined;
  const vma = as.tree.containing(addr);
  if (!vma || (vma.file !== undefined && (vma.flags & VM_MAYSHARE_) !== 0) || !readable(as, vma.flags))
    return undefined;
  if (!(vma.flags & VM_WRITE_)) return undefined;
  anonVmaPrepare(as, vma);
  return page;
}

/**
 * `n` user writes of one little-endian 64-bit word each (`words[2i]` low, `words[2i+1]` high half at
 * `addrs[i]`), in order: exactly what `n` writeUser calls of 8 bytes do — the same pages copied, the
 * same first fault (thrown after the earlier slots were written). Within one call nothing else can
 * change the address space, so the page and its VMA checks are looked up once per run of slots in
 * the same page (relocation tables are sorted by address) instead of once per slot.
 */
export function writeUserWords(as: AddressSpace, addrs: Float64Array, words: Uint32Array, n: number): void {
  wordsAccess(as, addrs, words, n, false);
}

/**
 * `n` user read-modify-writes: the word at `addrs[i]` becomes itself + (`delta[1]`:`delta[0]`) mod
 * 2^64 — a readUser then a writeUser of 8 bytes per slot, in order, with their faults (DT_RELR's and
 * lazy JUMP_SLOT's `*reloc_addr += l_addr`).
 */
export function addUserWords(as: AddressSpace, addrs: Float64Array, delta: Uint32Array, n: number): void {
  wordsAccess(as, addrs, delta, n, true);
}

const oneAddr = new Float64Array(1);
const oneWord = new Uint32Array(2);

/** The little-endian word hi:lo at `off` of a page. */
function storeWord(p: Uint8Array, off: number, lo: number, hi: number): void {
  p[off] = lo;
  p[off + 1] = lo >>> 8;
  p[off + 2] = lo >>> 16;
  p[off + 3] = lo >>> 24;
  p[off + 4] = hi;
  p[off + 5] = hi >>> 8;
  p[off + 6] = hi >>> 16;
  p[off + 7] = hi >>> 24;
}

/** One slot through wordsAccess's general path (a page to copy in, a fault, a slot across pages). */
function writeWordSlowly(as: AddressSpace, addr: number, lo: number, hi: number): void {
  oneAddr[0] = addr;
  oneWord[0] = lo;
  oneWord[1] = hi;
  wordsAccess(as, oneAddr, oneWord, 1, false);
}

/**
 * A run of single-word user writes by one caller (a relocation pass writing GOT slots one by one):
 * each does exactly what writeUser of the word's 8 bytes does. The page found writable and present
 * is remembered while later writes land in it and the address space's generation is unchanged (no
 * mmap, munmap, mprotect or brk since), so its VMA checks are not repeated per slot.
 */
export class WordWriter {
  private vpn = -1;
  private page: Uint8Array | undefined = undefined;
  private generation = -1;
  constructor(private readonly as: AddressSpace) {}

  write(addr: number, lo: number, hi: number): void {
    const as = this.as;
    const ps = as.pageSize;
    const vpn = Math.floor(addr / ps);
    const off = addr - vpn * ps;
    let p = this.page;
    if (vpn !== this.vpn || this.generation !== as.generation || p === undefined) {
      p = undefined;
      if (Number.isSafeInteger(addr) && addr >= 0 && off <= ps - 8) p = writablePresentPage(as, addr, vpn);
      this.page = p;
      this.vpn = p ? vpn : -1;
      this.generation = as.generation;
    }
    if (p && off <= ps - 8) {
      storeWord(p, off, lo, hi);
      return;
    }
    // Anything else (a page not copied yet, a fault, a slot across pages) takes the general path,
    // which may copy a page in: look again next time.
    this.vpn = -1;
    this.page = undefined;
    writeWordSlowly(as, addr, lo, hi);
  }
}

function wordsAccess(as: AddressSpace, addrs: Float64Array, words: Uint32Array, n: number, add: boolean): void {
  const ps = as.pageSize;
  const dLo = words[0] as number;
  const dHi = words[1] as number;
  let curVpn = -1;
  let cur: DataView | undefined;
  let slot: Uint8Array | undefined;
  for (let i = 0; i < n; i++) {
    const a = addrs[i] as number;
    // vpn and offset without a floating-point remainder (exact: the page size is a power of two).
    const vpn = Math.floor(a / ps);
    const off = a - vpn * ps;
    if (Number.isSafeInteger(a) && a >= 0 && off <= ps - 8) {
      if (vpn !== curVpn) {
        const p = writablePresentPage(as, a, vpn);
        cur = p && new DataView(p.buffer, p.byteOffset, p.byteLength);
        curVpn = cur ? vpn : -1;
      }
      if (cur) {
        if (add) {
          const sum = cur.getUint32(off, true) + dLo;
          cur.setUint32(off, sum >>> 0, true);
          cur.setUint32(off + 4, (cur.getUint32(off + 4, true) + dHi + (sum > 0xffffffff ? 1 : 0)) >>> 0, true);
        } else {
          cur.setUint32(off, words[2 * i] as number, true);
          cur.setUint32(off + 4, words[2 * i + 1] as number, true);
        }
        continue;
      }
    }
    // Anything else (a page not copied yet, a fault, a slot across pages) takes the general path.
    slot ??= new Uint8Array(8);
    const dv = new DataView(slot.buffer);
    if (add) {
      const r = userAccess(as, a, 8, undefined, "user");
      if (!r.ok) throw r.fault;
      const b = new DataView(r.bytes.buffer, r.bytes.byteOffset, 8);
      const sum = b.getUint32(0, true) + dLo;
      dv.setUint32(0, sum >>> 0, true);
      dv.setUint32(4, (b.getUint32(4, true) + dHi + (sum > 0xffffffff ? 1 : 0)) >>> 0, true);
    } else {
      dv.setUint32(0, words[2 * i] as number, true);
      dv.setUint32(4, words[2 * i + 1] as number, true);
    }
    const w = userAccess(as, a, 8, slot, "user");
    if (!w.ok) throw w.fault;
    // The general path may have copied a page in or prepared an anon_vma: look again next time.
    curVpn = -1;
  }
}

/**
 * A user read of [addr, addr+length) that may return a read-only view instead of a copy: when the
 * range lies in one private file VMA, before EOF, with none of its pages copied yet, the bytes are
 * the file's (what the general path would copy out of it) and the view into them is returned; any
 * other range is read (and faults) exactly as readUser. For tables the caller only reads — decoded
 * at once, or kept as ld.so keeps pointers into its mapped objects — never for bytes it modifies.
 */
export function readUserView(as: AddressSpace, addr: number, length: number): Uint8Array {
  const ps = as.pageSize;
  if (length > 0 && Number.isSafeInteger(addr) && addr >= 0 && Number.isSafeInteger(length)) {
    const vma = as.tree.containing(addr);
    const file = vma?.file;
    if (vma && file && !isSharedObject(vma) && readable(as, vma.flags) && addr + length <= vma.end) {
      const inode = file.inode;
      const fileOff = vma.pgoff * ps + (addr - vma.start);
      const first = Math.floor(addr / ps);
      const last = Math.ceil((addr + length) / ps);
      if (fileOff + length <= inode.size && as.pages.firstIn(first, last) === undefined) {
        const bytes = inode.read(fileOff, length);
        if (bytes.length === length) return bytes;
      }
    }
  }
  const r = userAccess(as, addr, length, undefined, "user");
  if (!r.ok) throw r.fault;
  return r.bytes;
}
