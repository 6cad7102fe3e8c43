import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { cfiRows, EhFrame } from "../../../formats/dwarf/eh-frame.ts";
import { ElfFile } from "../../../formats/elf/file.ts";

const FIX = new URL("../../fixtures/sframe/v3/x86_64/", import.meta.url).pathname;
let hasReadelf = true;
try {
  execFileSync("readelf", ["--version"]);
} catch {
  hasReadelf = false;
  console.warn("skipping .eh_frame parity: GNU readelf not found");
}

const X86_REGS: Record<string, number> = { rax: 0, rdx: 1, rcx: 2, rbx: 3, rsi: 4, rdi: 5, rbp: 6, rsp: 7, rip: 16 };
for (let i = 8; i <= 15; i++) X86_REGS[`r${i}`] = i;

/** `readelf -wF` rows: per FDE start, [LOC, CFA text, ra text, rbp text]. */
function readelfRows(path: string): Map<bigint, Array<{ loc: bigint; cfa: string; ra: string; rbp: string }>> {
  // readelf exits non-zero on harmless warnings (e.g. libc's .eh_frame_hdr); its table is still complete.
  const text = spawnSync("readelf", ["-wF", path], { encoding: "utf8", maxBuffer: 1 << 28 }).stdout;
  const out = new Map<bigint, Array<{ loc: bigint; cfa: string; ra: string; rbp: string }>>();
  let cols: string[] = [];
  let cur: Array<{ loc: bigint; cfa: string; ra: string; rbp: string }> | undefined;
  for (const line of text.split("\n")) {
    const fde = /FDE cie=[0-9a-f]+ pc=([0-9a-f]+)\.\./.exec(line);
    if (fde) {
      cur = [];
      out.set(BigInt(`0x${fde[1]}`), cur);
      continue;
    }
    if (/ CIE /.test(line)) {
      cur = undefined;
      continue;
    }
    if (/^ {3}LOC/.test(line)) {
      cols = line.trim().split(/\s+/);
      continue;
    }
    const row = /^([0-9a-f]{16}) (.*)$/.exec(line);
    if (row && cur) {
      // Register rules print as "r1 (rdx)": make them one token.
      const cells = (row[2] as string)
        .replace(/r\d+ \((\w+)\)/g, "reg:$1")
        .trim()
        .split(/\s+/);
      const get = (name: string) => cells[cols.indexOf(name) - 1] ?? "u";
      cur.push({ loc: BigInt(`0x${row[1]}`), cfa: get("CFA"), ra: get("ra"), rbp: get("rbp") });
    }
  }
  return out;
}

/** How readelf -wF prints a register rule (binutils dwarf.c frame_display_row). */
function ruleText(rule: { kind: string; offset?: number; reg?: number }): string {
  switch (rule.kind) {
    case "undefined":
      return "u";
    case "same":
      return "s";
    case "offset":
      return `c${(rule.offset as number) >= 0 ? "+" : ""}${rule.offset}`;
    case "val-offset":
      return `v${(rule.offset as number) >= 0 ? "+" : ""}${rule.offset}`;
    case "register":
      return `reg:${Object.keys(X86_REGS).find((k) => X86_REGS[k] === rule.reg) ?? `r${rule.reg}`}`;
    case "expression":
      return "exp";
    default:
      return "vexp";
  }
}

describe.skipIf(!hasReadelf)(".eh_frame CFI rows agree with readelf -wF", () => {
  for (const path of [`${FIX}main`, `${FIX}libb.so`, "/lib/x86_64-linux-gnu/libc.so.6"]) {
    it.skipIf(!existsSync(path))(path, () => {
      const elf = ElfFile.openPath(path);
      const sec = elf.section(".eh_frame");
      if (!sec) throw new Error("no .eh_frame");
      const eh = new EhFrame(elf.sectionData(sec), sec.addr, elf.littleEndian, elf.is64, path);
      const want = readelfRows(path);
      let compared = 0;
      for (const fde of eh.fdes) {
        const rows = want.get(fde.pcBegin);
        if (!rows || rows.length === 0) continue;
        const got = cfiRows(fde, eh.littleEndian);
        expect(got.map((r) => r.loc)).toEqual(rows.map((r) => r.loc));
        got.forEach((g, i) => {
          const w = rows[i] as (typeof rows)[number];
          const c = g.cfa;
          const cfa =
            c.kind === "expression"
              ? "exp"
              : `${Object.keys(X86_REGS).find((k) => X86_REGS[k] === c.reg)}${c.offset >= 0 ? "+" : ""}${c.offset}`;
          expect(cfa).toBe(w.cfa);
          const ra = g.regs.get(16);
          expect(ra ? ruleText(ra) : "u").toBe(w.ra);
          if (w.rbp !== "u") {
            const bp = g.regs.get(6);
            expect(bp ? ruleText(bp) : "u").toBe(w.rbp);
          }
          compared++;
        });
      }
      expect(compared).toBeGreaterThan(0);
    });
  }
});
