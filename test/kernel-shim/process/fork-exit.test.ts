import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { execElf } from "../../../kernel-shim/exec/binfmt-elf.ts";
import type { ExecSframeRegistrar, SframeExecRange } from "../../../kernel-shim/exec/sframe-hook.ts";
import { MemFs } from "../../../kernel-shim/fs/mem-fs.ts";
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "../../../kernel-shim/mm/prot-flags.ts";
import { Kernel } from "../../../kernel-shim/process/kernel.ts";
import { Process } from "../../../kernel-shim/process/process.ts";
import { formatEvent } from "../../../kernel-shim/strace/format.ts";
import { invokeSyscall, syscall } from "../../../kernel-shim/syscalls/dispatch.ts";

const MAIN = new Uint8Array(readFileSync(new URL("../../fixtures/sframe/v1/x86_64/main", import.meta.url)));
const READELF = readFileSync(new URL("../../fixtures/sframe/v1/x86_64/main.readelf-l.txt", import.meta.url), "latin1");

/** Program headers as GNU readelf -lW printed them for the fixture (the oracle for expected ranges). */
function readelfPhdrs(): { type: string; vaddr: number; memsz: number; flags: string }[] {
  const out: { type: string; vaddr: number; memsz: number; flags: string }[] = [];
  for (const l of READELF.split("\n")) {
    const m = /^\s+([A-Z_]+)\s+0x[0-9a-f]+ (0x[0-9a-f]+) 0x[0-9a-f]+ 0x[0-9a-f]+ (0x[0-9a-f]+) ([RWE ]{3})/.exec(l);
    if (m) out.push({ type: m[1] as string, vaddr: Number(m[2]), memsz: Number(m[3]), flags: m[4] as string });
  }
  return out;
}

class RecordingRegistrar implements ExecSframeRegistrar {
  readonly calls: { pid: number; range: SframeExecRange }[] = [];
  readonly forks: { parent: number; child: number; keep: boolean }[] = [];
  readonly released: number[] = [];
  registerAtExec(proc: Process, range: SframeExecRange): number {
    this.calls.push({ pid: proc.pid, range });
    return 0;
  }
  onFork(parent: Process, child: Process, keep: boolean): void {
    this.forks.push({ parent: parent.pid, child: child.pid, keep });
  }
  onMmRelease(proc: Process): void {
    this.released.push(proc.pid);
  }
}

/** A memfs sysroot: the SFrame fixture as the program and (a copy of it) as its PT_INTERP. */
function sysroot(): MemFs {
  return MemFs.create({ "/bin/main": MAIN, "/lib64/ld-linux-x86-64.so.2": MAIN });
}

describe("exec registers PT_GNU_SFRAME through the hook", () => {
  it("one call per PF_X program header, for the program and for its interpreter", () => {
    const reg = new RecordingRegistrar();
    const proc = Process.spawn(new Kernel(sysroot(), { sframe: reg }));
    const r = execElf(proc, "/bin/main");
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const ph = readelfPhdrs();
    const sf = ph.find((p) => p.type === "GNU_SFRAME");
    const texts = ph.filter((p) => p.flags.includes("E"));
    expect(sf).toBeDefined();
    expect(texts.length).toBe(1);
    const expected = (bias: number, object: string, path: string) =>
      texts.map((t) => ({
        sframeAddr: bias + (sf?.vaddr ?? 0),
        sframeLen: sf?.memsz,
        textStart: bias + t.vaddr,
        textLen: t.memsz,
        object,
        path,
      }));
    expect(r.image.loadBias).toBe(0x555555554000);
    expect(reg.calls.map((c) => c.range)).toEqual([
      ...expected(0x555555554000, "executable", "/bin/main"),
      ...expected(r.image.interpBase, "interpreter", "/lib64/ld-linux-x86-64.so.2"),
    ]);
    // The interpreter went top-down below mmap_base; the vDSO area directly below it.
    expect(r.image.interpBase + 0x5000).toBe(0x7ffff7fff000);
    expect(r.image.vdsoBase + 0x2000).toBe(r.image.interpBase);
  });
});

describe("fork", () => {
  function anonPage(p: Process, text: string): number {
    const addr = Number(syscall(p, "mmap", 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    p.mm.writeUser(addr, Buffer.from(text));
    return addr;
  }

  it("copies the address space: parent and child writes do not affect each other", () => {
    const parent = Process.spawn(new Kernel(sysroot()));
    expect(execElf(parent, "/bin/main").ok).toBe(true);
    const addr = anonPage(parent, "before");
    const child = parent.fork();
    expect(child.pid).not.toBe(parent.pid);
    expect(child.ppid).toBe(parent.pid);
    expect(child.mm.renderMaps()).toBe(parent.mm.renderMaps());
    child.mm.writeUser(addr, Buffer.from("child!"));
    parent.mm.writeUser(addr, Buffer.from("parent"));
    expect(Buffer.from(parent.mm.readUser(addr, 6)).toString()).toBe("parent");
    expect(Buffer.from(child.mm.readUser(addr, 6)).toString()).toBe("child!");
    // A private file mapping (the program's data segment) too.
    const data = 0x555555554000 + 0x3db0;
    const orig = parent.mm.readUser(data, 8).slice();
    child.mm.writeUser(data, new Uint8Array(8).fill(0xaa));
    expect(parent.mm.readUser(data, 8)).toEqual(orig);
    // The stack (argv strings) stays identical in the child until it writes.
    const sp = Number(child.regs.sp);
    expect(child.mm.readUser(sp, 64)).toEqual(parent.mm.readUser(sp, 64));
    // Mappings made after the fork are the maker's own.
    const late = anonPage(child, "late");
    expect(child.mm.findVma(late)).toBeDefined();
    expect(parent.mm.findVma(late)).toBeUndefined();
  });

  it("shares open file descriptions (one file position), copies registers, cwd and TLS base", () => {
    const parent = Process.spawn(new Kernel(MemFs.create({ "/f": "0123456789" })), { cwd: "/" });
    const fd = Number(syscall(parent, "openat", -100, "/f", 0));
    parent.fsBase = 0x7ffff7d80740n;
    parent.regs.pc = 0x401000n;
    const child = parent.fork();
    const buf = new Uint8Array(4);
    expect(syscall(child, "read", fd, buf, 4)).toBe(4n);
    expect(syscall(parent, "read", fd, buf, 4)).toBe(4n);
    expect(Buffer.from(buf).toString()).toBe("4567");
    expect(child.fsBase).toBe(parent.fsBase);
    expect(child.regs.pc).toBe(0x401000n);
    expect(child.tidAddress).toBe(0n);
    // Closing in the child leaves the parent's fd open.
    expect(syscall(child, "close", fd)).toBe(0n);
    expect(syscall(parent, "read", fd, buf, 4)).toBe(2n);
  });

  it("carries the SFrame keep flag to the hook: none by default (the series), or as configured", () => {
    const reg = new RecordingRegistrar();
    const k = new Kernel(sysroot(), { sframe: reg });
    const p = Process.spawn(k);
    const c1 = p.fork();
    const c2 = p.fork({ keepSframe: true });
    const k2 = new Kernel(sysroot(), { sframe: reg, forkKeepsSframe: true });
    const q = Process.spawn(k2);
    const c3 = q.fork();
    expect(reg.forks).toEqual([
      { parent: p.pid, child: c1.pid, keep: false },
      { parent: p.pid, child: c2.pid, keep: true },
      { parent: q.pid, child: c3.pid, keep: true },
    ]);
  });
});

describe("exit", () => {
  it("exit_group frees the address space, closes every fd, releases the SFrame tree and leaves a zombie", () => {
    const reg = new RecordingRegistrar();
    const k = new Kernel(sysroot(), { sframe: reg });
    const p = Process.spawn(k);
    expect(execElf(p, "/bin/main").ok).toBe(true);
    const releasedAtExec = reg.released.length;
    syscall(p, "openat", -100, "/bin/main", 0);
    expect(p.fds.size).toBe(4);
    const out = invokeSyscall(p, "exit_group", [0x1ff]);
    expect(out.event.ret).toBeUndefined();
    const { pid: _pid, ...ev } = out.event;
    expect(formatEvent(ev)).toBe(`exit_group(511)                         = ?`);
    expect(p.state).toBe("zombie");
    expect(p.exitStatus).toBe(0xff);
    expect(p.mm.mapCount).toBe(0);
    expect(p.fds.size).toBe(0);
    expect(reg.released.length).toBe(releasedAtExec + 1);
    // Nothing runs in a zombie; it disappears when reaped.
    expect(syscall(p, "getpid")).toBe(-3n);
    expect(k.processes.has(p.pid)).toBe(true);
    expect(p.reap()).toBe(0xff);
    expect(k.processes.has(p.pid)).toBe(false);
  });

  it("a description shared with a live process stays open", () => {
    const parent = Process.spawn(new Kernel(MemFs.create({ "/f": "abc" })));
    const fd = Number(syscall(parent, "openat", -100, "/f", 0));
    const child = parent.fork();
    child.exit(0);
    const buf = new Uint8Array(3);
    expect(syscall(parent, "read", fd, buf, 3)).toBe(3n);
  });
});
