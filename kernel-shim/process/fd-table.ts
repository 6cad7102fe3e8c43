import type { OpenDescription } from "./open-file.ts";

/** RLIMIT_NOFILE soft limit (ulimit -n default). */
export const DEFAULT_NOFILE = 1024;

interface Slot {
  readonly desc: OpenDescription;
  cloexec: boolean;
}

/**
 * A process's file descriptor table (struct files_struct): fd numbers to open descriptions with a
 * per-fd close-on-exec bit. New fds take the lowest free number (`get_unused_fd_flags`), and the
 * table refuses past RLIMIT_NOFILE with EMFILE.
 */
export class FdTable {
  private readonly slots = new Map<number, Slot>();
  constructor(readonly limit = DEFAULT_NOFILE) {}

  /** The lowest free fd, or -1 when the table is full. */
  private lowestFree(): number {
    for (let fd = 0; fd < this.limit; fd++) if (!this.slots.has(fd)) return fd;
    return -1;
  }

  /** Install `desc` at the lowest free fd; returns the fd or -1 (EMFILE). Takes a reference. */
  install(desc: OpenDescription, cloexec: boolean): number {
    const fd = this.lowestFree();
    if (fd < 0) return -1;
    this.slots.set(fd, { desc, cloexec });
    desc.refs++;
    return fd;
  }

  /** Install at a fixed fd (dup2 semantics without the close of a previous occupant). */
  installAt(fd: number, desc: OpenDescription, cloexec = false): void {
    this.slots.set(fd, { desc, cloexec });
    desc.refs++;
  }

  get(fd: number): OpenDescription | undefined {
    if (!Number.isInteger(fd) || fd < 0) return undefined;
    return this.slots.get(fd)?.desc;
  }

  isCloexec(fd: number): boolean {
    return this.slots.get(fd)?.cloexec ?? false;
  }

  /** close(fd): false when fd was not open (EBADF). The description is released with its last fd. */
  close(fd: number): boolean {
    const slot = this.slots.get(fd);
    if (!slot) return false;
    this.slots.delete(fd);
    release(slot.desc);
    return true;
  }

  /** fork(): the child's table refers to the same descriptions (dup_fd). */
  clone(): FdTable {
    const t = new FdTable(this.limit);
    for (const [fd, slot] of this.slots) t.installAt(fd, slot.desc, slot.cloexec);
    return t;
  }

  /** exec: close every close-on-exec fd (do_close_on_exec). */
  closeOnExec(): void {
    for (const [fd, slot] of [...this.slots]) if (slot.cloexec) this.close(fd);
  }

  /** exit: close everything (exit_files). */
  closeAll(): void {
    for (const fd of [...this.slots.keys()]) this.close(fd);
  }

  /** Open fds in ascending order. */
  fds(): number[] {
    return [...this.slots.keys()].sort((a, b) => a - b);
  }

  get size(): number {
    return this.slots.size;
  }
}

function release(desc: OpenDescription): void {
  desc.refs--;
  if (desc.refs === 0 && desc.kind === "file") desc.file.close();
}
