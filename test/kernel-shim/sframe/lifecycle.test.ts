import { describe, expect, it } from "vitest";
import { execElf } from "../../../kernel-shim/exec/binfmt-elf.ts";
import { HostFs } from "../../../kernel-shim/fs/host-fs.ts";
import { Kernel } from "../../../kernel-shim/process/kernel.ts";
import { Process } from "../../../kernel-shim/process/process.ts";
import { KernelSframe, stacktraceSetupHandler } from "../../../kernel-shim/sframe/kernel-sframe.ts";
import { syscall } from "../../../kernel-shim/syscalls/dispatch.ts";

const MAIN = new URL("../../fixtures/sframe/v3/x86_64/main", import.meta.url).pathname;

function boot(options: { forkKeepsSframe?: boolean; enabled?: boolean } = {}) {
  const ks = new KernelSframe({ enabled: options.enabled ?? true });
  const kernel = new Kernel(new HostFs(), {
    sframe: ks,
    stacktraceSetup: stacktraceSetupHandler(ks),
    forkKeepsSframe: options.forkKeepsSframe ?? false,
  });
  const proc = Process.spawn(kernel);
  const ex = execElf(proc, MAIN, { argv: [MAIN] });
  if (!ex.ok) throw new Error(`exec failed: ${ex.errno}`);
  return { ks, proc, image: ex.image };
}

describe("SFrame registrations over a process's life (kernel series)", () => {
  it("exec registers the executable's PT_GNU_SFRAME once per PF_X segment, with p_memsz lengths", () => {
    const { ks, proc, image } = boot();
    const entries = ks.registryOf(proc.mm).list();
    // The fixture main has one executable PT_LOAD (0x1000, memsz 0x241) and GNU_SFRAME at 0x21a0 (0x13e).
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      origin: "exec",
      sframeStart: BigInt(image.loadBias + 0x21a0),
      sframeEnd: BigInt(image.loadBias + 0x21a0 + 0x13e),
      textStart: BigInt(image.loadBias + 0x1000),
    });
    // Re-registering what exec registered collides: EEXIST, as ld.so would see if it registered main.
    const e = entries[0];
    if (!e) throw new Error("no entry");
    const r = syscall(proc, "stacktrace_setup", 1, e.sframeStart, 0x13en, e.textStart, e.textEnd - e.textStart);
    expect(r).toBe(-17n);
  });

  it("fork: the child starts with an empty tree (mm_init → mt_init), unless the keep option is set", () => {
    const lost = boot();
    const child = lost.proc.fork();
    expect(lost.ks.registryOf(child.mm).size).toBe(0);
    expect(lost.ks.registryOf(lost.proc.mm).size).toBe(1);
    const kept = boot({ forkKeepsSframe: true });
    const child2 = kept.proc.fork();
    expect(kept.ks.registryOf(child2.mm).size).toBe(1);
  });

  it("exit frees the tree (sframe_free_mm)", () => {
    const { ks, proc } = boot();
    proc.exit(0);
    expect(ks.registryOf(proc.mm).size).toBe(0);
    expect(ks.events.at(-1)).toMatchObject({ kind: "mm-release", removed: 1 });
  });

  it("a kernel without SFrame support answers the syscall with ENOSYS and registers nothing at exec", () => {
    const { ks, proc } = boot({ enabled: false });
    expect(ks.registryOf(proc.mm).size).toBe(0);
    expect(syscall(proc, "stacktrace_setup", 1, 0x1000, 0x100, 0x2000, 0x100)).toBe(-38n);
  });
});
