/**
 * Live parity with the host's libsframe (Debian 12 binutils-dev 2.40, which reads SFrame V1): for
 * every section-relative PC across each linked V1 fixture's functions (and a margin around them),
 * `sframe_find_fre` and findFre must agree on found / not found, the FRE start and info byte, and the
 * CFA offset. Skips with a visible reason when gcc or libsframe's header is missing.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { signExtend } from "../../../formats/sframe/decode.ts";
import { findFre, findFreInto, SframeFreHit } from "../../../formats/sframe/find-fre.ts";
import { interpretFre } from "../../../formats/sframe/interpret.ts";
import { FIXTURES, openFixture } from "./fixture-files.ts";

function haveNative(): string | undefined {
  if (!existsSync("/usr/include/sframe-api.h")) return "libsframe headers missing (Debian package binutils-dev)";
  try {
    execFileSync("gcc", ["--version"], { stdio: "ignore" });
  } catch {
    return "gcc missing";
  }
  return undefined;
}

const missing = haveNative();
if (missing) console.log(`skipping libsframe native parity: ${missing}`);

describe("findFre agrees with the host's libsframe 2.40 on V1 fixtures", () => {
  it.skipIf(missing !== undefined)("every PC of every linked V1 fixture", () => {
    const dir = mkdtempSync(join(tmpdir(), "sframe-native-"));
    const exe = join(dir, "find-fre-all");
    execFileSync("gcc", ["-O1", "-o", exe, join(import.meta.dirname, "native/find-fre-all.c"), "-lsframe"]);
    let compared = 0;
    let found = 0;
    const hit = new SframeFreHit();
    for (const arch of ["x86_64", "aarch64"]) {
      for (const f of ["main", "liba.so", "libb.so"]) {
        const sec = openFixture(join(FIXTURES, "v1", arch, f));
        const secFile = join(dir, `${arch}-${f}.sframe`);
        writeFileSync(secFile, sec.bytes);
        let lo = Number.POSITIVE_INFINITY;
        let hi = Number.NEGATIVE_INFINITY;
        for (let i = 0; i < sec.numFdes; i++) {
          lo = Math.min(lo, sec.funcStartAt(i));
          hi = Math.max(hi, sec.funcStartAt(i) + sec.funcSizeAt(i));
        }
        const out = execFileSync(exe, [secFile, String(lo - 8), String(hi + 8)], { encoding: "utf8" });
        for (const line of out.trim().split("\n")) {
          const [pcText, status, start, info, cfa] = line.split(" ");
          const pc = Number(pcText);
          const r = findFre(sec, pc);
          const into = findFreInto(sec, pc, hit);
          if (status === "ok") {
            if (!r.ok) throw new Error(`${arch}/${f} pc ${pc}: libsframe found an FRE, findFre: ${r.code}`);
            expect(r.fre.startOffset, `${arch}/${f} pc ${pc}`).toBe(Number(start));
            expect(r.fre.info).toBe(Number(info));
            expect(interpretFre(sec, r.fde, r.fre).cfa?.offset).toBe(Number(cfa));
            // The record-filling path, as sframe_find_fre fills its sframe_frame_row_entry.
            expect(into, `${arch}/${f} pc ${pc}: findFreInto`).toBe(true);
            expect(hit.startOffset).toBe(Number(start));
            expect(hit.info).toBe(Number(info));
            expect(signExtend(hit.dataWords[0] as number, hit.dataWordSize)).toBe(Number(cfa));
            found++;
          } else {
            expect(r.ok, `${arch}/${f} pc ${pc}: libsframe found nothing`).toBe(false);
            expect(into, `${arch}/${f} pc ${pc}: findFreInto`).toBe(false);
          }
          compared++;
        }
      }
    }
    console.log(`libsframe 2.40 native parity: ${compared} PCs compared, ${found} found, all identical`);
    expect(found).toBeGreaterThan(500);
  });
});
