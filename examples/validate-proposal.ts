/**
 * Example 4 — validating the proposal: each edge case of `stacktrace_setup` run on the bundled
 * fixtures through the modelled syscalls, printing the calls as strace prints them, what they
 * returned, and which of the kernel's checks refused them.
 *
 *   npx tsx examples/validate-proposal.ts
 */
import { EDGE_CASES, formatCase } from "./validate-proposal-lib.ts";

const lines = EDGE_CASES.flatMap((make, i) => formatCase(make(), i));
process.stdout.write(`${lines.join("\n")}\n`);
