import type { Process } from "../process/process.ts";
import type { SyscallArg } from "../syscalls/context.ts";
import { invokeSyscall, type SyscallOutcome } from "../syscalls/dispatch.ts";
import type { SyscallEvent } from "./event.ts";
import { type FormatOptions, formatEvent } from "./format.ts";
import { parseStraceLine } from "./parse.ts";

/**
 * Replays a real strace log through the shim: every call the formatter knows is re-issued with the
 * same arguments (paths and written data as host strings/buffers, output buffers as fresh host
 * buffers), so the shim's results — fds, mmap addresses, errnos, stat fields, bytes read — can be
 * compared line by line with what the real kernel answered.
 */
export interface ReplayStep {
  readonly line: string;
  readonly original: SyscallEvent;
  readonly outcome: SyscallOutcome;
  /** The shim's event formatted as strace would print it. */
  readonly replayed: string;
}

/** Argument positions that are output buffers, by call. */
const OUT_BUFFERS: Readonly<Record<string, readonly [index: number, size: (ev: SyscallEvent) => number][]>> = {
  read: [[1, (ev) => Number(ev.args[2] ?? 0n)]],
  pread64: [[1, (ev) => Number(ev.args[2] ?? 0n)]],
  readlink: [[1, (ev) => Number(ev.args[2] ?? 0n)]],
  readlinkat: [[2, (ev) => Number(ev.args[3] ?? 0n)]],
  newfstatat: [[2, () => 144]],
  fstat: [[1, () => 144]],
  stat: [[1, () => 144]],
  lstat: [[1, () => 144]],
};

function replayArgs(ev: SyscallEvent): SyscallArg[] {
  const args: SyscallArg[] = [...ev.args];
  const out = OUT_BUFFERS[ev.name] ?? [];
  // An output buffer strace showed as an address (the call failed) is passed as that address, so the
  // replayed line prints it the same way; one it showed as contents becomes a fresh host buffer.
  for (const [i, size] of out) if (ev.peeks?.[i] !== undefined) args[i] = new Uint8Array(Math.min(size(ev), 1 << 24));
  if (ev.name === "arch_prctl" && ev.peeks?.[1] !== undefined) args[1] = new Uint8Array(8);
  for (const [k, p] of Object.entries(ev.peeks ?? {})) {
    const i = Number(k);
    if (out.some(([j]) => j === i) || p.kind !== "bytes") continue;
    // Inputs: paths as strings, written data as bytes.
    args[i] = ev.name === "write" ? p.bytes : Buffer.from(p.bytes).toString("latin1");
  }
  return args;
}

/**
 * Replay every parsable line of `lines` in `proc`; lines for unknown calls are skipped. Run strace
 * with a large `-s` (and pass the same `maxStrlen`) so written data and read data are complete.
 */
export function replayStrace(proc: Process, lines: readonly string[], options: FormatOptions = {}): ReplayStep[] {
  const steps: ReplayStep[] = [];
  for (const line of lines) {
    const original = parseStraceLine(line);
    if (!original) continue;
    const outcome = invokeSyscall(proc, original.name, replayArgs(original));
    const { pid: _pid, ...ev } = outcome.event;
    steps.push({ line, original, outcome, replayed: formatEvent(ev, options) });
    if (proc.state !== "running") break;
  }
  return steps;
}
