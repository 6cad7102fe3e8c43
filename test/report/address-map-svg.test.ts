import { describe, expect, it } from "vitest";
import { renderAddressMap } from "../../report/address-map-svg.ts";
import type { ReportRegion } from "../../report/model.ts";

const region = (start: bigint, end: bigint, perms: string, name?: string): ReportRegion => ({
  start,
  end,
  perms,
  offset: 0n,
  ...(name !== undefined ? { name } : {}),
});

function rects(svg: string, cls: string): { lo: string; y: number; h: number; fill: string }[] {
  const re = new RegExp(
    `<rect class="${cls}"(?: data-lo="(0x[0-9a-f]+)")?[^>]*? y="([\\d.]+)"[^>]*? height="([\\d.]+)" fill="([^"]+)"`,
    "g",
  );
  return [...svg.matchAll(re)].map((m) => ({ lo: m[1] ?? "", y: Number(m[2]), h: Number(m[3]), fill: m[4] ?? "" }));
}

describe("the address-space picture", () => {
  const regions = [
    region(0x7ffff7ff9000n, 0x7ffff7ffa000n, "r--p", "/x/libb.so"),
    region(0x7ffff7ffa000n, 0x7ffff7ffc000n, "r-xp", "/x/libb.so"),
    region(0x7ffffffde000n, 0x7ffffffff000n, "rw-p", "[stack]"),
  ];

  it("draws regions to one linear scale, high addresses on top, coloured by permission", () => {
    const { svg } = renderAddressMap(regions, []);
    const r = rects(svg, "region");
    expect(r.map((x) => x.lo)).toEqual(["0x7ffffffde000", "0x7ffff7ffa000", "0x7ffff7ff9000"]);
    // 132 KiB : 8 KiB : 4 KiB.
    expect((r[0]?.h ?? 0) / (r[2]?.h ?? 1)).toBeCloseTo(33, 5);
    expect((r[1]?.h ?? 0) / (r[2]?.h ?? 1)).toBeCloseTo(2, 5);
    expect(new Set(r.map((x) => x.fill)).size).toBe(3);
    // The 127.9 MiB gap between the stack and the library is one log-scaled band with its size.
    expect(svg).toMatch(/<text class="gap-label"[^>]*>gap 128 MiB<\/text>/);
  });

  it("marks registered text beside the column, and draws unmapped pages a stale entry still names", () => {
    const stale = {
      textStart: 0x7ffff7ff0000n,
      textEnd: 0x7ffff7ff02fdn,
      sframeStart: 0x7ffff7ff1120n,
      sframeEnd: 0x7ffff7ff124en,
      origin: "syscall",
      state: "stale" as const,
    };
    const live = { ...stale, textStart: 0x7ffff7ffa000n, textEnd: 0x7ffff7ffa2fdn, state: "registered" as const };
    const { svg } = renderAddressMap(regions, [live, stale]);
    expect(svg.match(/<g class="sframe-range" data-state="registered">/g)).toHaveLength(1);
    expect(svg.match(/<g class="sframe-range" data-state="stale">/g)).toHaveLength(1);
    // Two ghost pages (text + section), adjacent, drawn as one unmapped span.
    expect(svg.match(/<rect class="ghost"/g)).toHaveLength(1);
    expect(svg).toContain("7ffff7ff0000-7ffff7ff2000 <tspan");
    expect(svg).toContain("not mapped");
  });
});
