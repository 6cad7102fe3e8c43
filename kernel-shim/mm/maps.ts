import type { AddressSpace } from "./address-space.ts";
import { VM_EXEC, VM_MAYSHARE, VM_READ, VM_WRITE } from "./prot-flags.ts";
import type { Vma } from "./vma.ts";

/**
 * /proc/pid/maps as fs/proc/task_mmu.c prints it: show_vma_header_prefix writes
 * `%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu ` with seq_setwidth(25 + 6 * sizeof(void *) - 1) = 72,
 * then, when there is a name, seq_pad pads with spaces to column 72 and adds one more space, so the
 * name starts at column 73 (or right after one extra space if the header is already longer).
 * A VMA without a name keeps the header's trailing space.
 */
const PAD_TO = 25 + 6 * 8 - 1;

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

/** get_vma_name: file path, special mapping name, [heap], [stack], [anon:NAME], or nothing. */
export function vmaName(as: Pick<AddressSpace, "brkValue" | "startBrk" | "startStack">, vma: Vma): string | undefined {
  if (vma.file) {
    const inode = vma.file.inode;
    // seq_file_path escapes '\n' in the path.
    const path = inode.path.replaceAll("\n", "\\012");
    if (vma.anonName !== undefined && inode.deleted && inode.path === "/dev/zero")
      return `[anon_shmem:${vma.anonName}]`;
    return inode.deleted ? `${path} (deleted)` : path;
  }
  if (vma.special !== undefined) return vma.special;
  // vma_is_initial_heap / vma_is_initial_stack (include/linux/mm.h).
  if (vma.start < as.brkValue && vma.end > as.startBrk) return "[heap]";
  if (vma.start <= as.startStack && vma.end >= as.startStack) return "[stack]";
  if (vma.anonName !== undefined) return `[anon:${vma.anonName}]`;
  return undefined;
}

/** One maps line, without the newline. */
export function formatMapsLine(
  as: Pick<AddressSpace, "brkValue" | "startBrk" | "startStack" | "pageSize">,
  vma: Vma,
): string {
  const f = vma.flags;
  const perms = `${f & VM_READ ? "r" : "-"}${f & VM_WRITE ? "w" : "-"}${f & VM_EXEC ? "x" : "-"}${f & VM_MAYSHARE ? "s" : "p"}`;
  const file = vma.file;
  const offset = file ? vma.pgoff * as.pageSize : 0;
  const dev = file ? `${hex2(file.inode.devMajor)}:${hex2(file.inode.devMinor)}` : "00:00";
  const ino = file ? file.inode.ino : 0;
  const header = `${hex8(vma.start)}-${hex8(vma.end)} ${perms} ${hex8(offset)} ${dev} ${ino} `;
  const name = vmaName(as, vma);
  if (name === undefined) return header;
  return `${header.padEnd(PAD_TO, " ")} ${name}`;
}

/** The whole file: one line per VMA, each ending in a newline. */
export function renderMaps(as: AddressSpace): string {
  let out = "";
  for (const vma of as.tree.entries()) out += `${formatMapsLine(as, vma)}\n`;
  return out;
}
