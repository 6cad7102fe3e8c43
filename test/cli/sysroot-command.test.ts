import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hasQemu, hasSysroot, maskTrace, qemuLdd, REPO, SYSROOT } from "../loader/sysroot-harness.ts";
import { runCli } from "../support/run-cli.ts";

const sysroot = hasSysroot();
const qemu = sysroot && hasQemu();
if (!sysroot) console.warn(`ldsim --sysroot command tests skipped: ${SYSROOT} missing (libc6-arm64-cross)`);
else if (!qemu) console.warn("ldsim ldd --sysroot vs qemu skipped: qemu-aarch64 missing (qemu-user)");

const v3 = join(REPO, "test", "fixtures", "sframe", "v3", "aarch64");

describe("ldsim ldd --sysroot / ldsim run --sysroot (command line)", () => {
  it.skipIf(!qemu)("ldd of an aarch64 program and a library in the tree: qemu's lines (addresses masked)", async () => {
    for (const f of [join(v3, "main"), "/lib/libm.so.6"]) {
      const r = await runCli(["ldd", "--sysroot", SYSROOT, f]);
      const q = qemuLdd(f, false);
      expect({ code: r.code, stdout: maskTrace(r.stdout) }).toEqual({ code: q.status, stdout: maskTrace(q.stdout) });
    }
  });

  it.skipIf(!sysroot)("--json names the objects; a file in neither tree nor host is an error", async () => {
    const r = await runCli(["ldd", "--sysroot", SYSROOT, "--json", "/lib/libm.so.6"]);
    const doc = JSON.parse(r.stdout) as { objects: { name: string; path: string | null }[] }[];
    expect(doc[0]?.objects.map((o) => [o.name, o.path])).toEqual([
      ["libc.so.6", "/lib/libc.so.6"],
      ["/lib/ld-linux-aarch64.so.1", "/lib/ld-linux-aarch64.so.1"],
    ]);
    const missing = await runCli(["ldd", "--sysroot", SYSROOT, "/lib/no-such.so"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("ldd: /lib/no-such.so: No such file or directory\n");
    const mode = await runCli(["ldd", "--sysroot", SYSROOT, "--sysroot-mode", "bind", "/lib/libm.so.6"]);
    expect(mode.code).toBe(2);
  });

  it.skipIf(!sysroot)(
    "run --sysroot --register-sframe: arm64 maps, the TLS thread pointer, two registrations",
    async () => {
      const r = await runCli(["run", "--sysroot", SYSROOT, "--register-sframe", "--json", join(v3, "main")]);
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.stdout) as {
        status: number;
        objects: { name: string }[];
        sframe: { object: string; results: number[] }[];
        strace: string[];
        tls: { tcb: string } | null;
      };
      expect(doc.status).toBe(0);
      expect(doc.objects.map((o) => o.name)).toContain("/lib/libc.so.6");
      expect(
        doc.sframe.filter((s) => s.results.length > 0).map((s) => [s.object.replace(`${v3}/`, ""), s.results]),
      ).toEqual([
        ["liba.so", [0]],
        ["libb.so", [0]],
      ]);
      expect(doc.strace.some((l) => l.startsWith('faccessat(AT_FDCWD, "/etc/ld.so.preload", R_OK)'))).toBe(true);
      // aarch64 TLS (variant I): no arch_prctl, the thread pointer 32-aligned above struct pthread.
      expect(doc.strace.some((l) => l.startsWith("arch_prctl("))).toBe(false);
      expect(BigInt(doc.tls?.tcb ?? "0") % 32n).toBe(0n);
    },
  );
});
