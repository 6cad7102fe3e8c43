import { Errno, errnoName } from "../kernel-shim/errno.ts";
import type { SframeEvent } from "../kernel-shim/sframe/kernel-sframe.ts";
import type { SyscallEvent } from "../kernel-shim/strace/event.ts";
import { formatEvent } from "../kernel-shim/strace/format.ts";
import type { TimelineEntry } from "./model.ts";

const hex = (v: bigint) => `0x${v.toString(16)}`;

/** A syscall as a timeline row: strace's line (without `[pid N]`), failed when it returned -errno. */
export function syscallEntry(ev: SyscallEvent, showPid = false): TimelineEntry {
  const { pid, ...rest } = ev;
  const failed = ev.ret !== undefined && ev.ret < 0n && ev.ret >= -4095n;
  return {
    kind: "syscall",
    text: formatEvent(rest),
    ok: !failed,
    ...(showPid && pid !== undefined ? { pid } : {}),
  };
}

/** What the kernel did with SFrame state, as a timeline row (with the failing check, if any). */
export function sframeEntry(ev: SframeEvent, nested = false): TimelineEntry {
  const n = nested ? { nested: true } : {};
  switch (ev.kind) {
    case "register": {
      const who = ev.origin === "exec" ? "binfmt_elf at exec: " : "";
      const what = `${who}sframe_add_section(sframe [${hex(ev.sframeStart)}, ${hex(ev.sframeEnd)}), text [${hex(ev.textStart)}, ${hex(ev.textEnd)}))${ev.label ? ` ${ev.label}` : ""}`;
      if (ev.result === 0) return { kind: "register", text: `${what} → registered`, ok: true, ...n };
      return {
        kind: "register",
        text: `${what} → -${errnoName(ev.result)}`,
        ok: false,
        // Some checks' messages already start with the check's name.
        detail: ev.message?.startsWith(ev.check ?? "\0") ? ev.message : `${ev.check ?? "check"}: ${ev.message ?? ""}`,
        ...n,
      };
    }
    case "unregister":
      return {
        kind: "unregister",
        text: `sframe_remove_section(${hex(ev.sframeStart)}) → ${ev.result === 0 ? `${ev.removed} entr${ev.removed === 1 ? "y" : "ies"} removed` : `-${errnoName(ev.result)}`}`,
        ok: ev.result === 0,
        ...(ev.result !== 0 ? { detail: "no registered section starts at this address" } : {}),
        ...n,
      };
    case "auto-remove":
      return {
        kind: "auto-remove",
        text: `unwinder at pc ${hex(ev.pc)}: reading the section at ${hex(ev.sframeStart)} faulted → ${ev.removed} entr${ev.removed === 1 ? "y" : "ies"} removed`,
        ok: true,
        detail: ev.reason,
        ...n,
      };
    case "mm-release":
      return { kind: "mm-release", text: `mm released: ${ev.removed} SFrame entries freed`, ok: true, ...n };
  }
}

function isSyncEvent(e: SframeEvent): boolean {
  return (e.kind === "register" && e.origin !== "exec") || e.kind === "unregister";
}

/** A note placed before the syscall at `beforeSyscall` (or at the end when it equals the count). */
export interface TimelineMark {
  readonly beforeSyscall: number;
  readonly text: string;
}

/**
 * Merge a syscall log and the kernel's SFrame events into one ordered timeline. The two logs share
 * no clock, but every handled `stacktrace_setup` produced exactly one register/unregister event, so
 * those pairs are sync points: SFrame events between two sync points (exec registrations,
 * auto-removals during an unwind) are placed just before the next sync syscall, and exec
 * registrations before everything. A `stacktrace_setup` that returned -ENOSYS never reached the
 * SFrame code and has no pair.
 */
export function interleave(
  syscalls: readonly SyscallEvent[],
  sframe: readonly SframeEvent[],
  marks: readonly TimelineMark[] = [],
  options: { readonly showPid?: boolean } = {},
): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  let si = 0;
  while (si < sframe.length) {
    const e = sframe[si] as SframeEvent;
    if (e.kind !== "register" || e.origin !== "exec") break;
    out.push(sframeEntry(e));
    si++;
  }
  const emitMarks = (i: number) => {
    for (const m of marks) if (m.beforeSyscall === i) out.push({ kind: "note", text: m.text });
  };
  syscalls.forEach((ev, i) => {
    emitMarks(i);
    const handled = ev.name === "stacktrace_setup" && ev.ret !== BigInt(-Errno.ENOSYS);
    let j = -1;
    if (handled) {
      for (let k = si; k < sframe.length; k++) {
        if (isSyncEvent(sframe[k] as SframeEvent)) {
          j = k;
          break;
        }
      }
    }
    if (j >= 0) {
      for (; si < j; si++) out.push(sframeEntry(sframe[si] as SframeEvent));
      out.push(syscallEntry(ev, options.showPid));
      out.push(sframeEntry(sframe[j] as SframeEvent, true));
      si = j + 1;
    } else {
      out.push(syscallEntry(ev, options.showPid));
    }
  });
  emitMarks(syscalls.length);
  for (; si < sframe.length; si++) out.push(sframeEntry(sframe[si] as SframeEvent));
  return out;
}

/**
 * Builds a timeline while a scenario runs: `note(text)` first takes in every syscall and SFrame
 * event since the last call (in order, see `interleave`), then adds the note. Exact ordering for
 * scenarios that call it between their steps.
 */
export class TimelineRecorder {
  private readonly entries: TimelineEntry[] = [];
  private seenSyscalls = 0;
  private seenSframe = 0;

  constructor(
    private readonly syscalls: { readonly events: readonly SyscallEvent[] },
    private readonly sframe: { readonly events: readonly SframeEvent[] },
    private readonly options: { readonly showPid?: boolean } = {},
  ) {}

  /** Take in what happened since the last flush. */
  flush(): void {
    const sc = this.syscalls.events.slice(this.seenSyscalls);
    const sf = this.sframe.events.slice(this.seenSframe);
    this.seenSyscalls += sc.length;
    this.seenSframe += sf.length;
    this.entries.push(...interleave(sc, sf, [], this.options));
  }

  note(text: string): void {
    this.flush();
    this.entries.push({ kind: "note", text });
  }

  get timeline(): readonly TimelineEntry[] {
    this.flush();
    return this.entries.slice();
  }
}
