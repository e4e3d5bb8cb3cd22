/**
 * The common `main()` of the dstm binaries: parse the command line, answer `--help` and
 * `--version`, run the program and turn its outcome or error into an exit code.
 */
import process from "node:process";
import { type CommandSpec, type FlagValues, formatHelp, parseCommandLine } from "./command.ts";
import { ExitCode } from "./exit_codes.ts";
import { VERSION } from "../version.ts";
import { platform, runtimeVersion } from "../sys/runtime.ts";

/** What a program's body receives. */
export interface RunContext {
  /** Flag values by long name. */
  values: FlagValues;
  /** Positional words (subcommands and their arguments). */
  positionals: string[];
}

/** The version line every binary prints. */
export function versionText(program: string): string {
  return `${program} ${VERSION} (${runtimeVersion()}, ${platform()})\n`;
}

/** An error the program raises to exit with a given code and a one-line message. */
export class ExitError extends Error {
  /** The process exit code. */
  readonly exitCode: number;
  /** Create an error that ends the program with `exitCode`. */
  constructor(exitCode: number, message: string) {
    super(message);
    this.name = "ExitError";
    this.exitCode = exitCode;
  }
}

/** Map an error thrown by a program body to an exit code. */
export function exitCodeFor(e: unknown): number {
  const err = e as { name?: string; exitCode?: number; code?: string; errno?: number };
  if (err && typeof err.exitCode === "number") return err.exitCode;
  if (err?.name === "ConfigError") return ExitCode.CONFIG;
  if (err?.name === "SysError" && (err.code === "EPERM" || err.code === "EACCES")) {
    return ExitCode.NOPERM;
  }
  return ExitCode.FAILURE;
}

/**
 * Parse `argv`, handle help/version/usage errors, then await `body`. Resolves to the exit code;
 * never throws.
 */
export async function runMain(
  spec: CommandSpec,
  argv: string[],
  body: (ctx: RunContext) => Promise<number>,
  io: { out: (s: string) => void; err: (s: string) => void } = {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
  },
): Promise<number> {
  const parsed = parseCommandLine(spec, argv);
  switch (parsed.kind) {
    case "help":
      io.out(formatHelp(spec));
      return ExitCode.OK;
    case "version":
      io.out(versionText(spec.program));
      return ExitCode.OK;
    case "usage-error":
      io.err(`${spec.program}: ${parsed.message} (see ${spec.program} --help)\n`);
      return ExitCode.USAGE;
  }
  try {
    return await body({ values: parsed.values, positionals: parsed.positionals });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    io.err(`${spec.program}: ${msg}\n`);
    return exitCodeFor(e);
  }
}
