import type { FsFile, FsOpenOptions, FsResult, FsStat, KernelFs } from "../kernel-shim/fs/types.ts";

/**
 * A read-through cache over a KernelFs for the lab's long runs: the files a workload maps do not
 * change while it runs, so stat/realpath answers and file contents are read from the host once and
 * then served from memory (thousands of dlopen cycles would otherwise spend their time in host I/O).
 * Semantics are the backing file system's: every answer is the first answer it gave.
 */
export class CachedFs implements KernelFs {
  private readonly memo = new Map<string, unknown>();
  private readonly contents = new Map<string, { stat: FsStat; bytes: Uint8Array }>();

  constructor(private readonly backing: KernelFs) {}

  private once<T>(key: string, f: () => T): T {
    if (this.memo.has(key)) return this.memo.get(key) as T;
    const v = f();
    this.memo.set(key, v);
    return v;
  }

  stat(path: string): FsResult<FsStat> {
    return this.once(`stat\0${path}`, () => this.backing.stat(path));
  }
  lstat(path: string): FsResult<FsStat> {
    return this.once(`lstat\0${path}`, () => this.backing.lstat(path));
  }
  readlink(path: string): FsResult<string> {
    return this.once(`readlink\0${path}`, () => this.backing.readlink(path));
  }
  realpath(path: string): FsResult<string> {
    return this.once(`realpath\0${path}`, () => this.backing.realpath(path));
  }
  access(path: string, mode: number): FsResult<void> {
    return this.once(`access\0${path}\0${mode}`, () => this.backing.access(path, mode));
  }

  open(path: string, options: FsOpenOptions = {}): FsResult<FsFile> {
    const key = `${path}\0${options.noFollow === true}\0${options.directory === true}\0${options.write === true}`;
    let c = this.contents.get(key);
    if (!c) {
      const r = this.backing.open(path, options);
      if (!r.ok) return r;
      const stat = r.value.fstat();
      const size = Number(stat.size);
      const bytes = (stat.mode & 0o170000) === 0o100000 && size > 0 ? r.value.pread(0, size) : undefined;
      r.value.close();
      if (!bytes?.ok) return this.backing.open(path, options);
      c = { stat, bytes: bytes.value };
      this.contents.set(key, c);
    }
    const { stat, bytes } = c;
    return {
      ok: true,
      value: {
        path,
        pread: (offset, length) => ({
          ok: true,
          value: bytes.subarray(offset, Math.min(bytes.length, offset + length)),
        }),
        fstat: () => stat,
        close: () => {},
      },
    };
  }
}
