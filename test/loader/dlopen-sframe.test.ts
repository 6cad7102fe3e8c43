import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DLFO_FLAG_SFRAME, dlFindObject } from "../../loader/dl-find-object.ts";
import { dlState } from "../../loader/dl-state.ts";
import { dlclose } from "../../loader/dlclose.ts";
import { dlopen, RTLD_LAZY, RTLD_NOLOAD, RTLD_NOW } from "../../loader/dlopen.ts";
import { REPO_ROOT, runScenario } from "../../scenario/run.ts";

const ok = existsSync("/usr/bin/true");
if (!ok) console.warn("dlopen SFrame lifecycle tests skipped: /usr/bin/true missing");
const DIR = join(REPO_ROOT, "test/fixtures/sframe/v3/x86_64");
const LIBA = join(DIR, "liba.so");

/** readelf -lW of the fixture (committed, produced by readelf): PT_GNU_SFRAME p_vaddr of liba.so. */
const LIBA_SFRAME_VADDR = 0x20d0n;

function boot() {
  const r = runScenario({ exec: "/usr/bin/true", steps: [] }, REPO_ROOT);
  const registers = () => r.process.log.events.filter((e) => e.name === "stacktrace_setup" && e.args[0] === 1n).length;
  return { ...r, registers };
}

describe.skipIf(!ok)("SFrame over the dlopen/dlclose lifecycle", () => {
  it("re-opens and RTLD_NOLOAD never register twice; the last dlclose unregisters each object once", () => {
    const { rtld, sframe, process: proc, registers } = boot();
    const h1 = dlopen(rtld, LIBA, RTLD_LAZY);
    expect(h1).not.toBeNull();
    expect(registers()).toBe(2);
    expect(dlopen(rtld, LIBA, RTLD_NOW)).toBe(h1);
    expect(dlopen(rtld, LIBA, RTLD_NOW | RTLD_NOLOAD)).toBe(h1);
    expect(dlopen(rtld, "libb.so", RTLD_NOW | RTLD_NOLOAD)).not.toBeNull();
    expect(registers()).toBe(2);
    expect(sframe.registryOf(proc.mm).size).toBe(2);
    if (!h1) return;
    for (let i = 0; i < 3; i++) expect(dlclose(rtld, h1)).toBe(0);
    // liba is gone; libb is still held by its own NOLOAD handle.
    expect(sframe.registryOf(proc.mm).size).toBe(1);
    expect(rtld.ns.maps.some((m) => m.name === LIBA)).toBe(false);
    const b = rtld.ns.maps.find((m) => m.name.endsWith("libb.so"));
    expect(b).toBeDefined();
    if (b) expect(dlclose(rtld, b)).toBe(0);
    expect(sframe.registryOf(proc.mm).size).toBe(0);
    const unregs = proc.log.events.filter((e) => e.name === "stacktrace_setup" && e.args[0] === 2n);
    expect(unregs.map((e) => e.ret)).toEqual([0n, 0n]);
    // Every unregister comes right before its object's munmap.
    const names = proc.log.events.map((e) => e.name);
    for (let i = 0; i < names.length; i++)
      if (proc.log.events[i]?.args[0] === 2n && names[i] === "stacktrace_setup") {
        expect(names[i + 1]).toBe("munmap");
      }
  });

  it("_dl_find_object: not visible while the dlopen is in progress, dlfo_sframe after it, gone before the munmap", () => {
    const { rtld } = boot();
    const st = dlState(rtld);
    let during: ReturnType<typeof dlFindObject> | "unset" = "unset";
    st.hook = (point, map) => {
      if (point === "mapped" && map.name === LIBA) during = dlFindObject(rtld, map.mapStart + 0x1000n);
    };
    const h = dlopen(rtld, LIBA, RTLD_LAZY);
    st.hook = undefined;
    expect(during).toBeUndefined();
    if (!h) throw new Error("dlopen failed");
    const fo = dlFindObject(rtld, h.mapStart + 0x1000n);
    expect(fo?.dlfo_link_map).toBe(h);
    expect(fo?.dlfo_flags).toBe(DLFO_FLAG_SFRAME);
    expect(fo?.dlfo_sframe).toBe(h.addr + LIBA_SFRAME_VADDR);
    let atMunmap: ReturnType<typeof dlFindObject> | "unset" = "unset";
    st.hook = (point, map) => {
      if (point === "before-munmap" && map === h) atMunmap = dlFindObject(rtld, h.mapStart + 0x1000n);
    };
    dlclose(rtld, h);
    st.hook = undefined;
    expect(atMunmap).toBeUndefined();
  });

  it("fork: the child starts with an empty registry (kernel series); exit frees the parent's", () => {
    const r = runScenario(
      {
        exec: "/usr/bin/true",
        steps: [
          { op: "dlopen", file: LIBA, mode: "RTLD_NOW", as: "a" },
          { op: "fork" },
          { op: "assert", registry: { size: 2 } },
          { op: "exit", status: 0 },
        ],
      },
      REPO_ROOT,
    );
    expect(r.failures).toEqual([]);
    expect(r.timeline.some((e) => /child \d+: registry 0 entries \(parent 2\)/.test(e.text))).toBe(true);
    expect(r.sframe.events.at(-1)).toMatchObject({ kind: "mm-release", removed: 2 });
  });
});
