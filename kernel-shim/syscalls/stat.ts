import type { FsResult, FsStat } from "../fs/types.ts";
import { procStat } from "../process/open-file.ts";
import { errno, type SyscallContext } from "./context.ts";
import { AT_EMPTY_PATH, AT_NO_AUTOMOUNT, AT_SYMLINK_NOFOLLOW, resolveAt } from "./path-lookup.ts";
import { procLookup } from "./procfs.ts";

/** The stat of a path: /proc entries synthesized, everything else from the FS interface. */
function statPath(ctx: SyscallContext, abs: string, follow: boolean): FsResult<FsStat> {
  const pe = procLookup(ctx.proc, abs);
  if (pe === "ENOENT") return { ok: false, errno: "ENOENT" };
  if (pe?.kind === "text") return { ok: true, value: procStat(4096n) };
  if (pe?.kind === "exe") {
    if (!follow) return { ok: true, value: { ...procStat(4097n), mode: 0o120777, size: 0n } };
    if (pe.target.exePath === undefined) return { ok: false, errno: "ENOENT" };
    return ctx.proc.kernel.fs.stat(pe.target.exePath);
  }
  return follow ? ctx.proc.kernel.fs.stat(abs) : ctx.proc.kernel.fs.lstat(abs);
}

function finish(ctx: SyscallContext, statArg: number, st: FsResult<FsStat>): bigint {
  if (!st.ok) return errno(st.errno);
  const w = ctx.writeStat(statArg, st.value);
  return w === true ? 0n : errno(w);
}

/** AT_STATX_SYNC_TYPE: the statx sync bits vfs_fstatat also accepts (0x2000 force, 0x4000 don't sync). */
const AT_STATX_SYNC_TYPE = 0x6000;

/**
 * newfstatat(dirfd, path, statbuf, flags) — vfs_fstatat: flags other than AT_SYMLINK_NOFOLLOW,
 * AT_NO_AUTOMOUNT, AT_EMPTY_PATH and AT_STATX_SYNC_TYPE are EINVAL; "" with AT_EMPTY_PATH stats dirfd itself (EBADF when
 * closed); "" without it is ENOENT.
 */
export function sysNewfstatat(
  ctx: SyscallContext,
  dirfd: number,
  pathArg: number,
  statArg: number,
  flags: number,
): bigint {
  if ((flags & ~(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE)) !== 0) {
    return errno("EINVAL");
  }
  const path = ctx.path(pathArg);
  if (typeof path !== "string") return errno(path.errno);
  if (path === "" && (flags & AT_EMPTY_PATH) !== 0) {
    if (dirfd === -100) return finish(ctx, statArg, ctx.proc.kernel.fs.stat(ctx.proc.cwd));
    const d = ctx.proc.fds.get(dirfd);
    if (!d) return errno("EBADF");
    return finish(ctx, statArg, { ok: true, value: d.stat });
  }
  const abs = resolveAt(ctx, dirfd, path);
  if (typeof abs !== "string") return errno(abs.errno);
  return finish(ctx, statArg, statPath(ctx, abs, (flags & AT_SYMLINK_NOFOLLOW) === 0));
}

/** fstat(fd, statbuf): EBADF when not open. */
export function sysFstat(ctx: SyscallContext): bigint {
  const d = ctx.proc.fds.get(ctx.int(0));
  if (!d) return errno("EBADF");
  return finish(ctx, 1, { ok: true, value: d.stat });
}

/** stat/lstat(path, statbuf). */
export function sysStat(ctx: SyscallContext, follow: boolean): bigint {
  const path = ctx.path(0);
  if (typeof path !== "string") return errno(path.errno);
  const abs = resolveAt(ctx, -100, path);
  if (typeof abs !== "string") return errno(abs.errno);
  return finish(ctx, 1, statPath(ctx, abs, follow));
}
