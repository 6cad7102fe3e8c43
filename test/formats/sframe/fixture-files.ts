/**
 * Readers for the expected-answer files next to the SFrame fixtures (test/fixtures/sframe):
 * `*.sframe-lookup.txt` (libsframe 2.46's decode + sframe_find_fre answers) and `*.sframe.txt`
 * (`objdump --sframe`, binutils 2.40 for v1 and 2.46 for v3). Both were produced by the real tools.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ElfFile } from "../../../formats/elf/file.ts";
import { decodeSframe, type SframeSection } from "../../../formats/sframe/decode.ts";
import { locateSframe } from "../../../formats/sframe/locate.ts";

export const FIXTURES = join(import.meta.dirname, "../../fixtures/sframe");

export interface FixtureBinary {
  /** e.g. "v3/x86_64/liba.so" */
  readonly name: string;
  readonly path: string;
}

/** Every ELF binary under v1/ and v3/ (those with an objdump dump next to them). */
export function fixtureBinaries(): FixtureBinary[] {
  const out: FixtureBinary[] = [];
  for (const ver of ["v1", "v3"]) {
    for (const arch of readdirSync(join(FIXTURES, ver)).sort()) {
      const dir = join(FIXTURES, ver, arch);
      for (const f of readdirSync(dir).sort()) {
        if (existsSync(join(dir, `${f}.sframe.txt`))) out.push({ name: `${ver}/${arch}/${f}`, path: join(dir, f) });
      }
    }
  }
  return out;
}

/** Decode a fixture binary's SFrame data at its link-time address. */
export function openFixture(path: string): SframeSection {
  const elf = ElfFile.fromBytes(new Uint8Array(readFileSync(path)), path);
  const loc = locateSframe(elf);
  if (!loc) throw new Error(`${path}: no SFrame data`);
  return decodeSframe(loc.bytes, { vaddr: loc.vaddr, source: path });
}

// ---------------------------------------------------------------------------------------------

export interface LookupFre {
  readonly index: number;
  readonly start: number;
  /** The rule text after the start, e.g. "cfa=sp+16 fp=u ra=c-8" or "RA-undefined (outermost frame)". */
  readonly rules: string;
  /** find_fre(pc)=result, when the line has one. */
  readonly query?: { readonly pc: bigint; readonly result: string };
}
export interface LookupFde {
  readonly index: number;
  readonly start: bigint;
  readonly size: number;
  readonly nfres: number;
  readonly freType: number;
  readonly pcType: string;
  readonly fdeType: string;
  readonly signal: boolean;
  readonly fres: LookupFre[];
}
export interface LookupFile {
  readonly fields: ReadonlyMap<string, string>;
  readonly relocatable: boolean;
  readonly fdes: LookupFde[];
}

/** Parse a `*.sframe-lookup.txt`. Throws on a line it does not understand, so the format cannot drift silently. */
export function parseLookup(text: string): LookupFile {
  const lines = text.split("\n").filter((l) => l.length > 0);
  const first = lines.shift() ?? "";
  const fields = new Map<string, string>();
  for (const kv of first.split(" ")) {
    const eq = kv.indexOf("=");
    if (eq > 0) fields.set(kv.slice(0, eq), kv.slice(eq + 1));
  }
  const fdes: LookupFde[] = [];
  let relocatable = false;
  for (const line of lines) {
    if (line.startsWith("note:")) {
      relocatable ||= line.includes("relocatable");
      continue;
    }
    let m =
      /^fde\[(\d+)\] start=(0x[0-9a-f]+) size=(\d+) nfres=(\d+) fre_type=(\d+) pctype=(\w+) fdetype=(\w+)( signal)?$/.exec(
        line,
      );
    if (m) {
      fdes.push({
        index: Number(m[1]),
        start: BigInt(m[2] as string),
        size: Number(m[3]),
        nfres: Number(m[4]),
        freType: Number(m[5]),
        pcType: m[6] as string,
        fdeType: m[7] as string,
        signal: m[8] !== undefined,
        fres: [],
      });
      continue;
    }
    m = /^ {2}fre\[(\d+)\] \+(0x[0-9a-f]+) (.*?)(?: {2}\| find_fre\((0x[0-9a-f]+)\)=(\S+))?$/.exec(line);
    const fde = fdes.at(-1);
    if (m && fde) {
      const fre: LookupFre = {
        index: Number(m[1]),
        start: Number(m[2]),
        rules: (m[3] as string).trim(),
        ...(m[4] ? { query: { pc: BigInt(m[4]), result: m[5] as string } } : {}),
      };
      fde.fres.push(fre);
      continue;
    }
    throw new Error(`unrecognised lookup line: ${JSON.stringify(line)}`);
  }
  return { fields, relocatable, fdes };
}

// ---------------------------------------------------------------------------------------------

export interface DumpRow {
  readonly startPc: bigint;
  readonly cfa: string;
  readonly fp: string;
  readonly ra: string;
}
export interface DumpFunction {
  readonly index: number;
  readonly pc: bigint;
  readonly size: number;
  readonly attr: string;
  readonly mask: boolean;
  readonly rows: DumpRow[];
}
export interface DumpFile {
  readonly version: string;
  readonly flags: string[];
  readonly numFdes: number;
  readonly numFres: number;
  readonly fixedRa?: number;
  readonly fixedFp?: number;
  readonly functions: DumpFunction[];
}

/** Parse `objdump --sframe` output (the parts a decoder can be checked against). */
export function parseObjdumpSframe(text: string): DumpFile {
  const lines = text.split("\n");
  let version = "";
  const flags: string[] = [];
  let numFdes = -1;
  let numFres = -1;
  let fixedRa: number | undefined;
  let fixedFp: number | undefined;
  const functions: DumpFunction[] = [];
  let inFlags = false;
  for (const raw of lines) {
    const line = raw.trimEnd();
    let m = /^\s+Version: (\S+)/.exec(line);
    if (m) version = m[1] as string;
    m = /^\s+Flags: (.*)$/.exec(line);
    if (m) {
      inFlags = true;
      flags.push(
        ...(m[1] as string)
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
      );
      continue;
    }
    if (inFlags && /^\s+SFRAME_F_/.test(line)) {
      flags.push(
        ...line
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean),
      );
      continue;
    }
    inFlags = false;
    m = /^\s+CFA fixed RA offset: (-?\d+)/.exec(line);
    if (m) fixedRa = Number(m[1]);
    m = /^\s+CFA fixed FP offset: (-?\d+)/.exec(line);
    if (m) fixedFp = Number(m[1]);
    m = /^\s+Num FDEs: (\d+)/.exec(line);
    if (m) numFdes = Number(m[1]);
    m = /^\s+Num FREs: (\d+)/.exec(line);
    if (m) numFres = Number(m[1]);
    m = /^\s+func idx \[(\d+)\]: pc = (0x[0-9a-f]+), size = (\d+) bytes(?:, attr = "([^"]*)")?/.exec(line);
    if (m) {
      functions.push({
        index: Number(m[1]),
        pc: BigInt(m[2] as string),
        size: Number(m[3]),
        attr: m[4] ?? "",
        mask: false,
        rows: [],
      });
      continue;
    }
    const fn = functions.at(-1);
    if (!fn) continue;
    if (/^\s+STARTPC/.test(line)) {
      functions[functions.length - 1] = { ...fn, mask: line.includes("STARTPC[m]") };
      continue;
    }
    m = /^\s+([0-9a-f]{16})\s+RA undefined$/.exec(line);
    if (m) {
      fn.rows.push({ startPc: BigInt(`0x${m[1]}`), cfa: "RA undefined", fp: "", ra: "" });
      continue;
    }
    m = /^\s+([0-9a-f]{16})\s+(\S+)\s+(\S+)\s+(\S+)/.exec(line);
    if (m) {
      fn.rows.push({ startPc: BigInt(`0x${m[1]}`), cfa: m[2] as string, fp: m[3] as string, ra: m[4] as string });
    }
  }
  return {
    version,
    flags,
    numFdes,
    numFres,
    ...(fixedRa !== undefined ? { fixedRa } : {}),
    ...(fixedFp !== undefined ? { fixedFp } : {}),
    functions,
  };
}
