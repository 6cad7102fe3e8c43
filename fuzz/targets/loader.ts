import { LdsimError } from "../../formats/errors.ts";
import { MemFs } from "../../kernel-shim/fs/mem-fs.ts";
import { Kernel } from "../../kernel-shim/process/kernel.ts";
import { Process } from "../../kernel-shim/process/process.ts";
import { KernelSframe, stacktraceSetupHandler } from "../../kernel-shim/sframe/kernel-sframe.ts";
import { LoaderError, mapObject, registerSframe, unregisterSframe } from "../../loader/map-object.ts";
import { mutateBytes } from "../engine/mutate-bytes.ts";
import { makeSeed, mutate, type Seed } from "../engine/mutate-elf.ts";
import type { Rng } from "../engine/rng.ts";
import { type FuzzSeed, type FuzzTarget, Steps } from "../engine/target.ts";
import { elfFixtures } from "./fixtures.ts";

const EM_AARCH64 = 183;
const PATH = "/lib/libfuzz.so";

const shapes = new WeakMap<FuzzSeed, Seed>();
function shaped(s: FuzzSeed): Seed {
  let m = shapes.get(s);
  if (!m) {
    m = makeSeed(s.name, s.bytes);
    shapes.set(s, m);
  }
  return m;
}

/** 64-bit shared objects and executables: what mapObject can load (s390x aside: see syscalls.ts). */
function loadable(): FuzzSeed[] {
  return elfFixtures().filter((s) => {
    const b = s.bytes;
    const machine = b[5] === 2 ? ((b[18] ?? 0) << 8) | (b[19] ?? 0) : (b[18] ?? 0) | ((b[19] ?? 0) << 8);
    return b[4] === 2 && b[16] === 3 && machine !== 22;
  });
}

/**
 * `_dl_map_segments` errors raised after its first mmap succeeded (elf/dl-map-segments.h, 2.36):
 * glibc leaves what was mapped in place (see below).
 */
const AFTER_FIRST_MMAP = new Set([
  "failed to map segment from shared object",
  "ELF load command address/offset not page-aligned",
  "cannot change memory protections",
  "cannot map zero-fill pages",
]);

const snapshotVmas = (p: Process) => p.mm.vmas().map((v) => `${v.start.toString(16)}-${v.end.toString(16)}:${v.flags}`);

/**
 * `mapObject(proc, path)` (glibc `_dl_map_object_from_fd`) on mutated ELF files in a MemFs sysroot.
 * Properties: success, or a LoaderError/LdsimError; after a failure the process has exactly the
 * mappings and descriptors it had before (glibc unmaps what it mapped and closes the fd); after a
 * success, registering and unregistering the SFrame section returns syscall values.
 */
export const loaderTarget: FuzzTarget = {
  name: "loader",
  describe: "loader/map-object.ts mapObject on mutated ELF files (no mapping or fd left after a failure)",
  seeds: () => loadable(),
  generate(rng: Rng, seeds: readonly FuzzSeed[]): Uint8Array {
    const s = rng.pick(seeds);
    if (rng.chance(0.15)) return mutateBytes(s.bytes, rng, rng.pick(seeds).bytes);
    return mutate(shaped(s), rng).bytes;
  },
  execute(input: Uint8Array): ReturnType<FuzzTarget["execute"]> {
    const steps = new Steps((e) => e instanceof LdsimError);
    const machine =
      input[5] === 2 ? ((input[18] ?? 0) << 8) | (input[19] ?? 0) : (input[18] ?? 0) | ((input[19] ?? 0) << 8);
    const arch = machine === EM_AARCH64 ? "aarch64" : "x86_64";
    const ks = new KernelSframe();
    const kernel = new Kernel(MemFs.create({ [PATH]: input }), {
      arch,
      sframe: ks,
      stacktraceSetup: stacktraceSetupHandler(ks),
    });
    const proc = Process.spawn(kernel);
    const vmasBefore = snapshotVmas(proc);
    const fdsBefore = proc.fds.fds().join(",");
    const lib = steps.run(() => mapObject(proc, PATH));
    if (!lib) {
      const vmasAfter = snapshotVmas(proc);
      const left = vmasAfter.filter((v) => !vmasBefore.includes(v));
      const err = steps.errors[steps.errors.length - 1];
      const reason = err instanceof LoaderError ? err.reason : "";
      if (left.length > 0 && err?.name === "UserFault" && err.message.includes("beyond-eof")) {
        // The .bss memset wrote to a file page past EOF: the real ld.so dies of SIGBUS there, so
        // what stays mapped does not matter.
        steps.answer("sigbus", `mappings left when the .bss memset faulted (SIGBUS in ld.so)`);
      } else if (left.length > 0 && AFTER_FIRST_MMAP.has(reason)) {
        // glibc 2.36 leaks these on purpose: after `_dl_map_segments` fails, `_dl_map_object_from_fd`
        // zeroes l_map_start ("Mappings can be in an inconsistent state: avoid unmap") so `lose`
        // does not call `_dl_unmap_segments`. Faithful, so counted, not flagged.
        steps.answer("glibc-leak", `mappings left after _dl_map_segments failed: ${reason}`);
      } else if (left.length > 0) {
        steps.violation(
          `failed mapObject left mappings behind\n${err?.message ?? ""}\n${left.length}: ${left.slice(0, 4).join(" ")}`,
        );
      }
      const fdsAfter = proc.fds.fds().join(",");
      if (fdsAfter !== fdsBefore) steps.violation(`failed mapObject left fds ${fdsAfter} (before: ${fdsBefore})`);
      if (ks.registryOf(proc.mm).size > 0) steps.violation("failed mapObject left an SFrame registration");
      return steps.outcome();
    }
    if (proc.fds.fds().join(",") !== fdsBefore) steps.violation(`mapObject left fds ${proc.fds.fds().join(",")} open`);
    const results = steps.run(() => registerSframe(proc, lib)) ?? [];
    for (const r of results) {
      if (typeof r !== "bigint") steps.violation(`stacktrace_setup returned ${typeof r}`);
      else if (r !== 0n) steps.answer(`register ${r}`, `stacktrace_setup(REGISTER) returned ${r}`);
    }
    steps.run(() => unregisterSframe(proc, lib));
    return steps.outcome();
  },
};
