import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { PT_DYNAMIC } from "../../formats/elf/constants.ts";
import { ElfFile } from "../../formats/elf/file.ts";
import { DEFAULT_RTLD, type LddResult, ldd } from "../../loader/ldd.ts";
import { hostPathIn, type SysrootMode } from "../../loader/sysroot.ts";

/**
 * `ldsim ldd [--list] FILE...` — what /usr/bin/ldd (glibc 2.36) prints, computed by the simulated
 * ld.so in a simulated process with ASLR off (the real tool's output under `setarch -R`).
 * `--list` behaves as `ld.so --list FILE`: a missing library is fatal (exit 127).
 * `--sysroot DIR` runs FILE's own machine (e_machine) and interpreter (PT_INTERP) inside DIR, as
 * `qemu-aarch64 -L DIR` would (`--sysroot-mode chroot`: DIR is "/" and nothing else exists).
 */
interface LddCliOptions {
  list?: boolean;
  libraryPath?: string;
  json?: boolean;
  sysroot?: string;
  sysrootMode?: string;
}

/** One object of the trace, as `--json` prints it (the same facts as ldd's `name => path (address)`). */
interface LddJsonObject {
  readonly name: string;
  readonly path: string | null;
  readonly address: string | null;
}

/** The objects ldd lists (every map after the main program, in chain order), as data. */
function lddObjects(r: LddResult): LddJsonObject[] {
  const maps = r.startup?.rtld.ns.maps ?? [];
  if (r.status !== 0 || (r.startup?.main.dynamic?.needed.length ?? 0) === 0) return [];
  return maps.slice(1).map((l) => ({
    name: l.libnames[0] ?? "",
    path: l.faked ? null : l.name,
    address: l.faked ? null : `0x${l.mapStart.toString(16).padStart(16, "0")}`,
  }));
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
    .option("--json", "print one JSON document: per file, its objects (name, path, address) or its error")
    .option("--sysroot <dir>", "a foreign tree as / (e.g. /usr/aarch64-linux-gnu): FILE's machine and interpreter")
    .option("--sysroot-mode <mode>", "qemu (default: DIR first, then the host, as qemu-user -L) or chroot")
    .action((files: string[], o: LddCliOptions) => {
      const mode = o.sysrootMode ?? "qemu";
      if (mode !== "qemu" && mode !== "chroot") {
        process.stderr.write(`ldsim ldd: --sysroot-mode wants qemu or chroot, got '${mode}'\n`);
        process.exitCode = 2;
        return;
      }
      const sysroot = o.sysroot !== undefined ? { dir: o.sysroot, mode: mode as SysrootMode } : undefined;
      let result = 0;
      const json: unknown[] = [];
      const fail = (file: string, message: string) => {
        if (o.json) json.push({ file, status: 1, error: message });
        else process.stderr.write(`${message}\n`);
        result = 1;
      };
      const env: Record<string, string> = {};
      const llp = o.libraryPath ?? process.env["LD_LIBRARY_PATH"];
      if (llp !== undefined) env["LD_LIBRARY_PATH"] = llp;
      for (const f of files) {
        if (files.length > 1 && !o.list && !o.json) process.stdout.write(`${f}:\n`);
        const file = f.includes("/") ? f : `./${f}`;
        // ldd's checks look at the file the simulated process will open (inside the sysroot).
        const hostFile = sysroot ? hostPathIn(sysroot, resolve(file)) : file;
        let st: ReturnType<typeof statSync> | undefined;
        try {
          st = statSync(hostFile);
        } catch {
          st = undefined;
        }
        if (!st) {
          fail(f, `ldd: ${file}: No such file or directory`);
          continue;
        }
        if (!st.isFile()) {
          fail(f, `ldd: ${file}: not regular file`);
          continue;
        }
        if (!isDynamic(hostFile)) {
          fail(f, "\tnot a dynamic executable");
          continue;
        }
        const r = sysroot
          ? ldd(file, { list: o.list ?? false, env, sysroot: sysroot.dir, sysrootMode: sysroot.mode })
          : ldd(file, { list: o.list ?? false, env, rtld: DEFAULT_RTLD });
        if (o.json) {
          json.push({
            file: f,
            status: r.status,
            ...(r.stdout === "\tstatically linked\n" ? { staticallyLinked: true } : {}),
            objects: lddObjects(r),
            ...(r.stderr !== "" ? { error: r.stderr.trimEnd() } : {}),
          });
        } else {
          process.stdout.write(r.stdout);
          process.stderr.write(r.stderr);
        }
        if (r.status !== 0) {
          // ld.so --list stops at the fatal error with its status; ldd reports failure and goes on.
          if (o.list) {
            if (o.json) process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
            process.exitCode = r.status;
            return;
          }
          result = 1;
        }
      }
      if (o.json) process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
      process.exitCode = result;
    });
}
