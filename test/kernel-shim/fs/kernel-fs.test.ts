import { statSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { HostFs } from "../../../kernel-shim/fs/host-fs.ts";
import { MemFs } from "../../../kernel-shim/fs/mem-fs.ts";
import { devMajor, devMinor, isDir, R_OK, X_OK } from "../../../kernel-shim/fs/types.ts";

describe("HostFs", () => {
  it("reports the host's real st_dev/st_ino/mode/size", () => {
    const real = statSync("/etc/passwd", { bigint: true });
    const st = new HostFs().stat("/etc/passwd");
    expect(st.ok).toBe(true);
    if (!st.ok) return;
    expect([st.value.dev, st.value.ino, st.value.mode, st.value.size]).toEqual([
      real.dev,
      real.ino,
      Number(real.mode),
      real.size,
    ]);
    // The maps "major:minor" split of dev_t (glibc gnu_dev_major/minor).
    expect(devMajor(0x10305n)).toBe(0x103n);
    expect(devMinor(0x10305n)).toBe(0x5n);
  });

  it("maps failures to the kernel's errno", () => {
    const fs = new HostFs();
    expect(fs.stat("/nonexistent/x")).toEqual({ ok: false, errno: "ENOENT" });
    expect(fs.stat("/etc/passwd/x")).toEqual({ ok: false, errno: "ENOTDIR" });
    expect(fs.readlink("/etc/passwd")).toEqual({ ok: false, errno: "EINVAL" });
    expect(fs.open("/etc/passwd", { directory: true })).toEqual({ ok: false, errno: "ENOTDIR" });
    expect(fs.open("/etc", { write: true })).toEqual({ ok: false, errno: "EISDIR" });
    expect(fs.access("/etc/passwd", 8)).toEqual({ ok: false, errno: "EINVAL" });
  });

  it("reads positionally and short at the end, never past it", () => {
    const f = new HostFs().open("/etc/passwd");
    expect(f.ok).toBe(true);
    if (!f.ok) return;
    const size = Number(f.value.fstat().size);
    const r = f.value.pread(size - 3, 100);
    expect(r.ok && r.value.length).toBe(3);
    const e = f.value.pread(size + 10, 1 << 30);
    expect(e.ok && e.value.length).toBe(0);
    f.value.close();
  });

  it("a directory opens but reads are EISDIR", () => {
    const d = new HostFs().open("/etc");
    expect(d.ok && isDir(d.value.fstat())).toBe(true);
    if (d.ok) expect(d.value.pread(0, 10)).toEqual({ ok: false, errno: "EISDIR" });
  });
});

describe("MemFs (memfs behind the interface)", () => {
  const bytes = Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 255]);
  const fs = MemFs.create({
    "/lib/x.so": bytes,
    "/etc/conf": "text\n",
    "/lib64/ld.so": { symlink: "/lib/x.so" },
    "/ro": { bytes: Uint8Array.of(1), mode: 0o644 },
    "/empty": { dir: true },
  });

  it("keeps binary files as files (not the fromJSON Uint8Array-as-directory trap)", () => {
    const st = fs.stat("/lib/x.so");
    expect(st.ok && st.value.size).toBe(8n);
    const f = fs.open("/lib/x.so");
    expect(f.ok).toBe(true);
    if (f.ok) expect(f.value.pread(0, 8)).toEqual({ ok: true, value: bytes });
  });

  it("follows and reads symlinks, resolves realpath", () => {
    expect(fs.readlink("/lib64/ld.so")).toEqual({ ok: true, value: "/lib/x.so" });
    expect(fs.realpath("/lib64/ld.so")).toEqual({ ok: true, value: "/lib/x.so" });
    const l = fs.lstat("/lib64/ld.so");
    expect(l.ok && (l.value.mode & 0o170000) === 0o120000).toBe(true);
    expect(fs.open("/lib64/ld.so", { noFollow: true })).toEqual({ ok: false, errno: "ELOOP" });
    const st = fs.stat("/lib64/ld.so");
    const target = fs.stat("/lib/x.so");
    expect(st.ok && target.ok && st.value.ino === target.value.ino).toBe(true);
  });

  it("reports errnos and permissions", () => {
    expect(fs.stat("/etc/conf/x")).toEqual({ ok: false, errno: "ENOTDIR" });
    expect(fs.stat("/nope")).toEqual({ ok: false, errno: "ENOENT" });
    expect(fs.access("/lib/x.so", X_OK).ok).toBe(true);
    expect(fs.access("/ro", R_OK).ok).toBe(true);
    const e = fs.stat("/empty");
    expect(e.ok && isDir(e.value)).toBe(true);
  });
});
