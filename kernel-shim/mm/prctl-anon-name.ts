import { Errno } from "../errno.ts";
import type { AddressSpace } from "./address-space.ts";
import { modifyRange } from "./merge.ts";
import { pageAlignU64, toU64 } from "./uword.ts";

/** ANON_VMA_NAME_MAX_LEN including the NUL (include/linux/mm_types.h? kernel/sys.c). */
const MAX_LEN = 80;

/** kernel/sys.c is_valid_name_char: printable ASCII except \ ` $ [ ]. */
function validName(name: string): boolean {
  if (name.length + 1 > MAX_LEN) return false;
  for (const ch of name) {
    const c = ch.codePointAt(0) as number;
    if (c < 0x20 || c > 0x7e || "\\`$[]".includes(ch)) return false;
  }
  return true;
}

/**
 * prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, addr, len, name) → madvise_set_anon_name: name anonymous
 * VMAs in the range (an empty or undefined name clears it). File-backed VMAs: -EBADF; holes: -ENOMEM
 * after the mapped parts are named, like madvise_walk_vmas.
 */
export function setAnonName(
  as: AddressSpace,
  addrArg: number | bigint,
  lengthArg: number | bigint,
  nameIn: string | undefined,
): number {
  const name = nameIn === "" ? undefined : nameIn;
  if (name !== undefined && !validName(name)) return -Errno.EINVAL;
  const ps = as.pageSize;
  const start64 = toU64(addrArg);
  const len64 = toU64(lengthArg);
  if (start64 % BigInt(ps) !== 0n) return -Errno.EINVAL;
  const len = pageAlignU64(len64, ps);
  if (len64 !== 0n && len === 0n) return -Errno.EINVAL;
  const end64 = start64 + len;
  if (end64 >= 1n << 64n) return -Errno.EINVAL;
  if (end64 === start64) return 0;
  if (start64 >= BigInt(as.layout.taskSize)) return -Errno.ENOMEM;
  const start = Number(start64);
  const end = Number(end64);
  let unmapped = false;
  let cur = start;
  let vma = as.tree.firstEndingAfter(cur);
  if (!vma) return -Errno.ENOMEM;
  if (vma.start > cur) unmapped = true;
  while (vma && vma.start < end) {
    if (vma.start > cur) unmapped = true;
    const from = Math.max(cur, vma.start);
    const to = Math.min(end, vma.end);
    if (vma.file && !(vma.file.inode.path === "/dev/zero" && vma.file.inode.deleted)) return -Errno.EBADF;
    const result = vma.anonName === name ? vma : modifyRange(as, vma, from, to, { flags: vma.flags, anonName: name });
    cur = Math.min(result.end, end);
    if (cur >= end) break;
    vma = as.tree.firstEndingAfter(cur);
  }
  if (cur < end) unmapped = true;
  return unmapped ? -Errno.ENOMEM : 0;
}
