import type { SyscallEvent } from "./event.ts";
import { type FormatOptions, formatEvent } from "./format.ts";

/**
 * The syscall log: every call the dispatcher executes, in order, with its arguments, what strace
 * would read from memory, and its result. Rendered on demand in strace's exact line format; with
 * `followForks` each line carries strace -f's `[pid N] ` prefix.
 */
export class StraceLog {
  private readonly list: SyscallEvent[] = [];
  constructor(
    readonly options: FormatOptions & {
      readonly followForks?: boolean;
      /** Only record these syscall names (strace -e trace=...). */
      readonly trace?: ReadonlySet<string>;
    } = {},
  ) {}

  record(ev: SyscallEvent): void {
    if (this.options.trace && !this.options.trace.has(ev.name)) return;
    this.list.push(ev);
  }

  get events(): readonly SyscallEvent[] {
    return this.list;
  }

  /** strace's lines, one per call (the first `count` calls only, when given). */
  lines(count?: number): string[] {
    const list = count === undefined ? this.list : this.list.slice(0, count);
    return list.map((ev) => {
      if (this.options.followForks) return formatEvent(ev, this.options);
      const { pid: _pid, ...rest } = ev;
      return formatEvent(rest, this.options);
    });
  }

  toString(): string {
    return this.lines()
      .map((l) => `${l}\n`)
      .join("");
  }

  clear(): void {
    this.list.length = 0;
  }
}
