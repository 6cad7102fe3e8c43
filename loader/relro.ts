import { syscall } from "../kernel-shim/syscalls/dispatch.ts";
import { dynamicInfo } from "./dynamic-info.ts";
import type { LinkMap } from "./link-map.ts";
import { LoaderError } from "./map-object.ts";
import type { Rtld } from "./rtld.ts";

const PROT_READ = 1;

/**
 * `_dl_protect_relro` (glibc 2.36 elf/dl-reloc.c): after relocation, PT_GNU_RELRO becomes read-only.
 * Both ends are rounded DOWN to the page size — the last partial page stays writable, as it shares
 * the page with .data — and nothing is called when they meet.
 * Returns the (start, length) passed to mprotect, or undefined when there was nothing to protect.
 */
export function protectRelro(rtld: Rtld, map: LinkMap): { start: bigint; len: bigint } | undefined {
  const relro = dynamicInfo(rtld, map).relro;
  if (!relro || relro.size === 0n) return undefined;
  const page = BigInt(rtld.proc.mm.pageSize);
  const start = (map.addr + relro.addr) & ~(page - 1n);
  const end = (map.addr + relro.addr + relro.size) & ~(page - 1n);
  if (start === end) return undefined;
  const r = syscall(rtld.proc, "mprotect", start, end - start, PROT_READ);
  if (r < 0n) {
    throw new LoaderError(map.name, "cannot apply additional memory protection after relocation", Number(-r));
  }
  return { start, len: end - start };
}
