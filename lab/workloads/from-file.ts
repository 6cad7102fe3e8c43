import { readFileSync } from "node:fs";
import { LdsimError } from "../../formats/errors.ts";
import type { MappedLib } from "../../loader/map-object.ts";
import type { Tracked } from "../world.ts";
import { sampleFixtureChain } from "./chain.ts";
import type { Workload } from "./types.ts";

/**
 * A workload written as a JSON file, for `ldsim proposals compare --workload FILE`:
 *
 * ```json
 * { "name": "my-host", "steps": [
 *     { "exec": "test/fixtures/sframe/v3/x86_64/main" },
 *     { "repeat": 100, "steps": [
 *         { "dlopen": "test/fixtures/sframe/v3/x86_64/libb.so", "as": "b" },
 *         { "dlopen": "test/fixtures/sframe/v3/x86_64/liba.so", "as": "a" },
 *         { "sample": "fixture-chain" },
 *         { "dlclose": "a" }, { "dlclose": "b", "order": "munmap-first" } ] } ] }
 * ```
 *
 * Steps: `exec` (path), `dlopen` (path, `as` handle), `dlclose` (handle, optional `order`
 * "unregister-first" | "munmap-first"), `map-foreign` (path, `as`: mapped without any loader call),
 * `unmap` (handle: munmap only), `sample` ("fixture-chain": the fixture program's 8-frame chain,
 * needs main, liba.so and libb.so mapped), `repeat` (count, steps).
 */
export type FileStep =
  | { readonly exec: string }
  | { readonly dlopen: string; readonly as?: string }
  | { readonly dlclose: string; readonly order?: "unregister-first" | "munmap-first" }
  | { readonly "map-foreign": string; readonly as?: string }
  | { readonly unmap: string }
  | { readonly sample: "fixture-chain" }
  | { readonly repeat: number; readonly steps: readonly FileStep[] };

export class WorkloadFileError extends LdsimError {
  override name = "WorkloadFileError";
}

export function workloadFromFile(path: string): Workload {
  let spec: { name?: unknown; steps?: unknown };
  try {
    spec = JSON.parse(readFileSync(path, "utf8")) as { name?: unknown; steps?: unknown };
  } catch (e) {
    throw new WorkloadFileError(`${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (!Array.isArray(spec.steps)) throw new WorkloadFileError(`${path}: "steps" must be an array`);
  const steps = spec.steps as FileStep[];
  const name = typeof spec.name === "string" ? spec.name : path;
  return {
    name,
    title: `Workload file ${path}`,
    description: `steps from ${path}`,
    run(w) {
      const handles = new Map<string, { lib: MappedLib; tracked: Tracked }>();
      const get = (h: string) => {
        const x = handles.get(h);
        if (!x) throw new WorkloadFileError(`${path}: no open handle "${h}"`);
        handles.delete(h);
        return x;
      };
      const exec = (list: readonly FileStep[], depth: number): void => {
        if (depth > 8) throw new WorkloadFileError(`${path}: "repeat" nested too deeply`);
        for (const s of list) {
          if ("exec" in s) w.exec(s.exec, [s.exec]);
          else if ("dlopen" in s) handles.set(s.as ?? s.dlopen, w.load(s.dlopen));
          else if ("dlclose" in s) w.unload(get(s.dlclose), s.order ?? "unregister-first");
          else if ("map-foreign" in s) handles.set(s.as ?? s["map-foreign"], w.mapForeign(s["map-foreign"]));
          else if ("unmap" in s) w.unmapOnly(get(s.unmap));
          else if ("sample" in s) sampleFixtureChain(w);
          else if ("repeat" in s) {
            const n = Math.min(Math.max(0, Math.floor(s.repeat)), 100_000);
            for (let i = 0; i < n; i++) exec(s.steps, depth + 1);
          } else throw new WorkloadFileError(`${path}: unknown step ${JSON.stringify(s)}`);
        }
      };
      exec(steps, 0);
    },
  };
}
