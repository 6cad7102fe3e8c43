/**
 * `npm run bench`: runs every `bench/*.bench.ts` module in name order. Each exports
 * `run(): Promise<void>` and prints its own figures (next to its native peer where it has one).
 * A name filter may be given: `npm run bench -- sframe` runs only `sframe.bench.ts`.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

interface BenchModule {
  run(): Promise<void>;
}

const dir = import.meta.dirname;
const filters = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

for (const f of files) {
  process.stdout.write(`\n== ${f}\n`);
  const mod = (await import(pathToFileURL(join(dir, f)).href)) as BenchModule;
  await mod.run();
}
