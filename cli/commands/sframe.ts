import { basename } from "node:path";
import type { Command } from "commander";
import { ElfFile } from "../../formats/elf/file.ts";
import { LdsimError } from "../../formats/errors.ts";
import { formatObjdumpSframe, type SframeDumpStyle, sframeDumpJson } from "../sframe/dump.ts";
import { formatLookupLine, lookupJson, lookupSframe, parsePc } from "../sframe/lookup.ts";

/**
 * `ldsim sframe dump FILE...` — `objdump --sframe FILE...` text (binutils 2.40 layout for V1
 * sections, 2.46 for V2/V3).
 * `ldsim sframe lookup FILE PC...` — the row libsframe's `sframe_find_fre` finds for each address.
 */

interface DumpOptions {
  style?: string;
  json?: boolean;
}

interface LookupOptions {
  json?: boolean;
}

const STYLES: Readonly<Record<string, SframeDumpStyle>> = { "2.40": "binutils-2.40", "2.46": "binutils-2.46" };

export function register(program: Command): void {
  const sframe = program.command("sframe").description("SFrame stack-trace sections: dump and lookup");

  sframe
    .command("dump")
    .description("print the .sframe section as objdump --sframe does (2.40 layout for V1, 2.46 for V2/V3)")
    .argument("<files...>", "ELF files")
    .option("--style <version>", "imitate this binutils' dumper: 2.40 or 2.46 (default: by SFrame version)")
    .option("--json", "print the decoded section (header, functions, rows) as JSON")
    .action((files: string[], o: DumpOptions) => {
      if (o.json === true) {
        const all = files.map((f) => withElf(f, (elf) => sframeDumpJson(elf)));
        process.stdout.write(`${JSON.stringify(files.length === 1 ? all[0] : all, null, 2)}\n`);
        return;
      }
      let style: SframeDumpStyle | undefined;
      if (o.style !== undefined) {
        style = STYLES[o.style];
        if (!style) throw new LdsimError(`sframe dump: unknown --style '${o.style}' (expected 2.40 or 2.46)`);
      }
      for (const f of files) {
        // objdump names the file as given on its command line.
        const text = withElf(f, (elf) => formatObjdumpSframe(elf, f, style ? { style } : {}));
        process.stdout.write(Buffer.from(text, "latin1"));
      }
    });

  sframe
    .command("lookup")
    .description("find the SFrame row (CFA/FP/RA rules) covering each address, as libsframe's sframe_find_fre")
    .argument("<file>", "ELF file with a PT_GNU_SFRAME segment or .sframe section")
    .argument("<pcs...>", "addresses (0x-hex or decimal), as in the file (link-time)")
    .option("--json", "print JSON instead of text")
    .action((file: string, pcArgs: string[], o: LookupOptions) => {
      const pcs = pcArgs.map(parsePc);
      const results = withElf(file, (elf) => lookupSframe(elf, pcs));
      if (o.json === true) {
        const replacer = (_k: string, v: unknown) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v);
        process.stdout.write(`${JSON.stringify(results.map(lookupJson), replacer, 2)}\n`);
      } else {
        for (const r of results) {
          if (r.ok) process.stdout.write(`${formatLookupLine(r)}\n`);
          else process.stderr.write(`ldsim: sframe lookup: ${basename(file)}: ${formatLookupLine(r)}\n`);
        }
      }
      if (results.some((r) => !r.ok)) process.exitCode = 1;
    });
}

function withElf<T>(path: string, fn: (elf: ElfFile) => T): T {
  const elf = ElfFile.openPath(path);
  try {
    return fn(elf);
  } finally {
    elf.close();
  }
}
