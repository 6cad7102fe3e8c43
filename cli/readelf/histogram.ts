import { readelfOffsetFromVma } from "../../formats/elf/address.ts";
import { DT_GNU_HASH, DT_HASH } from "../../formats/elf/dynamic-tags.ts";
import type { ElfFile } from "../../formats/elf/file.ts";
import { readelfDynamic } from "./dynamic.ts";

/**
 * `readelf -I`: bucket list length histograms of DT_HASH and DT_GNU_HASH, as binutils readelf.c
 * `process_symbol_table` prints them, with the tables found the way `get_num_dynamic_syms` finds
 * them (through the dynamic section and `offset_from_vma`).
 */

const EM_S390 = 22;
const EM_ALPHA = 0x9026;

/** C `%5.1f` of a double, rounding ties to even on its exact binary value (glibc printf). */
export function fixed1(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const neg = x < 0;
  const abs = Math.abs(x);
  const buf = new DataView(new ArrayBuffer(8));
  buf.setFloat64(0, abs);
  const bits = buf.getBigUint64(0);
  const expBits = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  let e: number;
  if (expBits === 0) e = -1074;
  else {
    mant |= 1n << 52n;
    e = expBits - 1075;
  }
  let q: bigint;
  if (e >= 0) q = mant * 10n * (1n << BigInt(e));
  else {
    const num = mant * 10n;
    const den = 1n << BigInt(-e);
    q = num / den;
    const r2 = (num % den) * 2n;
    if (r2 > den || (r2 === den && q % 2n === 1n)) q += 1n;
  }
  const s = `${q / 10n}.${q % 10n}`;
  return neg && q !== 0n ? `-${s}` : s;
}

function rows(lengths: readonly number[], nbuckets: number, nsyms: number): string {
  let maxlength = 0;
  for (const l of lengths) if (l > maxlength) maxlength = l;
  const counts = new Array<number>(maxlength + 1).fill(0);
  for (const l of lengths) counts[l] = (counts[l] ?? 0) + 1;
  let out = " Length  Number     % of total  Coverage\n";
  if (nbuckets === 0) return out;
  const c0 = counts[0] ?? 0;
  out += `      0  ${String(c0).padEnd(10)} (${fixed1((c0 * 100) / nbuckets).padStart(5)}%)\n`;
  let nzero = 0;
  for (let i = 1; i <= maxlength; i++) {
    const c = counts[i] ?? 0;
    nzero += c * i;
    out += `${String(i).padStart(7)}  ${String(c).padEnd(10)} (${fixed1((c * 100) / nbuckets).padStart(5)}%)    ${fixed1((nzero * 100) / nsyms).padStart(5)}%\n`;
  }
  return out;
}

function words(elf: ElfFile, offset: bigint, count: number, size: 4 | 8): number[] | undefined {
  const len = count * size;
  if (offset < 0n || offset + BigInt(len) > BigInt(elf.source.size)) return undefined;
  const r = elf.reader(Number(offset), len, "hash table");
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(size === 4 ? r.u32(i * 4) : Number(r.u64(i * 8)));
  return out;
}

function sysvHistogram(elf: ElfFile, addr: bigint): string {
  const entSize: 4 | 8 = (elf.header.machine === EM_S390 || elf.header.machine === EM_ALPHA) && elf.is64 ? 8 : 4;
  const phdrs = elf.programHeaders;
  const head = words(elf, readelfOffsetFromVma(phdrs, addr, BigInt(2 * entSize)), 2, entSize);
  if (!head) return "";
  const [nbuckets = 0, nchains = 0] = head;
  const start = readelfOffsetFromVma(phdrs, addr, BigInt(2 * entSize)) + BigInt(2 * entSize);
  const buckets = words(elf, start, nbuckets, entSize);
  const chains = words(elf, start + BigInt(nbuckets * entSize), nchains, entSize);
  if (!buckets || !chains) return "";
  const lengths = new Array<number>(nbuckets).fill(0);
  const visited = new Uint8Array(nchains);
  let nsyms = 0;
  for (let hn = 0; hn < nbuckets; hn++) {
    for (let si = buckets[hn] ?? 0; si > 0; si = chains[si] ?? 0) {
      nsyms++;
      lengths[hn] = (lengths[hn] ?? 0) + 1;
      if (si >= nchains || visited[si]) break;
      visited[si] = 1;
    }
  }
  const plural = nbuckets === 1 ? "bucket" : "buckets";
  return `\nHistogram for bucket list length (total of ${nbuckets} ${plural}):\n${rows(lengths, nbuckets, nsyms)}`;
}

function gnuHistogram(elf: ElfFile, addr: bigint): string {
  const phdrs = elf.programHeaders;
  const head = words(elf, readelfOffsetFromVma(phdrs, addr, 4n), 4, 4);
  if (!head) return "";
  const [nbuckets = 0, symidx = 0, bitmaskWords = 0] = head;
  const bucketsVma = addr + 16n + BigInt(bitmaskWords) * (elf.is64 ? 8n : 4n);
  const buckets = words(elf, readelfOffsetFromVma(phdrs, bucketsVma, 4n), nbuckets, 4);
  if (!buckets) return "";
  let maxchain = 0xffffffff;
  for (const b of buckets) {
    if (b === 0) continue;
    if (b < symidx) return "";
    if (maxchain === 0xffffffff || b > maxchain) maxchain = b;
  }
  // No symbol in any bucket: readelf drops the table and prints no histogram for it.
  if (maxchain === 0xffffffff) return "";
  maxchain -= symidx;
  // Walk to the end of the last chain to learn how many chain words there are.
  let off = readelfOffsetFromVma(phdrs, bucketsVma + 4n * BigInt(nbuckets + maxchain), 4n);
  for (;;) {
    const w = words(elf, off, 1, 4);
    if (!w) return "";
    maxchain++;
    off += 4n;
    if (((w[0] ?? 0) & 1) !== 0) break;
  }
  const chains = words(elf, readelfOffsetFromVma(phdrs, bucketsVma + 4n * BigInt(nbuckets), 4n), maxchain, 4);
  if (!chains) return "";
  const lengths = new Array<number>(nbuckets).fill(0);
  let nsyms = 0;
  buckets.forEach((b, hn) => {
    if (b === 0) return;
    let length = 1;
    for (let o = b - symidx; o < chains.length && ((chains[o] ?? 1) & 1) === 0; o++) length++;
    lengths[hn] = length;
    nsyms += length;
  });
  const plural = nbuckets === 1 ? "bucket" : "buckets";
  return `\nHistogram for \`.gnu.hash' bucket list length (total of ${nbuckets} ${plural}):\n${rows(lengths, nbuckets, nsyms)}`;
}

export function formatHistogram(elf: ElfFile): string {
  const dyn = readelfDynamic(elf);
  if (!dyn) return "";
  let hash: bigint | undefined;
  let gnu: bigint | undefined;
  for (const e of dyn.entries) {
    if (e.tag === DT_HASH) hash = e.value;
    if (e.tag === DT_GNU_HASH) gnu = e.value;
  }
  let out = "";
  if (hash) out += sysvHistogram(elf, hash);
  if (gnu) out += gnuHistogram(elf, gnu);
  return out;
}
