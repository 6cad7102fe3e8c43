/**
 * `ldsim sframe dump|lookup` end to end through the CLI entry point: dumps equal the real objdump's
 * output stored with the fixtures; lookups give, for every PC libsframe 2.46 answered in the
 * fixtures' `*.sframe-lookup.txt`, the same FDE and the same row; failures are one line on stderr
 * and a non-zero exit status.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { lookupSframe } from "../../cli/sframe/lookup.ts";
import { ElfFile } from "../../formats/elf/file.ts";
import { locateSframe } from "../../formats/sframe/locate.ts";
import { FIXTURES, fixtureBinaries, parseLookup } from "../formats/sframe/fixture-files.ts";
import { runCli } from "../support/run-cli.ts";

const run = (...argv: string[]) => runCli(argv);

/** The native harness (bench/native/sframe-lookup.c) built against the host's libsframe, or why not. */
function buildNativeLookup(dir: string): string | { bin: string } {
  if (!existsSync("/usr/include/sframe-api.h")) return "no /usr/include/sframe-api.h (Debian binutils-dev)";
  const bin = join(dir, "sframe-lookup");
  try {
    execFileSync(
      "gcc",
      ["-O2", "-o", bin, join(import.meta.dirname, "../../bench/native/sframe-lookup.c"), "-lsframe"],
      {
        stdio: "pipe",
      },
    );
  } catch (e) {
    return `gcc failed: ${String((e as Error).message).split("\n")[0]}`;
  }
  return { bin };
}

afterEach(() => {
  process.exitCode = undefined;
});

describe("ldsim sframe dump", () => {
  it.each(fixtureBinaries().map((b) => [b.name, b.path]))("%s: objdump --sframe text", async (name, path) => {
    const base = name.split("/").at(-1) as string;
    const want = readFileSync(`${path}.sframe.txt`, "latin1").replace(`\n${base}:`, `\n${path}:`);
    const r = await run("sframe", "dump", path);
    expect(r).toEqual({ code: 0, stdout: want, stderr: "" });
  });

  it("dumps several files one after the other, as objdump does", async () => {
    const a = join(FIXTURES, "v3/s390x/liba.so");
    const b = join(FIXTURES, "v1/x86_64/main");
    const r = await run("sframe", "dump", a, b);
    const wa = readFileSync(`${a}.sframe.txt`, "latin1").replace("\nliba.so:", `\n${a}:`);
    const wb = readFileSync(`${b}.sframe.txt`, "latin1").replace("\nmain:", `\n${b}:`);
    expect(r.stdout).toBe(wa + wb);
  });

  it("fails with one line for a file without .sframe and for a missing file", async () => {
    const noSframe = await run("sframe", "dump", "/bin/true");
    expect(noSframe.code).toBe(1);
    expect(noSframe.stderr).toMatch(/^ldsim: .*no \.sframe section\n$/);
    const missing = await run("sframe", "dump", "/nonexistent/file");
    expect(missing.code).toBe(1);
    expect(missing.stderr.split("\n").filter(Boolean)).toHaveLength(1);
  });

  it("--json gives the header counts and function addresses objdump prints", async () => {
    const path = join(FIXTURES, "v3/x86_64/libb.so");
    const r = await run("sframe", "dump", "--json", path);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as {
      header: { numFdes: number; numFres: number };
      functions: { pc: string; fde: { funcSize: number }; fres: unknown[] }[];
    };
    const text = readFileSync(`${path}.sframe.txt`, "latin1");
    expect(j.header.numFdes).toBe(Number(/Num FDEs: (\d+)/.exec(text)?.[1]));
    expect(j.header.numFres).toBe(Number(/Num FREs: (\d+)/.exec(text)?.[1]));
    const objdump = [...text.matchAll(/func idx \[\d+\]: pc = (0x[0-9a-f]+), size = (\d+) bytes/g)].map((m) => [
      m[1],
      Number(m[2]),
    ]);
    expect(j.functions.map((f) => [f.pc, f.fde.funcSize])).toEqual(objdump);
    expect(j.functions.reduce((n, f) => n + f.fres.length, 0)).toBe(j.header.numFres);
  });

  it("rejects an unknown --style", async () => {
    const r = await run("sframe", "dump", "--style", "2.99", join(FIXTURES, "v1/x86_64/main"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/unknown --style/);
  });
});

describe("ldsim sframe lookup", () => {
  const linked = ["x86_64", "aarch64", "s390x"].flatMap((arch) =>
    ["liba.so", "libb.so", "main"].map((f) => `v3/${arch}/${f}`),
  );

  it.each(linked)("%s: the row libsframe 2.46 found for every PC in the fixture", async (name) => {
    const path = join(FIXTURES, name);
    const expected = parseLookup(readFileSync(`${path}.sframe-lookup.txt`, "utf8"));
    const queries = expected.fdes.flatMap((fde) =>
      fde.fres.flatMap((fre) =>
        fre.query?.result === "ok"
          ? [
              {
                pc: fre.query.pc,
                line: `fde[${fde.index}] start=0x${fde.start.toString(16)} size=${fde.size} fre[${fre.index}] +0x${fre.start.toString(16)} ${fre.rules}`,
              },
            ]
          : [],
      ),
    );
    expect(queries.length).toBeGreaterThan(0);
    const r = await run("sframe", "lookup", path, ...queries.map((q) => `0x${q.pc.toString(16)}`));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(queries.map((q) => `0x${q.pc.toString(16)}: ${q.line}\n`).join(""));
  });

  it("--json carries the FDE, FRE and interpreted row", async () => {
    const r = await run("sframe", "lookup", "--json", join(FIXTURES, "v3/x86_64/libb.so"), "0x1026", "4521");
    expect(r.code).toBe(0);
    const [plt, other] = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(plt).toMatchObject({
      pc: "0x1026",
      ok: true,
      fde: { index: 0, start: "0x1020", size: 16, pcType: "inc", fdeType: "default" },
      fre: { index: 1, startOffset: 6 },
      row: { cfa: { base: "sp", offset: 24, deref: false }, outermost: false },
      text: "fre[1] +0x6 cfa=sp+24 fp=u ra=c-8",
    });
    expect(other).toMatchObject({ pc: "0x11a9", ok: true });
  });

  it("reports a PC outside every function on stderr, one line, exit 1, and still prints the others", async () => {
    const r = await run("sframe", "lookup", join(FIXTURES, "v3/x86_64/liba.so"), "0x1120", "0x10");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^0x1120: fde\[3\] /);
    expect(r.stderr).toMatch(/^ldsim: sframe lookup: liba\.so: 0x10: SFRAME_ERR_FDE_NOTFOUND: .*\n$/);
  });

  it("refuses an unsorted (relocatable) section as libsframe does", async () => {
    const r = await run("sframe", "lookup", join(FIXTURES, "v3/x86_64/liba.o"), "0");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/SFRAME_ERR_FDE_NOTSORTED/);
  });

  it("rejects a malformed address and a file without SFrame data with one line", async () => {
    const bad = await run("sframe", "lookup", join(FIXTURES, "v3/x86_64/liba.so"), "zz");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe("ldsim: bad address 'zz' (expected 0x-prefixed hex or decimal)\n");
    const none = await run("sframe", "lookup", "/bin/true", "0x1000");
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/^ldsim: .*no PT_GNU_SFRAME segment or \.sframe section\n$/);
  });

  describe("against the host's libsframe (binutils 2.40, V1) on every PC of the V1 fixtures", () => {
    const dir = mkdtempSync(join(tmpdir(), "ldsim-sframe-native-"));
    const native = buildNativeLookup(dir);
    if (typeof native === "string") console.warn(`sframe.test.ts: skipping libsframe parity — ${native}`);
    const v1 = ["x86_64", "aarch64"].flatMap((a) => ["liba.so", "libb.so", "main"].map((f) => `v1/${a}/${f}`));

    it.skipIf(typeof native === "string").each(v1)("%s", (name) => {
      if (typeof native === "string") return;
      const path = join(FIXTURES, name);
      const elf = ElfFile.fromBytes(new Uint8Array(readFileSync(path)), path);
      const loc = locateSframe(elf);
      if (!loc) throw new Error("no SFrame");
      const pcs: bigint[] = [loc.vaddr - 0x10000n];
      // Every byte of every function, and a byte either side.
      for (const { start, size } of listFunctions(elf)) for (let o = -1; o <= size; o++) pcs.push(start + BigInt(o));
      const secFile = join(dir, "sec.bin");
      const pcFile = join(dir, "pcs.bin");
      writeFileSync(secFile, loc.bytes);
      const raw = Buffer.alloc(pcs.length * 4);
      pcs.forEach((pc, i) => {
        raw.writeInt32LE(Number(pc - loc.vaddr), i * 4);
      });
      writeFileSync(pcFile, raw);
      const lines = execFileSync(native.bin, [secFile, pcFile, "0"]).toString().trim().split("\n");
      const ours = lookupSframe(elf, pcs);
      expect(lines).toHaveLength(ours.length);
      ours.forEach((r, i) => {
        const f = (lines[i] as string).split(" ");
        if (f[1] === "err") {
          expect(r.ok, `pc 0x${r.pc.toString(16)}`).toBe(false);
          return;
        }
        expect(r.ok, `pc 0x${r.pc.toString(16)}`).toBe(true);
        if (!r.ok) return;
        const [, , start, base, cfa, fp, ra] = f;
        const row = r.row;
        expect([r.fre.startOffset, r.fre.cfaBaseReg, row.cfa?.offset]).toEqual([
          Number(start),
          Number(base),
          Number(cfa),
        ]);
        expect(fp === "u" ? row.fp.kind : row.fp).toEqual(
          fp === "u" ? "same" : { kind: "cfa", offset: Number(fp), deref: true },
        );
        // libsframe 2.40 fails the RA getter when the header fixes it (AMD64): the row then uses the header.
        if (ra === "u") expect(row.raSource === "header" || row.ra.kind === "same").toBe(true);
        else expect(row.ra).toEqual({ kind: "cfa", offset: Number(ra), deref: true });
      });
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
  });
});

/** Link-time start and size of every function in a fixture's SFrame data (from the ELF directly). */
function listFunctions(elf: ElfFile): { start: bigint; size: number }[] {
  const loc = locateSframe(elf);
  if (!loc) return [];
  const le = elf.littleEndian;
  const dv = new DataView(loc.bytes.buffer, loc.bytes.byteOffset, loc.bytes.byteLength);
  // V1 layout: 28-byte header, 17-byte FDEs (i32 start from the section start, u32 size).
  const n = dv.getUint32(8, le);
  const fdeoff = dv.getUint32(20, le);
  const out: { start: bigint; size: number }[] = [];
  for (let i = 0; i < n; i++) {
    const o = 28 + fdeoff + i * 17;
    out.push({ start: loc.vaddr + BigInt(dv.getInt32(o, le)), size: dv.getUint32(o + 4, le) });
  }
  return out;
}
