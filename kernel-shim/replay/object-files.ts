import { existsSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { FileSource } from "../../formats/bytes/source.ts";
import { ElfFile } from "../../formats/elf/file.ts";
import { FormatError } from "../../formats/errors.ts";
import type { MappedInode } from "../mm/vma.ts";
import { MappedObject } from "../unwind/mapped-object.ts";

/** How recorded paths become host paths (perf's --symfs, plus prefix rewrites for moved trees). */
export interface PathOptions {
  /** Prefix every recorded absolute path with this directory (perf script --symfs). */
  readonly sysroot?: string;
  /** Prefix rewrites applied first, e.g. `{ from: "/work/main", to: "/src/ldsim" }`. */
  readonly remap?: ReadonlyArray<{ readonly from: string; readonly to: string }>;
  /** Look for `[vdso]` in perf's build-id cache (~/.debug/[vdso]/ID/vdso). Default true. */
  readonly buildIdCache?: string | null;
}

/** An ELF file found on the host for a recorded path, opened once and shared by every process. */
export interface LoadedFile {
  readonly recordedPath: string;
  readonly hostPath: string;
  readonly elf: ElfFile;
  readonly inode: MappedInode;
  readonly buildId: string | undefined;
}

/** Outcome of resolving a recorded path: the file, or why it cannot be used (shown as a warning once). */
export type FileLookup =
  | { readonly ok: true; readonly file: LoadedFile }
  | { readonly ok: false; readonly reason: string };

/**
 * The files a recording mapped, resolved on this machine. A file whose build-id differs from the one
 * perf recorded is refused (as perf refuses it for symbols): unwinding with another build's SFrame
 * would give wrong answers silently.
 */
export class ObjectFiles {
  private readonly cache = new Map<string, FileLookup>();
  private nextIno = 1;
  constructor(
    private readonly options: PathOptions,
    /** Recorded build-ids by recorded path (HEADER_BUILD_ID). */
    private readonly recordedIds: ReadonlyMap<string, string>,
  ) {}

  hostPath(recorded: string): string {
    let p = recorded;
    for (const m of this.options.remap ?? []) {
      if (p === m.from || p.startsWith(`${m.from}/`)) {
        p = m.to + p.slice(m.from.length);
        break;
      }
    }
    return this.options.sysroot ? join(this.options.sysroot, p) : p;
  }

  /** Where a recorded name is on this host: a real path, or `[vdso]` from perf's build-id cache. */
  private locate(recorded: string): string | undefined {
    if (recorded === "[vdso]") {
      const id = this.recordedIds.get(recorded);
      const root = this.options.buildIdCache === undefined ? join(homedir(), ".debug") : this.options.buildIdCache;
      if (!id || root === null) return undefined;
      const p = join(root, "[vdso]", id, "vdso");
      return existsSync(p) ? p : undefined;
    }
    if (!recorded.startsWith("/")) return undefined;
    return this.hostPath(recorded);
  }

  lookup(recorded: string): FileLookup {
    const hit = this.cache.get(recorded);
    if (hit) return hit;
    const r = this.open(recorded);
    this.cache.set(recorded, r);
    return r;
  }

  private open(recorded: string): FileLookup {
    const host = this.locate(recorded);
    if (host === undefined) return { ok: false, reason: `${recorded}: not a file on this host` };
    if (!existsSync(host) || !statSync(host).isFile()) return { ok: false, reason: `${recorded}: ${host} not found` };
    let elf: ElfFile;
    let src: FileSource;
    try {
      src = new FileSource(host);
      elf = ElfFile.open(src);
    } catch (e) {
      if (e instanceof FormatError) return { ok: false, reason: `${recorded}: ${e.message}` };
      throw e;
    }
    const buildId = new MappedObject(host, elf, 0n, null).buildId;
    const want = this.recordedIds.get(recorded);
    if (want !== undefined && buildId !== undefined && want !== buildId) {
      return { ok: false, reason: `${recorded}: build-id mismatch (recorded ${want}, ${host} has ${buildId})` };
    }
    const inode: MappedInode = {
      devMajor: 0,
      devMinor: 0,
      ino: this.nextIno++,
      path: recorded,
      size: src.size,
      read: (offset, length) => src.read(offset, length),
    };
    return { ok: true, file: { recordedPath: recorded, hostPath: host, elf, inode, buildId } };
  }
}
