/**
 * Runs an op list (ops.ts) on an ldsim AddressSpace that starts as a copy of the real process's
 * initial /proc/self/maps, printing in mmdiff.c's output format so the two can be compared line by line.
 */
import { AddressSpace } from "../../../kernel-shim/mm/address-space.ts";
import {
  MAP_ANONYMOUS,
  MAP_NORESERVE,
  MAP_PRIVATE,
  PROT_NONE,
  VM_ACCOUNT,
  VM_EXEC,
  VM_GROWSDOWN,
  VM_MAYBITS,
  VM_MAYSHARE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
} from "../../../kernel-shim/mm/prot-flags.ts";
import type { MappedInode, OpenFile } from "../../../kernel-shim/mm/vma.ts";
import type { Addr, Op } from "./ops.ts";

/** An in-memory copy of the test file, with the real file's identity. */
export class TestInode implements MappedInode {
  readonly size: number;
  constructor(
    readonly devMajor: number,
    readonly devMinor: number,
    readonly ino: number,
    readonly path: string,
    readonly bytes: Uint8Array,
  ) {
    this.size = bytes.length;
  }
  read(offset: number, length: number): Uint8Array {
    return this.bytes.slice(offset, offset + length);
  }
  write(offset: number, data: Uint8Array): void {
    this.bytes.set(data, offset);
  }
}

const MAPS_RE = /^([0-9a-f]+)-([0-9a-f]+) ([r-])([w-])([x-])([sp]) ([0-9a-f]+) ([0-9a-f]+):([0-9a-f]+) (\d+) *(.*)$/;

/** Install the VMAs of a real maps listing (libc, ld.so, the stack, …) so placement sees the same holes. */
export function installRealMaps(as: AddressSpace, lines: readonly string[]): void {
  const inodes = new Map<string, OpenFile>();
  for (const line of lines) {
    const m = MAPS_RE.exec(line);
    if (!m) throw new Error(`bad maps line: ${line}`);
    const start = Number.parseInt(m[1] as string, 16);
    const end = Number.parseInt(m[2] as string, 16);
    const name = m[11] as string;
    let flags = VM_MAYBITS;
    if (m[3] === "r") flags |= VM_READ;
    if (m[4] === "w") flags |= VM_WRITE | (m[6] === "p" ? VM_ACCOUNT : 0);
    if (m[5] === "x") flags |= VM_EXEC;
    if (m[6] === "s") flags |= VM_SHARED | VM_MAYSHARE;
    const ino = Number(m[10]);
    let file: OpenFile | undefined;
    let special: string | undefined;
    if (ino !== 0) {
      const key = `${m[8]}:${m[9]}:${ino}`;
      file = inodes.get(key);
      if (!file) {
        const inode = new TestInode(
          Number.parseInt(m[8] as string, 16),
          Number.parseInt(m[9] as string, 16),
          ino,
          name,
          new Uint8Array(0),
        );
        file = { inode, readable: true, writable: false };
        inodes.set(key, file);
      }
    } else if (name === "[stack]") {
      flags |= VM_GROWSDOWN | VM_ACCOUNT;
      as.startStack = end - 0x1000;
    } else if (name === "[heap]") {
      as.startBrk = start;
      as.brkValue = end;
    } else if (name.startsWith("[")) {
      special = name;
    }
    // Anonymous private VMAs have pgoff = start >> PAGE_SHIFT (maps prints 0 for them).
    const pgoff = file ? Number.parseInt(m[7] as string, 16) / 4096 : start / 4096;
    const rc = as.installVma({ start, end, flags, file, pgoff, special });
    if (rc !== 0) throw new Error(`installVma failed (${rc}) for ${line}`);
    // Writable private memory of a running process has been written: it has an anon_vma.
    const v = as.tree.containing(start);
    if (v && m[4] === "w" && m[6] === "p") v.anonVma = as.nextAnonVma++;
  }
}

function addrOf(a: Addr, base: bigint): bigint {
  return "abs" in a ? a.abs : base + a.rel;
}

function ret(r: number): string {
  return r < 0 ? `-${(-r).toString(16)}` : r.toString(16);
}

/** Run the ops as mmdiff.c does; returns its output lines. */
export function replay(opts: {
  readonly initialMaps: readonly string[];
  /** The real process's initial break (mm->start_brk = mm->brk). */
  readonly brk: number;
  readonly windowPages: number;
  readonly rw: OpenFile;
  readonly ro: OpenFile;
  readonly ops: readonly Op[];
}): string[] {
  let as = AddressSpace.forArch("x86_64");
  installRealMaps(as, opts.initialMaps);
  as.initBrk(opts.brk);
  const out: string[] = [];
  const wlen = opts.windowPages * 4096;
  const base = as.mmap(0, wlen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, undefined, 0);
  as.munmap(base, wlen);
  out.push(`BASE ${base.toString(16)}`, `BRK ${opts.brk.toString(16)}`, "MAPS", ...mapsLines(as), "END");
  const b = BigInt(base);
  for (const o of opts.ops) {
    switch (o.op) {
      case "M": {
        const file = o.fd === 1 ? opts.rw : o.fd === 2 ? opts.ro : undefined;
        out.push(`= ${ret(as.mmap(addrOf(o.addr, b), o.len, o.prot, o.flags, file, o.off))}`);
        break;
      }
      case "F":
        as = as.fork();
        out.push("= 0");
        break;
      case "B":
        out.push(`= ${ret(as.brk((BigInt(opts.brk) + o.off) & 0xffffffffffffffffn))}`);
        break;
      case "U":
        out.push(`= ${ret(as.munmap(addrOf(o.addr, b), o.len))}`);
        break;
      case "P":
        out.push(`= ${ret(as.mprotect(addrOf(o.addr, b), o.len, o.prot))}`);
        break;
      case "R": {
        const r = as.tryReadUser(Number(addrOf(o.addr, b)), 1);
        out.push(r.ok ? `r ${(r.bytes[0] as number).toString(16)}` : r.fault.signal === "SIGBUS" ? "BUS" : "SEGV");
        continue;
      }
      case "W": {
        const r = as.tryWriteUser(Number(addrOf(o.addr, b)), Uint8Array.of(o.val));
        out.push(r.ok ? "w ok" : r.fault.signal === "SIGBUS" ? "BUS" : "SEGV");
        break;
      }
    }
    out.push(...mapsLines(as), "--");
  }
  out.push("MAPS", ...mapsLines(as), "END");
  return out;
}

function mapsLines(as: AddressSpace): string[] {
  return as.renderMaps().split("\n").slice(0, -1);
}
