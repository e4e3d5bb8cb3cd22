/**
 * The body of `dstm-server`: `--check-config`, `ctl <command>`, or run the server until
 * SIGTERM/SIGINT (graceful stop), reloading on SIGHUP.
 *
 * @module
 */
import fs from "node:fs";
import process from "node:process";
import type { RunContext } from "../lib/cli/run_main.ts";
import { ExitError } from "../lib/cli/run_main.ts";
import { ExitCode } from "../lib/cli/exit_codes.ts";
import { ConfigError } from "../lib/config/config_error.ts";
import { callControl } from "../lib/sys/control_socket.ts";
import { DEFAULT_CONTROL, loadServerConfig } from "./config.ts";
import { type Daemon, startDaemon } from "./daemon.ts";

const CTL_COMMANDS = ["status", "leases", "teps", "stats", "reload"];

/**
 * Write to stdout and wait until it is handed over: `main.ts` exits right after `run`, and Bun
 * drops a pending pipe write at exit (a large `ctl leases --json | jq` was cut at 128 KiB).
 */
function out(text: string): Promise<void> {
  return new Promise((resolve) => process.stdout.write(text, () => resolve()));
}

/** Run `dstm-server` with parsed flags. Resolves to the exit code. */
export async function run(ctx: RunContext): Promise<number> {
  const [command, ...rest] = ctx.positionals;
  if (command === "ctl") return await ctl(rest, ctx);
  if (command !== undefined) {
    throw new ExitError(ExitCode.USAGE, `unknown command ${command} (try ctl or --help)`);
  }
  const flags = ctx.values;
  const loaded = loadServerConfig(flags);
  if (flags["check-config"]) {
    if (loaded.ok) {
      await out(loaded.warnings.map((w) => `warning: ${w}\n`).join("") + "configuration OK\n");
      return ExitCode.OK;
    }
    await out(
      loaded.issues.map((i) => `${i.path}: ${i.message}\n`).join("") +
        `${loaded.issues.length} issue(s) found\n`,
    );
    return ExitCode.CONFIG;
  }
  if (!loaded.ok) {
    for (const i of loaded.issues) process.stderr.write(`dstm-server: ${i.path}: ${i.message}\n`);
    throw new ConfigError(loaded.issues);
  }
  // Signals first, so none is lost between "server.started" and the handlers: a stop asked for
  // during start-up stops the server as soon as it runs; a reload then has nothing to do.
  let daemon: Daemon | undefined;
  let stopAsked = false;
  const onStop = () => {
    stopAsked = true;
    if (daemon) void daemon.stop(0);
  };
  const onHup = () => {
    if (daemon) daemon.reload();
  };
  process.on("SIGTERM", onStop);
  process.on("SIGINT", onStop);
  process.on("SIGHUP", onHup);
  try {
    try {
      daemon = await startDaemon(loaded.config, { reloadConfig: () => loadServerConfig(flags) });
    } catch (e) {
      throw new ExitError(ExitCode.FAILURE, (e as Error).message);
    }
    for (const w of loaded.warnings) {
      process.stderr.write(
        `${new Date().toISOString()} WARN  config.warning message=${JSON.stringify(w)}\n`,
      );
    }
    if (stopAsked) void daemon.stop(0);
    return await daemon.done;
  } finally {
    process.off("SIGTERM", onStop);
    process.off("SIGINT", onStop);
    process.off("SIGHUP", onHup);
  }
}

/** The control socket path: `--control`, else the config file's `control`, else the default. */
function controlPath(values: RunContext["values"]): string {
  if (typeof values.control === "string") return values.control;
  if (typeof values.config === "string") {
    try {
      const j = JSON.parse(fs.readFileSync(values.config, "utf8"));
      if (j && typeof j.control === "string") return j.control;
    } catch { /* fall through to the default */ }
  }
  return DEFAULT_CONTROL;
}

async function ctl(args: string[], ctx: RunContext): Promise<number> {
  const [command, ...extra] = args;
  if (!command || !CTL_COMMANDS.includes(command) || extra.length > 0) {
    throw new ExitError(
      ExitCode.USAGE,
      `usage: dstm-server ctl ${CTL_COMMANDS.join("|")} [--json] [--control PATH]`,
    );
  }
  const path = controlPath(ctx.values);
  let resp;
  try {
    resp = await callControl(path, { command });
  } catch (e) {
    throw new ExitError(ExitCode.FAILURE, (e as Error).message);
  }
  await out(ctx.values.json ? JSON.stringify(resp.arguments ?? {}, null, 2) + "\n" : resp.text);
  return resp.result === 0 ? ExitCode.OK : ExitCode.FAILURE;
}
