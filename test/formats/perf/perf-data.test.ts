/**
 * The perf.data reader against perf itself: every record of the committed recording at the offset,
 * size and type `perf script -D` printed (spin.dump.txt), samples with the pid/tid/ip, registers and
 * stack sizes perf decoded, and the header fields `perf report --header-only` printed (spin.header.txt).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BufferSource } from "../../../formats/bytes/source.ts";
import { PERF_REG_X86, PERF_SAMPLE } from "../../../formats/perf/constants.ts";
import { PerfData } from "../../../formats/perf/perf-data.ts";
import { type PerfRecord, recordTypeName, type SampleRecord } from "../../../formats/perf/records.ts";

const PERF_FIXTURES = join(import.meta.dirname, "..", "..", "fixtures", "perf");
const DATA = join(PERF_FIXTURES, "spin.perf.data");

interface DumpRecord {
  offset: number;
  size: number;
  name: string;
  rest: string;
  regs: Map<string, bigint>;
  ustack?: number;
  fpChain?: number;
}

/** The record lines of `perf script -D` (in perf's delivery order) with their register and ustack lines. */
function parseDump(): DumpRecord[] {
  const out: DumpRecord[] = [];
  for (const line of readFileSync(join(PERF_FIXTURES, "spin.dump.txt"), "latin1").split("\n")) {
    const m = /^(?:\d+ )?0x([0-9a-f]+) \[0x([0-9a-f]+)\]: PERF_RECORD_([A-Z_0-9]+)(.*)$/.exec(line);
    if (m) {
      out.push({
        offset: Number.parseInt(m[1] as string, 16),
        size: Number.parseInt(m[2] as string, 16),
        name: m[3] as string,
        rest: m[4] as string,
        regs: new Map(),
      });
      continue;
    }
    const cur = out[out.length - 1];
    if (!cur) continue;
    const reg = /^\.\.\.\. (\w+)\s+0x([0-9a-f]+)$/.exec(line);
    if (reg) cur.regs.set(reg[1] as string, BigInt(`0x${reg[2]}`));
    const us = /^\.\.\. ustack: size (\d+)/.exec(line);
    if (us) cur.ustack = Number(us[1]);
    const fp = /^\.\.\. FP chain: nr:(\d+)/.exec(line);
    if (fp) cur.fpChain = Number(fp[1]);
  }
  return out;
}

function reg(s: SampleRecord, index: number): bigint | undefined {
  const mask = s.regsUser?.mask ?? 0n;
  let k = 0;
  for (let b = 0; b < index; b++) if ((mask >> BigInt(b)) & 1n) k++;
  return s.regsUser?.values[k];
}

describe("perf.data reader (against perf script -D of the same file)", () => {
  const data = PerfData.openPath(DATA);
  const records: PerfRecord[] = [...data.records()];
  const dump = parseDump();

  it("finds every record at the offset, size and type perf printed", () => {
    const ours = new Map(records.map((r) => [r.offset, r]));
    expect(dump.length).toBeGreaterThan(40);
    // perf -D skips nothing but prints HEADER_* records it synthesizes; every dumped record is ours.
    for (const d of dump) {
      const r = ours.get(d.offset);
      expect(r, `record at 0x${d.offset.toString(16)}`).toBeDefined();
      expect(r?.size).toBe(d.size);
      expect(recordTypeName(r?.type ?? -1)).toBe(d.name);
    }
    expect(records.length).toBe(dump.length);
  });

  it("decodes samples as perf does: pid/tid, ip, period, user registers, stack copy size", () => {
    const samples = dump.filter((d) => d.name === "SAMPLE");
    expect(samples.length).toBe(14);
    for (const d of samples) {
      const s = records.find((r) => r.offset === d.offset) as SampleRecord;
      const m = /: (\d+)\/(\d+): 0x([0-9a-f]+) period: (\d+)/.exec(d.rest);
      expect(m).not.toBeNull();
      expect(s.pid).toBe(Number(m?.[1]));
      expect(s.tid).toBe(Number(m?.[2]));
      expect(s.ip).toBe(BigInt(`0x${m?.[3]}`));
      expect(s.period).toBe(BigInt(m?.[4] as string));
      expect(reg(s, PERF_REG_X86.IP)).toBe(d.regs.get("IP"));
      expect(reg(s, PERF_REG_X86.SP)).toBe(d.regs.get("SP"));
      expect(reg(s, PERF_REG_X86.BP)).toBe(d.regs.get("BP"));
      expect(s.stackUser?.dynSize).toBe(d.ustack);
      expect(s.callchain?.length).toBe(d.fpChain);
    }
  });

  it("delivers samples in perf's order (ordered by time within rounds)", () => {
    const ours = [...data.ordered()].filter((r) => r.kind === "sample").map((r) => r.offset);
    const theirs = dump.filter((d) => d.name === "SAMPLE").map((d) => d.offset);
    expect(ours).toEqual(theirs);
  });

  it("decodes MMAP2 and COMM records as perf printed them", () => {
    for (const d of dump.filter((x) => x.name === "MMAP2")) {
      const r = records.find((x) => x.offset === d.offset);
      if (r?.kind !== "mmap") throw new Error("not an mmap");
      const m = / (\d+)\/(\d+): \[0x([0-9a-f]+)\(0x([0-9a-f]+)\) @ (0x[0-9a-f]+|0) .*\]: [rwxp-]{4} (.*)$/.exec(d.rest);
      expect(m, d.rest).not.toBeNull();
      expect(r.pid).toBe(Number(m?.[1]));
      expect(r.addr).toBe(BigInt(`0x${m?.[3]}`));
      expect(r.len).toBe(BigInt(`0x${m?.[4]}`));
      expect(r.pgoff).toBe(BigInt(m?.[5] as string));
      expect(r.filename).toBe(m?.[6]);
    }
    const exec = records.find((r) => r.kind === "comm" && r.exec);
    expect(exec?.kind === "comm" && exec.comm).toBe("main");
  });

  it("reads the header and feature sections as perf report --header-only prints them", () => {
    const text = readFileSync(join(PERF_FIXTURES, "spin.header.txt"), "latin1");
    const field = (name: string) => new RegExp(`^# ${name}\\s*: (.*)$`, "m").exec(text)?.[1]?.trim();
    expect(data.header.data.offset).toBe(Number(field("data offset")));
    expect(data.header.data.size).toBe(Number(field("data size")));
    expect(data.header.data.offset + data.header.data.size).toBe(Number(field("feat offset")));
    expect(data.features.hostname).toBe(field("hostname"));
    expect(data.features.osRelease).toBe(field("os release"));
    expect(data.features.version).toBe(field("perf version"));
    expect(data.features.arch).toBe(field("arch"));
    expect(data.features.cmdline?.join(" ")).toBe(field("cmdline"));
    const ev = field("event") ?? "";
    expect(ev).toContain(`name = ${data.eventName(0)},`);
    const a = data.attrs[0]?.attr;
    expect(ev).toContain(`sample_regs_user = 0x${a?.sampleRegsUser.toString(16)}`);
    expect(ev).toContain(`sample_stack_user = ${a?.sampleStackUser}`);
    expect(ev).toContain(`id = { ${data.attrs[0]?.ids.join(", ")} }`);
    const names = Object.entries(PERF_SAMPLE)
      .filter(([, bit]) => ((a?.sampleType ?? 0n) & bit) !== 0n)
      .map(([k]) => k);
    expect(ev).toContain(`sample_type = ${names.join("|")},`);
  });

  it("lists build-ids perf recorded (HEADER_BUILD_ID)", () => {
    const ids = data.features.buildIds ?? [];
    expect(ids.some((b) => b.filename.endsWith("/main") && /^[0-9a-f]{40}$/.test(b.buildId))).toBe(true);
  });

  it("works on an in-memory copy too (ByteSource)", () => {
    const mem = PerfData.open(new BufferSource(readFileSync(DATA), "spin.perf.data"));
    expect([...mem.records()].length).toBe(records.length);
  });

  it("the transient readers (reused read buffers) yield the same records, stack bytes included", () => {
    // A window of ~2 samples: buffers are retired and reused many times over this small file.
    const key = (r: PerfRecord) => {
      const stack = r.kind === "sample" ? Array.from(r.stackUser?.bytes ?? []).join(",") : "";
      return `${r.offset}:${r.kind}:${r.time}:${stack}`;
    };
    const small = { windowBytes: 20000 };
    const want = [...data.ordered()].map(key);
    const ordered = PerfData.openPath(DATA, small);
    const got: string[] = [];
    for (const r of ordered.ordered({ transient: true })) got.push(key(r));
    ordered.close();
    expect(got).toEqual(want);
    const inFileOrder = PerfData.openPath(DATA, small);
    const got2: string[] = [];
    for (const r of inFileOrder.transientRecords()) got2.push(key(r));
    inFileOrder.close();
    expect(got2).toEqual(records.map(key));
  });
});
