/**
 * Truncated and corrupted perf.data: a typed PerfDataError naming the offset of the record (or header
 * structure) at fault — the offsets `perf script -D` prints — never a crash, hang or huge allocation.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BufferSource } from "../../../formats/bytes/source.ts";
import { LdsimError } from "../../../formats/errors.ts";
import { PerfDataError } from "../../../formats/perf/errors.ts";
import { PerfData } from "../../../formats/perf/perf-data.ts";
import type { PerfRecord } from "../../../formats/perf/records.ts";

const BYTES = new Uint8Array(readFileSync(join(import.meta.dirname, "..", "..", "fixtures", "perf", "spin.perf.data")));
const RECORDS: PerfRecord[] = [...PerfData.open(new BufferSource(BYTES)).records()];

function errorOf(bytes: Uint8Array): unknown {
  try {
    const d = PerfData.open(new BufferSource(bytes, "bad.data"));
    for (const _ of d.ordered()) {
      // drain
    }
    return undefined;
  } catch (e) {
    return e;
  }
}

describe("truncated perf.data", () => {
  it("names the record cut by the truncation, for a cut inside every record", () => {
    for (const r of RECORDS) {
      for (const cut of [r.offset + 3, r.offset + r.size - 1]) {
        const e = errorOf(BYTES.slice(0, cut));
        expect(e, `cut at 0x${cut.toString(16)}`).toBeInstanceOf(PerfDataError);
        expect((e as PerfDataError).offset).toBe(r.offset);
        expect((e as PerfDataError).message).toContain(`offset 0x${r.offset.toString(16)}`);
        expect((e as PerfDataError).message).toContain("truncated");
      }
    }
  });

  it("keeps reading records when only the feature sections are lost (a warning, as perf)", () => {
    const end = RECORDS.at(-1) as PerfRecord;
    const d = PerfData.open(new BufferSource(BYTES.slice(0, end.offset + end.size)));
    expect([...d.records()].length).toBe(RECORDS.length);
    expect(d.warnings.join("\n")).toMatch(/feature index .* is not inside the file/);
  });

  it("refuses a file shorter than its header", () => {
    const e = errorOf(BYTES.slice(0, 50));
    expect(e).toBeInstanceOf(PerfDataError);
    expect((e as PerfDataError).offset).toBe(0);
  });
});

describe("corrupted perf.data", () => {
  const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

  it("a record size smaller than its header names that record", () => {
    const r = RECORDS[5] as PerfRecord;
    const b = BYTES.slice();
    dv(b).setUint16(r.offset + 6, 4, true);
    const e = errorOf(b) as PerfDataError;
    expect(e).toBeInstanceOf(PerfDataError);
    expect(e.offset).toBe(r.offset);
    expect(e.message).toContain("smaller than its header");
  });

  it("a sample whose stack-copy size runs past the record names the sample", () => {
    const s = RECORDS.find((r) => r.kind === "sample") as PerfRecord & { kind: "sample" };
    const b = BYTES.slice();
    // The stack size u64 follows the registers: find it by its value (8192) inside the record.
    let at = -1;
    for (let i = s.offset + 8; i < s.offset + s.size - 8; i += 8) {
      if (dv(b).getBigUint64(i, true) === 8192n) {
        at = i;
        break;
      }
    }
    expect(at).toBeGreaterThan(0);
    dv(b).setBigUint64(at, 1n << 40n, true);
    const e = errorOf(b) as PerfDataError;
    expect(e).toBeInstanceOf(PerfDataError);
    expect(e.offset).toBe(s.offset);
    expect(e.structure).toBe("record SAMPLE");
  });

  it("a sample whose dyn_size exceeds its stack copy, or whose callchain count runs past it, names the sample", () => {
    const s = RECORDS.find((r) => r.kind === "sample") as PerfRecord & { kind: "sample" };
    // dyn_size follows the stack copy, whose size u64 (8192 here) follows the registers.
    const b = BYTES.slice();
    let sizeAt = -1;
    for (let i = s.offset + 8; i < s.offset + s.size - 8 && sizeAt < 0; i += 8) {
      if (dv(b).getBigUint64(i, true) === BigInt(s.stackUser?.size ?? -1)) sizeAt = i;
    }
    expect(sizeAt).toBeGreaterThan(0);
    const dynAt = sizeAt + 8 + (s.stackUser?.size ?? 0);
    expect(dv(b).getBigUint64(dynAt, true)).toBe(BigInt(s.stackUser?.dynSize ?? -1));
    dv(b).setBigUint64(dynAt, 0x10000n, true);
    const e = errorOf(b) as PerfDataError;
    expect(e).toBeInstanceOf(PerfDataError);
    expect(e.offset).toBe(s.offset);
    expect(e.message).toContain("dyn_size");
    // The callchain count follows the fixed fields: find it by its value inside the record.
    const c = BYTES.slice();
    const nr = BigInt(s.callchain?.length ?? -1);
    let at = -1;
    for (let i = s.offset + 8; i < s.offset + 64; i += 8) {
      if (dv(c).getBigUint64(i, true) === nr) at = i;
    }
    expect(at).toBeGreaterThan(0);
    dv(c).setBigUint64(at, 1n << 20n, true);
    const e2 = errorOf(c) as PerfDataError;
    expect(e2).toBeInstanceOf(PerfDataError);
    expect(e2.offset).toBe(s.offset);
    expect(e2.message).toContain("callchain nr");
  });

  it("the replay's reader (a file, reused read buffers) names the truncated record too", () => {
    const dir = mkdtempSync(join(tmpdir(), "ldsim-perf-bad-"));
    try {
      const samples = RECORDS.filter((r) => r.kind === "sample");
      const r = samples[Math.floor(samples.length / 2)] as PerfRecord;
      const path = join(dir, "cut.perf.data");
      writeFileSync(path, BYTES.slice(0, r.offset + 100));
      const d = PerfData.openPath(path, { windowBytes: 20000 });
      let e: unknown;
      try {
        for (const _ of d.ordered({ transient: true })) {
          // drain
        }
      } catch (x) {
        e = x;
      }
      d.close();
      expect(e).toBeInstanceOf(PerfDataError);
      expect((e as PerfDataError).offset).toBe(r.offset);
      expect((e as PerfDataError).message).toContain(
        `record SAMPLE at offset 0x${r.offset.toString(16)}: file truncated`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a bad magic and a bad attrs section are typed errors at their offsets", () => {
    const b = BYTES.slice();
    b[0] = 0x51;
    expect((errorOf(b) as PerfDataError).offset).toBe(0);
    const c = BYTES.slice();
    dv(c).setBigUint64(32, 7n, true);
    const e = errorOf(c) as PerfDataError;
    expect(e).toBeInstanceOf(PerfDataError);
    expect(e.structure).toBe("attrs section");
  });

  it("random corruption never escapes as anything but an LdsimError", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: BYTES.length - 1 }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        (edits) => {
          const b = BYTES.slice();
          for (const [at, v] of edits) b[at] = v;
          const e = errorOf(b);
          return e === undefined || e instanceof LdsimError;
        },
      ),
      { numRuns: 150 },
    );
  });
});
