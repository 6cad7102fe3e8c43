/**
 * Seeded random sequences of memory syscalls for the differential test (mmdiff.c runs them on the
 * real kernel; replay.ts runs them on ldsim). Addresses are page offsets inside a private window,
 * plus a few deliberately bad calls (unaligned, zero length, overflowing, kernel range).
 */

export type Op =
  | {
      readonly op: "M";
      readonly addr: Addr;
      readonly len: bigint;
      readonly prot: number;
      readonly flags: number;
      readonly fd: 0 | 1 | 2;
      readonly off: bigint;
    }
  | { readonly op: "U"; readonly addr: Addr; readonly len: bigint }
  | { readonly op: "P"; readonly addr: Addr; readonly len: bigint; readonly prot: number }
  | { readonly op: "R"; readonly addr: Addr }
  | { readonly op: "W"; readonly addr: Addr; readonly val: number }
  | { readonly op: "B"; readonly off: bigint }
  | { readonly op: "F" };

/** Offset from the window base, or an absolute address (only ever in the kernel range). */
export type Addr = { readonly rel: bigint } | { readonly abs: bigint };

export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PAGE = 4096n;
const MAP_SHARED = 0x01;
const MAP_PRIVATE = 0x02;
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;
const MAP_GROWSDOWN = 0x100;
const MAP_DENYWRITE = 0x800;
const MAP_NORESERVE = 0x4000;
const MAP_POPULATE = 0x8000;
const MAP_STACK = 0x20000;
const MAP_FIXED_NOREPLACE = 0x100000;

export function generateOps(seed: number, count: number, windowPages: number): Op[] {
  const rnd = prng(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const chance = (p: number) => rnd() < p;
  // Addresses cluster in a small part of the window so operations overlap, split and merge.
  const hot = Math.min(windowPages - 32, 96);
  const page = (): bigint => BigInt(chance(0.9) ? int(hot) : int(windowPages - 16));
  const relAddr = (): Addr => ({ rel: page() * PAGE });
  const length = (): bigint => {
    const r = rnd();
    if (r < 0.03) return 0n;
    const pages = BigInt(1 + int(chance(0.8) ? 4 : 12));
    return chance(0.1) ? pages * PAGE - BigInt(1 + int(4095)) : pages * PAGE;
  };
  const prot = (): number => [0, 1, 1, 3, 3, 3, 5, 7, 2, 4][int(10)] as number;
  const kernelAddr = (): Addr => ({
    abs: [0x7ffffffff000n, 0x800000000000n, 0xffffffffff600000n, 0xfffffffffffff000n][int(4)] as bigint,
  });
  const ops: Op[] = [];
  let forked = false;
  for (let i = 0; i < count; i++) {
    const r = rnd();
    if (r < 0.42) {
      let flags: number;
      let fd: 0 | 1 | 2 = 0;
      let off = 0n;
      const kind = rnd();
      if (kind < 0.45) flags = MAP_PRIVATE | MAP_ANONYMOUS;
      else if (kind < 0.7) {
        flags = MAP_PRIVATE;
        fd = chance(0.85) ? 1 : 2;
      } else if (kind < 0.87) {
        flags = MAP_SHARED;
        fd = 1;
      } else if (kind < 0.93) {
        flags = MAP_SHARED;
        fd = 2;
      } else if (kind < 0.96) flags = MAP_SHARED | MAP_ANONYMOUS;
      // neither SHARED nor PRIVATE, anonymous MAP_SHARED_VALIDATE, or MAP_DROPPABLE
      else
        flags = [MAP_ANONYMOUS, 0, 0x03 | MAP_ANONYMOUS, 0x08 | MAP_ANONYMOUS, 0x08 | MAP_ANONYMOUS][int(5)] as number;
      if (fd !== 0 || flags === 0) off = BigInt(int(8)) * PAGE;
      if (chance(0.03)) off += BigInt(1 + int(4095)); // unaligned offset
      let addr: Addr = relAddr();
      const place = rnd();
      if (place < 0.55) flags |= MAP_FIXED;
      else if (place < 0.7) flags |= MAP_FIXED_NOREPLACE;
      else if (place < 0.85) {
        // a hint
      } else if (place < 0.94) addr = { abs: 0n };
      else if (place < 0.97) {
        flags |= MAP_FIXED;
        addr = { rel: page() * PAGE + BigInt(1 + int(4095)) };
      } else {
        flags |= MAP_FIXED;
        addr = kernelAddr();
      }
      if (chance(0.1)) flags |= MAP_NORESERVE;
      if (chance(0.1)) flags |= MAP_POPULATE;
      if (chance(0.03)) flags |= MAP_STACK;
      if (chance(0.03)) flags |= MAP_DENYWRITE;
      if (chance(0.015) && fd === 0) flags |= MAP_GROWSDOWN;
      let len = length();
      if (chance(0.02)) len = 0xfffffffffffff000n; // overflows PAGE_ALIGN or TASK_SIZE
      ops.push({ op: "M", addr, len, prot: prot(), flags, fd, off });
    } else if (r < 0.6) {
      let addr = relAddr();
      let len = length();
      const bad = rnd();
      if (bad < 0.04) addr = { rel: page() * PAGE + 0x800n };
      else if (bad < 0.07) addr = kernelAddr();
      else if (bad < 0.09) len = 0xffffffffffff0000n;
      ops.push({ op: "U", addr, len });
    } else if (r < 0.82) {
      let addr = relAddr();
      let len = length();
      let p = prot();
      const bad = rnd();
      if (bad < 0.04) addr = { rel: page() * PAGE + 0x10n };
      else if (bad < 0.07) addr = kernelAddr();
      else if (bad < 0.09) len = 0xffffffffffff0000n;
      else if (bad < 0.11) p |= 0x10; // unknown prot bit
      ops.push({ op: "P", addr, len, prot: p });
    } else if (r < 0.85) {
      // brk relative to the initial break: grow, shrink, unaligned, below start_brk, absurd.
      const b = rnd();
      const off =
        b < 0.1
          ? -BigInt(1 + int(8)) * PAGE
          : b < 0.15
            ? 0x7fff00000000n
            : BigInt(int(40)) * PAGE + (chance(0.3) ? BigInt(int(4096)) : 0n);
      ops.push({ op: "B", off: off & 0xffffffffffffffffn });
    } else if (r < 0.853) {
      // Rarely, once: continue in a fork child (its VMAs inherit anon_vmas: different merge rules).
      // Only one generation: anon_vma_clone's reuse of ancestors' anon_vmas is not modelled.
      if (!forked) ops.push({ op: "F" });
      forked = true;
    } else if (r < 0.92) {
      ops.push({ op: "R", addr: { rel: page() * PAGE + BigInt(int(4096)) } });
    } else {
      ops.push({ op: "W", addr: { rel: page() * PAGE + BigInt(int(4096)) }, val: 1 + int(255) });
    }
  }
  return ops;
}

const hx = (n: bigint | number) => n.toString(16);
const addrText = (a: Addr) => ("abs" in a ? `A:${hx(a.abs)}` : hx(a.rel));

/** The line format mmdiff.c reads. */
export function opText(o: Op): string {
  switch (o.op) {
    case "M":
      return `M ${addrText(o.addr)} ${hx(o.len)} ${hx(o.prot)} ${hx(o.flags)} ${o.fd} ${hx(o.off)}`;
    case "U":
      return `U ${addrText(o.addr)} ${hx(o.len)}`;
    case "P":
      return `P ${addrText(o.addr)} ${hx(o.len)} ${hx(o.prot)}`;
    case "R":
      return `R ${addrText(o.addr)}`;
    case "W":
      return `W ${addrText(o.addr)} ${hx(o.val)}`;
    case "B":
      return `B ${hx(o.off)}`;
    case "F":
      return "F";
  }
}
