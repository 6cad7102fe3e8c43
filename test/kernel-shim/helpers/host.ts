import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Host tools the parity tests compare against; each test skips with a message when one is missing. */
export function hasTool(tool: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;
}
export const HAS_GCC = hasTool("gcc");
export const HAS_SETARCH = hasTool("setarch") && spawnSync("setarch", ["-R", "true"]).status === 0;
export const HAS_STRACE = hasTool("strace") && spawnSync("strace", ["-e", "trace=none", "true"]).status === 0;
export const IS_X86_64 = process.arch === "x64" && process.platform === "linux";
/** `gcc -static` needs libc.a (libc6-dev). */
export const HAS_STATIC_LIBC =
  HAS_GCC &&
  (() => {
    const d = mkdtempSync(join(tmpdir(), "ldsim-probe-"));
    try {
      writeFileSync(join(d, "t.c"), "int main(void){return 0;}\n");
      return spawnSync("gcc", ["-static", "-o", join(d, "t"), join(d, "t.c")]).status === 0;
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  })();

export class TempDir {
  readonly path = mkdtempSync(join(tmpdir(), "ldsim-kshim-"));
  file(name: string): string {
    return join(this.path, name);
  }
  /** Compile C source with gcc and the given flags; returns the binary's path. */
  compile(name: string, source: string, flags: readonly string[]): string {
    const src = this.file(`${name}.c`);
    writeFileSync(src, source);
    const out = this.file(name);
    execFileSync("gcc", [...flags, "-o", out, src], { stdio: "pipe" });
    return out;
  }
  remove(): void {
    rmSync(this.path, { recursive: true, force: true });
  }
}

export interface RealRun {
  readonly stdout: string;
  /** strace's lines for the traced program (no -f prefix). */
  readonly trace: string[];
  /** The pid the real program ran as (from set_tid_address's return). */
  readonly pid: number | undefined;
}

/**
 * Run `argv` under `env -i [env...] setarch -R strace -s 65536` and collect its stdout and trace:
 * the real kernel's answers, with ASLR off as in the shim's default layout.
 */
export function straceRun(dir: TempDir, argv: readonly string[], env: readonly string[] = []): RealRun {
  const traceFile = dir.file(`trace-${Math.random().toString(36).slice(2)}.txt`);
  const r = spawnSync(
    "env",
    ["-i", ...env, "setarch", "-R", "strace", "-qq", "-s", "65536", "-e", "signal=none", "-o", traceFile, ...argv],
    { encoding: "latin1", stdio: ["ignore", "pipe", "pipe"] },
  );
  const trace = readFileSync(traceFile, "latin1")
    .split("\n")
    .filter((l) => l !== "");
  const pid = /^set_tid_address\(.*= (\d+)$/m.exec(trace.join("\n"))?.[1];
  return { stdout: r.stdout, trace, pid: pid === undefined ? undefined : Number(pid) };
}

/** The vDSO image committed from this host's kernel (6.18, x86_64). */
export function vdsoFixture(): Uint8Array {
  return readFileSync(new URL("../../fixtures/vdso/x86_64-linux-6.18.so", import.meta.url));
}
