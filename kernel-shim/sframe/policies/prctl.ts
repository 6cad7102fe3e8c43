import { Errno } from "../../errno.ts";
import type { KernelSframe } from "../kernel-sframe.ts";
import type { PrctlHandler } from "./mm-hooks.ts";

/**
 * The series' test-only prctl options (v12 numbers; v3/v4 used 71/72 then 74/75, v13 renumbered
 * them to values not found — sframe-and-kernel.md §2.1, §5, Q11).
 */
export const PR_ADD_SFRAME = 79;
export const PR_REMOVE_SFRAME = 80;

/**
 * Design "prctl": the series' earlier interface.
 * - `prctl(PR_ADD_SFRAME, sframe_start, sframe_end, text_start, text_end)` → `sframe_add_section`
 *   with the arguments as given (END addresses, where `stacktrace_setup` takes lengths);
 * - `prctl(PR_REMOVE_SFRAME, sframe_start, 0, 0, 0)` → `sframe_remove_section`; any non-zero unused
 *   argument is -EINVAL (the prctl convention the series follows), before anything is looked up.
 * Without CONFIG_HAVE_UNWIND_USER_SFRAME the options do not exist: the handler declines and prctl
 * answers -EINVAL as for any unknown option.
 */
export function sframePrctlHandler(ks: KernelSframe): PrctlHandler {
  return (proc, args) => {
    if (!ks.enabled) return undefined;
    const option = Number(BigInt.asIntN(32, args[0] ?? 0n));
    const a = (i: number) => args[i] ?? 0n;
    if (option === PR_ADD_SFRAME) return ks.addSection(proc.mm, a(1), a(2), a(3), a(4), "prctl").result;
    if (option === PR_REMOVE_SFRAME) {
      if (a(2) !== 0n || a(3) !== 0n || a(4) !== 0n) return -Errno.EINVAL;
      return ks.removeSection(proc.mm, a(1));
    }
    return undefined;
  };
}
