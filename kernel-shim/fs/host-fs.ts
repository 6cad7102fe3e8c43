import * as nodeFs from "node:fs";
import { type NodeFsLike, NodeKernelFs } from "./node-fs.ts";
import { hostPageCache } from "./page-cache.ts";

/**
 * The host's file system as the shim sees it. st_dev/st_ino come from the host's `stat`, so a mapping
 * line in the simulated /proc/pid/maps carries the same `fe:00 260131` as the real kernel prints.
 * `root` lets a host directory stand in for "/" (a sysroot); paths stay absolute inside it.
 * File contents go through the page cache every HostFs shares (fs/page-cache.ts), as every process
 * on the machine shares the kernel's.
 */
export class HostFs extends NodeKernelFs {
  constructor(root = "") {
    super(nodeFs as unknown as NodeFsLike, root.replace(/\/+$/, ""), hostPageCache);
  }
}
