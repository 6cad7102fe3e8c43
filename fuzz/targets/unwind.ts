import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PF_W, PF_X, PT_GNU_SFRAME, PT_LOAD } from "../../formats/elf/constants.ts";
import { ElfFile } from "../../formats/elf/file.ts";
import type { ProgramHeader } from "../../formats/elf/types.ts";
import { AddressSpace } from "../../kernel-shim/mm/address-space.ts";
import type { MmArch } from "../../kernel-shim/mm/layout-constants.ts";
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_EXEC, PROT_READ, PROT_WRITE } from "../../kernel-shim/mm/prot-flags.ts";
import { KernelSframe } from "../../kernel-shim/sframe/kernel-sframe.ts";
import type { UnwindMemory } from "../../kernel-shim/unwind/types.ts";
import { UNWIND_MAX_ENTRIES, unwindUser } from "../../kernel-shim/unwind/unwind-user.ts";
import { ROOT } from "../engine/corpus.ts";
import { mutateBytes } from "../engine/mutate-bytes.ts";
import { mutateSframe } from "../engine/mutate-sframe.ts";
import type { Rng } from "../engine/rng.ts";
import { type FuzzSeed, type FuzzTarget, Steps } from "../engine/target.ts";
import { ChoiceReader, ChoiceWriter, INTERESTING_U64 } from "./program.ts";

/** A fixture library and where its pieces are (link-time addresses). */
interface Lib {
  readonly name: string;
  readonly arch: MmArch;
  readonly bytes: Uint8Array;
  readonly loads: readonly ProgramHeader[];
  readonly sframe: ProgramHeader;
  readonly text: ProgramHeader;
  readonly span: bigint;
}

const ARCHES: readonly MmArch[] = ["x86_64", "aarch64", "s390x"];
const LIBS: readonly Lib[] = ARCHES.flatMap((arch) =>
  ["v3", "v1"].flatMap((v) =>
    ["liba.so", "libb.so"]
      .map((f) => `sframe/${v}/${arch}/${f}`)
      .filter((name) => existsSync(join(ROOT, "test/fixtures", name)))
      .map((name): Lib => {
        const bytes = new Uint8Array(readFileSync(join(ROOT, "test/fixtures", name)));
        const elf = ElfFile.fromBytes(bytes, name);
        const loads = elf.programHeaders.filter((p) => p.type === PT_LOAD);
        const sframe = elf.programHeaders.find((p) => p.type === PT_GNU_SFRAME);
        const text = loads.find((p) => (p.flags & PF_X) !== 0);
        if (!sframe || !text) throw new Error(`${name}: no PT_GNU_SFRAME or executable PT_LOAD`);
        const last = loads[loads.length - 1] as ProgramHeader;
        return { name, arch, bytes, loads, sframe, text, span: last.vaddr + last.memsz };
      }),
  ),
);

const PAGE = 4096;
const STACK_SIZE = 0x10000;

function writeWord(w: ChoiceWriter, rng: Rng, stackWords: number, textSize: number): void {
  const tag = rng.pick([0, 0, 1, 1, 2, 3, 4]);
  w.u8(tag);
  if (tag === 0) w.u16(Math.min(stackWords - 1, rng.below(stackWords)) * 8 + (rng.chance(0.05) ? 4 : 0));
  else if (tag === 1) w.u16(rng.below(textSize));
  else if (tag === 2) w.u64((BigInt(rng.u32()) << 32n) | BigInt(rng.u32()));
  else if (tag === 4) w.u8(rng.below(INTERESTING_U64.length));
}

/** Input = arch/lib/options bytes, the (mutated) SFrame bytes, the stack words, the registers. */
function generateScenario(rng: Rng): Uint8Array {
  const w = new ChoiceWriter();
  const libIndex = rng.below(LIBS.length);
  const lib = LIBS[libIndex] as Lib;
  w.u8(libIndex);
  w.u8(rng.below(256)); // options
  w.u8(rng.pick([0, 0, 0, 1, 2, 4, 255])); // max entries selector
  const orig = lib.bytes.subarray(Number(lib.sframe.offset), Number(lib.sframe.offset + lib.sframe.filesz));
  const sf = rng.chance(0.75) ? mutateSframe(orig, rng) : orig;
  w.u16(sf.length).bytes(sf);
  const words = 1 + rng.below(rng.chance(0.5) ? 64 : 600);
  w.u16(words);
  const textSize = Number(lib.text.memsz);
  if (rng.chance(0.5)) {
    // A plausible chain of frame records: [saved FP → the next record, return address into text],
    // with now and then a damaged word, so walks get deep before they fail.
    for (let i = 0; i < words; i++) {
      if (rng.chance(0.03)) writeWord(w, rng, words, textSize);
      else if (i % 2 === 0) w.u8(0).u16(Math.min(words - 1, i + 2 + 2 * rng.below(2)) * 8);
      else w.u8(1).u16(rng.below(textSize));
    }
    w.u8(1).u16(rng.below(textSize)); // pc
    w.u8(0).u16(0); // sp
    w.u8(0).u16(rng.chance(0.8) ? 0 : 8 * rng.below(4)); // fp
    w.u8(1).u16(rng.below(textSize)); // ra
    return w.finish();
  }
  for (let i = 0; i < words; i++) writeWord(w, rng, words, textSize);
  // pc, sp, fp, ra
  for (let i = 0; i < 4; i++) writeWord(w, rng, words, textSize);
  return w.finish();
}

/** Map a fixture's PT_LOADs into anonymous memory (no loader: s390x's old_mmap is not modelled there). */
function mapLib(mm: AddressSpace, lib: Lib): bigint {
  const span = Number(lib.span) + PAGE;
  const base = mm.mmap(0, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, undefined, 0);
  for (const p of lib.loads) {
    const data = lib.bytes.subarray(Number(p.offset), Number(p.offset + p.filesz));
    mm.kernelWrite(base + Number(p.vaddr), data);
  }
  for (const p of lib.loads) {
    const start = Math.floor((base + Number(p.vaddr)) / PAGE) * PAGE;
    const end = Math.ceil((base + Number(p.vaddr + p.memsz)) / PAGE) * PAGE;
    const prot = PROT_READ | ((p.flags & PF_W) !== 0 ? PROT_WRITE : 0) | ((p.flags & PF_X) !== 0 ? PROT_EXEC : 0);
    mm.mprotect(start, end - start, prot);
  }
  return BigInt(base);
}

function wordReader(mm: AddressSpace, littleEndian: boolean): UnwindMemory {
  const top = BigInt(mm.layout.taskSize);
  return {
    readWord(addr: bigint): bigint | undefined {
      if (addr >= top - 8n) return undefined;
      const r = mm.tryReadUser(Number(addr), 8);
      if (!r.ok) return undefined;
      return new DataView(r.bytes.buffer, r.bytes.byteOffset, 8).getBigUint64(0, littleEndian);
    },
  };
}

/**
 * The user unwinder over random stacks and registers, with random or mutated SFrame sections of the
 * fixture libraries registered in a KernelSframe (`stacktrace_setup` checks, then `sframe_find_user`
 * through the kernel's reads, FP fallback). Property: every walk ends within the entry limit with a
 * recorded stop reason, and nothing throws.
 */
export const unwindTarget: FuzzTarget = {
  name: "unwind",
  describe: "kernel-shim/unwind/unwind-user.ts over random stacks + mutated SFrame registered in KernelSframe",
  seeds: (): FuzzSeed[] => [],
  generate(rng: Rng, seeds: readonly FuzzSeed[]): Uint8Array {
    if (seeds.length > 0 && rng.chance(0.3)) return mutateBytes(rng.pick(seeds).bytes, rng);
    return generateScenario(rng);
  },
  execute(input: Uint8Array): ReturnType<FuzzTarget["execute"]> {
    const steps = new Steps(() => false);
    const r = new ChoiceReader(input);
    const lib = LIBS[r.u8() % LIBS.length] as Lib;
    const opts = r.u8();
    const maxSel = r.u8();
    const maxEntries = maxSel === 0 ? UNWIND_MAX_ENTRIES : maxSel;
    const sf = r.take(r.u16());
    const littleEndian = lib.arch !== "s390x";

    const mm = AddressSpace.forArch(lib.arch);
    const ks = new KernelSframe({
      acceptedVersions: (opts & 1) !== 0 ? [3] : [1, 2, 3],
      requirePcrel: (opts & 2) !== 0,
      validation: (opts & 4) !== 0,
      outermost: (opts & 8) !== 0 ? "outermost" : "einval",
    });
    const base = mapLib(mm, lib);
    const sfStart = base + lib.sframe.vaddr;
    // The mutated section replaces the real one in place (as far as the segment's pages reach).
    const room = Number(lib.span - lib.sframe.vaddr);
    mm.kernelWrite(Number(sfStart), sf.subarray(0, Math.max(0, Math.min(sf.length, room))));
    const sfLen = (opts & 16) !== 0 ? BigInt(sf.length) : lib.sframe.memsz;
    const textStart = base + lib.text.vaddr;
    const ret = ks.stacktraceSetup(mm, 1, sfStart, sfLen, textStart, lib.text.memsz);
    if (ret !== 0) steps.answer(`stacktrace_setup ${ret}`, `registration returned ${ret}`);
    // Unmapping the section's pages after registration makes the kernel's reads fault (EFAULT removal).
    if ((opts & 32) !== 0) mm.munmap(Math.floor(Number(sfStart) / PAGE) * PAGE, PAGE);

    const stackBase = mm.mmap(0, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, undefined, 0);
    const word = (): bigint => {
      const tag = r.u8() % 5;
      if (tag === 0) return BigInt(stackBase + r.u16());
      if (tag === 1) return textStart + BigInt(r.u16());
      if (tag === 2) return r.u64();
      if (tag === 4) return r.pick(INTERESTING_U64);
      return 0n;
    };
    const words = Math.min(r.u16(), STACK_SIZE / 8);
    const stack = new Uint8Array(words * 8);
    const dv = new DataView(stack.buffer);
    for (let i = 0; i < words; i++) dv.setBigUint64(i * 8, word(), littleEndian);
    mm.kernelWrite(stackBase, stack);
    const regs = { pc: word(), sp: word(), fp: word(), ra: word() };

    const trace = unwindUser(lib.arch, regs, wordReader(mm, littleEndian), ks.finder(mm), {
      maxEntries,
      fpFallback: (opts & 64) === 0,
      outermost: (opts & 128) !== 0 ? "spec-stop" : "kernel-v3-einval",
      registerRules: (opts & 4) !== 0 ? "unwound-sp-fp" : "kernel",
    });
    const kinds = ["outermost", "max-depth", "no-method", "sframe-step-failed", "fp-step-failed"];
    if (!trace.stop || !kinds.includes(trace.stop.kind)) steps.violation(`unwind ended without a stop reason`);
    else steps.answer(`stop ${trace.stop.kind}`, trace.stop.detail);
    if (trace.frames.length > maxEntries) {
      steps.violation(`unwind recorded ${trace.frames.length} frames, limit ${maxEntries}`);
    }
    for (const f of trace.frames) if (f.sframeMiss) steps.answer("sframe miss", f.sframeMiss);
    return steps.outcome();
  },
};
