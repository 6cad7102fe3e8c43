import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { PT_INTERP, PT_LOAD } from "../../../formats/elf/constants.ts";
import { Errno, errnoName } from "../../../kernel-shim/errno.ts";
import { execElf } from "../../../kernel-shim/exec/binfmt-elf.ts";
import { HostFs } from "../../../kernel-shim/fs/host-fs.ts";
import { Kernel } from "../../../kernel-shim/process/kernel.ts";
import { Process } from "../../../kernel-shim/process/process.ts";
import { HAS_GCC, IS_X86_64, TempDir } from "../helpers/host.ts";

/**
 * binfmt_elf's checks and their errnos, against the real kernel: each broken file is exec'd for real
 * by a tiny C helper (fork + execve, errno sent back through a CLOEXEC pipe, or the fatal signal
 * after the point of no return), and by ldsim; the outcomes must agree.
 */
const HELPER = `#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int p[2]; pipe2(p, O_CLOEXEC);
  pid_t pid = fork();
  if (pid == 0) {
    char *big = 0;
    if (argc > 2) { big = malloc(140000); memset(big, 'a', 139999); big[139999] = 0; }
    char *av[] = { argv[1], big, 0 }; char *ev[] = { 0 };
    execve(argv[1], av, ev);
    int e = errno; write(p[1], &e, sizeof e); _exit(127);
  }
  close(p[1]);
  int e = 0, st = 0;
  ssize_t n = read(p[0], &e, sizeof e);
  waitpid(pid, &st, 0);
  if (n == sizeof e) printf("errno %d\\n", e);
  else if (WIFSIGNALED(st)) printf("signal %d\\n", WTERMSIG(st));
  else printf("exit %d\\n", WEXITSTATUS(st));
  return 0;
}
`;

const usable = HAS_GCC && IS_X86_64;
if (!usable) console.log("exec errno parity skipped: needs x86_64 Linux with gcc");
const dir = usable ? new TempDir() : undefined;
afterAll(() => dir?.remove());

type Outcome = string; // "ok" | "ENOEXEC" | ... | "fatal:EINVAL"

function realOutcome(helper: string, path: string, cwd: string, big = false): string {
  const out = execFileSync(helper, big ? [path, "big"] : [path], { cwd, encoding: "latin1" }).trim();
  const [kind, n] = out.split(" ");
  if (kind === "errno") return errnoName(Number(n));
  if (kind === "signal") return `signal:${n}`;
  return "ok";
}

let lastSimErrno: string | undefined;
function simOutcome(path: string, cwd: string, big = false): Outcome {
  const proc = Process.spawn(new Kernel(new HostFs()), { cwd });
  const r = execElf(proc, path, { argv: big ? [path, "a".repeat(139999)] : [path], envp: [] });
  lastSimErrno = r.ok ? undefined : r.errno;
  if (r.ok) return "ok";
  // A failure after begin_new_exec kills the task with SIGSEGV, as force_fatal_sig does.
  if (r.fatal) return `signal:11`;
  return r.errno;
}

interface Phdr {
  index: number;
  type: number;
  offset: number;
  filesz: number;
}
function phdrs(b: Uint8Array): Phdr[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const phoff = Number(v.getBigUint64(32, true));
  const n = v.getUint16(56, true);
  return Array.from({ length: n }, (_, i) => ({
    index: i,
    type: v.getUint32(phoff + i * 56, true),
    offset: Number(v.getBigUint64(phoff + i * 56 + 8, true)),
    filesz: Number(v.getBigUint64(phoff + i * 56 + 32, true)),
  }));
}
function phdrField(b: Uint8Array, i: number, field: number, value: bigint | number, size: 4 | 8): void {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const at = Number(v.getBigUint64(32, true)) + i * 56 + field;
  if (size === 4) v.setUint32(at, Number(value), true);
  else v.setBigUint64(at, BigInt(value), true);
}

describe("load_elf_binary checks: errno parity with the real kernel", () => {
  const cases: {
    name: string;
    make: (d: TempDir, base: Uint8Array, ld: Uint8Array) => string;
    big?: boolean;
    expected: string;
    /** For fatal cases: the errno the kernel had when it gave up (only the signal is visible outside). */
    simErrno?: string;
  }[] = [
    { name: "missing file", make: (d) => d.file("nope"), expected: "ENOENT" },
    { name: "path through a regular file", make: (d) => `${d.file("prog")}/x`, expected: "ENOTDIR" },
    { name: "directory", make: (d) => d.path, expected: "EACCES" },
    {
      name: "not executable",
      make: (d, base) => write(d, "noexec", base, 0o644),
      expected: "EACCES",
    },
    { name: "bad magic", make: (d) => write(d, "junk", Buffer.from("junk, not an ELF file\n")), expected: "ENOEXEC" },
    {
      name: "wrong e_machine (ARM)",
      make: (d, b) =>
        write(
          d,
          "arm",
          patch(b, (x) => x.writeUInt16LE(40, 18)),
        ),
      expected: "ENOEXEC",
    },
    {
      name: "ET_REL",
      make: (d, b) =>
        write(
          d,
          "rel",
          patch(b, (x) => x.writeUInt16LE(1, 16)),
        ),
      expected: "ENOEXEC",
    },
    {
      name: "e_phentsize ≠ 56",
      make: (d, b) =>
        write(
          d,
          "phent",
          patch(b, (x) => x.writeUInt16LE(32, 54)),
        ),
      expected: "ENOEXEC",
    },
    {
      name: "phdr table > 64 KiB",
      make: (d, b) =>
        write(
          d,
          "phnum",
          patch(b, (x) => x.writeUInt16LE(1171, 56)),
        ),
      expected: "ENOEXEC",
    },
    {
      // Linux 6.18 accepts a table beyond one page; the garbage read as headers then fails the load.
      name: "phdr table > one page, garbage headers",
      make: (d, b) =>
        write(
          d,
          "phnum80",
          patch(b, (x) => x.writeUInt16LE(80, 56)),
        ),
      expected: "signal:11",
    },
    {
      name: "PT_INTERP shorter than 2",
      make: (d, b) =>
        write(
          d,
          "interp1",
          patchInterp(b, (x, ph) => phdrField(x, ph.index, 32, 1, 8)),
        ),
      expected: "ENOEXEC",
    },
    {
      name: "PT_INTERP not NUL-terminated",
      make: (d, b) =>
        write(
          d,
          "interpnul",
          patchInterp(b, (x, ph) => {
            x[ph.offset + ph.filesz - 1] = 0x41;
          }),
        ),
      expected: "ENOEXEC",
    },
    {
      name: "missing interpreter",
      make: (d, b) => write(d, "interpmissing", setInterp(b, "no-such-ld")),
      expected: "ENOENT",
    },
    {
      name: "interpreter with bad magic",
      make: (d, b) => {
        write(d, "junkld", Buffer.from("not an ELF at all, but executable\n".repeat(4)));
        return write(d, "interpjunk", setInterp(b, "junkld"));
      },
      expected: "ELIBBAD",
    },
    {
      name: "interpreter shorter than an ELF header (elf_read short read)",
      make: (d, b) => {
        write(d, "shortld", Buffer.from("\x7fELF short\n"));
        return write(d, "interpshort", setInterp(b, "shortld"));
      },
      expected: "EIO",
    },
    {
      name: "interpreter for another architecture",
      make: (d, b, ld) => {
        write(
          d,
          "armld",
          patch(ld, (x) => x.writeUInt16LE(40, 18)),
        );
        return write(d, "interparm", setInterp(b, "armld"));
      },
      expected: "ELIBBAD",
    },
    {
      name: "interpreter not executable",
      make: (d, b, ld) => {
        write(d, "noxld", ld, 0o644);
        return write(d, "interpnox", setInterp(b, "noxld"));
      },
      expected: "EACCES",
    },
    {
      // total_mapping_size() == 0 → -EINVAL after begin_new_exec: the kernel kills the task.
      name: "ET_DYN whose PT_LOADs span nothing (after the point of no return)",
      make: (d, b) =>
        write(
          d,
          "emptyload",
          patch(b, (x) => {
            for (const ph of phdrs(x)) {
              if (ph.type !== PT_LOAD) continue;
              for (const field of [16, 32, 40]) phdrField(x, ph.index, field, 0, 8);
            }
          }),
        ),
      expected: "signal:11",
      simErrno: "EINVAL",
    },
    {
      name: "interpreter without PT_LOAD",
      make: (d, b, ld) => {
        write(
          d,
          "noloadld",
          patch(ld, (x) => {
            for (const ph of phdrs(x)) if (ph.type === PT_LOAD) phdrField(x, ph.index, 0, 0, 4);
          }),
        );
        return write(d, "interpnoload", setInterp(b, "noloadld"));
      },
      expected: "signal:11",
      simErrno: "EINVAL",
    },
    { name: "argument longer than MAX_ARG_STRLEN", make: (d) => d.file("prog"), big: true, expected: "E2BIG" },
    { name: "a good program", make: (d) => d.file("prog"), expected: "ok" },
  ];

  it.skipIf(!usable)("every case: same errno (or fatal signal) as the real execve", () => {
    const d = dir as TempDir;
    const helper = d.compile("exec-helper", HELPER, ["-O2"]);
    const prog = d.compile("prog", "int main(void){return 0;}\n", ["-O2"]);
    const base = new Uint8Array(readFileSync(prog));
    const ldPath = Buffer.from(interpOf(base)).toString("latin1");
    const ld = new Uint8Array(readFileSync(ldPath));
    mkdirSync(d.file("sub"), { recursive: true });
    const rows: string[] = [];
    for (const c of cases) {
      const path = c.make(d, base, ld);
      const real = realOutcome(helper, path, d.path, c.big);
      const sim = simOutcome(path, d.path, c.big);
      rows.push(`${c.name}: real=${real} sim=${sim}`);
      expect({ case: c.name, real }).toEqual({ case: c.name, real: c.expected });
      expect({ case: c.name, sim }).toEqual({ case: c.name, sim: real });
      if (c.simErrno) expect({ case: c.name, errno: lastSimErrno }).toEqual({ case: c.name, errno: c.simErrno });
    }
    expect(rows.length).toBe(cases.length);
  });

  it("a failure before the point of no return leaves the process untouched", () => {
    const proc = Process.spawn(new Kernel(new HostFs()));
    const before = proc.mm;
    const r = execElf(proc, "/nonexistent/prog");
    expect(r).toMatchObject({ ok: false, errno: "ENOENT", fatal: false });
    expect(proc.mm).toBe(before);
    expect(proc.state).toBe("running");
    expect(-Errno.ENOENT).toBe(-2);
  });
});

function write(d: TempDir, name: string, bytes: Uint8Array, mode = 0o755): string {
  const p = d.file(name);
  writeFileSync(p, bytes);
  chmodSync(p, mode);
  return p;
}
function patch(b: Uint8Array, f: (x: Buffer) => void): Uint8Array {
  const x = Buffer.from(b);
  f(x);
  return x;
}
function interpPhdr(b: Uint8Array): Phdr {
  const ph = phdrs(b).find((p) => p.type === PT_INTERP);
  if (!ph) throw new Error("no PT_INTERP");
  return ph;
}
function interpOf(b: Uint8Array): Uint8Array {
  const ph = interpPhdr(b);
  return b.subarray(ph.offset, ph.offset + ph.filesz - 1);
}
function patchInterp(b: Uint8Array, f: (x: Buffer, ph: Phdr) => void): Uint8Array {
  return patch(b, (x) => f(x, interpPhdr(x)));
}
/** Point PT_INTERP at a relative name (resolved against the cwd, as open_exec does). */
function setInterp(b: Uint8Array, name: string): Uint8Array {
  return patchInterp(b, (x, ph) => {
    x.fill(0, ph.offset, ph.offset + ph.filesz);
    x.write(name, ph.offset, "latin1");
    phdrField(x, ph.index, 32, name.length + 1, 8);
    phdrField(x, ph.index, 40, name.length + 1, 8);
  });
}
void copyFileSync;
