import { resolvePath } from "../exec/path.ts";
import { isDir } from "../fs/types.ts";
import { type Fail, fail, type SyscallContext } from "./context.ts";

export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_NO_AUTOMOUNT = 0x800;
export const AT_EMPTY_PATH = 0x1000;

/**
 * Resolve `path` for a *at() call: absolute paths as they are; relative ones against the cwd
 * (dirfd = AT_FDCWD) or the directory open on dirfd (EBADF when not open, ENOTDIR when not a
 * directory). An empty path is ENOENT (callers handle AT_EMPTY_PATH before asking).
 */
export function resolveAt(ctx: SyscallContext, dirfd: number, path: string): string | Fail {
  if (path === "") return fail("ENOENT");
  if (path.startsWith("/")) return resolvePath("/", path);
  if (dirfd === AT_FDCWD) return resolvePath(ctx.proc.cwd, path);
  const d = ctx.proc.fds.get(dirfd);
  if (!d) return fail("EBADF");
  if (!isDir(d.stat)) return fail("ENOTDIR");
  return resolvePath(d.path, path);
}
