import { memfs } from "memfs";
import { type NodeFsLike, NodeKernelFs } from "./node-fs.ts";

/** One entry of a synthetic sysroot: file contents, or a symlink, or an empty directory. */
export type MemEntry =
  | Uint8Array
  | string
  | { readonly symlink: string }
  | { readonly dir: true }
  | { readonly bytes: Uint8Array; readonly mode: number };

interface MemfsExtra {
  mkdirSync(path: string, options: { recursive: true }): unknown;
  writeFileSync(path: string, data: Uint8Array | string): void;
  symlinkSync(target: string, path: string): void;
  chmodSync(path: string, mode: number): void;
}

function dirname(p: string): string {
  const i = p.lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}

/**
 * A synthetic sysroot in memory (memfs). Built entry by entry with writeFileSync/symlinkSync rather
 * than `Volume.fromJSON`, which silently turns a Uint8Array value into a directory (memfs 4.80 trap,
 * npm-dependencies.md); binary contents and symlinks therefore round-trip exactly.
 */
export class MemFs extends NodeKernelFs {
  private readonly extra: MemfsExtra;

  private constructor(fs: NodeFsLike & MemfsExtra) {
    super(fs);
    this.extra = fs;
  }

  static create(entries: Readonly<Record<string, MemEntry>> = {}): MemFs {
    const { fs } = memfs();
    const m = new MemFs(fs as unknown as NodeFsLike & MemfsExtra);
    for (const [path, entry] of Object.entries(entries)) m.add(path, entry);
    return m;
  }

  /** Add (or replace) one entry; parent directories are created as needed. */
  add(path: string, entry: MemEntry): this {
    if (!path.startsWith("/")) throw new Error(`MemFs paths are absolute: ${path}`);
    const fs = this.extra;
    if (typeof entry === "object" && "dir" in entry) {
      fs.mkdirSync(path, { recursive: true });
      return this;
    }
    fs.mkdirSync(dirname(path), { recursive: true });
    if (typeof entry === "string") fs.writeFileSync(path, entry);
    else if (entry instanceof Uint8Array) {
      fs.writeFileSync(path, entry);
      fs.chmodSync(path, 0o755);
    } else if ("symlink" in entry) fs.symlinkSync(entry.symlink, path);
    else {
      fs.writeFileSync(path, entry.bytes);
      fs.chmodSync(path, entry.mode);
    }
    return this;
  }
}
