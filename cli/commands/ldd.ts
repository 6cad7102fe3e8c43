import { readFileSync, statSync } from "node:fs";
import type { Command } from "commander";
import { PT_DYNAMIC } from "../../formats/elf/constants.ts";
import { ElfFile } from "../../formats/elf/file.ts";
import { DEFAULT_RTLD, ldd } from "../../loader/ldd.ts";

/**
 * `ldsim ldd [--list] FILE...` — what /usr/bin/ldd (glibc 2.36) prints, computed by the simulated
 * ld.so in a simulated process with ASLR off (the real tool's output under `setarch -R`).
 * `--list` behaves as `ld.so --list FILE`: a missing library is fatal (exit 127).
 */
interface LddCliOptions {
  list?: boolean;
  libraryPath?: string;
}

/** ldd's `--verify` step: a file ld.so can run (an ELF object with a dynamic section). */
function isDynamic(path: string): boolean {
  try {
    const elf = ElfFile.fromBytes(readFileSync(path), path);
    return elf.programHeaders.some((p) => p.type === PT_DYNAMIC);
  } catch {
    return false;
  }
}

export function register(program: Command): void {
  program
    .command("ldd")
    .description("print shared object dependencies as ldd does (simulated ld.so, ASLR off)")
    .argument("<files...>", "ELF files")
    .option("--list", "behave as ld.so --list (exit 127 when a dependency is missing)")
    .option("--library-path <path>", "LD_LIBRARY_PATH for the simulated loader")
    .action((files: string[], o: LddCliOptions) => {
      let result = 0;
      const env: Record<string, string> = {};
      const llp = o.libraryPath ?? process.env["LD_LIBRARY_PATH"];
      if (llp !== undefined) env["LD_LIBRARY_PATH"] = llp;
      for (const f of files) {
        if (files.length > 1 && !o.list) process.stdout.write(`${f}:\n`);
        const file = f.includes("/") ? f : `./${f}`;
        let st: ReturnType<typeof statSync> | undefined;
        try {
          st = statSync(file);
        } catch {
          st = undefined;
        }
        if (!st) {
          process.stderr.write(`ldd: ${file}: No such file or directory\n`);
          result = 1;
          continue;
        }
        if (!st.isFile()) {
          process.stderr.write(`ldd: ${file}: not regular file\n`);
          result = 1;
          continue;
        }
        if (!isDynamic(file)) {
          process.stderr.write("\tnot a dynamic executable\n");
          result = 1;
          continue;
        }
        const r = ldd(file, { list: o.list ?? false, env, rtld: DEFAULT_RTLD });
        process.stdout.write(r.stdout);
        process.stderr.write(r.stderr);
        if (r.status !== 0) {
          // ld.so --list stops at the fatal error with its status; ldd reports failure and goes on.
          if (o.list) {
            process.exitCode = r.status;
            return;
          }
          result = 1;
        }
      }
      process.exitCode = result;
    });
}
