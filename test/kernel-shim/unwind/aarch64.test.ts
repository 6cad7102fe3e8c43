import { describe, expect, it } from "vitest";
import { ElfFile } from "../../../formats/elf/file.ts";
import { MemFs } from "../../../kernel-shim/fs/mem-fs.ts";
import { Kernel } from "../../../kernel-shim/process/kernel.ts";
import { Process } from "../../../kernel-shim/process/process.ts";
import { KernelSframe, stacktraceSetupHandler } from "../../../kernel-shim/sframe/kernel-sframe.ts";
import { returnAddressInto } from "../../../kernel-shim/unwind/call-sites.ts";
import { MappedObject, ObjectSet } from "../../../kernel-shim/unwind/mapped-object.ts";
import { synthesizeStack } from "../../../kernel-shim/unwind/stack-synth.ts";
import { unwindUser } from "../../../kernel-shim/unwind/unwind-user.ts";
import { mapObject, registerSframe } from "../../../loader/map-object.ts";

const FIX = new URL("../../fixtures/sframe/v3/aarch64/", import.meta.url).pathname;

describe("AArch64: synthesize and unwind the fixture chain (frame records, LR in the leaf)", () => {
  it("maps main, liba.so and libb.so as ld.so would and unwinds main_callback → main through SFrame", async () => {
    const { readFileSync } = await import("node:fs");
    const fs = MemFs.create({
      "/fix/main": readFileSync(`${FIX}main`),
      "/fix/liba.so": readFileSync(`${FIX}liba.so`),
      "/fix/libb.so": readFileSync(`${FIX}libb.so`),
    });
    const ks = new KernelSframe();
    const kernel = new Kernel(fs, { arch: "aarch64", sframe: ks, stacktraceSetup: stacktraceSetupHandler(ks) });
    const proc = Process.spawn(kernel);
    const libs = ["/fix/main", "/fix/liba.so", "/fix/libb.so"].map((p) => mapObject(proc, p));
    for (const l of libs) expect(registerSframe(proc, l)).toEqual([0n]);
    const objects = new ObjectSet(
      libs.map(
        (l) => new MappedObject(l.path, ElfFile.fromBytes(readFileSync(FIX + l.path.slice(5)), l.path), l.lAddr, null),
      ),
    );
    const chain = [
      "main_callback",
      "libb_deep",
      "libb_aligned",
      "libb_leaf",
      "liba_mid",
      "liba_entry",
      "main_step",
      "main",
    ];
    const pcs = [
      objects.symbol("main_callback") + 0x20n,
      ...chain.slice(1).map((caller, i) => returnAddressInto(objects, caller, chain[i] as string)),
    ];
    // No exec here (no AArch64 ld.so on this machine): give the thread a stack of its own.
    const stackBase = proc.mm.mmap(0, 0x10000, 3, 0x22, undefined, 0);
    const stack = synthesizeStack(proc.mm, objects, "aarch64", pcs, { top: BigInt(stackBase + 0xf000) });
    const t = unwindUser("aarch64", stack.regs, { readWord: (a) => proc.mm.readU64(Number(a)) }, ks.finder(proc.mm), {
      registerRules: "unwound-sp-fp",
    });
    const names = t.frames.map((f) => objects.at(f.pc)?.symbolize(f.pc)?.name);
    expect(names.slice(0, chain.length)).toEqual(chain);
    expect(t.frames.slice(0, chain.length).every((f, i) => i === chain.length - 1 || f.method === "sframe")).toBe(true);
  });
});
