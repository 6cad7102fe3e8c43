/**
 * `_dl_higher_prime_number` (glibc elf/dl-misc.c): the size ld.so gives its hash tables when they
 * grow (the STB_GNU_UNIQUE table, a map's TLS descriptor table).
 */

/** Its table: primes slightly below powers of two. */
const PRIMES = [
  7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071, 262139, 524287, 1048573, 2097143,
  4194301, 8388593, 16777213, 33554393, 67108859, 134217689, 268435399, 536870909, 1073741789, 2147483647, 4294967291,
];

/** The smallest prime of the table that is ≥ n (the last one when n is larger). */
export function higherPrimeNumber(n: number): number {
  for (const p of PRIMES) if (p >= n) return p;
  return PRIMES[PRIMES.length - 1] as number;
}
