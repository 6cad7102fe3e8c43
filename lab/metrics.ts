import type { DesignName } from "./designs/types.ts";

/** Where a design's added system calls are made. */
export type Where = "ld.so map" | "ld.so unmap" | "jit" | "other";

/** What one design did on one workload. Windows are counted in system-call boundaries (see world.ts). */
export interface RunMetrics {
  readonly design: DesignName;
  readonly syscalls: {
    /** Every system call the workload made under this design. */
    total: number;
    /** The design's own calls (stacktrace_setup / prctl). */
    added: number;
    where: Partial<Record<Where, number>>;
    /** Added calls that failed, by errno. */
    failed: Record<string, number>;
  };
  readonly windows: {
    boundaries: number;
    /** Boundaries × live code with usable SFrame that a sample would unwind without it (FP only). */
    uncoveredLive: number;
    /** The same while the loader is mapping/unmapping it (no code of it runs then). */
    uncoveredLoader: number;
    /** Boundaries × registry entries whose text is no longer the code they were registered for. */
    staleEntries: number;
    /** Boundaries × mapped code whose PCs would be looked up in ANOTHER object's section. */
    wrongSection: number;
  };
  readonly samples: {
    count: number;
    /** Whole true chain recovered. */
    full: number;
    /** A frame that is not in the true chain. */
    wrong: number;
    /** Stopped early, every recorded frame true. */
    truncated: number;
    correctFrames: number;
    truthFrames: number;
  };
  readonly memory: { peak: number; final: number };
  /** Successful registrations by origin (exec, syscall, prctl, mmap-detect, lazy, jit). */
  registrations: Record<string, number>;
  /** Refused registrations by origin:errno. */
  registrationErrors: Record<string, number>;
  /** Sections the kernel dropped after a lookup faulted (EFAULT). */
  autoRemoved: number;
  kernelWork: Record<string, number>;
}

export function emptyMetrics(design: DesignName): RunMetrics {
  return {
    design,
    syscalls: { total: 0, added: 0, where: {}, failed: {} },
    windows: { boundaries: 0, uncoveredLive: 0, uncoveredLoader: 0, staleEntries: 0, wrongSection: 0 },
    samples: { count: 0, full: 0, wrong: 0, truncated: 0, correctFrames: 0, truthFrames: 0 },
    memory: { peak: 0, final: 0 },
    registrations: {},
    registrationErrors: {},
    autoRemoved: 0,
    kernelWork: {},
  };
}

/** Frames recovered correctly over frames in the true chains, as a percentage (one decimal). */
export function coverage(m: RunMetrics): number {
  return m.samples.truthFrames === 0 ? 0 : Math.round((1000 * m.samples.correctFrames) / m.samples.truthFrames) / 10;
}

/** Mean correct depth per sample (one decimal). */
export function meanDepth(m: RunMetrics): number {
  return m.samples.count === 0 ? 0 : Math.round((10 * m.samples.correctFrames) / m.samples.count) / 10;
}
