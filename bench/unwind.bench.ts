/**
 * Unwinder throughput: frames per second unwinding 32-frame stacks in a process with 1,000 registered
 * SFrame sections, and the memory a registered section costs (the kernel's estimate and this model's
 * JS heap). No native peer exists for the kernel's unwinder; the figures stand on their own.
 */
import { encodeSframe } from "../formats/sframe/encode.ts";
import { AddressSpace } from "../kernel-shim/mm/address-space.ts";
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE } from "../kernel-shim/mm/prot-flags.ts";
import { KernelSframe } from "../kernel-shim/sframe/kernel-sframe.ts";
import { KERNEL_BYTES_PER_SECTION } from "../kernel-shim/sframe/registry.ts";
import { unwindUser } from "../kernel-shim/unwind/unwind-user.ts";

const SECTIONS = 1000;
const DEPTH = 32;
const PAGE = 4096;

export async function run(): Promise<void> {
  const mm = AddressSpace.forArch("x86_64");
  const ks = new KernelSframe();
  const text = mm.mmap(0, SECTIONS * PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, undefined, 0);
  const sfArea = mm.mmap(0, SECTIONS * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, undefined, 0);
  // Each text page: 16 functions of 256 bytes; CFA = SP + 16 after a 2-byte prologue, RA at CFA - 8.
  const heap0 = process.memoryUsage().heapUsed;
  for (let i = 0; i < SECTIONS; i++) {
    const at = sfArea + i * PAGE;
    const fnBase = text + i * PAGE;
    const bytes = encodeSframe({
      version: 3,
      littleEndian: true,
      flags: 0x5,
      abiArch: 3,
      cfaFixedFpOffset: 0,
      cfaFixedRaOffset: -8,
      functions: Array.from({ length: 16 }, (_, f) => ({
        start: fnBase + f * 256 - at,
        size: 256,
        fres: [
          { startOffset: 0, dataWords: [8], cfaBaseReg: 1 as const },
          { startOffset: 2, dataWords: [16], cfaBaseReg: 1 as const },
        ],
      })),
    });
    mm.writeUser(at, bytes);
    const r = ks.stacktraceSetup(mm, 1, BigInt(at), BigInt(bytes.length), BigInt(fnBase), BigInt(PAGE - 1));
    if (r !== 0) throw new Error(`registration ${i} failed: ${r}`);
  }
  const heapPerSection = (process.memoryUsage().heapUsed - heap0) / SECTIONS;
  // A 32-frame stack: frame k is in section (k * 37) % 1000, 16 bytes each, RA at SP + 8.
  const stack = mm.mmap(0, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, undefined, 0);
  const sp0 = BigInt(stack + 8 * PAGE);
  const pcOf = (k: number) => BigInt(text + ((k * 37) % SECTIONS) * PAGE + (k % 16) * 256 + 0x40);
  const buf = new Uint8Array(8);
  for (let k = 0; k < DEPTH; k++) {
    new DataView(buf.buffer).setBigUint64(0, k + 1 < DEPTH ? pcOf(k + 1) : 0n, true);
    mm.writeUser(Number(sp0 + BigInt(k * 16 + 8)), buf);
  }
  const memory = { readWord: (a: bigint) => mm.readU64(Number(a)) };
  const regs = { pc: pcOf(0), sp: sp0, fp: 0n };
  const once = () => unwindUser("x86_64", regs, memory, ks.finder(mm), { fpFallback: false });
  const check = once();
  if (check.frames.length < DEPTH) throw new Error(`unwound only ${check.frames.length} frames: ${check.stop.detail}`);
  for (let i = 0; i < 200; i++) once();
  const iterations = 3000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) once();
  const ns = Number(process.hrtime.bigint() - t0);
  const frames = iterations * check.frames.length;
  console.log("| measure | value |");
  console.log("| --- | --- |");
  console.log(`| registered sections | ${ks.registryOf(mm).size} |`);
  console.log(`| frames per stack | ${check.frames.length} (stop: ${check.stop.kind}) |`);
  console.log(`| frames per second | ${Math.round(frames / (ns / 1e9)).toLocaleString("en-US")} |`);
  console.log(`| µs per 32-frame stack | ${(ns / iterations / 1000).toFixed(1)} |`);
  console.log(
    `| kernel memory per section (struct sframe_section + maple slot, modelled) | ${KERNEL_BYTES_PER_SECTION} B |`,
  );
  console.log(`| model JS heap per registered section (incl. its event record) | ${Math.round(heapPerSection)} B |`);
}
