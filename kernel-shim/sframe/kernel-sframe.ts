import { kernelFindFrame } from "../../formats/sframe/kernel-find.ts";
import type { KernelRegs } from "../../formats/sframe/kernel-read.ts";
import type { SframeCheckFailure } from "../../formats/sframe/types.ts";
import { checkHeaderForRegistration, validateSframeForKernel } from "../../formats/sframe/validate.ts";
import { Errno, type ErrnoName } from "../errno.ts";
import type { ExecSframeRegistrar, SframeExecRange } from "../exec/sframe-hook.ts";
import type { AddressSpace } from "../mm/address-space.ts";
import type { MmArch } from "../mm/layout-constants.ts";
import { VM_EXEC } from "../mm/prot-flags.ts";
import type { Process } from "../process/process.ts";
import type { SframeFinder, SframeFindResult } from "../unwind/types.ts";
import { SframeRegistry, type SframeSection } from "./registry.ts";

/** `include/uapi/linux/stacktrace.h` (sframe/core tree). */
export const STACKTRACE_REGISTER_SFRAME = 1;
export const STACKTRACE_UNREGISTER_SFRAME = 2;
/** `__NR_stacktrace_setup` in the RFC tree (x86_64 syscall_64.tbl and the generic table alike). Unstable. */
export const NR_STACKTRACE_SETUP: Readonly<Record<MmArch, number>> = { x86_64: 472, aarch64: 472, s390x: 472 };

/** The arch's DWARF SP/FP (SFRAME_REG_SP / SFRAME_REG_FP in asm/unwind_sframe.h) and byte order. */
const ARCH_REGS: Readonly<Record<MmArch, KernelRegs & { littleEndian: boolean }>> = {
  x86_64: { sp: 7, fp: 6, littleEndian: true },
  aarch64: { sp: 31, fp: 29, littleEndian: true },
  s390x: { sp: 15, fp: 11, littleEndian: false },
};

/** How the modelled kernel is configured. Each unsettled point of the RFC is a named option. */
export interface KernelSframeOptions {
  /** CONFIG_HAVE_UNWIND_USER_SFRAME. Without it `stacktrace_setup` is sys_ni_syscall: -ENOSYS. Default true. */
  readonly enabled?: boolean;
  /** Section versions accepted at registration: `[3]` as the sframe/core tree (default); 2 and 1 for experiments. */
  readonly acceptedVersions?: readonly number[];
  /** Require SFRAME_F_FDE_FUNC_START_PCREL (series v11 on; default true). */
  readonly requirePcrel?: boolean;
  /** CONFIG_SFRAME_VALIDATION: walk every FDE/FRE at registration (the debug option). Default false. */
  readonly validation?: boolean;
  /**
   * RA-undefined rows: "einval" as the newest code reads (lookup fails, FP tried next), or "outermost"
   * (the spec's intent: the trace stops). Default "einval". See sframe-and-kernel.md Q2.
   */
  readonly outermost?: "einval" | "outermost";
  /** Fault injection for the allocation in `sframe_add_section` (check 4): return true to fail with -ENOMEM. */
  readonly failAllocation?: () => boolean;
}

/** One thing the kernel did with SFrame state, for timelines and assertions. */
export type SframeEvent =
  | {
      readonly kind: "register";
      readonly origin: SframeSection["origin"];
      readonly sframeStart: bigint;
      readonly sframeEnd: bigint;
      readonly textStart: bigint;
      readonly textEnd: bigint;
      /** 0 or -errno. */
      readonly result: number;
      /** Which kernel check failed and why (absent on success). */
      readonly check?: string;
      readonly message?: string;
      readonly label?: string;
    }
  | { readonly kind: "unregister"; readonly sframeStart: bigint; readonly removed: number; readonly result: number }
  | {
      readonly kind: "auto-remove";
      readonly sframeStart: bigint;
      readonly removed: number;
      readonly pc: bigint;
      readonly reason: string;
    }
  | { readonly kind: "mm-release"; readonly removed: number };

/** A registration outcome with the failing check, so a user can see *why* an errno came back. */
export interface AddSectionResult {
  /** 0 or -errno, as the syscall returns it. */
  readonly result: number;
  readonly errno?: ErrnoName;
  readonly check?: string;
  readonly message?: string;
}

const MASK64 = (1n << 64n) - 1n;
const u64 = (v: bigint | number) => BigInt.asUintN(64, BigInt(v));

function fail(errno: ErrnoName, check: string, message: string): AddSectionResult {
  return { result: -Errno[errno], errno, check, message };
}

/** A user address as the mm indexes it, or undefined when it cannot be one (≥ 2^53 is never mapped). */
function asAddr(v: bigint): number | undefined {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : undefined;
}

/**
 * The kernel side of SFrame: the per-mm registries (`mm->sframe_mt`), `sframe_add_section` /
 * `sframe_remove_section` with the series' checks in order, the `stacktrace_setup` syscall, the
 * binfmt_elf exec hook, and `sframe_find_user` for the unwinder — including the removal of a whole
 * section when reading it faults (EFAULT), as the kernel does.
 *
 * It sees process memory only through the mm's user-access functions (copy_from_user / get_user),
 * never through the loader.
 */
export class KernelSframe implements ExecSframeRegistrar {
  readonly enabled: boolean;
  readonly acceptedVersions: readonly number[];
  readonly requirePcrel: boolean;
  readonly validation: boolean;
  readonly outermost: "einval" | "outermost";
  private readonly failAllocation: (() => boolean) | undefined;
  private readonly registries = new WeakMap<AddressSpace, SframeRegistry>();
  /** Everything the kernel did, in order (registrations, removals, auto-removals). */
  readonly events: SframeEvent[] = [];

  constructor(options: KernelSframeOptions = {}) {
    this.enabled = options.enabled ?? true;
    this.acceptedVersions = options.acceptedVersions ?? [3];
    this.requirePcrel = options.requirePcrel ?? true;
    this.validation = options.validation ?? false;
    this.outermost = options.outermost ?? "einval";
    this.failAllocation = options.failAllocation;
  }

  /** The registry of an address space (created empty on first use, as `mt_init` in `mm_init`). */
  registryOf(mm: AddressSpace): SframeRegistry {
    let r = this.registries.get(mm);
    if (!r) {
      r = new SframeRegistry();
      this.registries.set(mm, r);
    }
    return r;
  }

  /**
   * `sframe_add_section(sframe_start, sframe_end, text_start, text_end)`, checks in the kernel's order
   * (sframe-and-kernel.md §2.4): zero arguments; section inside one VMA; text inside one executable VMA;
   * allocation; header copy; header fields; counts; offsets; optional full validation; tree insert.
   */
  addSection(
    mm: AddressSpace,
    sframeStart: bigint,
    sframeEnd: bigint,
    textStart: bigint,
    textEnd: bigint,
    origin: SframeSection["origin"],
    label?: string,
  ): AddSectionResult {
    const r = this.addSectionChecked(mm, u64(sframeStart), u64(sframeEnd), u64(textStart), u64(textEnd), origin, label);
    const ev: SframeEvent = {
      kind: "register",
      origin,
      sframeStart: u64(sframeStart),
      sframeEnd: u64(sframeEnd),
      textStart: u64(textStart),
      textEnd: u64(textEnd),
      result: r.result,
      ...(r.check !== undefined ? { check: r.check } : {}),
      ...(r.message !== undefined ? { message: r.message } : {}),
      ...(label !== undefined ? { label } : {}),
    };
    this.events.push(ev);
    return r;
  }

  private addSectionChecked(
    mm: AddressSpace,
    sframeStart: bigint,
    sframeEnd: bigint,
    textStart: bigint,
    textEnd: bigint,
    origin: SframeSection["origin"],
    label: string | undefined,
  ): AddSectionResult {
    // 1. Any zero value.
    if (sframeStart === 0n || sframeEnd === 0n || textStart === 0n || textEnd === 0n) {
      return fail("EINVAL", "zero argument", "sframe_start, sframe_end, text_start and text_end must all be non-zero");
    }
    // 2. The whole section inside one VMA (no permission check).
    const sfAddr = asAddr(sframeStart);
    const sfVma = sfAddr === undefined ? undefined : mm.findVma(sfAddr);
    if (!sfVma || sframeEnd > BigInt(sfVma.end)) {
      return fail(
        "EINVAL",
        "sframe VMA",
        sfVma
          ? `SFrame range [0x${sframeStart.toString(16)}, 0x${sframeEnd.toString(16)}) extends past its VMA end 0x${sfVma.end.toString(16)}`
          : `no VMA contains sframe_start 0x${sframeStart.toString(16)}`,
      );
    }
    // 3. The text inside one executable VMA.
    const txAddr = asAddr(textStart);
    const txVma = txAddr === undefined ? undefined : mm.findVma(txAddr);
    if (!txVma || (txVma.flags & VM_EXEC) === 0 || textEnd > BigInt(txVma.end)) {
      return fail(
        "EINVAL",
        "text VMA",
        !txVma
          ? `no VMA contains text_start 0x${textStart.toString(16)}`
          : (txVma.flags & VM_EXEC) === 0
            ? `the VMA at text_start 0x${textStart.toString(16)} is not executable`
            : `text range [0x${textStart.toString(16)}, 0x${textEnd.toString(16)}) extends past its VMA end 0x${txVma.end.toString(16)}`,
      );
    }
    // 4. kzalloc of struct sframe_section.
    if (this.failAllocation?.()) return fail("ENOMEM", "allocation", "kzalloc(struct sframe_section) failed");
    // 5–9. copy_from_user of the header, then the header checks (formats/sframe/validate.ts).
    const arch = ARCH_REGS[mm.layout.arch];
    const hdr = mm.tryReadUser(sfAddr as number, 28);
    const headerBytes = hdr.ok ? hdr.bytes : new Uint8Array(0);
    const opts = {
      acceptedVersions: this.acceptedVersions,
      requirePcrel: this.requirePcrel,
      sframeStart,
      sframeEnd,
      littleEndian: arch.littleEndian,
    };
    const checked = checkHeaderForRegistration(headerBytes, opts);
    if (!checked.ok) return fromCheck(checked);
    // 10. CONFIG_SFRAME_VALIDATION: the whole section, read through user copies.
    if (this.validation) {
      const bytes = readSectionBytes(mm, sframeStart, sframeEnd);
      const v = validateSframeForKernel(bytes, { ...opts, textStart, textEnd, regs: arch });
      if (!v.ok) return fromCheck(v);
    }
    // 11. mtree_insert_range(text_start, text_end): inclusive end.
    const sec: SframeSection = {
      sframeStart,
      sframeEnd,
      textStart,
      textEnd,
      fdesStart: checked.fdesStart,
      fresStart: checked.fresStart,
      fresEnd: checked.fresEnd,
      numFdes: checked.numFdes,
      raOff: checked.raOff,
      fpOff: checked.fpOff,
      version: checked.version,
      origin,
      ...(label !== undefined ? { label } : {}),
    };
    const ins = this.registryOf(mm).insert(sec);
    if (!ins.ok) {
      return fail(
        ins.errno,
        "mtree_insert_range",
        ins.errno === "EEXIST"
          ? `text range [0x${textStart.toString(16)}, 0x${textEnd.toString(16)}] (inclusive end) overlaps a registered range`
          : "text_start > text_end",
      );
    }
    return { result: 0 };
  }

  /** `sframe_remove_section(sframe_start)`: every entry for that start; -EINVAL when none. */
  removeSection(mm: AddressSpace, sframeStart: bigint): number {
    const removed = this.registryOf(mm).removeBySframeStart(u64(sframeStart));
    const result = removed === 0 ? -Errno.EINVAL : 0;
    this.events.push({ kind: "unregister", sframeStart: u64(sframeStart), removed, result });
    return result;
  }

  /**
   * `SYSCALL_DEFINE5(stacktrace_setup, int op, addr_start, addr_length, text_start, text_length)`.
   * Lengths are added as `unsigned long`: an overflow wraps and is caught by the VMA checks.
   */
  stacktraceSetup(mm: AddressSpace, op: number, addr: bigint, len: bigint, text: bigint, textLen: bigint): number {
    if (!this.enabled) return -Errno.ENOSYS;
    const a = u64(addr);
    const t = u64(text);
    if (op === STACKTRACE_REGISTER_SFRAME) {
      return this.addSection(mm, a, (a + u64(len)) & MASK64, t, (t + u64(textLen)) & MASK64, "syscall").result;
    }
    if (op === STACKTRACE_UNREGISTER_SFRAME) return this.removeSection(mm, a);
    return -Errno.EINVAL;
  }

  /** binfmt_elf at exec: one entry per PF_X program header; the result is ignored by the caller. */
  registerAtExec(proc: Process, range: SframeExecRange): number {
    if (!this.enabled) return -Errno.ENOSYS;
    const s = BigInt(range.sframeAddr);
    const t = BigInt(range.textStart);
    return this.addSection(proc.mm, s, s + BigInt(range.sframeLen), t, t + BigInt(range.textLen), "exec", range.path)
      .result;
  }

  onFork(parent: Process, child: Process, keep: boolean): void {
    // The series' child starts with an empty tree (mm_init → mt_init); `keep` is the simulator's option.
    if (keep) this.registries.set(child.mm, this.registryOf(parent.mm).clone());
    else this.registries.set(child.mm, new SframeRegistry());
  }

  onMmRelease(proc: Process): void {
    const r = this.registries.get(proc.mm);
    if (!r) return;
    this.events.push({ kind: "mm-release", removed: r.size });
    r.clear();
  }

  /**
   * `sframe_find_user` for one mm, as the unwinder's SFrame method: the registered section covering
   * the PC, its row through the kernel's reads, and on EFAULT the removal of the whole section.
   * Returns null when the mm has no sections (`current_has_sframe()` false: the method is unavailable).
   */
  finder(mm: AddressSpace): SframeFinder | null {
    const registry = this.registryOf(mm);
    if (registry.size === 0) return null;
    const arch = ARCH_REGS[mm.layout.arch];
    const spOffset = mm.layout.arch === "s390x" ? -160 : 0;
    const cache = new Map<bigint, Uint8Array>();
    return {
      find: (pc: bigint): SframeFindResult => {
        const sec = registry.lookup(pc);
        if (!sec) return { ok: false, errno: "EINVAL", reason: `no registered section covers 0x${pc.toString(16)}` };
        let bytes = cache.get(sec.sframeStart);
        if (!bytes) {
          bytes = readSectionBytes(mm, sec.sframeStart, sec.sframeEnd);
          cache.set(sec.sframeStart, bytes);
        }
        const r = kernelFindFrame(bytes, sec, pc, {
          regs: arch,
          littleEndian: arch.littleEndian,
          outermost: this.outermost,
        });
        if (!r.ok) {
          if (r.errno === "EFAULT") {
            const removed = registry.removeBySframeStart(sec.sframeStart);
            cache.delete(sec.sframeStart);
            this.events.push({ kind: "auto-remove", sframeStart: sec.sframeStart, removed, pc, reason: r.message });
          }
          return { ok: false, errno: r.errno, reason: `${r.check}: ${r.message}` };
        }
        const f = r.frame;
        return {
          ok: true,
          section: sec.sframeStart,
          row: {
            cfa: f.cfa,
            ra: f.ra,
            raSource: "dataword",
            fp: f.fp,
            fpSource: "dataword",
            outermost: f.outermost,
            signal: f.signal,
            mangledRa: false,
            pauthKey: 0,
            spOffset,
          },
        };
      },
    };
  }
}

function fromCheck(c: SframeCheckFailure): AddSectionResult {
  return fail(c.errno, c.check, c.message);
}

/**
 * The section's bytes as the kernel's `unsafe_get_user` reads would see them: page by page from the
 * start until the first fault (a shorter result models an unreadable tail: reads there fault).
 */
function readSectionBytes(mm: AddressSpace, start: bigint, end: bigint): Uint8Array {
  const s = asAddr(start);
  const e = asAddr(end);
  if (s === undefined || e === undefined || e <= s) return new Uint8Array(0);
  const whole = mm.tryReadUser(s, e - s);
  if (whole.ok) return whole.bytes;
  const page = mm.pageSize;
  const chunks: Uint8Array[] = [];
  let at = s;
  while (at < e) {
    const next = Math.min(e, (Math.floor(at / page) + 1) * page);
    const r = mm.tryReadUser(at, next - at);
    if (!r.ok) break;
    chunks.push(r.bytes);
    at = next;
  }
  const out = new Uint8Array(at - s);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** The `stacktrace_setup` handler the syscall dispatcher calls, bound to a KernelSframe. */
export function stacktraceSetupHandler(ks: KernelSframe): (proc: Process, args: readonly bigint[]) => number {
  return (proc, a) =>
    ks.stacktraceSetup(proc.mm, Number(BigInt.asIntN(32, a[0] ?? 0n)), a[1] ?? 0n, a[2] ?? 0n, a[3] ?? 0n, a[4] ?? 0n);
}
