import { describe, expect, it } from "vitest";
import { armFaults, disarmFaults } from "../../../kernel-shim/fault/fault-plan.ts";
import { MemFs } from "../../../kernel-shim/fs/mem-fs.ts";
import { Kernel } from "../../../kernel-shim/process/kernel.ts";
import { Process } from "../../../kernel-shim/process/process.ts";
import { syscall } from "../../../kernel-shim/syscalls/dispatch.ts";

describe("fault injection (strace -e inject=…:error=…:when=N)", () => {
  it("fails exactly the Nth call, with no side effect, and strace shows the error", () => {
    const kernel = new Kernel(MemFs.create());
    const proc = Process.spawn(kernel);
    const plan = armFaults(kernel, [{ syscall: "mmap", nth: 2, errno: "ENOMEM" }]);
    const before = proc.mm.mapCount;
    expect(syscall(proc, "mmap", 0, 4096, 3, 0x22, -1, 0)).toBeGreaterThan(0n);
    expect(syscall(proc, "mmap", 0, 4096, 3, 0x22, -1, 0)).toBe(-12n);
    expect(proc.mm.mapCount).toBe(before + 1);
    expect(syscall(proc, "mmap", 0, 4096, 3, 0x22, -1, 0)).toBeGreaterThan(0n);
    expect(plan.injected).toEqual([{ pid: proc.pid, syscall: "mmap", call: 2, errno: "ENOMEM" }]);
    expect(proc.log.lines().filter((l) => l.includes("ENOMEM"))).toHaveLength(1);
    disarmFaults(kernel);
  });

  it("a range of calls, and stacktrace_setup counted per operation", () => {
    const kernel = new Kernel(MemFs.create());
    const proc = Process.spawn(kernel);
    armFaults(kernel, [
      { syscall: "munmap", nth: 1, count: 2, errno: "EINVAL" },
      { syscall: "stacktrace_setup", nth: 2, op: 1, errno: "EEXIST" },
    ]);
    expect(syscall(proc, "munmap", 0x10000, 4096)).toBe(-22n);
    expect(syscall(proc, "munmap", 0x10000, 4096)).toBe(-22n);
    expect(syscall(proc, "munmap", 0x10000, 4096)).toBe(0n);
    // No handler installed: ENOSYS from the kernel, except the injected 2nd REGISTER.
    expect(syscall(proc, "stacktrace_setup", 1, 1, 1, 1, 1)).toBe(-38n);
    expect(syscall(proc, "stacktrace_setup", 2, 1, 0, 0, 0)).toBe(-38n);
    expect(syscall(proc, "stacktrace_setup", 1, 1, 1, 1, 1)).toBe(-17n);
  });
});
