/**
 * The plain data a report page is drawn from. Any scenario (the RFC experiment, the proposal's edge
 * cases, a user's own run) fills one of these; `renderReport` turns it into a self-contained page.
 * Addresses are bigint (exact 64-bit values); everything else is display text the producer chose.
 */

/** One VMA as /proc/pid/maps shows it. */
export interface ReportRegion {
  readonly start: bigint;
  /** Exclusive. */
  readonly end: bigint;
  /** The maps permission column, e.g. `r-xp`. */
  readonly perms: string;
  readonly offset: bigint;
  /** File path, `[stack]`, `[heap]`, `[anon:NAME]`, or undefined for a nameless anonymous mapping. */
  readonly name?: string;
}

/** How a registered SFrame range stands at the end of the scenario. */
export type SframeRangeState =
  /** Still in the mm's registry. */
  | "registered"
  /** Removed by `STACKTRACE_UNREGISTER_SFRAME`. */
  | "unregistered"
  /** Removed by the kernel itself when reading the section faulted during an unwind. */
  | "auto-removed"
  /** Still registered, but the memory it names was unmapped or reused (a stale entry). */
  | "stale";

/** One successful `sframe_add_section`: the text range it covers and where its section lies. */
export interface ReportSframeRange {
  readonly textStart: bigint;
  /** As passed to the kernel (text_start + text_len); the maple tree stores it as an inclusive end. */
  readonly textEnd: bigint;
  readonly sframeStart: bigint;
  readonly sframeEnd: bigint;
  /** "exec" (binfmt_elf) or "syscall" (ld.so's stacktrace_setup), etc. */
  readonly origin: string;
  readonly state: SframeRangeState;
  readonly label?: string;
}

/** What a timeline row records. */
export type TimelineKind = "syscall" | "register" | "unregister" | "auto-remove" | "mm-release" | "note";

export interface TimelineEntry {
  readonly kind: TimelineKind;
  /** The strace line for a syscall; a sentence for kernel events and notes. */
  readonly text: string;
  /** false when the call or kernel operation failed (shown in red). Undefined for notes. */
  readonly ok?: boolean;
  /** The kernel check that failed and why, or other detail shown under the row. */
  readonly detail?: string;
  /** A row caused by the syscall row before it (the kernel's half of `stacktrace_setup`). */
  readonly nested?: boolean;
  readonly pid?: number;
}

/** One unwound sample, printed as `perf script` prints callchains. */
export interface ReportTrace {
  readonly title: string;
  /** The sample header line (`comm pid time: period event: `). */
  readonly header?: string;
  /** Callchain lines, innermost first, in perf script's format (leading tab included). */
  readonly lines: readonly string[];
  /** Why the unwinder stopped. */
  readonly stop: string;
  /** Per line, how the frame's caller was found ("sframe" / "fp"), when known. */
  readonly methods?: readonly (string | undefined)[];
}

export interface ReportData {
  readonly title: string;
  readonly subtitle?: string;
  /** Paragraphs shown under the title. */
  readonly notes?: readonly string[];
  readonly regions: readonly ReportRegion[];
  readonly sframe: readonly ReportSframeRange[];
  readonly timeline: readonly TimelineEntry[];
  readonly traces: readonly ReportTrace[];
  /** /proc/pid/maps text, shown verbatim in a collapsible block. */
  readonly maps?: string;
  /**
   * Further sections, already rendered by ldsim code (not user text): e.g. the proposal lab's
   * comparison tables (`lab/html.ts` comparisonHtml), shown under "Registration designs compared".
   */
  readonly appendix?: readonly string[];
}
