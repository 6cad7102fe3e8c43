import type { Process } from "../kernel-shim/process/process.ts";
import { syscall } from "../kernel-shim/syscalls/dispatch.ts";

/**
 * `mmap` as glibc's `__mmap` issues it: six register arguments, except on s390x, whose `mmap` system
 * call is the old one-argument form — glibc's `sysdeps/unix/sysv/linux/s390/mmap_internal.h` stores the
 * six values in `long int __args[6]` (big-endian) on the caller's stack and passes its address. The
 * block is a host buffer here (ld.so's stack frame has no model address; the kernel shim reads a host
 * buffer as it reads user memory, faulting when it is short).
 */
export function userMmap(
  proc: Process,
  addr: bigint | number,
  len: bigint | number,
  prot: number,
  flags: number,
  fd: bigint | number,
  off: bigint | number,
): bigint {
  if (proc.kernel.arch !== "s390x") return syscall(proc, "mmap", addr, len, prot, flags, fd, off);
  const block = new Uint8Array(48);
  const dv = new DataView(block.buffer);
  const values = [addr, len, prot, flags, fd, off].map((v) => BigInt.asUintN(64, BigInt(v)));
  values.forEach((v, i) => {
    dv.setBigUint64(i * 8, v, false);
  });
  return syscall(proc, "mmap", block);
}
