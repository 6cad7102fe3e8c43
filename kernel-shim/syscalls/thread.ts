import { errno, type SyscallContext } from "./context.ts";

export const ARCH_SET_GS = 0x1001;
export const ARCH_SET_FS = 0x1002;
export const ARCH_GET_FS = 0x1003;
export const ARCH_GET_GS = 0x1004;

/**
 * arch_prctl(code, addr) — x86_64 do_arch_prctl_64: SET_FS/SET_GS take an address below
 * TASK_SIZE_MAX (EPERM otherwise); GET_FS/GET_GS store the base at addr (EFAULT when it cannot);
 * other codes are EINVAL.
 */
export function sysArchPrctl(ctx: SyscallContext): bigint {
  const code = ctx.int(0);
  const addr = ctx.u64(1);
  const proc = ctx.proc;
  switch (code) {
    case ARCH_SET_FS:
    case ARCH_SET_GS:
      if (addr >= BigInt(proc.mm.layout.taskSize)) return errno("EPERM");
      if (code === ARCH_SET_FS) proc.fsBase = addr;
      else proc.gsBase = addr;
      return 0n;
    case ARCH_GET_FS:
    case ARCH_GET_GS: {
      const v = code === ARCH_GET_FS ? proc.fsBase : proc.gsBase;
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, v, true);
      const w = ctx.writeBuffer(1, b);
      if (w !== true) return errno(w);
      ctx.peek(1, { kind: "u64", value: v });
      return 0n;
    }
    default:
      return errno("EINVAL");
  }
}

/** set_tid_address(tidptr): remembers clear_child_tid, returns the caller's tid. */
export function sysSetTidAddress(ctx: SyscallContext): bigint {
  ctx.proc.tidAddress = ctx.u64(0);
  return BigInt(ctx.proc.pid);
}

/** exit_group(status) / exit(status) for a single-threaded process: the process ends; nothing returns. */
export function sysExitGroup(ctx: SyscallContext): bigint {
  ctx.proc.exit(ctx.int(0));
  return 0n;
}

export function sysGetpid(ctx: SyscallContext): bigint {
  return BigInt(ctx.proc.pid);
}
