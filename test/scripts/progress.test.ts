import { afterEach, describe, expect, it, vi } from "vitest";
import { Progress } from "../../scripts/progress.ts";

describe("Progress", () => {
  afterEach(() => vi.restoreAllMocks());

  it("writes nothing when stderr is not a terminal (piped sweeps stay quiet)", () => {
    const write = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    const p = new Progress(3, "sweep", { isTTY: false });
    p.tick("a");
    p.tick("b");
    p.tick("c");
    p.end();
    expect(write).not.toHaveBeenCalled();
  });

  it("redraws one line on a terminal and erases it at the end", () => {
    const out: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => {
      out.push(String(s));
      return true;
    });
    const p = new Progress(2, "sweep", { isTTY: true });
    p.tick("first");
    p.tick("second");
    p.end();
    const ERASE = "\r\x1b[K";
    expect(out[0]?.startsWith(ERASE)).toBe(true);
    expect(out[0]?.slice(ERASE.length)).toMatch(/^sweep 1\/2 \(\d+ s\) first$/);
    // The last item always draws, whatever the rate limit.
    expect(out[1]?.slice(ERASE.length)).toMatch(/^sweep 2\/2 \(\d+ s\) second$/);
    expect(out.at(-1)).toBe("\r\x1b[K");
    expect(out.join("")).not.toContain("\n");
  });
});
