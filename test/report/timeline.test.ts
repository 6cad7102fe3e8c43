import { describe, expect, it } from "vitest";
import type { SframeEvent } from "../../kernel-shim/sframe/kernel-sframe.ts";
import type { SyscallEvent } from "../../kernel-shim/strace/event.ts";
import { interleave } from "../../report/timeline.ts";

const sc = (name: string, args: bigint[], ret: bigint): SyscallEvent => ({ name, args, ret });
const reg = (origin: "exec" | "syscall", textStart: bigint, result = 0): SframeEvent => ({
  kind: "register",
  origin,
  sframeStart: 0x2000n,
  sframeEnd: 0x2100n,
  textStart,
  textEnd: textStart + 0x100n,
  result,
  ...(result !== 0 ? { check: "mtree_insert_range", message: "overlaps" } : {}),
});

describe("interleave: one timeline from the syscall log and the kernel's SFrame events", () => {
  const syscalls = [
    sc("openat", [0xffffff9cn, 0n, 0n], 3n),
    sc("stacktrace_setup", [1n, 0x2000n, 0x100n, 0x1000n, 0x100n], 0n),
    sc("stacktrace_setup", [1n, 0x2000n, 0x100n, 0x1100n, 0x10n], -17n),
    sc("munmap", [0x1000n, 0x4000n], 0n),
    sc("stacktrace_setup", [2n, 0x2000n, 0n, 0n, 0n], -22n),
    sc("stacktrace_setup", [1n, 0x2000n, 0x100n, 0x1000n, 0x100n], -38n),
  ];
  const sframe: SframeEvent[] = [
    reg("exec", 0x555000n),
    reg("syscall", 0x1000n),
    reg("syscall", 0x1100n, -17),
    { kind: "auto-remove", sframeStart: 0x2000n, removed: 2, pc: 0x1010n, reason: "read faulted" },
    { kind: "unregister", sframeStart: 0x2000n, removed: 0, result: -22 },
    { kind: "mm-release", removed: 1 },
  ];
  const t = interleave(syscalls, sframe, [{ beforeSyscall: 4, text: "sample unwound" }]);

  it("puts exec registrations first, each stacktrace_setup followed by the kernel's half", () => {
    expect(t.map((e) => [e.kind, e.nested === true])).toEqual([
      ["register", false],
      ["syscall", false],
      ["syscall", false],
      ["register", true],
      ["syscall", false],
      ["register", true],
      ["syscall", false],
      ["note", false],
      ["auto-remove", false],
      ["syscall", false],
      ["unregister", true],
      ["syscall", false],
      ["mm-release", false],
    ]);
  });

  it("marks failures with the kernel's check, and an ENOSYS call has no kernel half", () => {
    expect(t[4]?.text).toBe("stacktrace_setup(0x1, 0x2000, 0x100, 0x1100, 0x10) = -1 EEXIST (File exists)");
    expect(t[4]?.ok).toBe(false);
    expect(t[5]?.detail).toBe("mtree_insert_range: overlaps");
    expect(t[11]?.text).toMatch(/= -1 ENOSYS \(Function not implemented\)$/);
    expect(t[12]?.kind).toBe("mm-release");
  });
});
