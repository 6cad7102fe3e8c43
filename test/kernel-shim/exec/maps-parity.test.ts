import { afterAll, describe, expect, it } from "vitest";
import type { VdsoPart } from "../../../kernel-shim/exec/arch-profile.ts";
import { AUXV_NAMES } from "../../../kernel-shim/exec/auxv.ts";
import { type ExecOptions, execElf } from "../../../kernel-shim/exec/binfmt-elf.ts";
import { HostFs } from "../../../kernel-shim/fs/host-fs.ts";
import { PROT_EXEC, PROT_READ } from "../../../kernel-shim/mm/prot-flags.ts";
import { Kernel } from "../../../kernel-shim/process/kernel.ts";
import { Process } from "../../../kernel-shim/process/process.ts";
import { replayStrace } from "../../../kernel-shim/strace/replay.ts";
import {
  HAS_GCC,
  HAS_SETARCH,
  HAS_STATIC_LIBC,
  HAS_STRACE,
  IS_X86_64,
  type RealRun,
  straceRun,
  TempDir,
  vdsoFixture,
} from "../helpers/host.ts";

/**
 * Parity with the real kernel under `setarch -R`: a C program prints its own /proc/self/maps without
 * allocating (read() into a static buffer, write() out). The real run is traced with strace; ldsim
 * execs the same file, replays the traced calls through the syscall dispatcher, and the bytes its
 * read() of /proc/self/maps returns must equal what the real program printed. Every replayed call
 * must also print the same strace line as the real one (fds, addresses, errnos, stat fields).
 */
const MAPS_SRC = `#include <fcntl.h>
#include <unistd.h>
static char buf[65536];
int main(void) {
  int fd = open("/proc/self/maps", O_RDONLY);
  long n, t = 0;
  while ((n = read(fd, buf + t, sizeof buf - t)) > 0) t += n;
  write(1, buf, t);
  return 0;
}
`;

const usable = HAS_GCC && HAS_SETARCH && HAS_STRACE && IS_X86_64;
if (!usable) console.log("maps parity skipped: needs x86_64 Linux with gcc, setarch and a working strace");
if (usable && !HAS_STATIC_LIBC) console.log("static maps parity skipped: gcc -static needs libc.a (libc6-dev)");

const dir = usable ? new TempDir() : undefined;
afterAll(() => dir?.remove());

/**
 * The vDSO area as this kernel lays it out ([vvar], [vvar_vclock] on ≥ 6.13, [vdso]), read from the
 * real maps, so the test checks ldsim's placement rule on whatever kernel runs it.
 */
function vdsoPartsFrom(maps: string): VdsoPart[] {
  const parts: VdsoPart[] = [];
  for (const line of maps.split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ .* (\[v(?:var|vdso|var_vclock|dso)\])$/.exec(line.trim());
    if (!m) continue;
    const pages = (Number.parseInt(m[2] as string, 16) - Number.parseInt(m[1] as string, 16)) / 4096;
    parts.push({ name: m[3] as string, pages, prot: m[3] === "[vdso]" ? PROT_READ | PROT_EXEC : PROT_READ });
  }
  return parts;
}

interface Compared {
  readonly proc: Process;
  readonly real: RealRun;
  readonly differing: { real: string; sim: string }[];
  readonly replayed: number;
}

/** Lines about fds 0-2 depend on how the test runner set up stdio, not on the kernel model. */
function aboutStdio(line: string): boolean {
  return /^(newfstatat|fstat|ioctl)\([012],/.test(line);
}

function runBoth(path: string, extra: ExecOptions = {}): Compared {
  const real = straceRun(dir as TempDir, [path]);
  const kernel = new Kernel(new HostFs(), real.pid === undefined ? {} : { firstPid: real.pid });
  const proc = Process.spawn(kernel);
  const r = execElf(proc, path, {
    argv: [path],
    envp: [],
    vdsoImage: vdsoFixture(),
    profile: { vdso: vdsoPartsFrom(real.stdout) },
    ...extra,
  });
  expect(r.ok).toBe(true);
  const steps = replayStrace(proc, real.trace, { maxStrlen: 65536 });
  const differing = steps
    .filter((s) => s.line !== s.replayed && !aboutStdio(s.line))
    .map((s) => ({ real: s.line, sim: s.replayed }));
  return { proc, real, differing, replayed: steps.length };
}

describe("exec + replay against the real kernel's /proc/self/maps (setarch -R)", () => {
  it.skipIf(!usable || !HAS_STATIC_LIBC)("static (ET_EXEC) program: identical maps and syscall lines", () => {
    const exe = (dir as TempDir).compile("maps-static", MAPS_SRC, ["-O2", "-static"]);
    const c = runBoth(exe);
    expect(c.differing).toEqual([]);
    expect(c.replayed).toBeGreaterThan(8);
    expect(c.proc.stdoutText()).toBe(c.real.stdout);
    expect(c.real.stdout).toContain("[vdso]");
  });

  it.skipIf(!usable || !HAS_STATIC_LIBC)(
    "static-pie (ET_DYN without PT_INTERP): identical maps, brk at ELF_ET_DYN_BASE",
    () => {
      const exe = (dir as TempDir).compile("maps-spie", MAPS_SRC, ["-O2", "-static-pie"]);
      const c = runBoth(exe);
      expect(c.differing).toEqual([]);
      expect(c.proc.stdoutText()).toBe(c.real.stdout);
      expect(c.real.stdout).toMatch(/^555555555000-\S+ rw-p .*\[heap\]$/m);
    },
  );

  it.skipIf(!usable)("dynamic PIE: ld.so's whole startup replays to identical maps (libc included)", () => {
    const exe = (dir as TempDir).compile("maps-dyn", MAPS_SRC, ["-O2"]);
    const c = runBoth(exe);
    expect(c.differing).toEqual([]);
    expect(c.replayed).toBeGreaterThan(20);
    expect(c.proc.stdoutText()).toBe(c.real.stdout);
    expect(c.real.stdout).toContain("libc.so.6");
  });

  it.skipIf(!usable)("PT_GNU_STACK with PF_X (-z execstack): the [stack] VMA is executable", () => {
    const exe = (dir as TempDir).compile("maps-xs", MAPS_SRC, ["-O2", "-z", "execstack"]);
    const c = runBoth(exe);
    expect(c.differing).toEqual([]);
    expect(c.proc.stdoutText()).toBe(c.real.stdout);
    expect(c.real.stdout).toMatch(/ rwxp .*\[stack\]$/m);
  });

  it.skipIf(!usable)("exec-time auxv matches LD_SHOW_AUXV of the same exec", () => {
    const exe = (dir as TempDir).compile("auxv-dyn", "int main(void){return 0;}\n", ["-O2"]);
    const real = straceRun(dir as TempDir, [exe], ["LD_SHOW_AUXV=1"]);
    const shown = new Map<string, string>();
    for (const l of real.stdout.split("\n")) {
      const m = /^(AT_\S+(?: \(0x[0-9a-f]+\))?):\s+(.*)$/.exec(l);
      if (m) shown.set(m[1] as string, (m[2] as string).trim());
    }
    const proc = Process.spawn(new Kernel(new HostFs()));
    const r = execElf(proc, exe, { argv: [exe], envp: ["LD_SHOW_AUXV=1"], vdsoImage: vdsoFixture() });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const names: Record<number, string> = {
      33: "AT_SYSINFO_EHDR",
      3: "AT_PHDR",
      5: "AT_PHNUM",
      7: "AT_BASE",
      9: "AT_ENTRY",
      25: "AT_RANDOM",
      6: "AT_PAGESZ",
      4: "AT_PHENT",
      17: "AT_CLKTCK",
    };
    let compared = 0;
    for (const [type, value] of r.image.auxv) {
      const name = names[type];
      if (!name || !shown.has(name)) continue;
      const text = shown.get(name) as string;
      const realValue = BigInt(text.startsWith("0x") ? text : /^\d+$/.test(text) ? text : `0x${text}`);
      expect([name, value]).toEqual([name, realValue]);
      compared++;
    }
    expect(compared).toBe(9);
    // AT_EXECFN is the string exec was given; AT_PLATFORM the kernel's.
    expect(shown.get("AT_EXECFN")).toBe(exe);
    expect(shown.get("AT_PLATFORM")).toBe("x86_64");
    // The whole vector in the kernel's order, named as glibc prints it.
    const ours = r.image.auxv.map(([t]) => AUXV_NAMES[t] ?? `AT_??? (0x${t.toString(16)})`);
    expect(ours).toEqual([...shown.keys()]);
  });
});
