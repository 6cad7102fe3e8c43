import { errno, type SyscallContext } from "./context.ts";
import { resolveAt } from "./path-lookup.ts";
import { procLookup } from "./procfs.ts";

/**
 * readlinkat(dirfd, path, buf, bufsiz) — bufsiz ≤ 0 is EINVAL; /proc/self/exe gives the d_path of
 * the running executable; a path that is not a symlink is EINVAL; the result is truncated to bufsiz
 * and not NUL-terminated.
 */
export function sysReadlinkat(
  ctx: SyscallContext,
  dirfd: number,
  pathArg: number,
  bufArg: number,
  sizeArg: number,
): bigint {
  const size = ctx.int(sizeArg);
  const path = ctx.path(pathArg);
  if (typeof path !== "string") return errno(path.errno);
  if (size <= 0) return errno("EINVAL");
  const abs = resolveAt(ctx, dirfd, path);
  if (typeof abs !== "string") return errno(abs.errno);
  const pe = procLookup(ctx.proc, abs);
  let target: string;
  if (pe === "ENOENT") return errno("ENOENT");
  if (pe?.kind === "exe") {
    if (pe.target.exePath === undefined) return errno("ENOENT");
    target = pe.target.exePath;
  } else if (pe?.kind === "text") return errno("EINVAL");
  else {
    const r = ctx.proc.kernel.fs.readlink(abs);
    if (!r.ok) return errno(r.errno);
    target = r.value;
  }
  const bytes = Buffer.from(target, "utf8").subarray(0, size);
  const w = ctx.writeBuffer(bufArg, bytes);
  if (w !== true) return errno(w);
  ctx.peek(bufArg, { kind: "bytes", bytes: Uint8Array.from(bytes) });
  return BigInt(bytes.length);
}
