import { vi } from "vitest";
import { main } from "../../cli/main.ts";

export interface CliResult {
  readonly code: number;
  /** The bytes written to stdout, as latin1 text (what a byte-exact comparison with a real tool needs). */
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Run `ldsim ARGV…` in-process through the CLI entry point, capturing what it writes (strings as
 * UTF-8 bytes, buffers as they are; both read back as latin1) and its exit code. process.exitCode is
 * restored afterwards so one failing command does not fail the test run.
 */
export async function runCli(argv: readonly string[]): Promise<CliResult> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const bytes = (chunk: string | Uint8Array) => (typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk));
  const so = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out.push(bytes(chunk));
    return true;
  });
  const se = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    err.push(bytes(chunk));
    return true;
  });
  const saved = process.exitCode;
  try {
    const code = await main([...argv]);
    return { code, stdout: Buffer.concat(out).toString("latin1"), stderr: Buffer.concat(err).toString("latin1") };
  } finally {
    so.mockRestore();
    se.mockRestore();
    process.exitCode = saved;
  }
}
