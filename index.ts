/**
 * ldsim's public API: the pieces a script or test composes to model ld.so and the kernel side of
 * SFrame registration. See README.md for a tour.
 *
 * @packageDocumentation
 */

// Formats: pure readers and writers.
export { BufferSource, type ByteSource, FileSource } from "./formats/bytes/source.ts";
export { EhFrame } from "./formats/dwarf/eh-frame.ts";
export { ElfFile } from "./formats/elf/file.ts";
export { FormatError, LdsimError, RangeOverflowError } from "./formats/errors.ts";
export { decodeSframe, decodeSframeData } from "./formats/sframe/decode.ts";
export { encodeSframe } from "./formats/sframe/encode.ts";
export { findFre, findFreByAddress, findFreInto, SframeFreHit } from "./formats/sframe/find-fre.ts";
export { sframeFromCfi } from "./formats/sframe/from-cfi.ts";
export { locateSframe } from "./formats/sframe/locate.ts";
export { checkHeaderForRegistration, validateSframeForKernel } from "./formats/sframe/validate.ts";
export { execElf } from "./kernel-shim/exec/binfmt-elf.ts";
// Scenarios and the proposal lab.
export { armFaults } from "./kernel-shim/fault/fault-plan.ts";
export { HostFs } from "./kernel-shim/fs/host-fs.ts";
export { MemFs } from "./kernel-shim/fs/mem-fs.ts";
export { AddressSpace } from "./kernel-shim/mm/address-space.ts";
// The kernel shim.
export { Kernel } from "./kernel-shim/process/kernel.ts";
export { Process } from "./kernel-shim/process/process.ts";
export {
  KernelSframe,
  type KernelSframeOptions,
  STACKTRACE_REGISTER_SFRAME,
  STACKTRACE_UNREGISTER_SFRAME,
  stacktraceSetupHandler,
} from "./kernel-shim/sframe/kernel-sframe.ts";
export { SframeRegistry } from "./kernel-shim/sframe/registry.ts";
export { invokeSyscall, syscall } from "./kernel-shim/syscalls/dispatch.ts";
export { returnAddressInto } from "./kernel-shim/unwind/call-sites.ts";
export { DeferredUnwinder } from "./kernel-shim/unwind/deferred.ts";
export { MappedObject, ObjectSet } from "./kernel-shim/unwind/mapped-object.ts";
export { formatCallchain } from "./kernel-shim/unwind/perf-script.ts";
export { synthesizeStack } from "./kernel-shim/unwind/stack-synth.ts";
export { unwindUser } from "./kernel-shim/unwind/unwind-user.ts";
export { compareDesigns } from "./lab/compare.ts";
export { DESIGNS } from "./lab/designs/index.ts";
export { WORKLOADS } from "./lab/workloads/index.ts";
export { dlFindObject } from "./loader/dl-find-object.ts";
export { dlIteratePhdr } from "./loader/dl-iterate-phdr.ts";
export { dladdr, dladdr1, dlinfo } from "./loader/dladdr.ts";
export { dlclose } from "./loader/dlclose.ts";
export { dlerror } from "./loader/dlerror.ts";
export {
  dlopen,
  parseDlopenMode,
  RTLD_DEEPBIND,
  RTLD_GLOBAL,
  RTLD_LAZY,
  RTLD_LOCAL,
  RTLD_NODELETE,
  RTLD_NOLOAD,
  RTLD_NOW,
} from "./loader/dlopen.ts";
export { dlsym, dlvsym } from "./loader/dlsym.ts";
export { ldd } from "./loader/ldd.ts";
export { LinkMap } from "./loader/link-map.ts";
// The loader.
export { LoaderError, mapObject, registerSframe, unregisterSframe } from "./loader/map-object.ts";
export { relocateObject } from "./loader/relocate.ts";
export { Rtld } from "./loader/rtld.ts";
export { type RunOptions, type RunResult, runToMain, spawnForRun } from "./loader/run.ts";
export { finishStartup, startFromExec } from "./loader/startup.ts";
export { lookupSymbol } from "./loader/symbol-lookup.ts";
export { renderTimeline, runScenario, runScenarioFile } from "./scenario/run.ts";
