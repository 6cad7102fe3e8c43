import { createHash } from "node:crypto";

/**
 * Deterministic stand-ins for the kernel's get_random_* at exec: a seed gives the same layout and
 * AT_RANDOM bytes every run. Ranges are the kernel's (x86_64): arch_mmap_rnd 28 bits of pages,
 * arch_align_stack below 8192, arch_randomize_brk within 32 MiB.
 */
export class ExecRandom {
  private counter = 0;
  constructor(readonly seed: number) {}

  /** 16 bytes for AT_RANDOM. */
  bytes16(): Uint8Array {
    return this.block("at_random").subarray(0, 16);
  }

  /** A uniformly distributed integer in [0, 2^bits) (bits ≤ 48). */
  bits(bits: number): number {
    const b = this.block(`bits:${this.counter++}`);
    const v = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
    return Number(v & ((1n << BigInt(bits)) - 1n));
  }

  /** An integer in [0, n). */
  below(n: number): number {
    return n <= 1 ? 0 : this.bits(48) % n;
  }

  private block(label: string): Uint8Array {
    const key = `ldsim-exec:${this.seed}:${label}`;
    let b = blocks.get(key);
    if (!b) {
      b = new Uint8Array(createHash("sha256").update(key).digest());
      // A pure function of the key: kept (bounded) so a sweep of execs hashes each label once.
      if (blocks.size >= 4096) blocks.clear();
      blocks.set(key, b);
    }
    // A copy: callers may keep or change the bytes.
    return b.slice();
  }
}

const blocks = new Map<string, Uint8Array>();
