import { MAP_ANONYMOUS } from "../mm/prot-flags.ts";
import type { OpenFile } from "../mm/vma.ts";
import { errno, type SyscallContext } from "./context.ts";

/**
 * The memory calls delegate to the address space (kernel-shim/mm); this layer only turns the fd into
 * the open file (ksys_mmap_pgoff: EBADF when the fd is not open or is O_PATH, ENODEV when the file
 * has no mmap operation, as a /proc seq_file or a terminal).
 */
export function sysMmap(ctx: SyscallContext, args: readonly bigint[]): bigint {
  const [addr = 0n, len = 0n, prot = 0n, flags = 0n, fdArg = 0n, off = 0n] = args;
  const mm = ctx.proc.mm;
  let file: OpenFile | undefined;
  if ((Number(flags & 0xffffffffn) & MAP_ANONYMOUS) === 0) {
    const d = ctx.proc.fds.get(Number(BigInt.asIntN(32, fdArg)));
    if (!d || (d.flags & 0o10000000) !== 0) return errno("EBADF");
    if (d.kind !== "file" || !d.mmFile) return errno("ENODEV");
    file = d.mmFile;
  }
  const ret = mm.mmap(addr, len, Number(prot & 0xffffffffn), Number(flags & 0xffffffffn), file, off);
  // A registration design's post-mmap hook (proposal lab), only once the range is in place.
  const hooks = ctx.proc.kernel.sframeMmHooks;
  if (hooks?.afterMmap && ret >= 0) {
    hooks.afterMmap(ctx.proc, BigInt(ret), len, Number(prot & 0xffffffffn), Number(flags & 0xffffffffn), file, off);
  }
  return BigInt(ret);
}

export function sysMunmap(ctx: SyscallContext): bigint {
  // A registration design's pre-munmap hook (proposal lab): the old range is still mapped.
  ctx.proc.kernel.sframeMmHooks?.beforeMunmap?.(ctx.proc, ctx.u64(0), ctx.u64(1));
  return BigInt(ctx.proc.mm.munmap(ctx.u64(0), ctx.u64(1)));
}

export function sysMprotect(ctx: SyscallContext): bigint {
  return BigInt(ctx.proc.mm.mprotect(ctx.u64(0), ctx.u64(1), ctx.uint(2)));
}

export function sysBrk(ctx: SyscallContext): bigint {
  return BigInt(ctx.proc.mm.brk(ctx.u64(0)));
}

void errno;
