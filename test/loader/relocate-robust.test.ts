import { existsSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DT_GNU_HASH, DT_JMPREL, DT_PLTRELSZ } from "../../formats/elf/dynamic-tags.ts";
import { LdsimError } from "../../formats/errors.ts";
import { execElf } from "../../kernel-shim/exec/binfmt-elf.ts";
import { HostFs } from "../../kernel-shim/fs/host-fs.ts";
import { Kernel } from "../../kernel-shim/process/kernel.ts";
import { Process } from "../../kernel-shim/process/process.ts";
import { dynamicInfo } from "../../loader/dynamic-info.ts";
import { hostRtldProfile } from "../../loader/host-profile.ts";
import type { LinkMap } from "../../loader/link-map.ts";
import { relocateObject } from "../../loader/relocate.ts";
import { startFromExec } from "../../loader/startup.ts";
import { checkAllVersions } from "../../loader/version-check.ts";

const EXE = "/bin/true";
const ok = existsSync(EXE) && existsSync("/lib64/ld-linux-x86-64.so.2");
if (!ok) console.warn("relocation robustness test skipped: no x86_64 /bin/true and ld.so");

/**
 * Damaged tables in memory (hash, symbols, strings, versions, relocations of libc, changed after
 * mapping as a stray write would) end in a typed error (LdsimError: loader, format or user-memory
 * fault) or a finished relocation — never a TypeError, a hang or an unbounded allocation.
 */
describe.skipIf(!ok)("relocation over damaged dynamic tables", () => {
  it("ends in a typed error or completes", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 24,
        }),
        (flips) => {
          const proc = Process.spawn(new Kernel(new HostFs()), { cwd: "/" });
          expect(execElf(proc, EXE, { argv: [EXE], envp: [] }).ok).toBe(true);
          const s = startFromExec(proc, { profile: hostRtldProfile() });
          const sl = s.main.searchlist ?? [s.main];
          for (const m of s.rtld.ns.maps) m.scope = [sl];
          const libc = s.rtld.ns.maps.find((m) => m.name.endsWith("/libc.so.6")) as LinkMap;
          // [DT_GNU_HASH, end of DT_JMPREL): .gnu.hash .dynsym .dynstr .gnu.version{,_d,_r} .rela.*
          const raw = (tag: bigint) => {
            const e = libc.ld === undefined ? undefined : readTag(proc, libc.ld, tag);
            return e ?? 0n;
          };
          const start = libc.addr + raw(DT_GNU_HASH);
          const end = libc.addr + raw(DT_JMPREL) + raw(DT_PLTRELSZ);
          for (const [where, byte] of flips) {
            const at = start + BigInt(Math.floor(where * Number(end - start - 1n)));
            proc.mm.kernelWrite(Number(at), Uint8Array.of(byte));
          }
          try {
            checkAllVersions(s.rtld, s.main);
            for (let i = sl.length - 1; i >= 0; i--) {
              const m = sl[i] as LinkMap;
              if (!m.isRtld) relocateObject(s.rtld, m, m.scope, { lazy: false });
            }
            dynamicInfo(s.rtld, libc);
          } catch (e) {
            if (!(e instanceof LdsimError)) throw e;
          }
        },
      ),
      { numRuns: Number(process.env["RELOC_FUZZ_RUNS"] ?? 25) },
    );
  });
});

/** d_val of `tag` in the dynamic array at `ld` (read directly: the test's own view of the table). */
function readTag(proc: Process, ld: bigint, tag: bigint): bigint | undefined {
  for (let i = 0; i < 256; i++) {
    const b = proc.mm.kernelRead(Number(ld) + 16 * i, 16);
    const dv = new DataView(b.buffer, b.byteOffset, 16);
    const t = dv.getBigUint64(0, true);
    if (t === 0n) return undefined;
    if (t === tag) return dv.getBigUint64(8, true);
  }
  return undefined;
}
