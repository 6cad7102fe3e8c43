import { PT_TLS } from "../formats/elf/constants.ts";
import * as AT from "../kernel-shim/exec/auxv.ts";
import { syscall } from "../kernel-shim/syscalls/dispatch.ts";
import type { LinkMap } from "./link-map.ts";
import { LoaderError } from "./map-object.ts";
import type { Rtld } from "./rtld.ts";

/**
 * The layout facts of glibc 2.36's x86_64 thread descriptor and TLS tunables that decide the sizes
 * `init_tls` asks the minimal malloc for (and so where its page lands) and the addresses
 * `__tls_init_tp` hands the kernel. Derived from the 2.36 sources (sysdeps/x86_64/nptl/tls.h,
 * nptl/descr.h, elf/dl-tls.c) and checked against strace of real programs on Debian 12:
 * `arch_prctl(ARCH_SET_FS, tcb)`, `set_tid_address(tcb+0x2d0)`, `set_robust_list(tcb+0x2e0, 24)`,
 * `rseq(tcb+0x920, 0x20, 0, 0x53053053)`.
 */
export interface TlsAbi {
  /**
   * "II" (TLS_TCB_AT_TP, x86_64): struct pthread is the TCB, the blocks lie below it. "I"
   * (TLS_DTV_AT_TP, aarch64): the thread pointer points at a small tcbhead_t (dtv, private),
   * struct pthread (TLS_PRE_TCB_SIZE) lies below it and the blocks above it. Absent: "II".
   */
  readonly variant?: "I" | "II";
  /** Variant I: TLS_PRE_TCB_SIZE = sizeof (struct pthread), below the thread pointer. */
  readonly preTcbSize?: number;
  /** TLS_TCB_SIZE: sizeof (struct pthread) on x86_64 (rseq_area, 32 bytes aligned 32, last; aligned 64); sizeof (tcbhead_t) on aarch64. */
  readonly tcbSize: number;
  /** TCB_ALIGNMENT: the minimum of dl_tls_static_align. */
  readonly tcbAlignment: number;
  /** offsetof (struct pthread, tid). */
  readonly tidOffset: number;
  /** offsetof (struct pthread, robust_head); the head is sizeof (struct robust_list_head) = 24 bytes. */
  readonly robustHeadOffset: number;
  /** offsetof (struct pthread, rseq_area) and the registered size (the original 32-byte struct rseq). */
  readonly rseqOffset: number;
  readonly rseqSize: number;
  /** RSEQ_SIG for x86 (sysdeps/unix/sysv/linux/x86/bits/rseq.h). */
  readonly rseqSig: number;
  /** tcbhead_t: tcb, dtv, self, ..., stack_guard (0x28), pointer_guard (0x30). */
  readonly stackGuardOffset: number;
  readonly pointerGuardOffset: number;
  /** TLS_SLOTINFO_SURPLUS and DTV_SURPLUS (elf/dl-tls.c). */
  readonly slotinfoSurplus: number;
  readonly dtvSurplus: number;
  /**
   * Static TLS surplus (elf/dl-tls.c): tls_static_surplus (nns, opt) = (nns-1)*LIBC_IE_TLS +
   * nns*OTHER_IE_TLS + opt, plus LEGACY_TLS = 1664 - tls_static_surplus (DEFAULT_NNS, OPTIONAL_TLS);
   * legacyTls holds the historic 1664 that the default tunables give.
   */
  readonly libcIeTls: number;
  readonly otherIeTls: number;
  readonly defaultNns: number;
  readonly optionalStaticTls: number;
  readonly legacyTls: number;
}

export const GLIBC236_X86_64_TLS: TlsAbi = {
  tcbSize: 0x940,
  tcbAlignment: 64,
  tidOffset: 0x2d0,
  robustHeadOffset: 0x2e0,
  rseqOffset: 0x920,
  rseqSize: 0x20,
  rseqSig: 0x53053053,
  stackGuardOffset: 0x28,
  pointerGuardOffset: 0x30,
  slotinfoSurplus: 62,
  dtvSurplus: 14,
  libcIeTls: 144,
  otherIeTls: 144,
  defaultNns: 4,
  optionalStaticTls: 512,
  legacyTls: 1664,
};

/**
 * Debian 12's glibc 2.36 for arm64. sizeof (struct pthread) = 0x740 and offsetof (tid) = 0xd0 are the
 * values libc.so.6 itself publishes for libthread_db (`_thread_db_sizeof_pthread`,
 * `_thread_db_pthread_tid` in libc6-arm64-cross); the header union is 24 pointers instead of
 * x86_64's tcbhead_t, so robust_head and rseq_area sit 0x200 lower than on x86_64 (0xe0, 0x720).
 * TCB_ALIGNMENT 32 (alignof (struct pthread), from the 32-aligned rseq_area): qemu-aarch64 -strace
 * shows set_tid_address(tp − 0x740 + 0xd0) with tp ≡ 0x20 (mod 64) at the start of a fresh page,
 * which `_dl_tls_block_align`'s roundup (page + 8 + 0x740, align) gives only for align 32.
 * RSEQ_SIG is aarch64's little-endian `brk #0x45e0` guard (0xd428bc00). The stack and pointer
 * guards are variables in ld.so on aarch64 (not in the TCB).
 */
export const GLIBC236_AARCH64_TLS: TlsAbi = {
  variant: "I",
  preTcbSize: 0x740,
  tcbSize: 16,
  tcbAlignment: 32,
  tidOffset: 0xd0,
  robustHeadOffset: 0xe0,
  rseqOffset: 0x720,
  rseqSize: 0x20,
  rseqSig: 0xd428bc00,
  stackGuardOffset: -1,
  pointerGuardOffset: -1,
  slotinfoSurplus: 62,
  dtvSurplus: 14,
  libcIeTls: 144,
  otherIeTls: 144,
  defaultNns: 4,
  optionalStaticTls: 512,
  legacyTls: 1664,
};

/** The TLS ABI of the process's architecture. */
export function tlsAbiFor(arch: string): TlsAbi {
  return arch === "aarch64" ? GLIBC236_AARCH64_TLS : GLIBC236_X86_64_TLS;
}

/** One module's PT_TLS as the loader records it (l_tls_blocksize, l_tls_align, l_tls_firstbyte_offset, init image). */
export interface TlsModule {
  readonly map: LinkMap;
  readonly blocksize: bigint;
  readonly align: bigint;
  readonly firstbyteOffset: bigint;
  readonly initimage: bigint;
  readonly initimageSize: bigint;
}

export interface InitialTls {
  /** The thread pointer: the TCB (struct pthread) address installed with ARCH_SET_FS. */
  readonly tcb: bigint;
  /** The DTV array (dtv[-1] is at this address; tcb->dtv points one entry further). */
  readonly dtv: bigint;
  readonly staticSize: bigint;
  readonly staticAlign: bigint;
  readonly staticUsed: bigint;
  readonly surplus: bigint;
  readonly modules: readonly TlsModule[];
  /** The TLS_INIT_TP syscalls' results: set_tid_address (tid), set_robust_list, rseq (0 = registered). */
  readonly tid: bigint;
  readonly robustList: bigint;
  readonly rseq: bigint;
}

const roundup = (v: bigint, a: bigint) => ((v + a - 1n) / a) * a;

/** The PT_TLS of a map (`_dl_map_object_from_fd` / rtld.c for the main program), or undefined. */
export function tlsModuleOf(map: LinkMap): TlsModule | undefined {
  const p = map.phdrs.find((h) => h.type === PT_TLS);
  if (!p || p.memsz === 0n) return undefined;
  const align = p.align === 0n ? 1n : p.align;
  return {
    map,
    blocksize: p.memsz,
    align,
    firstbyteOffset: p.vaddr & (align - 1n),
    initimage: map.addr + p.vaddr,
    initimageSize: p.filesz,
  };
}

/**
 * `_dl_determine_tlsoffset` for TLS_TCB_AT_TP (x86_64: blocks below the thread pointer, l_tls_offset
 * a positive distance), with the free-gap reuse of glibc 2.36. Module ids follow the slotinfo order
 * (the namespace's l_next chain), as `_dl_next_tls_modid` hands them out at startup. Sets
 * map.tlsOffset. The one implementation of the startup layout: init_tls sizes its allocation with it
 * and loader/tls.ts takes the static area (used, size, align) that dlopen allocates from.
 */
export function determineTlsOffsets(
  modules: readonly TlsModule[],
  surplus: bigint,
  abi: TlsAbi,
): { staticSize: bigint; staticAlign: bigint; staticUsed: bigint } {
  let maxAlign = BigInt(abi.tcbAlignment);
  let freetop = 0n;
  let freebottom = 0n;
  let offset = 0n;
  for (const m of modules) {
    const firstbyte = -m.firstbyteOffset & (m.align - 1n);
    if (m.align > maxAlign) maxAlign = m.align;
    let off: bigint;
    if (freebottom - freetop >= m.blocksize) {
      off = roundup(freetop + m.blocksize - firstbyte, m.align) + firstbyte;
      if (off <= freebottom) {
        freetop = off;
        m.map.tlsOffset = off;
        continue;
      }
    }
    off = roundup(offset + m.blocksize - firstbyte, m.align) + firstbyte;
    if (off > offset + m.blocksize + (freebottom - freetop)) {
      freetop = offset;
      freebottom = off - m.blocksize;
    }
    offset = off;
    m.map.tlsOffset = off;
  }
  return {
    staticSize: roundup(offset + surplus, maxAlign) + BigInt(abi.tcbSize),
    staticAlign: maxAlign,
    staticUsed: offset,
  };
}

/**
 * `_dl_determine_tlsoffset` for TLS_DTV_AT_TP (aarch64: the blocks start after the TLS_TCB_SIZE
 * tcbhead_t, l_tls_offset the distance above the thread pointer), with glibc 2.36's free-gap reuse.
 */
export function determineTlsOffsetsVariantI(
  modules: readonly TlsModule[],
  surplus: bigint,
  abi: TlsAbi,
): { staticSize: bigint; staticAlign: bigint; staticUsed: bigint } {
  let maxAlign = BigInt(abi.tcbAlignment);
  let freetop = 0n;
  let freebottom = 0n;
  let offset = BigInt(abi.tcbSize);
  for (const m of modules) {
    const firstbyte = -m.firstbyteOffset & (m.align - 1n);
    if (m.align > maxAlign) maxAlign = m.align;
    if (m.blocksize <= freetop - freebottom) {
      let off = roundup(freebottom, m.align);
      if (off - freebottom < firstbyte) off += m.align;
      if (off + m.blocksize - firstbyte <= freetop) {
        m.map.tlsOffset = off - firstbyte;
        freebottom = off + m.blocksize - firstbyte;
        continue;
      }
    }
    let off = roundup(offset, m.align);
    if (off - offset < firstbyte) off += m.align;
    m.map.tlsOffset = off - firstbyte;
    if (off - firstbyte - offset > freetop - freebottom) {
      freebottom = offset;
      freetop = off - firstbyte;
    }
    offset = off + m.blocksize - firstbyte;
  }
  return {
    staticSize: roundup(offset + surplus, BigInt(abi.tcbAlignment)),
    staticAlign: maxAlign,
    staticUsed: offset,
  };
}

/** dl-tls.c `tls_static_surplus`: the IE TLS reserved for libc and other libraries per namespace, plus the optional part. */
const tlsStaticSurplus = (abi: TlsAbi, nns: number, optional: number) =>
  (nns - 1) * abi.libcIeTls + nns * abi.otherIeTls + optional;

/** DL_NNS: the namespaces glibc supports (glibc.rtld.nns is capped to it). */
const DL_NNS = 16;

/**
 * `_dl_tls_static_surplus_init (naudit)`: tls_static_surplus (nns + naudit, optional) + LEGACY_TLS,
 * LEGACY_TLS being what makes the default tunables (nns 4, optional_static_tls 512) give the historic
 * 1664 bytes — an addition, so each audit module's namespace adds LIBC_IE_TLS + OTHER_IE_TLS (288).
 */
export function staticSurplus(
  abi: TlsAbi,
  naudit = 0,
  tunables: { readonly nns?: number; readonly optionalStaticTls?: number } = {},
): bigint {
  const nns = Math.min(tunables.nns ?? abi.defaultNns, DL_NNS);
  if (DL_NNS - nns < naudit) {
    throw new LoaderError("ld.so", `Failed loading ${naudit} audit modules, ${DL_NNS - nns} are supported.`);
  }
  const optional = tunables.optionalStaticTls ?? abi.optionalStaticTls;
  const legacy = abi.legacyTls - tlsStaticSurplus(abi, abi.defaultNns, abi.optionalStaticTls);
  return BigInt(tlsStaticSurplus(abi, nns + naudit, optional) + legacy);
}

function u64le(v: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
  return b;
}

/**
 * rtld.c `init_tls (0)` on x86_64, then `security_init`'s guards:
 *
 * 1. the slotinfo list: calloc(16 + (max_dtv_idx + 1 + TLS_SLOTINFO_SURPLUS) * 16);
 * 2. `_dl_determine_tlsoffset` (module ids in l_next order, static offsets);
 * 3. `_dl_allocate_tls_storage`: malloc(static_size + static_align + 8), the TCB at the aligned end
 *    (this is the allocation that makes ld.so mmap its second page run on most programs), the DTV
 *    calloc((max_dtv_idx + DTV_SURPLUS + 2) * 16);
 * 4. TLS_INIT_TP: tcb->tcb = tcb->self = tcb, `arch_prctl(ARCH_SET_FS, tcb)`, then `__tls_init_tp`:
 *    `set_tid_address(&pd->tid)`, `set_robust_list(&pd->robust_head, 24)`,
 *    `rseq(&pd->rseq_area, 32, 0, RSEQ_SIG)`;
 * 5. `_dl_setup_stack_chk_guard` / pointer guard from AT_RANDOM (low byte of the canary zeroed).
 *
 * Memory writes are the ones user code makes (through the address space's user accessors); the TLS
 * init images are copied later, after relocation (`copyTlsInitImages`, `_dl_allocate_tls_init`).
 */
export function initTls(rtld: Rtld, abi: TlsAbi = tlsAbiFor(rtld.proc.kernel.arch)): InitialTls {
  const proc = rtld.proc;
  const modules: TlsModule[] = [];
  for (const l of rtld.ns.maps) {
    const m = tlsModuleOf(l);
    if (m) modules.push(m);
  }
  modules.forEach((m, i) => {
    m.map.tlsModid = i + 1;
  });
  const maxDtvIdx = modules.length;
  rtld.malloc.calloc(16 + (maxDtvIdx + 1 + abi.slotinfoSurplus) * 16);
  const surplus = staticSurplus(abi);
  const variantI = abi.variant === "I";
  const layout = variantI
    ? determineTlsOffsetsVariantI(modules, surplus, abi)
    : determineTlsOffsets(modules, surplus, abi);
  const w = (addr: bigint, bytes: Uint8Array) => proc.mm.writeUser(Number(addr), bytes);
  // `_dl_tls_block_size_with_pre` + `_dl_tls_block_align`: the block, the alignment slack and the
  // pointer to the original allocation (kept for __libc_free_tls).
  const preTcb = BigInt(variantI ? (abi.preTcbSize ?? 0) : 0);
  const allocated = rtld.malloc.malloc(Number(layout.staticSize + preTcb + layout.staticAlign + 8n));
  // tcb: the thread pointer; pd: struct pthread (the same address on x86_64, below the TCB on aarch64).
  let tcb: bigint;
  let pd: bigint;
  if (variantI) {
    tcb = roundup(8n + preTcb + allocated, layout.staticAlign);
    pd = tcb - preTcb;
    w(pd, new Uint8Array(Number(preTcb) + abi.tcbSize));
  } else {
    const aligned = roundup(allocated, layout.staticAlign);
    tcb = aligned + layout.staticSize - BigInt(abi.tcbSize);
    pd = tcb;
    w(tcb, new Uint8Array(abi.tcbSize));
  }
  const dtvLength = maxDtvIdx + abi.dtvSurplus;
  const dtv = rtld.malloc.calloc((dtvLength + 2) * 16);
  w(dtv, u64le(BigInt(dtvLength)));
  if (variantI) {
    // tcbhead_t.dtv; TLS_INIT_TP is `msr tpidr_el0` — no system call.
    w(tcb, u64le(dtv + 16n));
  } else {
    w(tcb + 8n, u64le(dtv + 16n));
    w(tcb, u64le(tcb));
    w(tcb + 16n, u64le(tcb));
    if (proc.kernel.arch !== "x86_64") {
      throw new LoaderError("ld.so", `TLS_INIT_TP is modelled for x86_64 and aarch64 only (not ${proc.kernel.arch})`);
    }
    const fs = syscall(proc, "arch_prctl", 0x1002, tcb);
    if (fs !== 0n)
      throw new LoaderError(
        "ld.so",
        "cannot set up thread-local storage: cannot set %fs base address for thread-local storage",
      );
  }
  const tid = syscall(proc, "set_tid_address", pd + BigInt(abi.tidOffset));
  const tidBytes = new Uint8Array(4);
  new DataView(tidBytes.buffer).setInt32(0, Number(tid), true);
  w(pd + BigInt(abi.tidOffset), tidBytes);
  const head = pd + BigInt(abi.robustHeadOffset);
  // robust_head.list = &robust_head; futex_offset = offsetof(__lock) - offsetof(__list.__next) = -32.
  w(head, u64le(head));
  w(head + 8n, u64le(-32n));
  const robust = syscall(proc, "set_robust_list", head, 24);
  const rseqArea = pd + BigInt(abi.rseqOffset);
  const rseq = syscall(proc, "rseq", rseqArea, abi.rseqSize, 0, abi.rseqSig);
  // rseq_register_current_thread: cpu_id = RSEQ_CPU_ID_REGISTRATION_FAILED (-2) when the kernel refused.
  if (rseq !== 0n) w(rseqArea + 4n, new Uint8Array([0xfe, 0xff, 0xff, 0xff]));
  if (!variantI) securityInit(rtld, tcb, abi);
  return {
    tcb,
    dtv,
    staticSize: layout.staticSize,
    staticAlign: layout.staticAlign,
    staticUsed: layout.staticUsed,
    surplus,
    modules,
    tid,
    robustList: robust,
    rseq,
  };
}

/** rtld.c `security_init`: stack protector canary and pointer guard from the 16 AT_RANDOM bytes. */
function securityInit(rtld: Rtld, tcb: bigint, abi: TlsAbi): void {
  const proc = rtld.proc;
  const at = proc.image?.auxv.find(([t]) => t === AT.AT_RANDOM)?.[1];
  if (at === undefined || at === 0n) return;
  const r = proc.mm.readUser(Number(at), 16);
  const dv = new DataView(r.buffer, r.byteOffset, 16);
  // _dl_setup_stack_chk_guard: little-endian, the first byte zeroed so string overflows stop at it.
  const canary = dv.getBigUint64(0, true) & ~0xffn;
  proc.mm.writeUser(Number(tcb + BigInt(abi.stackGuardOffset)), u64le(canary));
  proc.mm.writeUser(Number(tcb + BigInt(abi.pointerGuardOffset)), u64le(dv.getBigUint64(8, true)));
}

/**
 * `_dl_allocate_tls_init (tcb, true)` for the initial thread: each startup module's block at
 * tp − l_tls_offset gets its init image and zeroed tail, and dtv[modid] points at it. Runs after
 * relocation, as rtld.c does ("the initializer data for the TLS blocks has its final values").
 */
export function copyTlsInitImages(rtld: Rtld, tls: InitialTls): void {
  const mm = rtld.proc.mm;
  for (const m of tls.modules) {
    const off = m.map.tlsOffset;
    if (off === undefined) continue;
    // Variant II (x86_64): below the thread pointer; variant I (aarch64): above it.
    const dest = rtld.proc.kernel.arch === "aarch64" ? tls.tcb + off : tls.tcb - off;
    const image = m.initimageSize > 0n ? mm.readUser(Number(m.initimage), Number(m.initimageSize)) : new Uint8Array(0);
    const block = new Uint8Array(Number(m.blocksize));
    block.set(image);
    mm.writeUser(Number(dest), block);
    mm.writeUser(Number(tls.dtv + 16n * BigInt(1 + m.map.tlsModid)), u64le(dest));
  }
}
