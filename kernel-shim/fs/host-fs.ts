import * as nodeFs from "node:fs";
import { type NodeBigStats, type NodeFsLike, NodeKernelFs } from "./node-fs.ts";
import { hostPageCache } from "./page-cache.ts";

/** A failed lookup as node:fs reports it, without building an Error and its stack (errnoOf reads `code`). */
const ENOENT = Object.freeze({ code: "ENOENT" });

/**
 * node:fs as the shim calls it on the host, with two shortcuts that change no result: realpath(3)
 * itself (`realpathSync.native`, one call) instead of node's JS walk that lstat()s every component,
 * and stat/lstat/access of a missing path answered without an exception object (ld.so probes many
 * missing hwcaps directories and libraries per program).
 */
const hostNodeFs: NodeFsLike = {
  statSync: (p: string): NodeBigStats => {
    const st = nodeFs.statSync(p, { bigint: true, throwIfNoEntry: false });
    if (st === undefined) throw ENOENT;
    return st;
  },
  lstatSync: (p: string): NodeBigStats => {
    const st = nodeFs.lstatSync(p, { bigint: true, throwIfNoEntry: false });
    if (st === undefined) throw ENOENT;
    return st;
  },
  fstatSync: (fd: number) => nodeFs.fstatSync(fd, { bigint: true }),
  openSync: (p, flags) => nodeFs.openSync(p, flags),
  readSync: (fd, buffer, offset, length, position) => nodeFs.readSync(fd, buffer, offset, length, position),
  closeSync: (fd) => nodeFs.closeSync(fd),
  readlinkSync: (p) => nodeFs.readlinkSync(p),
  accessSync: (p, mode) => {
    // A missing path (ld.so's access("/etc/ld.so.preload", R_OK)) without building an exception.
    if (nodeFs.statSync(p, { throwIfNoEntry: false }) === undefined) throw ENOENT;
    if (mode !== 0) nodeFs.accessSync(p, mode);
  },
  realpathSync: (p) => nodeFs.realpathSync.native(p),
};

/**
 * The host's file system as the shim sees it. st_dev/st_ino come from the host's `stat`, so a mapping
 * line in the simulated /proc/pid/maps carries the same `fe:00 260131` as the real kernel prints.
 * `root` lets a host directory stand in for "/" (a sysroot); paths stay absolute inside it.
 * File contents go through the page cache every HostFs shares (fs/page-cache.ts), as every process
 * on the machine shares the kernel's.
 */
export class HostFs extends NodeKernelFs {
  /** open(2) on the host refuses an unreadable file with EACCES, as may_open does. */
  readonly openChecksAccess = true;
  constructor(root = "") {
    super(hostNodeFs, root.replace(/\/+$/, ""), hostPageCache);
  }
}
