/**
 * The RFC's experiment as a library: exec the fixture program (main → liba.so, built with frame
 * pointers → libb.so, built without → back into main, which spins), map its libraries as ld.so does,
 * register each library's SFrame with `stacktrace_setup`, take a sample in the spinning frame, and
 * unwind it with the modelled kernel — once with libb.so's SFrame registered, once after
 * `STACKTRACE_UNREGISTER_SFRAME`.
 */
import { join } from "node:path";
import { EhFrame } from "../formats/dwarf/eh-frame.ts";
import { PF_X, PT_LOAD } from "../formats/elf/constants.ts";
import { ElfFile } from "../formats/elf/file.ts";
import { sframeFromCfi } from "../formats/sframe/from-cfi.ts";
import { execElf } from "../kernel-shim/exec/binfmt-elf.ts";
import { HostFs } from "../kernel-shim/fs/host-fs.ts";
import { Kernel } from "../kernel-shim/process/kernel.ts";
import { Process } from "../kernel-shim/process/process.ts";
import { KernelSframe, type KernelSframeOptions, stacktraceSetupHandler } from "../kernel-shim/sframe/kernel-sframe.ts";
import type { SyscallEvent } from "../kernel-shim/strace/event.ts";
import { formatEvent } from "../kernel-shim/strace/format.ts";
import { syscall } from "../kernel-shim/syscalls/dispatch.ts";
import { returnAddressInto } from "../kernel-shim/unwind/call-sites.ts";
import { MappedObject, ObjectSet } from "../kernel-shim/unwind/mapped-object.ts";
import { formatCallchain } from "../kernel-shim/unwind/perf-script.ts";
import { synthesizeStack } from "../kernel-shim/unwind/stack-synth.ts";
import type { UnwindOptions, UnwindTrace } from "../kernel-shim/unwind/types.ts";
import { unwindUser } from "../kernel-shim/unwind/unwind-user.ts";
import { FIXTURE_CHAIN } from "../lab/workloads/chain.ts";
import { FIXTURE_DIR } from "../lab/workloads/fixture-files.ts";
import { type MappedLib, mapObject, registerSframe, unregisterSframe } from "../loader/map-object.ts";

export { FIXTURE_DIR };

export interface ExperimentOptions {
  readonly kernel?: KernelSframeOptions;
  readonly unwind?: UnwindOptions;
  readonly fixtureDir?: string;
  /** Where libc.so.6 comes from (the machine's own by default). */
  readonly libcPath?: string;
  /**
   * The machine's glibc has no SFrame. "from-eh-frame": model a glibc built with `--gsframe` by
   * converting its `.eh_frame` to SFrame (as gas would), placing it in anonymous memory and
   * registering it for libc's text — so the trace can continue through `__libc_start_main` to `_start`.
   */
  readonly libcSframe?: "none" | "from-eh-frame";
}

export interface ExperimentResult {
  /** Registration calls and their results, as strace lines. */
  readonly registrations: readonly string[];
  readonly unregistration: string;
  readonly registered: { readonly trace: UnwindTrace; readonly lines: readonly string[] };
  readonly unregistered: { readonly trace: UnwindTrace; readonly lines: readonly string[] };
  /** The chain written to the stack, innermost first (function names). */
  readonly chain: readonly string[];
  readonly sframe: KernelSframe;
  readonly process: Process;
  readonly objects: ObjectSet;
  /** liba.so, libc.so.6, libb.so as mapped (libb.so is unregistered at the end of the run). */
  readonly libs: readonly MappedLib[];
}

export function runRfcExperiment(options: ExperimentOptions = {}): ExperimentResult {
  const dir = options.fixtureDir ?? FIXTURE_DIR;
  const ks = new KernelSframe(options.kernel);
  const kernel = new Kernel(new HostFs(), { sframe: ks, stacktraceSetup: stacktraceSetupHandler(ks) });
  const proc = Process.spawn(kernel, { cwd: dir });
  const mainPath = join(dir, "main");
  const ex = execElf(proc, mainPath, { argv: [mainPath], envp: ["FIXTURE_SPIN_SECONDS=10"] });
  if (!ex.ok) throw new Error(`exec ${mainPath} failed: ${ex.errno} at ${ex.stage}`);

  // The libraries in ld.so's breadth-first DT_NEEDED order: liba.so (RPATH $ORIGIN), libc.so.6, then
  // liba's libb.so. (Search and relocation are the loader's job; here the paths are resolved as the
  // real ld.so resolved them on this machine — see `ldd main`.)
  const libPaths = [join(dir, "liba.so"), options.libcPath ?? "/lib/x86_64-linux-gnu/libc.so.6", join(dir, "libb.so")];
  const logStart = proc.log.events.length;
  const libs: MappedLib[] = libPaths.map((p) => mapObject(proc, p));
  for (const lib of libs) registerSframe(proc, lib);
  const libc = libs[1] as MappedLib;
  if (options.libcSframe === "from-eh-frame") registerSynthesizedSframe(proc, libc);
  const registrations = proc.log.events
    .slice(logStart)
    .filter((e) => e.name === "stacktrace_setup")
    .map(straceLine);

  const objects = new ObjectSet([
    new MappedObject(mainPath, ElfFile.openPath(mainPath), BigInt(ex.image.loadBias)),
    ...(ex.image.interpPath
      ? [new MappedObject(ex.image.interpPath, ElfFile.openPath(ex.image.interpPath), BigInt(ex.image.interpBase))]
      : []),
    ...libs.map((l) => new MappedObject(l.path, ElfFile.openPath(l.path), l.lAddr)),
  ]);

  // The chain of the spinning sample, innermost first: main_callback is called through libb_deep's
  // function pointer; every other caller reaches its callee through a direct call or its PLT stub.
  const chain: string[] = [...FIXTURE_CHAIN, "__libc_start_call_main", "__libc_start_main_impl", "_start"];
  const spinPc = objects.symbol("main_callback") + 0x47n;
  // glibc's startup frames need its local symbols (__libc_start_call_main), found through the
  // build-id debug file of Debian's libc6-dbg. Without it the chain ends at main.
  const hasLibcSymbols = objects.objects.some((o) => o.addressOf("__libc_start_call_main"));
  if (!hasLibcSymbols) chain.splice(chain.indexOf("main") + 1);
  const pcs = [spinPc, ...chain.slice(1).map((caller, i) => returnAddressInto(objects, caller, chain[i] as string))];
  const stack = synthesizeStack(proc.mm, objects, "x86_64", pcs);
  const memory = {
    readWord: (a: bigint) => (a > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : proc.mm.readU64(Number(a))),
  };

  const unwind = () => unwindUser("x86_64", stack.regs, memory, ks.finder(proc.mm), options.unwind);
  const t1 = unwind();
  const before = proc.log.events.length;
  const libb = libs[2] as MappedLib;
  unregisterSframe(proc, libb);
  const unreg = straceLine(proc.log.events[before] as SyscallEvent);
  const t2 = unwind();
  return {
    registrations,
    unregistration: unreg,
    registered: { trace: t1, lines: formatCallchain(t1, objects) },
    unregistered: { trace: t2, lines: formatCallchain(t2, objects) },
    chain,
    sframe: ks,
    process: proc,
    objects,
    libs,
  };
}

/** A strace line without the `[pid N]` prefix (a single-threaded trace). */
function straceLine(e: SyscallEvent): string {
  const { pid: _pid, ...rest } = e;
  return formatEvent(rest);
}

/**
 * Give an object without SFrame a section built from its `.eh_frame` (as gas would have built it),
 * in anonymous memory of the process, and register it for the object's executable segments.
 */
export function registerSynthesizedSframe(proc: Process, lib: MappedLib): bigint[] {
  const elf = ElfFile.openPath(lib.path);
  const sec = elf.section(".eh_frame");
  if (!sec) return [];
  const eh = new EhFrame(elf.sectionData(sec), sec.addr, elf.littleEndian, elf.is64, lib.path);
  const size = sframeFromCfi(eh, lib.lAddr, 0n).bytes.length;
  const at = syscall(proc, "mmap", 0, size, 3, 0x22, -1, 0);
  const bytes = sframeFromCfi(eh, lib.lAddr, at).bytes;
  proc.mm.writeUser(Number(at), bytes);
  syscall(proc, "mprotect", at, size, 1);
  const out: bigint[] = [];
  for (const p of elf.programHeaders) {
    if (p.type !== PT_LOAD || (p.flags & PF_X) === 0) continue;
    out.push(syscall(proc, "stacktrace_setup", 1, at, bytes.length, lib.lAddr + p.vaddr, p.memsz));
  }
  return out;
}
