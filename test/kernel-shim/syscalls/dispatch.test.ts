import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Errno } from "../../../kernel-shim/errno.ts";
import { MemFs } from "../../../kernel-shim/fs/mem-fs.ts";
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from "../../../kernel-shim/mm/prot-flags.ts";
import { Kernel } from "../../../kernel-shim/process/kernel.ts";
import { Process } from "../../../kernel-shim/process/process.ts";
import { formatEvent } from "../../../kernel-shim/strace/format.ts";
import { invokeSyscall, syscall } from "../../../kernel-shim/syscalls/dispatch.ts";
import { STACKTRACE_SETUP_NR, SYSCALL_NUMBERS, syscallNumber } from "../../../kernel-shim/syscalls/numbers.ts";

const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;

function proc(arch: "x86_64" | "aarch64" | "s390x" = "x86_64") {
  return Process.spawn(
    new Kernel(MemFs.create({ "/etc/ld.so.cache": "cache-bytes", "/lib/libc.so.6": new Uint8Array(8192) }), { arch }),
  );
}
const E = (n: keyof typeof Errno) => -BigInt(Errno[n]);

describe("dispatcher", () => {
  it("runs by name and by each architecture's number, and logs strace lines", () => {
    const p = proc();
    const fd = syscall(p, 257, -100, "/etc/ld.so.cache", O_RDONLY | O_CLOEXEC);
    expect(fd).toBe(3n);
    const st = new Uint8Array(144);
    expect(syscall(p, "newfstatat", 3, "", st, 0x1000)).toBe(0n);
    expect(new DataView(st.buffer).getBigInt64(48, true)).toBe(11n);
    const mm = syscall(p, "mmap", 0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    // Top-down below mmap_base (0x7ffff7fff000 with ASLR off).
    expect(mm).toBe(0x7ffff7ffd000n);
    expect(p.log.lines()).toEqual([
      'openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3',
      'newfstatat(3, "", {st_mode=S_IFREG|0666, st_size=11, ...}, AT_EMPTY_PATH) = 0',
      "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7ffff7ffd000",
    ]);
    const a = proc("aarch64");
    expect(syscall(a, 56, -100, "/etc/ld.so.cache", 0)).toBe(3n);
    expect(syscall(a, "open", "/etc/ld.so.cache", 0)).toBe(E("ENOSYS"));
    expect(syscall(a, "arch_prctl", 0x1002, 0)).toBe(E("ENOSYS"));
    const s = proc("s390x");
    expect(syscall(s, 288, -100, "/etc/ld.so.cache", 0)).toBe(3n);
    expect(syscall(s, 5, "/lib/libc.so.6", 0)).toBe(4n);
  });

  it("has stacktrace_setup at 472 on every architecture: ENOSYS until a handler is installed", () => {
    for (const arch of ["x86_64", "aarch64", "s390x"] as const)
      expect(syscallNumber(arch, "stacktrace_setup")).toBe(472);
    const p = proc();
    expect(syscall(p, STACKTRACE_SETUP_NR, 1, 0x1000, 0x100, 0x2000, 0x200)).toBe(E("ENOSYS"));
    const seen: bigint[][] = [];
    p.kernel.stacktraceSetup = (_proc, args) => {
      seen.push([...args]);
      return 0;
    };
    const out = invokeSyscall(p, "stacktrace_setup", [1, 0x1000, 0x100, 0x2000, 0x200]);
    expect(out.ret).toBe(0n);
    expect(seen).toEqual([[1n, 0x1000n, 0x100n, 0x2000n, 0x200n]]);
    const { pid: _pid, ...ev } = out.event;
    expect(formatEvent(ev)).toBe("stacktrace_setup(0x1, 0x1000, 0x100, 0x2000, 0x200) = 0");
    expect(formatEvent(ev, { straceNamesOnly: true })).toBe("syscall_0x1d8(0x1, 0x1000, 0x100, 0x2000, 0x200, 0) = 0");
  });

  it("reads and writes real user memory: EFAULT for unmapped pointers", () => {
    const p = proc();
    const page = Number(syscall(p, "mmap", 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    p.mm.writeUser(page, Buffer.from("/etc/ld.so.cache\0"));
    expect(syscall(p, "openat", -100, BigInt(page), 0)).toBe(3n);
    expect(syscall(p, "read", 3, BigInt(page + 100), 5)).toBe(5n);
    expect(Buffer.from(p.mm.readUser(page + 100, 5)).toString()).toBe("cache");
    expect(syscall(p, "read", 3, 0x1000n, 5)).toBe(E("EFAULT"));
    expect(syscall(p, "openat", -100, 0x1000n, 0)).toBe(E("EFAULT"));
    expect(syscall(p, "newfstatat", -100, "/etc/ld.so.cache", 0x1000n, 0)).toBe(E("EFAULT"));
    expect(syscall(p, "arch_prctl", 0x1003, 0x1000n)).toBe(E("EFAULT"));
    expect(syscall(p, "set_tid_address", 0x1234)).toBe(BigInt(p.pid));
    expect(p.tidAddress).toBe(0x1234n);
  });

  it("EMFILE past RLIMIT_NOFILE; lowest free fd reused", () => {
    const p = proc();
    for (let i = 3; i < 1024; i++) expect(syscall(p, "openat", -100, "/etc/ld.so.cache", 0)).toBe(BigInt(i));
    expect(syscall(p, "openat", -100, "/etc/ld.so.cache", 0)).toBe(E("EMFILE"));
    expect(syscall(p, "close", 500)).toBe(0n);
    expect(syscall(p, "openat", -100, "/etc/ld.so.cache", 0)).toBe(500n);
  });

  it("never throws, whatever the arguments", () => {
    const names = [...Object.keys(SYSCALL_NUMBERS.x86_64), "bogus"];
    const arg = fc.oneof(
      fc.bigInt({ min: -(1n << 63n), max: (1n << 64n) - 1n }),
      fc.integer({ min: -200, max: 5000 }),
      fc.constantFrom(0, -100, 3, 0x7ffff7ffe000, 0x1002, 0x1003),
      fc.string({ maxLength: 20 }),
      fc.uint8Array({ maxLength: 200 }),
    );
    const p = proc();
    fc.assert(
      fc.property(
        fc.oneof(
          fc.constantFrom(...names.filter((n) => n !== "exit" && n !== "exit_group")),
          fc.integer({ min: 0, max: 600 }),
        ),
        fc.array(arg, { maxLength: 6 }),
        (call, args) => {
          if (call === 60 || call === 231) return;
          const out = invokeSyscall(p, call, args);
          expect(typeof out.ret).toBe("bigint");
          const { pid: _pid, ...ev } = out.event;
          expect(typeof formatEvent(ev)).toBe("string");
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("execve and fork through the dispatcher", () => {
  const MAIN = new Uint8Array(readFileSync(new URL("../../fixtures/sframe/v1/x86_64/main", import.meta.url)));

  it("execve with host argv/envp, then from user memory; fork returns the child's pid", () => {
    const k = new Kernel(MemFs.create({ "/bin/main": MAIN, "/lib64/ld-linux-x86-64.so.2": MAIN }), { firstPid: 4242 });
    const p = Process.spawn(k);
    const out = invokeSyscall(p, "execve", ["/bin/main", ["main", "-v"], ["A=1", "B=2"]]);
    expect(out.ret).toBe(0n);
    const { pid: _pid, ...ev } = out.event;
    expect(formatEvent(ev)).toBe('execve("/bin/main", ["main", "-v"], 0x7ffff000 /* 2 vars */) = 0');
    expect(p.image?.argv).toEqual(["main", "-v"]);
    // argv as the new process sees it: argc at sp, then pointers into the strings at the stack top.
    const sp = Number(p.regs.sp);
    const argc = p.mm.readU64(sp);
    const argv0 = p.mm.readU64(sp + 8) ?? 0n;
    expect(argc).toBe(2n);
    expect(Buffer.from(p.mm.readUser(Number(argv0), 5)).toString("latin1")).toBe("main\0");
    // Now exec again, passing argv/envp as user pointers (the argv array the new image has).
    expect(syscall(p, "execve", "/bin/main", BigInt(sp + 8), 0)).toBe(0n);
    expect(p.image?.argv).toEqual(["main", "-v"]);
    expect(p.image?.envp).toEqual([]);
    expect(syscall(p, "execve", "/bin/missing", ["x"], [])).toBe(E("ENOENT"));
    expect(syscall(p, "execve", "/bin/main", 0x1000n, 0)).toBe(E("EFAULT"));
    const child = syscall(p, 57);
    expect(child).toBe(BigInt(p.pid + 1));
    expect(k.processes.get(Number(child))?.ppid).toBe(p.pid);
    const a = proc("aarch64");
    expect(syscall(a, 220, 17, 0, 0, 0, 0)).toBe(BigInt(a.pid + 1));
    expect(syscall(a, 220, 0x10f00, 0, 0, 0, 0)).toBe(E("EINVAL"));
  });
});
