/**
 * strace's string quoting (strace src/util.c `string_quote`, default style, no -x): printable ASCII
 * as is; `"` and `\` escaped; \t \n \v \f \r symbolic; any other byte as the shortest octal escape,
 * or as a full three-digit one when the next printed byte is an octal digit (`\1\0012`: else "\12" would
 * read back as one byte). Buffers longer than `max_strlen` (32 by default, `-s`) print their first
 * 32 bytes and then `...` after the closing quote.
 */

/** strace's default `-s` value. */
export const STRACE_MAX_STRLEN = 32;

function escapeByte(c: number, next: number | undefined): string {
  switch (c) {
    case 0x22:
      return '\\"';
    case 0x5c:
      return "\\\\";
    case 0x0c:
      return "\\f";
    case 0x0a:
      return "\\n";
    case 0x0d:
      return "\\r";
    case 0x09:
      return "\\t";
    case 0x0b:
      return "\\v";
  }
  if (c >= 0x20 && c <= 0x7e) return String.fromCharCode(c);
  // strace 6.1 widens to three digits only before an octal digit '0'..'7' ("\08" reads back
  // unambiguously; some older versions compared against '9').
  if (next !== undefined && next >= 0x30 && next <= 0x37) {
    return `\\${c >> 6}${(c >> 3) & 7}${c & 7}`;
  }
  let s = "\\";
  if (c >> 3 !== 0) {
    if (c >> 6 !== 0) s += String(c >> 6);
    s += String((c >> 3) & 7);
  }
  return s + String(c & 7);
}

/**
 * Quote `len` bytes of a buffer the way strace's `printstrn` does. `bytes` may hold fewer than `len`
 * bytes (a log keeps only what it prints); at most `maxStrlen` are printed and `...` follows when
 * `len` is larger.
 */
export function quoteBuffer(bytes: Uint8Array, len: number = bytes.length, maxStrlen = STRACE_MAX_STRLEN): string {
  const size = Math.min(len, maxStrlen, bytes.length);
  let out = '"';
  for (let i = 0; i < size; i++) {
    out += escapeByte(bytes[i] as number, i + 1 < size ? bytes[i + 1] : undefined);
  }
  out += '"';
  if (len > maxStrlen) out += "...";
  return out;
}

/**
 * Quote a NUL-terminated path the way strace's `printpath` does: up to PATH_MAX bytes, stopping at
 * the first NUL, no 32-byte truncation.
 */
export function quotePath(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  const s = nul < 0 ? bytes : bytes.subarray(0, nul);
  const size = Math.min(s.length, 4096);
  let out = '"';
  for (let i = 0; i < size; i++) out += escapeByte(s[i] as number, i + 1 < size ? s[i + 1] : undefined);
  return `${out}"${s.length > 4096 ? "..." : ""}`;
}

/** Undo strace's quoting: the bytes of a `"..."` literal (without the quotes). */
export function unquote(literal: string): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < literal.length; i++) {
    const ch = literal.charCodeAt(i);
    if (ch !== 0x5c) {
      out.push(ch & 0xff);
      continue;
    }
    const e = literal[++i];
    const simple: Record<string, number> = { n: 10, t: 9, r: 13, f: 12, v: 11, '"': 0x22, "\\": 0x5c };
    if (e !== undefined && e in simple) {
      out.push(simple[e] as number);
      continue;
    }
    let v = 0;
    let n = 0;
    while (n < 3 && i < literal.length && /[0-7]/.test(literal[i] as string)) {
      v = v * 8 + Number(literal[i]);
      i++;
      n++;
    }
    i--;
    out.push(v & 0xff);
  }
  return Uint8Array.from(out);
}
