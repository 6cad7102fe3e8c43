import type { Command } from "commander";
import { ElfFile } from "../../formats/elf/file.ts";
import { LdsimError } from "../../formats/errors.ts";
import { fileBanner, formatReadelf, type ReadelfRequest, readelfJson } from "../readelf/index.ts";

/**
 * `ldsim readelf`: GNU readelf's -h -l -S -d -s --dyn-syms -V -r -n -g -u -I -A -a, output byte-identical to
 * `readelf -W` 2.40. `-h` means --file-header here as in readelf, so help is `-H, --help`, as in
 * readelf too.
 */

interface CommandOptions {
  fileHeader?: boolean;
  programHeaders?: boolean;
  segments?: boolean;
  sectionHeaders?: boolean;
  sections?: boolean;
  dynamic?: boolean;
  syms?: boolean;
  symbols?: boolean;
  dynSyms?: boolean;
  versionInfo?: boolean;
  relocs?: boolean;
  notes?: boolean;
  headers?: boolean;
  sectionGroups?: boolean;
  unwind?: boolean;
  histogram?: boolean;
  archSpecific?: boolean;
  all?: boolean;
  wide?: boolean;
  json?: boolean;
}

function toRequest(o: CommandOptions): ReadelfRequest {
  const all = o.all === true;
  const headers = all || o.headers === true;
  return {
    wide: o.wide === true,
    fileHeader: headers || o.fileHeader === true,
    segments: headers || o.programHeaders === true || o.segments === true,
    sections: headers || o.sectionHeaders === true || o.sections === true,
    dynamic: all || o.dynamic === true,
    syms: all || o.syms === true || o.symbols === true,
    dynSyms: o.dynSyms === true,
    versionInfo: all || o.versionInfo === true,
    relocs: all || o.relocs === true,
    notes: all || o.notes === true,
    sectionGroups: all || o.sectionGroups === true,
    unwind: all || o.unwind === true,
    histogram: all || o.histogram === true,
    archSpecific: all || o.archSpecific === true,
  };
}

function anyDisplay(r: ReadelfRequest): boolean {
  return [
    r.fileHeader,
    r.segments,
    r.sections,
    r.dynamic,
    r.syms,
    r.dynSyms,
    r.versionInfo,
    r.relocs,
    r.notes,
    r.sectionGroups,
    r.unwind,
    r.histogram,
    r.archSpecific,
  ].some((x) => x === true);
}

export function register(program: Command): void {
  program
    .command("readelf")
    .description("display ELF file information, as GNU readelf -W 2.40 prints it")
    .helpOption("-H, --help", "display this help")
    .argument("<files...>", "ELF files")
    .option("-h, --file-header", "display the ELF file header")
    .option("-l, --program-headers", "display the program headers")
    .option("--segments", "an alias for --program-headers")
    .option("-S, --section-headers", "display the section headers")
    .option("--sections", "an alias for --section-headers")
    .option("-e, --headers", "equivalent to: -h -l -S")
    .option("-d, --dynamic", "display the dynamic section")
    .option("-s, --syms", "display the symbol table")
    .option("--symbols", "an alias for --syms")
    .option("--dyn-syms", "display the dynamic symbol table")
    .option("-V, --version-info", "display the version sections")
    .option("-r, --relocs", "display the relocations")
    .option("-n, --notes", "display the core notes")
    .option("-g, --section-groups", "display the section groups")
    .option("-u, --unwind", "display the unwind info (if present)")
    .option("-I, --histogram", "display histogram of bucket list lengths")
    .option("-A, --arch-specific", "display architecture specific information (if any)")
    .option("-a, --all", "equivalent to: -h -l -S -s -r -d -V -A -I -g -u -n")
    .option("-W, --wide", "allow output width to exceed 80 characters")
    .option("--json", "print a JSON view instead of readelf's text")
    .action((files: string[], o: CommandOptions) => {
      const req = toRequest(o);
      if (!anyDisplay(req)) {
        throw new LdsimError(
          "readelf: no display option given (use -h, -l, -S, -d, -s, --dyn-syms, -V, -r, -n, -g, -u, -I, -A or -a)",
        );
      }
      if (o.json === true) {
        const views = files.map((f) => withElf(f, (elf) => readelfJson(elf, req)));
        const replacer = (_k: string, v: unknown) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v);
        process.stdout.write(`${JSON.stringify(files.length === 1 ? views[0] : views, replacer, 2)}\n`);
        return;
      }
      for (const f of files) {
        const text = withElf(f, (elf) => formatReadelf(elf, req));
        // Names are bytes (decoded latin1); write them back as the same bytes, as readelf does.
        process.stdout.write(Buffer.from((files.length > 1 ? fileBanner(f) : "") + text, "latin1"));
      }
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
