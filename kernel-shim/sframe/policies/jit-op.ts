import { Errno } from "../../errno.ts";
import type { StacktraceSetupHandler } from "../../process/kernel.ts";
import { type KernelSframe, stacktraceSetupHandler } from "../kernel-sframe.ts";

/**
 * HYPOTHETICAL — not in any posted kernel series. The RFC's doc comment says future `stacktrace_setup`
 * ops may cover formats for code generated at run time; this models one such op so the proposal lab
 * can compare its cost and failure modes. Its number is made up.
 *
 * `stacktrace_setup(STACKTRACE_REGISTER_JIT_SFRAME_HYPOTHETICAL, sframe, sframe_len, text, text_len)`:
 * an SFrame section the JIT built in anonymous memory, for anonymous executable text. It runs exactly
 * the checks of `sframe_add_section` (zero args, section in one VMA, text in one executable VMA,
 * header, counts, offsets, maple-tree overlap), plus one of its own first: the text VMA must be
 * anonymous (file-backed text belongs to op 1). Removal is the ordinary op 2 by section start.
 */
export const STACKTRACE_REGISTER_JIT_SFRAME_HYPOTHETICAL = 3;

export function jitStacktraceSetupHandler(ks: KernelSframe): StacktraceSetupHandler {
  const base = stacktraceSetupHandler(ks);
  return (proc, args) => {
    const op = Number(BigInt.asIntN(32, args[0] ?? 0n));
    if (op !== STACKTRACE_REGISTER_JIT_SFRAME_HYPOTHETICAL) return base(proc, args);
    if (!ks.enabled) return -Errno.ENOSYS;
    const [, addr = 0n, len = 0n, text = 0n, textLen = 0n] = args;
    const m = (1n << 64n) - 1n;
    const vma = text <= BigInt(Number.MAX_SAFE_INTEGER) ? proc.mm.findVma(Number(text)) : undefined;
    if (vma?.file !== undefined) return -Errno.EINVAL;
    return ks.addSection(proc.mm, addr, (addr + len) & m, text, (text + textLen) & m, "jit", "[jit]").result;
  };
}
