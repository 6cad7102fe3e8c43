import { Buffer } from "node:buffer";
import type { ReplayedSample, ReplayFrame } from "./replay.ts";

/**
 * `perf script` text (tools/perf/builtin-script.c process_event, util/evsel_fprintf.c
 * sample__fprintf_callchain) for replayed samples, and a parser for perf's own output.
 *
 * Address convention: the kernel unwinder records return addresses, and so does this output (as
 * `perf script` prints a kernel-stored callchain, e.g. of `--call-graph fp`). perf's DWARF unwinder
 * instead reports caller frames at return address − 1 (unwind-libdw.c / unwind-libunwind-local.c
 * "Decrement the IP for any non-activation frames"), so for the same frame perf's DWARF line shows
 * an address and symbol offset one lower. Both print the map-relative address (ip − map start +
 * pgoff) as perf does for user DSOs.
 */

const SPACES = "                ";
const ZEROS = "000000";

/** `%5d`-style right alignment (and `%016`-free hex columns) without padStart's generic path. */
function padLeft(text: string, width: number): string {
  return text.length >= width ? text : SPACES.slice(0, width - text.length) + text;
}

/** The largest time in ns formatted with number arithmetic (exact below 2^53). */
const EXACT_NS = BigInt(Number.MAX_SAFE_INTEGER);

/** The last time's whole seconds, formatted (consecutive samples mostly share them). */
let lastSecs = -1;
let lastSecsText = "";

/** `secs.usecs: ` of a time in ns ("%5lu.%06lu: "). */
function timeText(time: bigint): string {
  if (time > EXACT_NS) {
    const usecs = String((time % 1_000_000_000n) / 1000n);
    return `${padLeft(String(time / 1_000_000_000n), 5)}.${usecs.length >= 6 ? usecs : ZEROS.slice(usecs.length) + usecs}: `;
  }
  // Number arithmetic on an exact integer (no bigint division per sample): the quotient's rounding
  // is corrected so that 0 <= rest < 1e9 exactly.
  const t = Number(time);
  let q = Math.floor(t / 1e9);
  let rest = t - q * 1e9;
  if (rest < 0) {
    q--;
    rest += 1e9;
  } else if (rest >= 1e9) {
    q++;
    rest -= 1e9;
  }
  if (q !== lastSecs) {
    lastSecs = q;
    lastSecsText = `${padLeft(String(q), 5)}.`;
  }
  // 0 <= usecs < 10^6: the digits of 10^6 + usecs after the leading 1 are "%06lu".
  return `${lastSecsText}${String(1_000_000 + Math.floor(rest / 1000)).slice(1)}: `;
}

/** The last header's comm/tid and period/event parts: consecutive samples mostly share them. */
let lastComm = "";
let lastTid = -1;
let lastWho = "";
let lastPeriod: bigint | undefined;
let lastEvent = "";
let lastWhat = "";

/** `comm tid secs.usecs: period event: ` (builtin-script.c: "%s ", "%5d ", "%5lu.%06lu: ", "%10" PRIu64 " "). */
export function sampleHeader(s: ReplayedSample): string {
  if (s.comm !== lastComm || s.tid !== lastTid || lastTid < 0) {
    lastComm = s.comm;
    lastTid = s.tid;
    lastWho = `${s.comm} ${padLeft(String(s.tid), 5)} `;
  }
  if (s.period !== lastPeriod || s.event !== lastEvent || lastWhat === "") {
    lastPeriod = s.period;
    lastEvent = s.event;
    lastWhat = `${s.period !== undefined ? `${padLeft(String(s.period), 10)} ` : ""}${s.event}: `;
  }
  return s.time === undefined ? lastWho + lastWhat : lastWho + timeText(s.time) + lastWhat;
}

function frameLine(addr: bigint, sym: string, dso: string): string {
  return `\t${padLeft(addr.toString(16), 16)} ${sym} (${dso})`;
}

/**
 * How caller frames are printed: "ra" (default) the return address the kernel unwinder recorded, as
 * perf prints a kernel-stored callchain; "ra-1" the call site, as perf's DWARF unwinder prints them
 * (so the text can be diffed against `perf script` of the same file line by line).
 */
export type AddressConvention = "ra" | "ra-1";

/**
 * Frame lines already formatted, by the symbol object of the memoized frame they print (the replay
 * shares one per address while the mappings are unchanged), so a hot address's line is built once.
 * The entry is used only for a frame at the same pc, map-relative address and mapping: the text is
 * exactly what formatting it again would give.
 */
interface FormattedLine {
  readonly pc: bigint;
  readonly rel: bigint;
  readonly dso: string;
  readonly line: string;
}
const raLines = new WeakMap<object, FormattedLine>();
const callSiteLines = new WeakMap<object, FormattedLine>();

function cachedLine(
  cache: WeakMap<object, FormattedLine>,
  key: object | undefined,
  f: ReplayFrame,
): string | undefined {
  const e = key && cache.get(key);
  return e && e.pc === f.pc && e.rel === f.rel && e.dso === f.dso ? e.line : undefined;
}

/** The line of frame `i` of a replayed sample (memoized per symbol object: see FormattedLine). */
function frameText(f: ReplayFrame, i: number, convention: AddressConvention): string {
  if (convention === "ra-1" && i > 0) {
    const c = f.caller;
    let line = cachedLine(callSiteLines, c, f);
    if (line === undefined) {
      const sym = c ? `${c.name}+0x${c.offset.toString(16)}` : "[unknown]";
      line = frameLine(f.dso !== "[unknown]" ? f.rel - 1n : f.pc - 1n, sym, f.dso);
      if (c) callSiteLines.set(c, { pc: f.pc, rel: f.rel, dso: f.dso, line });
    }
    return line;
  }
  const y = f.sym;
  let line = cachedLine(raLines, y, f);
  if (line === undefined) {
    const sym = y ? `${y.name}+0x${y.offset.toString(16)}` : "[unknown]";
    line = frameLine(y || f.dso !== "[unknown]" ? f.rel : f.pc, sym, f.dso);
    if (y) raLines.set(y, { pc: f.pc, rel: f.rel, dso: f.dso, line });
  }
  return line;
}

/** Kernel frames come from the stored callchain; without kallsyms they print as perf prints an unresolved address. */
function kernelLine(ip: bigint): string {
  return frameLine(ip, "[unknown]", "[kernel.kallsyms]");
}

/** The callchain lines of one replayed sample: the stored kernel frames, then the replayed user frames. */
export function sampleLines(s: ReplayedSample, convention: AddressConvention = "ra"): string[] {
  const out = [sampleHeader(s)];
  for (const ip of s.kernelChain) out.push(kernelLine(ip));
  const frames = s.frames;
  for (let i = 0; i < frames.length; i++) out.push(frameText(frames[i] as ReplayFrame, i, convention));
  return out;
}

/** A frames array's lines (each preceded by a newline) as UTF-8, per address convention. */
const raBlocks = new WeakMap<readonly ReplayFrame[], Uint8Array>();
const callSiteBlocks = new WeakMap<readonly ReplayFrame[], Uint8Array>();

/** Bytes per chunk handed to `write`. */
const CHUNK_BYTES = 1 << 18;

/** The UTF-8 of a string (what `process.stdout.write` makes of it). */
function utf8(text: string): Uint8Array {
  return Buffer.from(text, "utf8");
}

/**
 * Sample headers as bytes (the same text as `sampleHeader`): comm and tid, the whole seconds, and
 * period and event are encoded when they change, the microseconds written as six digits.
 */
class HeaderBytes {
  private comm = "";
  private tid = -1;
  private who: Uint8Array = utf8("");
  private period: bigint | undefined;
  private event = "";
  private what: Uint8Array | undefined;
  private secs = -1;
  private secsBytes: Uint8Array = utf8("");

  /** Update the cached parts for `s`; the header's length in bytes. */
  prepare(s: ReplayedSample): number {
    if (s.comm !== this.comm || s.tid !== this.tid || this.tid < 0) {
      this.comm = s.comm;
      this.tid = s.tid;
      this.who = utf8(`${s.comm} ${padLeft(String(s.tid), 5)} `);
    }
    if (s.period !== this.period || s.event !== this.event || this.what === undefined) {
      this.period = s.period;
      this.event = s.event;
      this.what = utf8(`${s.period !== undefined ? `${padLeft(String(s.period), 10)} ` : ""}${s.event}: `);
    }
    let n = this.who.length + this.what.length;
    if (s.time !== undefined) {
      if (s.time > EXACT_NS) return -1;
      n += this.secondsOf(s.time) + 8;
    }
    return n;
  }

  /** Whole seconds of `time` into `secsBytes` ("%5lu."); its length. */
  private secondsOf(time: bigint): number {
    const q = Math.floor(Number(time) / 1e9);
    // The quotient of the exact integer, corrected as in timeText (the division may round up).
    const t = Number(time);
    const secs = t - q * 1e9 < 0 ? q - 1 : t - q * 1e9 >= 1e9 ? q + 1 : q;
    if (secs !== this.secs) {
      this.secs = secs;
      this.secsBytes = utf8(`${padLeft(String(secs), 5)}.`);
    }
    return this.secsBytes.length;
  }

  /** Write the header `prepare` measured at `at`; the end. */
  write(s: ReplayedSample, buf: Uint8Array, at: number): number {
    buf.set(this.who, at);
    at += this.who.length;
    if (s.time !== undefined) {
      buf.set(this.secsBytes, at);
      at += this.secsBytes.length;
      // 0 <= usecs < 10^6 as "%06lu".
      let u = Math.floor((Number(s.time) - this.secs * 1e9) / 1000);
      for (let d = 5; d >= 0; d--) {
        buf[at + d] = 48 + (u % 10);
        u = Math.floor(u / 10);
      }
      buf[at + 6] = 0x3a; // ':'
      buf[at + 7] = 0x20;
      at += 8;
    }
    const what = this.what as Uint8Array;
    buf.set(what, at);
    return at + what.length;
  }
}

/** Kernel frame lines kept per address (a recording has few distinct kernel addresses; bounded). */
const KERNEL_LINES_MAX = 1 << 16;

/**
 * The text `ldsim perf script` prints for `samples` (each sample's lines and a blank line, as perf
 * script separates callchains), as UTF-8 handed to `write` in chunks of up to 256 KiB — the bytes
 * `process.stdout.write` would make of the lines `sampleLines` gives. No string is built per sample:
 * the replay hands out one frames array per memoized trace, whose lines are encoded once and copied;
 * headers are written from parts encoded when they change; kernel lines are kept per address. Each
 * chunk is a fresh buffer (the consumer may keep it) and never splits a character.
 */
export function writeScriptBytes(
  samples: Iterable<ReplayedSample>,
  convention: AddressConvention,
  write: (bytes: Uint8Array) => void,
): void {
  const blocks = convention === "ra" ? raBlocks : callSiteBlocks;
  const kernelLines = new Map<bigint, Uint8Array>();
  const header = new HeaderBytes();
  let buf = Buffer.allocUnsafe(CHUNK_BYTES);
  let at = 0;
  const flush = () => {
    if (at === 0) return;
    write(buf.subarray(0, at));
    buf = Buffer.allocUnsafe(CHUNK_BYTES);
    at = 0;
  };
  /** Room for `n` more bytes (flushing first when needed); false when `n` exceeds a chunk. */
  const room = (n: number): boolean => {
    if (at + n > buf.length) flush();
    return n <= buf.length;
  };
  const put = (bytes: Uint8Array) => {
    // Larger than a chunk (a deep trace, a huge name): written as it is (never written to after).
    if (!room(bytes.length)) write(bytes);
    else {
      buf.set(bytes, at);
      at += bytes.length;
    }
  };
  for (const s of samples) {
    const n = header.prepare(s);
    if (n >= 0 && room(n)) at = header.write(s, buf, at);
    else put(utf8(sampleHeader(s)));
    for (const ip of s.kernelChain) {
      let line = kernelLines.get(ip);
      if (line === undefined) {
        line = utf8(`\n${kernelLine(ip)}`);
        if (kernelLines.size < KERNEL_LINES_MAX) kernelLines.set(ip, line);
      }
      put(line);
    }
    const frames = s.frames;
    if (frames.length > 0) {
      let block = blocks.get(frames);
      if (block === undefined) {
        let lines = "";
        for (let i = 0; i < frames.length; i++) lines += `\n${frameText(frames[i] as ReplayFrame, i, convention)}`;
        block = utf8(lines);
        blocks.set(frames, block);
      }
      put(block);
    }
    room(2);
    buf[at++] = 10;
    buf[at++] = 10;
  }
  flush();
}

/**
 * The same text as strings (each chunk of `writeScriptBytes` decoded: chunks end between lines, so
 * no character is split).
 */
export function writeScriptText(
  samples: Iterable<ReplayedSample>,
  convention: AddressConvention,
  write: (text: string) => void,
): void {
  writeScriptBytes(samples, convention, (bytes) =>
    write(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8")),
  );
}

/** One sample of perf's own `perf script` output. */
export interface PerfScriptSample {
  readonly comm: string;
  readonly tid: number;
  /** "secs.usecs" exactly as printed: the key to match a replayed sample. */
  readonly time: string;
  readonly event: string;
  readonly frames: ReadonlyArray<{
    readonly addr: bigint;
    readonly sym: string;
    readonly offset: bigint | undefined;
    readonly dso: string;
  }>;
}

const HEADER = /^(.*?)\s+(\d+)\s+(\d+\.\d{6}):\s+(?:\d+\s+)?(\S+):\s*$/;
const FRAME = /^\t\s*([0-9a-f]+) (.*) \((.*)\)$/;

/** Parse `perf script` output with its default fields (comm, tid, time, period, event, callchain). */
export function parsePerfScript(text: string): PerfScriptSample[] {
  const out: PerfScriptSample[] = [];
  let cur:
    | { comm: string; tid: number; time: string; event: string; frames: PerfScriptSample["frames"][number][] }
    | undefined;
  for (const line of text.split("\n")) {
    if (line.startsWith("\t")) {
      const m = FRAME.exec(line);
      if (!m || !cur) continue;
      const symText = m[2] as string;
      const plus = symText.lastIndexOf("+0x");
      const sym = plus > 0 ? symText.slice(0, plus) : symText;
      const offset = plus > 0 ? BigInt(symText.slice(plus + 1)) : undefined;
      cur.frames.push({ addr: BigInt(`0x${m[1]}`), sym, offset, dso: m[3] as string });
      continue;
    }
    const h = HEADER.exec(line);
    if (h) {
      cur = { comm: h[1] as string, tid: Number(h[2]), time: h[3] as string, event: h[4] as string, frames: [] };
      out.push(cur);
    }
  }
  return out;
}

/** The key matching a replayed sample to perf's line for it: tid and printed time. */
export function sampleKey(tid: number, time: string): string {
  return `${tid}@${time}`;
}

export function replayedKey(s: ReplayedSample): string {
  const t = s.time ?? 0n;
  return sampleKey(s.tid, `${t / 1_000_000_000n}.${String((t % 1_000_000_000n) / 1000n).padStart(6, "0")}`);
}
