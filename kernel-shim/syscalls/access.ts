import { errno, type SyscallContext } from "./context.ts";
import { resolveAt } from "./path-lookup.ts";
import { procLookup } from "./procfs.ts";

const AT_EACCESS = 0x200;

/**
 * faccessat(dirfd, path, mode[, flags]) — do_faccessat: mode bits beyond R_OK|W_OK|X_OK are EINVAL
 * (checked first), flags beyond AT_EACCESS|AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH EINVAL, then path
 * lookup errors (ENOENT, ENOTDIR, ...) and the permission check against the real uid.
 */
export function sysFaccessat(ctx: SyscallContext, dirfd: number, pathArg: number, mode: number, flags = 0): bigint {
  if ((mode & ~7) !== 0) return errno("EINVAL");
  if ((flags & ~(AT_EACCESS | 0x100 | 0x1000)) !== 0) return errno("EINVAL");
  const path = ctx.path(pathArg);
  if (typeof path !== "string") return errno(path.errno);
  const abs = resolveAt(ctx, dirfd, path);
  if (typeof abs !== "string") return errno(abs.errno);
  const pe = procLookup(ctx.proc, abs);
  if (pe === "ENOENT") return errno("ENOENT");
  if (pe?.kind === "text") return (mode & 3) !== 0 && (mode & 2) !== 0 ? errno("EACCES") : 0n;
  const target = pe?.kind === "exe" ? pe.target.exePath : abs;
  if (target === undefined) return errno("ENOENT");
  const r = ctx.proc.kernel.fs.access(target, mode);
  return r.ok ? 0n : errno(r.errno);
}
