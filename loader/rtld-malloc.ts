import type { Process } from "../kernel-shim/process/process.ts";
import { LoaderError } from "./map-object.ts";
import { userMmap } from "./user-mmap.ts";

const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_PRIVATE = 0x02;
const MAP_ANONYMOUS = 0x20;

/**
 * ld.so's minimal malloc (glibc 2.36 elf/dl-minimal-malloc.c), used until libc's malloc takes over
 * after relocation: a bump allocator that starts in the unused tail of ld.so's last data page and
 * otherwise `mmap`s `ALIGN_UP(n, page) + page` anonymous bytes. Only the last block can be freed or
 * grown. Its mmaps are part of the startup sequence strace shows, and they move every library mapped
 * after them, so the loader calls it with the sizes ld.so really requests. Memory contents are not
 * modelled (the link map lives in TypeScript objects); only addresses and the syscalls.
 */
export class MinimalMalloc {
  private ptr = 0n;
  private end = 0n;
  private last = 0n;
  /** Every block handed out: [address, size] (for tests and LD_DEBUG-style reports). */
  readonly blocks: [bigint, number][] = [];

  constructor(
    private readonly proc: Process,
    /** `&_end` of ld.so at run time: l_addr + the end of its last PT_LOAD's p_memsz. */
    private readonly rtldEnd: bigint,
    private readonly alignment = 16,
  ) {}

  malloc(n: number): bigint {
    const page = BigInt(this.proc.mm.pageSize);
    if (this.end === 0n) {
      this.ptr = this.rtldEnd;
      this.end = (this.rtldEnd + page - 1n) & ~(page - 1n);
    }
    const a = BigInt(this.alignment);
    this.ptr = (this.ptr + a - 1n) & ~(a - 1n);
    const size = BigInt(n);
    if (this.ptr + size >= this.end) {
      const nup = ((size + page - 1n) & ~(page - 1n)) + page;
      const got = userMmap(this.proc, 0, nup, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
      if (got < 0n && got > -4096n) throw new LoaderError("ld.so", "out of memory");
      if (got !== this.end) this.ptr = got;
      this.end = got + nup;
    }
    this.last = this.ptr;
    this.ptr += size;
    this.blocks.push([this.last, n]);
    return this.last;
  }

  calloc(n: number): bigint {
    return this.malloc(n);
  }

  /** Only the most recent block is really released (`__minimal_free`). */
  free(p: bigint | undefined): void {
    if (p !== undefined && p === this.last) this.ptr = this.last;
  }

  /** `__minimal_realloc`: the last block grows in place (or moves, if it no longer fits). */
  realloc(p: bigint | undefined, n: number): bigint {
    if (p === undefined) return this.malloc(n);
    this.ptr = this.last;
    return this.malloc(n);
  }
}
