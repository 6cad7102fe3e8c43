import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Scenario } from "../../scenario/format.ts";
import { REPO_ROOT, runScenario, runScenarioFile } from "../../scenario/run.ts";

const EX = join(REPO_ROOT, "scenario", "examples");
const ok = existsSync("/usr/bin/true");
if (!ok) console.warn("scenario tests skipped: /usr/bin/true missing");
const LIBA = "$ROOT/test/fixtures/sframe/v3/x86_64/liba.so";
const LIBB = "$ROOT/test/fixtures/sframe/v3/x86_64/libb.so";

describe.skipIf(!ok)(
  "scenario examples (one per race): every step's assertions on maps and the kernel registry hold",
  () => {
    for (const f of readdirSync(EX).filter((n) => n.endsWith(".json"))) {
      it(f, () => {
        const r = runScenarioFile(join(EX, f));
        expect(r.failures).toEqual([]);
        expect(r.timeline.filter((e) => e.kind === "assert").length).toBeGreaterThan(2);
      });
    }

    it("sample between munmap and a late unregister: the kernel faults on the stale .sframe and drops it", () => {
      const r = runScenarioFile(join(EX, "race-sample-after-munmap.json"));
      const auto = r.sframe.events.filter((e) => e.kind === "auto-remove");
      expect(auto).toHaveLength(1);
      const unregs = r.sframe.events.filter((e) => e.kind === "unregister");
      expect(unregs.map((e) => e.kind === "unregister" && e.result)).toEqual([0, -22]);
    });

    it("with the default order (unregister before munmap) the same sample never reads unmapped memory", () => {
      const sc: Scenario = {
        exec: "/usr/bin/true",
        steps: [
          { op: "dlopen", file: LIBA, mode: "RTLD_LAZY", as: "a" },
          {
            op: "dlclose",
            handle: "a",
            interleave: {
              at: "after-munmap",
              object: "libb.so",
              steps: [
                { op: "assert", registry: { size: 0 }, maps: { absent: ["libb.so"] } },
                { op: "sample", chain: ["libb_leaf", "liba_mid", "liba_entry"] },
              ],
            },
          },
        ],
      };
      const r = runScenario(sc, REPO_ROOT);
      expect(r.failures).toEqual([]);
      expect(r.sframe.events.filter((e) => e.kind === "auto-remove")).toHaveLength(0);
    });
  },
);

describe.skipIf(!ok)("fault injection during dlopen", () => {
  it("ENOMEM from the first mmap of a dependency: dlerror as glibc, maps and registry as before the dlopen", () => {
    const base = runScenario({ exec: "/usr/bin/true", steps: [] }, REPO_ROOT);
    const mapsBefore = base.process.mm.renderMaps();
    // liba's own mmaps are 1..4; libb's first is the 5th.
    const r = runScenario(
      {
        exec: "/usr/bin/true",
        faults: [{ syscall: "mmap", nth: 5, errno: "ENOMEM" }],
        steps: [
          { op: "dlopen", file: LIBA, mode: "RTLD_NOW", as: "a" },
          {
            op: "assert",
            dlerror: "libb.so: failed to map segment from shared object",
            registry: { size: 0 },
            loaded: { absent: ["liba.so", "libb.so"] },
          },
        ],
      },
      REPO_ROOT,
    );
    expect(r.failures).toEqual([]);
    expect(r.process.mm.renderMaps()).toBe(mapsBefore);
    // liba was registered, then unregistered before its munmap.
    const ev = r.sframe.events.map((e) => e.kind);
    expect(ev).toEqual(["register", "unregister"]);
  });

  for (const errno of ["EEXIST", "EINVAL", "ENOSYS", "EFAULT"] as const) {
    it(`${errno} from stacktrace_setup: logged, loading continues; fatal option: dlopen fails and undoes`, () => {
      const steps = [{ op: "dlopen" as const, file: LIBB, mode: "RTLD_NOW", as: "b" }];
      const faults = [{ syscall: "stacktrace_setup", nth: 1, op: 1, errno }];
      const soft = runScenario({ exec: "/usr/bin/true", faults, steps }, REPO_ROOT);
      expect(soft.rtld.ns.maps.some((m) => m.name.endsWith("libb.so"))).toBe(true);
      expect(soft.sframe.registryOf(soft.process.mm).size).toBe(0);
      const base = runScenario({ exec: "/usr/bin/true", steps: [] }, REPO_ROOT);
      const hard = runScenario(
        {
          exec: "/usr/bin/true",
          loader: { fatalRegistration: true },
          faults,
          steps: [
            ...steps,
            {
              op: "assert",
              dlerror: `${join(REPO_ROOT, "test/fixtures/sframe/v3/x86_64/libb.so")}: cannot register SFrame section: ${
                {
                  EEXIST: "File exists",
                  EINVAL: "Invalid argument",
                  ENOSYS: "Function not implemented",
                  EFAULT: "Bad address",
                }[errno]
              }`,
              loaded: { absent: ["libb.so"] },
              registry: { size: 0 },
            },
          ],
        },
        REPO_ROOT,
      );
      expect(hard.failures).toEqual([]);
      expect(hard.process.mm.renderMaps()).toBe(base.process.mm.renderMaps());
    });
  }
});
