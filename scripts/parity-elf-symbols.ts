/**
 * Parity sweep for the ELF-B formatters: `readelf -W <opt>` (GNU readelf 2.40) against
 * formatSymbols/formatVersions over a list of files. Usage:
 *   tsx scripts/parity-elf-symbols.ts [--show N] [--narrow] <option: -s|--dyn-syms|-V> < file-list
 * (--narrow compares readelf without -W, i.e. 80-column truncated names).
 * Prints "N files, M identical" and the first differing files.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { formatSymbols } from "../cli/readelf/symbols.ts";
import { formatVersions } from "../cli/readelf/versions.ts";
import { ElfFile } from "../formats/elf/file.ts";
import { LdsimError } from "../formats/errors.ts";

const args = process.argv.slice(2);
let show = 5;
if (args[0] === "--show") {
  show = Number(args[1]);
  args.splice(0, 2);
}
let wide = true;
if (args[0] === "--narrow") {
  wide = false;
  args.shift();
}
const opt = args[0] ?? "-s";
const files = readFileSync(0, "latin1").split("\n").filter(Boolean);
let total = 0;
let same = 0;
let bothRejected = 0;
const bad: string[] = [];
for (const f of files) {
  let expected: string;
  let readelfFailed = false;
  try {
    expected = execFileSync("readelf", wide ? ["-W", opt, f] : [opt, f], {
      encoding: "latin1",
      maxBuffer: 1 << 30,
      stdio: ["ignore", "pipe", "ignore"],
      env: { ...process.env, LC_ALL: "C" },
    });
  } catch (e) {
    const out = (e as { stdout?: string }).stdout;
    if (typeof out !== "string") continue;
    expected = out;
    readelfFailed = true;
  }
  total++;
  let actual: string;
  try {
    const elf = ElfFile.openPath(f);
    try {
      actual =
        opt === "-V"
          ? formatVersions(elf, { wide })
          : formatSymbols(elf, opt === "-s" ? { wide, syms: true } : { wide, dynSyms: true });
    } finally {
      elf.close();
    }
  } catch (e) {
    // readelf gives up on the whole file (nothing on stdout, exit 1) where ElfFile raises a typed
    // error, e.g. a section header table past the end of the file: both reject it.
    if (readelfFailed && expected === "" && e instanceof LdsimError) {
      same++;
      bothRejected++;
      continue;
    }
    actual = `ERROR ${(e as Error).message}`;
  }
  if (actual === expected) same++;
  else bad.push(f);
}
console.log(
  `readelf ${wide ? "-W " : ""}${opt}: ${total} files, ${same} identical (${bothRejected} of them rejected by both)`,
);
for (const f of bad.slice(0, show)) console.log(`  differs: ${f}`);
