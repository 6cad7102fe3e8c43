import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { compareDesigns } from "../../lab/compare.ts";
import { TABLE_PATH } from "../../lab/generate-table.ts";
import { keyFigures, parseKeyFiguresBlock } from "../../lab/key-figures.ts";
import { WORKLOADS } from "../../lab/workloads/index.ts";

/** The committed key figures of docs/proposals-table.md. */
export const committed = parseKeyFiguresBlock(readFileSync(TABLE_PATH, "utf8"));

/** One test per workload: a fresh run's key figures equal the committed table's. */
export function checkWorkloads(names: readonly string[]): void {
  for (const name of names) {
    it(`${name}: every design's key figures equal the committed table's`, { timeout: 120_000 }, () => {
      const make = WORKLOADS[name];
      if (!make) throw new Error(`no workload ${name}`);
      expect(keyFigures(compareDesigns(make()))).toEqual(committed?.[name]);
    });
  }
}
