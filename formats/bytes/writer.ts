/** A growable endian-aware byte buffer for encoders (ELF writer, SFrame encoder). Deterministic. */
export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private len = 0;
  constructor(
    readonly littleEndian: boolean,
    capacity = 256,
  ) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
  }
  get length(): number {
    return this.len;
  }
  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + extra) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): this {
    this.ensure(1);
    this.view.setUint8(this.len, v);
    this.len += 1;
    return this;
  }
  i8(v: number): this {
    this.ensure(1);
    this.view.setInt8(this.len, v);
    this.len += 1;
    return this;
  }
  u16(v: number): this {
    this.ensure(2);
    this.view.setUint16(this.len, v, this.littleEndian);
    this.len += 2;
    return this;
  }
  i16(v: number): this {
    this.ensure(2);
    this.view.setInt16(this.len, v, this.littleEndian);
    this.len += 2;
    return this;
  }
  u32(v: number): this {
    this.ensure(4);
    this.view.setUint32(this.len, v, this.littleEndian);
    this.len += 4;
    return this;
  }
  i32(v: number): this {
    this.ensure(4);
    this.view.setInt32(this.len, v, this.littleEndian);
    this.len += 4;
    return this;
  }
  u64(v: bigint): this {
    this.ensure(8);
    this.view.setBigUint64(this.len, BigInt.asUintN(64, v), this.littleEndian);
    this.len += 8;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
    return this;
  }
  /** Pad with zeros up to a multiple of `align` (a power of two or any positive integer). */
  align(align: number): this {
    while (align > 1 && this.len % align !== 0) this.u8(0);
    return this;
  }
  /** Overwrite a u32 at an earlier position (for back-patched offsets). */
  patchU32(at: number, v: number): void {
    this.view.setUint32(at, v, this.littleEndian);
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
