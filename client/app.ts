/** The body of `dstm-client`: dispatches subcommands. */
import type { RunContext } from "../lib/cli/run_main.ts";
import { ExitError } from "../lib/cli/run_main.ts";
import { ExitCode } from "../lib/cli/exit_codes.ts";

/** Run `dstm-client` with parsed flags. Resolves to the exit code. */
export function run(ctx: RunContext): Promise<number> {
  throw new ExitError(
    ExitCode.FAILURE,
    `command not available yet: ${ctx.positionals.join(" ") || "run"}`,
  );
}
