import type { ErrnoName } from "../errno.ts";

/**
 * The two halves of the initial stack, as fs/exec.c and fs/binfmt_elf.c build it (stack grows down):
 *
 * 1. `copyArgStrings` (do_execveat_common → copy_string_kernel / copy_strings): starting one pointer
 *    below the stack top, the filename (AT_EXECFN), then envp[n-1..0], then argv[n-1..0] are copied
 *    downwards, so memory reads argv[0] … argv[n-1], envp[0] … envp[n-1], filename, 8 zero bytes.
 * 2. `createElfTables` (create_elf_tables): p aligned to 16 (minus a random 0..8191 under ASLR,
 *    arch_align_stack), ELF_PLATFORM string, 16 AT_RANDOM bytes, then the auxv, envp and argv
 *    pointer arrays and argc, with the final sp rounded down to 16.
 */

/** MAX_ARG_STRLEN: 32 pages. */
export const MAX_ARG_STRLEN = 32 * 4096;
/** ARG_MAX: 32 pages (the floor of bprm_stack_limits). */
export const ARG_MAX = 32 * 4096;
const _STK_LIM = 8 * 1024 * 1024;

export interface ArgStrings {
  /** Bytes from `p` up to the stack top (the strings plus the top 8 zero bytes). */
  readonly bytes: Uint8Array;
  /** bprm->p after the copies: the lowest string byte (mm->arg_start). */
  readonly p: bigint;
  /** bprm->exec: address of the filename copy (AT_EXECFN). */
  readonly execfn: bigint;
  readonly argStart: bigint;
  readonly envStart: bigint;
  readonly envEnd: bigint;
  /** argv as copied (an empty argv gets "" as argv[0], Linux ≥ 5.18). */
  readonly argc: number;
  readonly envc: number;
}

function cstr(s: string): Uint8Array {
  const b = Buffer.from(s, "utf8");
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  return out;
}

/** Lay out argv/envp/filename below `stackTop`; E2BIG as bprm_stack_limits and copy_strings decide. */
export function copyArgStrings(
  stackTop: bigint,
  filename: string,
  argvIn: readonly string[],
  envp: readonly string[],
  stackRlimit: number,
): ArgStrings | ErrnoName {
  const argv = argvIn.length === 0 ? [""] : argvIn;
  let limit = Math.min((_STK_LIM / 4) * 3, Math.floor(stackRlimit / 4));
  limit = Math.max(limit, ARG_MAX);
  const ptrSize = (Math.max(argv.length, 1) + envp.length) * 8;
  if (limit <= ptrSize) return "E2BIG";
  limit -= ptrSize;
  const all = [...argv, ...envp].map(cstr);
  const file = cstr(filename);
  for (const s of [file, ...all]) if (s.length > MAX_ARG_STRLEN) return "E2BIG";
  const total = all.reduce((n, s) => n + s.length, 0) + file.length;
  if (total > limit) return "E2BIG";
  const top = stackTop - 8n;
  const p = top - BigInt(total);
  const bytes = new Uint8Array(total + 8);
  let off = 0;
  for (const s of all) {
    bytes.set(s, off);
    off += s.length;
  }
  const argLen = all.slice(0, argv.length).reduce((n, s) => n + s.length, 0);
  const execfn = p + BigInt(off);
  bytes.set(file, off);
  return {
    bytes,
    p,
    execfn,
    argStart: p,
    envStart: p + BigInt(argLen),
    envEnd: execfn,
    argc: argv.length,
    envc: envp.length,
  };
}

export interface ElfTablesInput {
  readonly strings: ArgStrings;
  /** Random bytes subtracted from p before aligning (0 without ASLR). */
  readonly alignJitter: number;
  readonly platform: string | undefined;
  readonly random16: Uint8Array;
  /** The auxv entries before AT_RANDOM/AT_PLATFORM/AT_EXECFN are resolved: built by `buildAuxv`. */
  readonly auxv: (u: { platform: bigint | undefined; random: bigint; execfn: bigint }) => (readonly [number, bigint])[];
  readonly littleEndian: boolean;
}

export interface ElfTables {
  /** Final sp (bprm->p): argc lives here. */
  readonly sp: bigint;
  /** Bytes to write at `sp`, up to (not including) the platform/random block. */
  readonly table: Uint8Array;
  /** The platform string and random bytes, written at `infoAddr`. */
  readonly info: Uint8Array;
  readonly infoAddr: bigint;
  readonly randomAddr: bigint;
  readonly platformAddr: bigint | undefined;
  readonly auxv: readonly (readonly [number, bigint])[];
}

/** create_elf_tables: everything below the strings, addresses computed exactly as the kernel does. */
export function createElfTables(inp: ElfTablesInput): ElfTables {
  const s = inp.strings;
  let p = (s.p - BigInt(inp.alignJitter)) & ~15n;
  let platformAddr: bigint | undefined;
  let platformBytes: Uint8Array = new Uint8Array(0);
  if (inp.platform !== undefined) {
    platformBytes = cstr(inp.platform);
    p -= BigInt(platformBytes.length);
    platformAddr = p;
  }
  p -= 16n;
  const randomAddr = p;
  const info = new Uint8Array(platformBytes.length + 16);
  info.set(inp.random16.subarray(0, 16), 0);
  info.set(platformBytes, 16);
  const auxv = inp.auxv({ platform: platformAddr, random: randomAddr, execfn: s.execfn });
  const eiIndex = (auxv.length + 1) * 2;
  const spAux = p - BigInt(eiIndex * 8);
  const items = s.argc + 1 + (s.envc + 1) + 1;
  const sp = (spAux - BigInt(items * 8)) & ~15n;
  const words: bigint[] = [BigInt(s.argc)];
  // argv/envp pointers walk the copied strings in order (strnlen_user over each).
  const strings = s.bytes;
  let addr = s.p;
  let off = 0;
  for (let i = 0; i < s.argc + s.envc; i++) {
    if (i === s.argc) words.push(0n);
    words.push(addr);
    const end = strings.indexOf(0, off);
    const len = end - off + 1;
    addr += BigInt(len);
    off += len;
  }
  if (s.argc + s.envc === s.argc) words.push(0n);
  words.push(0n);
  for (const [t, v] of auxv) words.push(BigInt(t), v);
  words.push(0n, 0n);
  const table = new Uint8Array(words.length * 8);
  const view = new DataView(table.buffer);
  words.forEach((w, i) => {
    view.setBigUint64(i * 8, BigInt.asUintN(64, w), inp.littleEndian);
  });
  return { sp, table, info, infoAddr: randomAddr, randomAddr, platformAddr, auxv };
}
