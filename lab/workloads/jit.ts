import {
  SFRAME_ABI_AMD64_ENDIAN_LITTLE,
  SFRAME_F_FDE_FUNC_START_PCREL,
  SFRAME_F_FDE_SORTED,
} from "../../formats/sframe/constants.ts";
import { encodeSframe } from "../../formats/sframe/encode.ts";
import { returnAddressInto } from "../../kernel-shim/unwind/call-sites.ts";
import { type FrameLayout, frameLayoutAt } from "../../kernel-shim/unwind/stack-synth.ts";
import type { JitBlob } from "../designs/types.ts";
import type { World } from "../world.ts";
import { MAIN } from "./fixture-files.ts";
import type { Workload } from "./types.ts";

const PROT_READ = 1;
const PROT_WRITE = 2;
const PROT_EXEC = 4;
const MAP_PRIVATE = 0x02;
const MAP_ANONYMOUS = 0x20;
const PAGE = 4096n;
/** Each JIT function: `sub $8,%rsp` in its first 4 bytes (CFA SP+8, then SP+16), 0x40 bytes long. */
const FN_SIZE = 0x40;

/** The JIT's frame layout after its prologue: CFA = SP + 16, RA at CFA - 8, FP untouched (no frame pointer). */
const JIT_LAYOUT: FrameLayout = {
  source: "sframe",
  cfa: { base: "sp", offset: 16, deref: false },
  ra: { kind: "cfa", offset: -8 },
  fp: { kind: "same" },
};

/** The SFrame v3 section a JIT would build (with ldsim's encoder) for two functions at `text`, placed at `at`. */
export function jitSection(text: bigint, at: bigint): Uint8Array {
  const fn = (i: number) => ({
    start: Number(text + BigInt(i * FN_SIZE) - at),
    size: FN_SIZE,
    fres: [
      { startOffset: 0, dataWords: [8], cfaBaseReg: 1 as const },
      { startOffset: 4, dataWords: [16], cfaBaseReg: 1 as const },
    ],
  });
  return encodeSframe({
    version: 3,
    littleEndian: true,
    flags: SFRAME_F_FDE_SORTED | SFRAME_F_FDE_FUNC_START_PCREL,
    abiArch: SFRAME_ABI_AMD64_ENDIAN_LITTLE,
    cfaFixedFpOffset: 0,
    cfaFixedRaOffset: -8,
    functions: [fn(0), fn(1)],
  });
}

/** Write a stack for frames with known layouts (SP- or FP-based CFA, RA at CFA+off), innermost first. */
function writeStack(
  w: World,
  frames: readonly { pc: bigint; layout: FrameLayout }[],
): { pc: bigint; sp: bigint; fp: bigint } {
  let cfa = (BigInt(w.mm.startStack) - 0x1000n) & ~0xfn;
  let callerFp = 0n;
  let callerSp = 0n;
  let regs = { pc: 0n, sp: 0n, fp: 0n };
  const put = (addr: bigint, v: bigint) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, v), true);
    w.mm.kernelWrite(Number(addr), b);
  };
  for (let k = frames.length - 1; k >= 0; k--) {
    const f = frames[k] as { pc: bigint; layout: FrameLayout };
    const l = f.layout;
    if (k !== frames.length - 1) cfa = callerSp;
    const ra = k === frames.length - 1 ? 0n : (frames[k + 1] as { pc: bigint }).pc;
    if (l.ra.kind === "cfa") put(cfa + BigInt(l.ra.offset), ra);
    let fp: bigint;
    let sp: bigint;
    if (l.cfa.base === "fp") {
      fp = cfa - BigInt(l.cfa.offset);
      sp = fp - 0x20n;
    } else {
      sp = cfa - BigInt(l.cfa.offset);
      fp = l.fp.kind === "same" ? callerFp : 1n;
    }
    if (l.fp.kind === "cfa") put(cfa + BigInt(l.fp.offset), callerFp);
    callerFp = fp;
    callerSp = sp;
    if (k === 0) regs = { pc: f.pc, sp, fp };
  }
  return regs;
}

/**
 * JIT-like code: the fixture program exec'd, then `cycles` code blobs, each: anonymous RW code page
 * written and flipped to R+X, an SFrame v3 section built for its two functions by ldsim's encoder in
 * an anonymous page (read-only after writing), registered by whatever the design offers (syscall: the
 * HYPOTHETICAL op 3; prctl: PR_ADD_SFRAME; mmap-detect, lazy, none: nothing — no file to read),
 * sampled every `sampleEvery` blobs (JIT → JIT → main_step → main), unregistered and unmapped.
 */
export function jitWorkload(cycles = 200, sampleEvery = 10): Workload {
  return {
    name: "jit",
    title: `JIT-like code (${cycles} code blobs in anonymous memory)`,
    description: `exec of the fixture main, then ${cycles} × (mmap RW code, mprotect R+X, SFrame v3 built by formats/sframe/encode.ts in an anonymous page, register with the design's means — syscall: HYPOTHETICAL stacktrace_setup op 3 —, sample, unregister, munmap), sampling JIT → JIT → main_step → main every ${sampleEvery} blobs.`,
    run(w) {
      w.exec(MAIN, [MAIN]);
      for (let i = 0; i < cycles; i++) {
        const text = w.syscallRaw("mmap", 0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        w.mm.writeUser(Number(text), new Uint8Array(2 * FN_SIZE).fill(0xcc));
        w.syscallRaw("mprotect", text, PAGE, PROT_READ | PROT_EXEC);
        const at = w.syscallRaw("mmap", 0, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        const sec = jitSection(text, at);
        w.mm.writeUser(Number(at), sec);
        w.syscallRaw("mprotect", at, PAGE, PROT_READ);
        const blob: JitBlob = { text, textLen: BigInt(2 * FN_SIZE), sframe: at, sframeLen: BigInt(sec.length) };
        const t = w.track(
          { name: `jit#${i}`, path: undefined, texts: [[text, text + blob.textLen]], sframeStart: at },
          "loading",
        );
        w.registerJit(blob);
        t.phase = "live";
        w.observe();
        if (i % sampleEvery === 0) {
          const objects = w.objects();
          const pcs = [
            text + BigInt(FN_SIZE) + 0x10n,
            text + 0x20n,
            returnAddressInto(objects, "main_step", "liba_entry"),
            returnAddressInto(objects, "main", "main_step"),
          ];
          const frames = pcs.map((pc, k) => ({
            pc,
            layout: k < 2 ? JIT_LAYOUT : frameLayoutAt(objects, "x86_64", pc),
          }));
          w.unwind(writeStack(w, frames), pcs);
        }
        t.phase = "unloading";
        w.unregisterJit(blob);
        w.syscallRaw("munmap", text, PAGE);
        w.syscallRaw("munmap", at, PAGE);
        t.phase = "gone";
        w.untrack(t);
      }
    },
  };
}
