/**
 * `ldsim readelf -W OPT` against GNU readelf 2.40 run at test time, option by option, over a fixed
 * sample of system ELF files (every k-th of the sorted list, so the sample is stable) and every ELF
 * file under test/fixtures. Files under a `malformed/` directory may instead be refused with a typed
 * LdsimError (ldsim never prints something different from readelf: it matches or it refuses).
 */
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { formatReadelf, requestFromArgs } from "../../cli/readelf/index.ts";
import { ElfFile } from "../../formats/elf/file.ts";
import { LdsimError } from "../../formats/errors.ts";
import {
  firstDifference,
  isElfFile,
  pool,
  runReadelf,
  strideSample,
  systemElfFiles,
} from "../../scripts/parity-readelf.ts";

const readelfVersion = spawnSync("readelf", ["--version"], { encoding: "utf8" });
const hasReadelf = readelfVersion.status === 0;
if (!hasReadelf) console.warn("readelf-parity: GNU readelf not found on PATH; parity tests skipped");
else if (!/ 2\.40\b/.test(readelfVersion.stdout.split("\n")[0] ?? "")) {
  console.warn(`readelf-parity: expected GNU readelf 2.40, found: ${readelfVersion.stdout.split("\n")[0]}`);
}

/** Options this work item owns. */
const OWN_OPTIONS = ["-h", "-l", "-S", "-d"] as const;
/** Options whose formatters belong to other work items (symbols, versions, relocations, notes). */
const OTHER_OWNER_OPTIONS = ["-s", "--dyn-syms", "-V", "-r", "-n"] as const;
/** A few combinations, to check readelf's ordering of parts and the -h suppression of intros. */
const COMBINED_OPTIONS = ["-h -l -S -d", "-g -u -I -A"] as const;
/** -a prints everything (as much as all the above together): fixtures only, to keep the test short. */
const FIXTURE_ONLY_OPTIONS = ["-a"] as const;

const SYSTEM_SAMPLE = 200;
const FIXTURES = join(import.meta.dirname, "..", "fixtures");
const JOBS = 4;

function fixtureElfFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) fixtureElfFiles(p, out);
    else if (isElfFile(p)) out.push(p);
  }
  return out;
}

const systemSample = hasReadelf ? strideSample(systemElfFiles(), SYSTEM_SAMPLE) : [];
// Fuzzing regressions are damaged on purpose to pin ldsim's own error handling (test/fuzz), not readelf
// parity: readelf prints partial output and warnings for them where ldsim stops with one typed error.
const fixtures = fixtureElfFiles(FIXTURES).filter((p) => !p.includes("/fuzz-regressions/"));
const isMalformed = (p: string) => p.includes("/malformed/");

type Outcome = { file: string; problem: string | undefined };

async function compare(file: string, option: string, wide = true): Promise<Outcome> {
  const args = [...(wide ? ["-W"] : []), ...option.split(" ")];
  const theirs = await runReadelf([...args, file]);
  let elf: ElfFile | undefined;
  try {
    elf = ElfFile.openPath(file);
    return { file, problem: firstDifference(formatReadelf(elf, requestFromArgs(args)), theirs) };
  } catch (e) {
    if (e instanceof LdsimError && isMalformed(file)) return { file, problem: undefined };
    return { file, problem: `threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}` };
  } finally {
    elf?.close();
  }
}

async function differences(files: readonly string[], option: string, wide = true): Promise<string[]> {
  const results = await pool(files, JOBS, (f) => compare(f, option, wide));
  return results.filter((r) => r.problem !== undefined).map((r) => `${relative(process.cwd(), r.file)}: ${r.problem}`);
}

describe.skipIf(!hasReadelf)("ldsim readelf -W matches GNU readelf 2.40", () => {
  it("has a sample of system files and fixtures to compare", () => {
    expect(systemSample.length).toBeGreaterThanOrEqual(Math.min(SYSTEM_SAMPLE, 100));
    expect(fixtures.length).toBeGreaterThan(20);
  });

  for (const option of [...OWN_OPTIONS, ...OTHER_OWNER_OPTIONS, ...COMBINED_OPTIONS]) {
    it(`readelf -W ${option}: ${SYSTEM_SAMPLE} system files and every fixture`, async () => {
      expect(await differences([...systemSample, ...fixtures], option)).toEqual([]);
    });
  }
  it("readelf -l -S without -W (two-line ELF64 layout, truncated names): 50 system files and every fixture", async () => {
    expect(await differences([...strideSample(systemSample, 50), ...fixtures], "-l -S", false)).toEqual([]);
  });
  for (const option of FIXTURE_ONLY_OPTIONS) {
    it(`readelf -W ${option}: every fixture`, async () => {
      expect(await differences(fixtures, option)).toEqual([]);
    });
  }
});
