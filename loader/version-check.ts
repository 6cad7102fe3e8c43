/**
 * Symbol version dependencies (glibc 2.36 elf/dl-version.c `_dl_check_map_versions`,
 * `match_symbol`, `find_needed`, `_dl_check_all_versions`): every Vernaux an object requires is
 * looked for in the Verdef chain of the object its Verneed names.
 *
 * - LD_DEBUG=versions prints "checking for version `V' in file F [0] required by file R [0]" for each;
 * - a missing version is "version `V' not found (required by R)" reported against F; a missing weak
 *   version and a provider without version information are only warnings, and only when verbose;
 * - at startup (rtld.c `version_check_doit` under `_dl_receive_error`, verbose) every error is
 *   printed as "PROG: F: MESSAGE" and checking goes on; any error then ends the process with
 *   status 1. In dlopen (not verbose) the first error is raised.
 */
import { dynamicInfo } from "./dynamic-info.ts";
import type { LinkMap } from "./link-map.ts";
import { LoaderError } from "./map-object.ts";
import type { Rtld } from "./rtld.ts";
import { debugError, dsoName } from "./symbol-lookup.ts";

const VER_FLG_WEAK = 2;

/** The version check failed at startup: the lines ld.so printed on stderr, then `_exit (1)`. */
export class VersionCheckError extends LoaderError {
  override name = "VersionCheckError";
  readonly status = 1;
  constructor(
    object: string,
    reason: string,
    /** Everything printed on stderr ("PROG: OBJ: MESSAGE"), warnings included. */
    readonly stderr: readonly string[],
  ) {
    super(object, reason);
  }
}

export interface VersionCheckOptions {
  /** Report warnings (weak versions, no version information) and keep going after errors. */
  readonly verbose: boolean;
  /** Trace mode (ldd): faked objects are not checked. */
  readonly trace?: boolean;
  /** `_dl_receive_error`'s receiver: called for each message instead of raising. */
  readonly receiver?: (object: string, message: string) => void;
}

/** `find_needed`: by name in the namespace's list, then in the object's own search list. */
function findNeeded(rtld: Rtld, name: string, map: LinkMap): LinkMap | undefined {
  for (const l of rtld.ns.maps) if (l.nameMatches(name)) return l;
  return map.searchlist?.find((l) => l.nameMatches(name));
}

/**
 * `match_symbol`: 0 when `needed` defines version `name` (hash and string), 1 on a fatal miss.
 */
function matchSymbol(
  rtld: Rtld,
  requirer: string,
  hash: number,
  name: string,
  needed: LinkMap,
  weak: boolean,
  o: VersionCheckOptions,
): number {
  const file = dsoName(rtld, needed);
  if (rtld.debug.on("versions")) {
    rtld.debug.emit("versions", `checking for version \`${name}' in file ${file} [0] required by file ${requirer} [0]`);
  }
  const info = dynamicInfo(rtld, needed);
  const defs = info.definedVersions();
  const report = (message: string, result: number): number => {
    if (o.receiver) {
      debugError(rtld, file, "version lookup error", message, false);
      o.receiver(file, message);
      return result;
    }
    debugError(rtld, file, "version lookup error", message, true);
    throw new LoaderError(file, message);
  };
  if (defs.length === 0) {
    return o.verbose ? report(`no version information available (required by ${requirer})`, 0) : 0;
  }
  for (const d of defs) {
    if (d.version !== 1) return report(`unsupported version ${d.version} of Verdef record`, 1);
    if (d.hash === hash && d.name === name) return 0;
  }
  if (weak) return o.verbose ? report(`weak version \`${name}' not found (required by ${requirer})`, 0) : 0;
  return report(`version \`${name}' not found (required by ${requirer})`, 1);
}

/**
 * `_dl_check_map_versions(map, verbose, trace_mode)`: 0 when every required version is there.
 * Without a receiver the first error is raised as a LoaderError ("F: version `V' not found (required by R)").
 */
export function checkMapVersions(rtld: Rtld, map: LinkMap, o: VersionCheckOptions): number {
  const info = dynamicInfo(rtld, map);
  if (info.strtab.length === 0) return 0;
  const requirer = dsoName(rtld, map);
  let result = 0;
  // find_needed runs once per Verneed (its Vernaux entries share vn_file, and come together).
  let lastFile: string | undefined;
  let needed: LinkMap | undefined;
  for (const need of info.neededVersions()) {
    if (need.file !== lastFile) {
      needed = findNeeded(rtld, need.file, map);
      lastFile = need.file;
    }
    if (!needed) throw new LoaderError(requirer, `needed object ${need.file} is not loaded`);
    if (o.trace && needed.faked) continue;
    result |= matchSymbol(rtld, requirer, need.hash, need.name, needed, (need.flags & VER_FLG_WEAK) !== 0, o);
  }
  // l_versions / l_versyms are derived from the same tables (dynamic-info.ts); ld.so callocs the
  // array here, ndx_high + 1 entries of struct r_found_version (name, hash, hidden, filename): during
  // startup that is the minimal malloc, whose page use shows in the syscalls that follow.
  const versions = info.versions();
  if (versions !== undefined) {
    rtld.malloc.calloc(versions.length * R_FOUND_VERSION_SIZE);
    map.versionsChecked = true;
  }
  return result;
}

/** sizeof (struct r_found_version) on LP64 (glibc link.h). */
const R_FOUND_VERSION_SIZE = 24;

/**
 * Startup's version check (`version_check_doit` → `_dl_check_all_versions(main, 1, trace)`): every
 * object from `map` on in l_next order, errors collected as ld.so prints them ("PROG: F: MESSAGE");
 * when any is fatal, a VersionCheckError carrying those lines (ld.so exits with status 1).
 * Returns the non-fatal warning lines.
 */
export function checkAllVersions(rtld: Rtld, map: LinkMap, trace = false): string[] {
  const records: { object: string; message: string; fatal: boolean }[] = [];
  const receiver = (object: string, message: string) =>
    records.push({ object, message, fatal: !/^(weak version|no version information)/.test(message) });
  const start = Math.max(0, rtld.ns.maps.indexOf(map));
  let result = 0;
  for (const l of rtld.ns.maps.slice(start)) {
    if (l.faked) continue;
    result |= checkMapVersions(rtld, l, { verbose: true, trace, receiver });
  }
  const lines = records.map((r) => `${rtld.progname}: ${r.object}: ${r.message}`);
  const first = records.find((r) => r.fatal);
  if (result && first) throw new VersionCheckError(first.object, first.message, lines);
  return lines;
}
