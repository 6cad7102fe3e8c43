/**
 * LD_DEBUG categories glibc 2.36 knows (elf/rtld.c `debopts`), in its order. `all` turns on every one
 * but `unused`; `help` only prints the list.
 */
export const DEBUG_CATEGORIES = [
  "libs",
  "reloc",
  "files",
  "symbols",
  "bindings",
  "versions",
  "scopes",
  "statistics",
  "unused",
] as const;
export type DebugCategory = (typeof DEBUG_CATEGORIES)[number];

export interface DebugLine {
  readonly category: DebugCategory;
  /** The text after glibc's "PID:\t" prefix (`_dl_debug_printf`), without the newline. */
  readonly text: string;
}

/**
 * The loader's LD_DEBUG output: each part of the loader emits lines for its category, kept only when
 * the category is on; the pid prefix is added when printing (the pid belongs to the process, not
 * the line).
 */
export class DebugLog {
  readonly lines: DebugLine[] = [];
  readonly categories: ReadonlySet<DebugCategory>;

  constructor(categories: Iterable<DebugCategory> = []) {
    this.categories = new Set(categories);
  }

  /** Whether a category is on (check first when building the line costs something). */
  on(category: DebugCategory): boolean {
    return this.categories.has(category);
  }

  emit(category: DebugCategory, text: string): void {
    if (this.categories.has(category)) this.lines.push({ category, text });
  }

  /** As glibc prints them: "%10d:\tTEXT" (glibc-rtld.md 5.1) (an empty text prints as "PID:\t"). */
  render(pid: number): string[] {
    return this.lines.map((l) => `${String(pid).padStart(10)}:\t${l.text}`);
  }
}
