/**
 * Parity sweep for `readelf -r -W` and `readelf -n -W`: runs GNU readelf and ldsim's formatters on
 * every file given (one path per line on stdin, or as arguments) and counts identical outputs.
 *   ls /usr/bin/* | npx tsx scripts/parity-relocs-notes.ts -r
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { formatNotes } from "../cli/readelf/notes.ts";
import { formatRelocations } from "../cli/readelf/relocations.ts";
import { ElfFile } from "../formats/elf/file.ts";

const args = process.argv.slice(2);
const opt = args.find((a) => a === "-r" || a === "-n") ?? "-r";
const verbose = args.includes("-v");
// --no-wide: compare readelf without -W against the formatters with wide: false.
const wide = !args.includes("--no-wide");
let files = args.filter((a) => !a.startsWith("-"));
if (files.length === 0) files = readFileSync(0, "latin1").split("\n").filter(Boolean);
let same = 0;
let total = 0;
const bad: string[] = [];
for (const f of files) {
  let expected: string;
  try {
    expected = execFileSync("readelf", wide ? [opt, "-W", f] : [opt, f], {
      encoding: "latin1",
      env: { ...process.env, LC_ALL: "C" },
      stdio: ["ignore", "pipe", "ignore"],
      maxBuffer: 1 << 30,
    });
  } catch (e) {
    expected = (e as { stdout?: string }).stdout ?? "";
  }
  total++;
  let actual: string;
  const elf = ElfFile.openPath(f);
  try {
    actual = opt === "-r" ? formatRelocations(elf, { wide }) : formatNotes(elf, { wide });
  } catch (e) {
    actual = `<exception ${(e as Error).message}>`;
  } finally {
    elf.close();
  }
  if (actual === expected) same++;
  else {
    bad.push(f);
    if (verbose && bad.length <= 3) {
      const a = actual.split("\n");
      const b = expected.split("\n");
      const i = a.findIndex((l, k) => l !== b[k]);
      console.log(`--- ${f} line ${i + 1}\n  ours:    ${JSON.stringify(a[i])}\n  readelf: ${JSON.stringify(b[i])}`);
    }
  }
}
console.log(`readelf ${opt}${wide ? " -W" : ""}: ${total} files, ${same} identical`);
if (bad.length) console.log(`differ: ${bad.slice(0, 20).join(" ")}${bad.length > 20 ? " ..." : ""}`);
