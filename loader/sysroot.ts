import { accessSync, constants } from "node:fs";
import { EM_AARCH64, EM_X86_64, PT_INTERP } from "../formats/elf/constants.ts";
import { LdsimError } from "../formats/errors.ts";
import type { ExecArchProfile } from "../kernel-shim/exec/arch-profile.ts";
import { HostFs } from "../kernel-shim/fs/host-fs.ts";
import type { FsFile, FsOpenOptions, FsResult, FsStat, KernelFs } from "../kernel-shim/fs/types.ts";
import type { MmArch } from "../kernel-shim/mm/layout-constants.ts";
import { profileForMachine, type RtldProfile } from "./rtld-profile.ts";

/**
 * How a foreign tree stands in for "/":
 *
 * - "qemu" (default): as `qemu-aarch64 -L DIR` (qemu 7.2 util/path.c `path()`): an absolute path
 *   that exists under DIR (access(F_OK), so a dangling symlink does not count) is opened there,
 *   any other path on the host. The decision is made once per path, as qemu caches it. So a
 *   program anywhere on the host runs against DIR's libraries, and a file DIR lacks — typically
 *   /etc/ld.so.cache, which Debian's cross packages do not ship — is the host's (an x86_64 cache:
 *   its entries carry flags 0x0303, never aarch64's 0x0a03, so every lookup misses and ld.so goes
 *   on to the system directories, as under qemu). No vDSO is mapped: qemu-user 7.2 gives an
 *   aarch64 guest no AT_SYSINFO_EHDR.
 * - "chroot": DIR is "/" and nothing else exists (what the tree would be on a real machine); the
 *   kernel maps the architecture's vDSO.
 */
export type SysrootMode = "qemu" | "chroot";

export interface Sysroot {
  readonly dir: string;
  readonly mode: SysrootMode;
}

/** A KernelFs that looks a path up under the sysroot first and on the host otherwise (qemu -L). */
export class QemuPrefixFs implements KernelFs {
  private readonly inner: HostFs;
  private readonly host = new HostFs();
  private readonly chosen = new Map<string, KernelFs>();
  private readonly root: string;
  readonly openChecksAccess: boolean;

  constructor(dir: string) {
    this.root = dir.replace(/\/+$/, "");
    this.inner = new HostFs(this.root);
    this.openChecksAccess = this.inner.openChecksAccess ?? false;
  }

  private pick(path: string): KernelFs {
    let fs = this.chosen.get(path);
    if (fs === undefined) {
      let inside = false;
      try {
        accessSync(`${this.root}${path}`, constants.F_OK);
        inside = true;
      } catch {
        inside = false;
      }
      fs = inside ? this.inner : this.host;
      this.chosen.set(path, fs);
    }
    return fs;
  }

  stat(path: string): FsResult<FsStat> {
    return this.pick(path).stat(path);
  }
  lstat(path: string): FsResult<FsStat> {
    return this.pick(path).lstat(path);
  }
  open(path: string, options?: FsOpenOptions): FsResult<FsFile> {
    return this.pick(path).open(path, options);
  }
  readlink(path: string): FsResult<string> {
    return this.pick(path).readlink(path);
  }
  realpath(path: string): FsResult<string> {
    return this.pick(path).realpath(path);
  }
  access(path: string, mode: number): FsResult<void> {
    return this.pick(path).access(path, mode);
  }
}

/** The host file an absolute path of the simulated process names (qemu mode: the tree's copy if it exists). */
export function hostPathIn(s: Sysroot, path: string): string {
  const root = s.dir.replace(/\/+$/, "");
  if (s.mode === "chroot") return `${root}${path}`;
  try {
    accessSync(`${root}${path}`, constants.F_OK);
    return `${root}${path}`;
  } catch {
    return path;
  }
}

/** The simulated kernel's file system for a sysroot. */
export function sysrootFs(s: Sysroot): KernelFs {
  return s.mode === "chroot" ? new HostFs(s.dir) : new QemuPrefixFs(s.dir);
}

/** A program the sysroot cannot run: its machine has no ld.so profile, or it cannot be read. */
export class SysrootError extends LdsimError {
  override name = "SysrootError";
}

/** What a program needs from the machine: kernel arch, ld.so profile, interpreter (PT_INTERP). */
export interface ForeignProgram {
  readonly machine: number;
  readonly arch: MmArch;
  readonly profile: RtldProfile;
  /** PT_INTERP as written in the file (a path inside the sysroot); undefined for a library. */
  readonly interp: string | undefined;
}

const ARCH_OF: Readonly<Record<number, MmArch>> = { [EM_X86_64]: "x86_64", [EM_AARCH64]: "aarch64" };

/**
 * The machine facts for a program in a sysroot: e_machine picks the kernel arch and the ld.so
 * profile (rtld-profile.ts), PT_INTERP names the interpreter inside the sysroot. Reads what
 * binfmt_elf reads first: the ELF64 header, the program headers (at most 64 KiB), PT_INTERP.
 */
export function foreignProgram(fs: KernelFs, path: string): ForeignProgram {
  const f = fs.open(path);
  if (!f.ok) throw new SysrootError(`${path}: cannot open (${f.errno})`);
  const file = f.value;
  const read = (off: number, len: number): Uint8Array => {
    const r = file.pread(off, len);
    if (!r.ok || r.value.length < len) throw new SysrootError(`${path}: cannot read ${len} bytes at ${off}`);
    return r.value;
  };
  try {
    const head = read(0, 64);
    if (head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46)
      throw new SysrootError(`${path}: not an ELF file`);
    if (head[4] !== 2 || head[5] !== 1) throw new SysrootError(`${path}: not a little-endian ELF64 file`);
    const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const machine = dv.getUint16(18, true);
    const arch = ARCH_OF[machine];
    const profile = profileForMachine(machine);
    if (arch === undefined || profile === undefined)
      throw new SysrootError(`${path}: no ld.so profile for e_machine ${machine}`);
    const phoff = Number(dv.getBigUint64(32, true));
    const phnum = dv.getUint16(56, true);
    if (phnum * 56 > 1 << 16) throw new SysrootError(`${path}: program header table larger than 64 KiB`);
    const ph = read(phoff, phnum * 56);
    const pv = new DataView(ph.buffer, ph.byteOffset, ph.byteLength);
    let interp: string | undefined;
    for (let i = 0; i < phnum; i++) {
      const o = i * 56;
      if (pv.getUint32(o, true) !== PT_INTERP) continue;
      // load_elf_binary: 2 ≤ p_filesz ≤ PATH_MAX.
      const len = Number(pv.getBigUint64(o + 32, true));
      if (len < 2 || len > 4096) throw new SysrootError(`${path}: PT_INTERP of ${len} bytes`);
      const bytes = read(Number(pv.getBigUint64(o + 8, true)), len);
      const nul = bytes.indexOf(0);
      interp = Buffer.from(nul < 0 ? bytes : bytes.subarray(0, nul)).toString("latin1");
    }
    return { machine, arch, profile, interp };
  } finally {
    file.close();
  }
}

/** The interpreter ldd runs for a file without PT_INTERP (a library): the architecture's ld.so. */
export const DEFAULT_INTERP: Readonly<Record<MmArch, string>> = {
  x86_64: "/lib64/ld-linux-x86-64.so.2",
  aarch64: "/lib/ld-linux-aarch64.so.1",
  s390x: "/lib/ld64.so.1",
};

/** What exec gives a process under the sysroot mode: qemu-user maps no vDSO. */
export function sysrootExecProfile(s: Sysroot): Partial<ExecArchProfile> {
  return s.mode === "qemu" ? { vdso: [] } : {};
}
