import { Command, CommanderError } from "commander";
import { LdsimError } from "../formats/errors.ts";
import { registerCommands } from "./commands/index.ts";

/**
 * The `ldsim` command. Each subcommand lives in `cli/commands/NAME.ts` and is added to the program by
 * `registerCommands`. Errors from ldsim's own code become one clear line on stderr and exit status 1.
 */
export function buildProgram(): Command {
  const program = new Command("ldsim")
    .description(
      "A model of the Linux dynamic loader (ld.so) and the kernel side it talks to, with SFrame registration",
    )
    .version("0.1.0")
    .showHelpAfterError(false);
  registerCommands(program);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv as string[], { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof LdsimError) {
      process.stderr.write(`ldsim: ${err.message}\n`);
      return 1;
    }
    if (err instanceof Error && "code" in err && typeof err.code === "string") {
      // Node fs errors (ENOENT, EACCES…) are the user's input problem, not a crash: one line.
      process.stderr.write(`ldsim: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

const isEntry = process.argv[1] !== undefined && /cli[\\/]main\.ts$/.test(process.argv[1]);
if (isEntry) {
  process.exitCode = await main(process.argv.slice(2));
}
