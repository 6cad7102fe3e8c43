/**
 * The two ELF symbol hash functions (glibc sysdeps/generic/dl-hash.h and dl-new-hash.h). Names are
 * hashed as bytes; versioned definitions hash the unversioned name.
 */

/** SysV `DT_HASH` hash (elf_hash). */
export function sysvHash(name: Uint8Array | string): number {
  const bytes = typeof name === "string" ? latin1Bytes(name) : name;
  let h = 0;
  for (const c of bytes) {
    h = ((h << 4) + c) >>> 0;
    const g = h & 0xf0000000;
    if (g !== 0) h ^= g >>> 24;
    h &= ~g;
  }
  return h >>> 0;
}

/** GNU `DT_GNU_HASH` hash (dl_new_hash): h = h*33 + c, from 5381, modulo 2^32. */
export function gnuHash(name: Uint8Array | string): number {
  const bytes = typeof name === "string" ? latin1Bytes(name) : name;
  let h = 5381;
  for (const c of bytes) h = (Math.imul(h, 33) + c) >>> 0;
  return h;
}

function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}
