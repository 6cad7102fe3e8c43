/**
 * Group errors by what went wrong rather than by where: the class name plus the message with its
 * numbers, hex values and quoted names replaced by placeholders, so "offset 0x40 past end (size
 * 0x2a0)" and "offset 0x88 past end (size 0x1000)" are one kind.
 */
export function errorKind(e: unknown): string {
  if (!(e instanceof Error)) return `non-Error throw: ${typeof e}`;
  return `${e.name}: ${messageTemplate(e.message)}`;
}

export function messageTemplate(message: string): string {
  return (message.split("\n")[0] ?? "")
    .replace(/(^|\s)\/[^\s:]+/g, "$1<path>")
    .replace(/"[^"]*"|'[^']*'|`[^`]*`/g, "<str>")
    .replace(/-?0x-?[0-9a-f]+/gi, "<hex>")
    .replace(/-?\b\d+(\.\d+)?\b/g, "<n>")
    .slice(0, 200);
}
