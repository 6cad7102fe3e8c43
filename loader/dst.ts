import type { RtldProfile } from "./rtld-profile.ts";

/**
 * Dynamic string tokens in RPATH/RUNPATH/NEEDED/LD_LIBRARY_PATH (glibc 2.36 elf/dl-load.c `is_dst`,
 * `_dl_dst_count`, `_dl_dst_substitute`, `DL_DST_REQUIRED` in elf/dl-dst.h).
 */

const KNOWN = ["ORIGIN", "PLATFORM", "LIB"] as const;
export type DstName = (typeof KNOWN)[number];

const isIdent = (c: string | undefined) => c !== undefined && /[A-Za-z0-9_]/.test(c);

/**
 * `is_dst`: length of `$NAME` or `${NAME}` at `s[at]` (pointing after '$'), 0 when it is not that token.
 * A bare name must not be followed by an identifier character (`$LIBx` is not `$LIB`).
 */
export function isDst(s: string, at: number, name: string): number {
  if (s[at] === "{") {
    if (s.startsWith(name, at + 1) && s[at + 1 + name.length] === "}") return name.length + 2;
    return 0;
  }
  if (s.startsWith(name, at) && !isIdent(s[at + name.length])) return name.length;
  return 0;
}

/** `_dl_dst_count`: how many recognised tokens `s` holds. */
export function dstCount(s: string): number {
  let n = 0;
  for (let i = s.indexOf("$"); i >= 0; i = s.indexOf("$", i + 1)) {
    if (KNOWN.some((k) => isDst(s, i + 1, k) > 0)) n++;
  }
  return n;
}

/** The value of each token for one object: `origin` undefined means "unknown" (`(char *) -1`). */
export interface DstValues {
  readonly origin: string | undefined;
  readonly profile: RtldProfile;
}

/**
 * `DL_DST_REQUIRED`: the buffer ld.so allocates for the expansion (an upper bound: each token may
 * grow to the longest of origin, platform and $LIB).
 */
export function dstRequired(s: string, cnt: number, v: DstValues): number {
  let len = Buffer.byteLength(s, "latin1");
  if (cnt > 0) {
    const dstLen = Math.max(v.origin?.length ?? 0, v.profile.platform.length, v.profile.dstLib.length);
    if (dstLen > 4) len += cnt * (dstLen - 4);
  }
  return len;
}

/**
 * `_dl_dst_substitute`: replace the tokens; a known token without a value (an unknown origin) makes
 * the whole element empty; an unknown `$FOO` stays literal.
 */
export function dstSubstitute(s: string, v: DstValues): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i] as string;
    if (c !== "$") {
      out += c;
      continue;
    }
    let repl: string | undefined;
    const origin = isDst(s, i + 1, "ORIGIN");
    const platform = origin ? 0 : isDst(s, i + 1, "PLATFORM");
    const lib = origin || platform ? 0 : isDst(s, i + 1, "LIB");
    const len = origin || platform || lib;
    if (origin) repl = v.origin;
    else if (platform) repl = v.profile.platform;
    else if (lib) repl = v.profile.dstLib;
    if (repl !== undefined) {
      out += repl;
      i += len;
    } else if (len !== 0) return "";
    else out += "$";
  }
  return out;
}
