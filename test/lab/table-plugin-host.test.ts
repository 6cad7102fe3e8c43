/** docs/proposals-table.md's plugin-host figures (1000 dlopen/dlclose cycles) equal a fresh run. */
import { describe } from "vitest";
import { checkWorkloads } from "./table-check.ts";

describe("docs/proposals-table.md is up to date (regenerate: npx tsx lab/generate-table.ts)", () => {
  checkWorkloads(["plugin-host"]);
});
