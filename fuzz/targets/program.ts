/**
 * A byte string read as a sequence of choices: the syscalls and unwind targets decode their inputs
 * through this, so random bytes, mutated bytes and truncated bytes all mean *something* (reads past
 * the end are 0), and the byte-level minimizer can shrink a failing scenario like any file.
 */
export class ChoiceReader {
  private at = 0;
  constructor(private readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.at >= this.bytes.length;
  }
  u8(): number {
    return this.bytes[this.at++] ?? 0;
  }
  u16(): number {
    return this.u8() | (this.u8() << 8);
  }
  u32(): number {
    return (this.u16() | (this.u16() << 16)) >>> 0;
  }
  u64(): bigint {
    const lo = BigInt(this.u32());
    return lo | (BigInt(this.u32()) << 32n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.u8() % xs.length] as T;
  }
  /** `n` raw bytes (zero-padded past the end). */
  take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    out.set(this.bytes.subarray(this.at, this.at + n));
    this.at += n;
    return out;
  }
  rest(): Uint8Array {
    const out = this.bytes.slice(this.at);
    this.at = this.bytes.length;
    return out;
  }
}

/** Builds the byte string a ChoiceReader will read back: the generator side. */
export class ChoiceWriter {
  private readonly out: number[] = [];
  u8(v: number): this {
    this.out.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.u8(v).u8(v >>> 8);
  }
  u32(v: number): this {
    return this.u16(v & 0xffff).u16(v >>> 16);
  }
  u64(v: bigint): this {
    const x = BigInt.asUintN(64, v);
    return this.u32(Number(x & 0xffffffffn)).u32(Number(x >> 32n));
  }
  bytes(b: Uint8Array): this {
    for (const x of b) this.out.push(x);
    return this;
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

/** 64-bit values where argument checks go wrong: zero, page edges, TASK_SIZE, the sign bit, 2^53, all ones. */
export const INTERESTING_U64: readonly bigint[] = [
  0n,
  1n,
  0xfffn,
  0x1000n,
  0x1001n,
  0x7fffffffn,
  0x80000000n,
  0xffffffffn,
  0x100000000n,
  0x7ffffffff000n,
  0x7ffffffff000n - 0x1000n,
  0x7fffffffffffn,
  0x800000000000n,
  0xfffffffffffffn,
  1n << 53n,
  (1n << 53n) + 1n,
  0x7fffffffffffffffn,
  1n << 63n,
  (1n << 64n) - 0x1000n,
  (1n << 64n) - 4095n,
  (1n << 64n) - 1n,
  0xffff800000000000n,
];
