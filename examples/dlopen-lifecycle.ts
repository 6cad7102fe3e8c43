/**
 * Example 2: a dlopen/dlclose lifecycle with the maps and the SFrame registry shown at every step.
 *
 *   npx tsx examples/dlopen-lifecycle.ts
 */
import { formatLifecycle, runLifecycle } from "./dlopen-lifecycle-lib.ts";

process.stdout.write(`${formatLifecycle(runLifecycle()).join("\n")}\n`);
