/**
 * Syscall arguments arrive as 64-bit register values. The shim reduces whatever it is given
 * (number, bigint, negative) modulo 2^64 as the register would hold it, checks in bigint, and only
 * converts to a JS number once the value is known to be a user address below TASK_SIZE (< 2^53).
 */
export const U64_MASK = (1n << 64n) - 1n;

export function toU64(x: number | bigint): bigint {
  if (typeof x === "bigint") return x & U64_MASK;
  if (!Number.isFinite(x)) return 0n;
  return BigInt(Math.trunc(x)) & U64_MASK;
}

/** PAGE_ALIGN on an unsigned long: wraps to 0 past the top, as the kernel's does. */
export function pageAlignU64(x: bigint, pageSize: number): bigint {
  const ps = BigInt(pageSize);
  return (x + ps - 1n) & ~(ps - 1n) & U64_MASK;
}

/** The low 32 bits of an `int`/`unsigned long` flags argument, as a non-negative number. */
export function flagsArg(x: number | bigint): number {
  return Number(toU64(x) & 0xffffffffn);
}
