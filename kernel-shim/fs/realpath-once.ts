import type { KernelFs } from "./types.ts";

/**
 * The canonical path of `target` (what d_path shows for a file opened by that name), resolved when
 * first asked for and then kept: most opens never need it (only /proc/pid/maps, /proc/self/exe,
 * /proc/self/fd and dirfd lookups do), and realpath(3) costs a readlink per path component. The
 * path itself stands in when resolution fails.
 */
export function realpathOnce(fs: KernelFs, target: string): () => string {
  let real: string | undefined;
  return () => {
    if (real === undefined) {
      const r = fs.realpath(target);
      real = r.ok ? r.value : target;
    }
    return real;
  };
}
