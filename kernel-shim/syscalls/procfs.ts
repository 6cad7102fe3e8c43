import type { Process } from "../process/process.ts";

/**
 * The few /proc files the loader and its tests read: /proc/{self,PID}/maps (the mm's VMAs plus, on
 * x86_64, the vsyscall gate area, which is not a VMA of the mm but is listed last), auxv (saved_auxv
 * including the AT_NULL pair), cmdline, environ, and the `exe` symlink. Text is generated at open.
 */
export type ProcEntry =
  | { readonly kind: "text"; readonly target: Process; readonly name: string }
  | { readonly kind: "exe"; readonly target: Process };

const VSYSCALL_LINE = "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

/** Recognise /proc/self/NAME, /proc/thread-self/NAME and /proc/PID/NAME; undefined otherwise. */
export function procLookup(proc: Process, path: string): ProcEntry | "ENOENT" | undefined {
  const m = /^\/proc\/(self|thread-self|\d+)\/([a-z_]+)$/.exec(path);
  if (!m) return undefined;
  const who = m[1] as string;
  const target = who === "self" || who === "thread-self" ? proc : proc.kernel.processes.get(Number(who));
  if (target?.state !== "running") return "ENOENT";
  const name = m[2] as string;
  if (name === "exe") return { kind: "exe", target };
  if (["maps", "auxv", "cmdline", "environ"].includes(name)) return { kind: "text", target, name };
  return "ENOENT";
}

function cstrings(list: readonly string[]): Uint8Array {
  return Buffer.from(list.map((s) => `${s}\0`).join(""), "utf8");
}

/** The bytes of a /proc text file as a read right after open sees them. */
export function procContents(e: Extract<ProcEntry, { kind: "text" }>): Uint8Array {
  const p = e.target;
  switch (e.name) {
    case "maps": {
      const text = p.mm.renderMaps() + (p.kernel.arch === "x86_64" ? VSYSCALL_LINE : "");
      return Buffer.from(text, "latin1");
    }
    case "auxv": {
      const aux = p.image?.auxv ?? [];
      const le = p.kernel.arch !== "s390x";
      const b = new Uint8Array((aux.length + 1) * 16);
      const v = new DataView(b.buffer);
      aux.forEach(([t, val], i) => {
        v.setBigUint64(i * 16, BigInt(t), le);
        v.setBigUint64(i * 16 + 8, BigInt.asUintN(64, val), le);
      });
      return b;
    }
    case "cmdline":
      return cstrings(p.image?.argv ?? []);
    default:
      return cstrings(p.image?.envp ?? []);
  }
}
