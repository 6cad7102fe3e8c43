/**
 * The few printf conversions readelf's output is built from, for bigint and number alike. Names
 * follow binutils readelf.c `print_vma` modes.
 */

const MASK64 = (1n << 64n) - 1n;

/** `%x` zero-padded to `width` digits (`%6.6lx`). Negative values print as their 64-bit pattern. */
export function hexPad(value: bigint | number, width: number): string {
  const v = typeof value === "bigint" ? value & MASK64 : value >>> 0 === value ? value : Number(value);
  return v.toString(16).padStart(width, "0");
}

/** print_vma LONG_HEX: 8 digits for ELF32, 16 for ELF64, no prefix. */
export function longHex(value: bigint, is64: boolean): string {
  return hexPad(value, is64 ? 16 : 8);
}

/** print_vma FULL_HEX: `0x` and LONG_HEX. */
export function fullHex(value: bigint, is64: boolean): string {
  return `0x${longHex(value, is64)}`;
}

/** print_vma PREFIX_HEX: `0x` and minimal digits. */
export function prefixHex(value: bigint | number): string {
  return `0x${value.toString(16)}`;
}

/** C `%#lx`: like PREFIX_HEX, except that zero prints as `0`. */
export function altHex(value: bigint | number): string {
  return value === 0 || value === 0n ? "0" : `0x${value.toString(16)}`;
}

/** `%-Ns`: left-justified, never truncated. */
export function padRight(s: string, width: number): string {
  return s.length >= width ? s : s + " ".repeat(width - s.length);
}

/** `%Ns`: right-justified, never truncated. */
export function padLeft(s: string, width: number): string {
  return s.length >= width ? s : " ".repeat(width - s.length) + s;
}
