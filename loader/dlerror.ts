import { strerror } from "../kernel-shim/errno.ts";
import { LoaderError } from "./map-object.ts";
import type { Rtld } from "./rtld.ts";

/** What `_dl_signal_error (errcode, objname, occasion, errstring)` leaves for dlerror (struct dl_action_result). */
export interface DlErrorRecord {
  readonly errcode: number;
  readonly objname: string;
  readonly errstring: string;
}

const last = new WeakMap<Rtld, DlErrorRecord>();

/**
 * dlfcn/dlerror.c `dlerror`: "OBJNAME: ERRSTRING" (no prefix when objname is empty), plus
 * ": strerror(errcode)" when errcode ≠ 0 — libc's own strerror, not ld.so's minimal one.
 */
export function formatDlerror(r: DlErrorRecord): string {
  const head = `${r.objname}${r.objname === "" ? "" : ": "}${r.errstring}`;
  return r.errcode === 0 ? head : `${head}: ${strerror(r.errcode)}`;
}

/** A LoaderError as the record ld.so would have signalled. */
export function recordOf(e: LoaderError): DlErrorRecord {
  return { errcode: e.errno ?? 0, objname: e.object, errstring: e.reason };
}

/** `_dlerror_run` at the start of every dl* call: the previous error is dropped. */
export function clearDlerror(rtld: Rtld): void {
  last.delete(rtld);
}

/** Record the failure of the current dl* call. */
export function setDlerror(rtld: Rtld, e: LoaderError | DlErrorRecord): void {
  last.set(rtld, e instanceof LoaderError ? recordOf(e) : e);
}

/** `dlerror()`: the last failure's text once, then null until the next failure. */
export function dlerror(rtld: Rtld): string | null {
  const r = last.get(rtld);
  if (r === undefined) return null;
  last.delete(rtld);
  return formatDlerror(r);
}

/** The pending error without consuming it (for assertions and timelines). */
export function peekDlerror(rtld: Rtld): string | null {
  const r = last.get(rtld);
  return r === undefined ? null : formatDlerror(r);
}
