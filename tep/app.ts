/** The body of `dstm-tep`: dispatches subcommands (run, `ctl`, `cleanup`, `--check-config`). */
import fs from "node:fs";
import process from "node:process";
import type { RunContext } from "../lib/cli/run_main.ts";
import { ExitError } from "../lib/cli/run_main.ts";
import { ExitCode } from "../lib/cli/exit_codes.ts";
import type { ConfigIssue } from "../lib/config/config_error.ts";
import { createLogger } from "../lib/log/logger.ts";
import { callControl } from "../lib/sys/control_socket.ts";
import { Rtnetlink } from "../lib/sys/rtnetlink.ts";
import { loadLocalConfig, loadTepConfig } from "./config.ts";
import { runDaemon } from "./daemon.ts";
import { cleanupInterface } from "./kernel.ts";

const CTL_COMMANDS = ["status", "bindings", "stats"];

function printIssues(issues: readonly ConfigIssue[]): void {
  for (const i of issues) process.stderr.write(`dstm-tep: config: ${i.path}: ${i.message}\n`);
}

/** Run `dstm-tep` with parsed flags. Resolves to the exit code. */
export async function run(ctx: RunContext): Promise<number> {
  const [cmd, sub, ...rest] = ctx.positionals;
  if (cmd === undefined) return await runTep(ctx);
  if (cmd === "ctl") {
    if (sub === undefined || !CTL_COMMANDS.includes(sub) || rest.length > 0) {
      throw new ExitError(
        ExitCode.USAGE,
        `usage: dstm-tep ctl ${CTL_COMMANDS.join("|")} [--json] [--control PATH]`,
      );
    }
    return await ctl(ctx, sub);
  }
  if (cmd === "cleanup") {
    if (sub !== undefined) {
      throw new ExitError(ExitCode.USAGE, "usage: dstm-tep cleanup [--interface NAME]");
    }
    return await cleanup(ctx);
  }
  throw new ExitError(
    ExitCode.USAGE,
    `unknown command ${JSON.stringify(cmd)} (commands: ctl, cleanup; see dstm-tep --help)`,
  );
}

async function runTep(ctx: RunContext): Promise<number> {
  const r = loadTepConfig(ctx.values);
  if (!r.ok) {
    printIssues(r.issues);
    return ExitCode.CONFIG;
  }
  const cfg = r.config;
  if (ctx.values["check-config"] === true) {
    for (const w of r.warnings) process.stderr.write(`dstm-tep: warning: ${w}\n`);
    process.stdout.write(
      `configuration OK: TEP ${cfg.name} (${cfg.address}, ${cfg.ipv4}), pool ${cfg.pool}, ` +
        `server ${cfg.server.family === 6 ? `[${cfg.server.host}]` : cfg.server.host}:` +
        `${cfg.server.port}, interface ${cfg.interface}\n`,
    );
    return ExitCode.OK;
  }
  const log = createLogger({
    write: (line) => process.stderr.write(line),
    format: cfg.logFormat,
    level: cfg.logLevel,
    base: { tep: cfg.name },
  });
  for (const w of r.warnings) log.warn("tep.config.warning", { message: w });
  return await runDaemon(cfg, log);
}

async function ctl(ctx: RunContext, command: string): Promise<number> {
  const local = loadLocalConfig(ctx.values);
  let resp;
  try {
    resp = await callControl(local.control, { command });
  } catch (e) {
    throw new ExitError(ExitCode.FAILURE, (e as Error).message);
  }
  if (resp.result !== 0) {
    process.stderr.write(`dstm-tep: ${resp.text}\n`);
    return resp.result === 2 ? ExitCode.USAGE : ExitCode.FAILURE;
  }
  if (ctx.values.json === true) {
    process.stdout.write(JSON.stringify(resp.arguments ?? {}, null, 2) + "\n");
  } else process.stdout.write(resp.text.endsWith("\n") ? resp.text : resp.text + "\n");
  return ExitCode.OK;
}

async function cleanup(ctx: RunContext): Promise<number> {
  const local = loadLocalConfig(ctx.values);
  // A TEP that still answers on its control socket owns the interface: leave it alone.
  let socketIsStale = false;
  try {
    if (fs.statSync(local.control).isSocket()) {
      try {
        await callControl(local.control, { command: "status" }, 1000);
        throw new ExitError(
          ExitCode.FAILURE,
          `a dstm-tep is running (${local.control} answers): stop it instead of cleaning up`,
        );
      } catch (e) {
        if (e instanceof ExitError) throw e;
        socketIsStale = true;
      }
    }
  } catch (e) {
    if (e instanceof ExitError) throw e;
  }
  const nl = Rtnetlink.open();
  try {
    const report = await cleanupInterface(local.interface, nl);
    if (report.linkRemoved) {
      process.stdout.write(
        `removed interface ${local.interface}` +
          (report.routesRemoved.length ? ` and routes ${report.routesRemoved.join(", ")}` : "") +
          "\n",
      );
    } else process.stdout.write(`no interface ${local.interface}: nothing to remove\n`);
  } finally {
    nl.close();
  }
  if (socketIsStale) {
    try {
      fs.unlinkSync(local.control);
      process.stdout.write(`removed stale control socket ${local.control}\n`);
    } catch { /* gone meanwhile */ }
  }
  return ExitCode.OK;
}
