/**
 * The body of `dstm-client`: dispatches `run` (no subcommand), `--check-config`, `ctl status`
 * and `cleanup`, and wires the agent to the real system (TUN, rtnetlink, the data-plane Worker,
 * TCP, the control socket, signals).
 *
 * @module
 */
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { randomBytes } from "node:crypto";
import type { RunContext } from "../lib/cli/run_main.ts";
import { exitCodeFor, ExitError } from "../lib/cli/run_main.ts";
import { ExitCode } from "../lib/cli/exit_codes.ts";
import type { FlagValues } from "../lib/cli/command.ts";
import { ConfigError } from "../lib/config/config_error.ts";
import { createLogger, type Logger } from "../lib/log/logger.ts";
import { createSaslClient, type MechanismName } from "../lib/tsp/mod.ts";
import {
  callControl,
  HOST_LE,
  libc,
  openTun,
  Rtnetlink,
  serveControl,
  writeSysctl,
} from "../lib/sys/mod.ts";
import { openVnetTun } from "../lib/sys/tun_vnet.ts";
import { ClientAgent } from "./agent.ts";
import { type ClientConfig, controlPath, interfaceName, loadClientConfig } from "./config.ts";
import { WorkerDataplane } from "./dataplane_host.ts";
import type { WorkerEvent } from "./ring_messages.ts";
import { processHookRunner } from "./hooks.ts";
import { formatStatus, type StatusReport, statusReport } from "./status_report.ts";
import { tcpConnect } from "./tcp_transport.ts";
import { DomainTepFilter } from "./tep_filter.ts";
import { cleanupInterface, TunnelInterface } from "./tunnel_interface.ts";

/** Run `dstm-client` with parsed flags. Resolves to the exit code. */
export function run(ctx: RunContext): Promise<number> {
  const [command, sub, ...rest] = ctx.positionals;
  if (command === undefined) {
    return ctx.values["check-config"] === true ? checkConfig(ctx.values) : runClient(ctx.values);
  }
  if (command === "ctl") {
    if (sub !== "status" || rest.length > 0) {
      throw new ExitError(
        ExitCode.USAGE,
        `unknown ctl command: ${[sub, ...rest].join(" ") || "(none)"} (try: ctl status)`,
      );
    }
    return ctlStatus(ctx.values);
  }
  if (command === "cleanup") {
    if (sub !== undefined) throw new ExitError(ExitCode.USAGE, `cleanup takes no argument: ${sub}`);
    return cleanup(ctx.values);
  }
  throw new ExitError(ExitCode.USAGE, `unknown command: ${command}`);
}

function checkConfig(flags: FlagValues): Promise<number> {
  const r = loadClientConfig(flags);
  if (!r.ok) {
    for (const i of r.issues) process.stderr.write(`${i.path || "(top)"}: ${i.message}\n`);
    return Promise.resolve(ExitCode.CONFIG);
  }
  for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
  process.stdout.write(
    `configuration OK: server [${r.config.serverHost}]:${r.config.serverPort}, interface ` +
      `${r.config.interfaceName}, ${r.config.mechanism}\n`,
  );
  return Promise.resolve(ExitCode.OK);
}

async function ctlStatus(flags: FlagValues): Promise<number> {
  const sock = controlPath(flags);
  let resp;
  try {
    resp = await callControl(sock, { command: "status" });
  } catch (e) {
    throw new ExitError(ExitCode.FAILURE, (e as Error).message);
  }
  if (resp.result !== 0) throw new ExitError(ExitCode.FAILURE, resp.text);
  if (flags.json === true) process.stdout.write(JSON.stringify(resp.arguments, null, 2) + "\n");
  else process.stdout.write(resp.text);
  return ExitCode.OK;
}

async function cleanup(flags: FlagValues): Promise<number> {
  const name = interfaceName(flags);
  const nl = Rtnetlink.open(libc());
  try {
    const removed = await cleanupInterface(nl, name);
    process.stdout.write(
      removed
        ? `removed interface ${name} (with its address and routes)\n`
        : `no interface ${name}: nothing to clean\n`,
    );
  } finally {
    nl.close();
  }
  return ExitCode.OK;
}

function makeLogger(c: ClientConfig): Logger {
  return createLogger({
    write: (line) => process.stderr.write(line),
    format: c.logFormat,
    level: c.logLevel,
  });
}

function saslFactory(c: ClientConfig): (m: MechanismName) => ReturnType<typeof createSaslClient> {
  return (m) =>
    createSaslClient(m, {
      user: c.credentials?.user,
      pass: c.credentials?.password,
      digestUriHost: `[${c.serverHost}]`,
      cnonce: () => randomBytes(16).toString("hex"),
    });
}

async function runClient(flags: FlagValues): Promise<number> {
  const loaded = loadClientConfig(flags);
  if (!loaded.ok) throw new ConfigError(loaded.issues);
  const config = loaded.config;
  const log = makeLogger(config);
  for (const w of loaded.warnings) log.warn("config.warning", { detail: w });

  const c = libc();
  const nl = Rtnetlink.open(c);
  let tun;
  try {
    // The virtio header lets the data plane hand the local stack large TCP segments (GRO).
    tun = HOST_LE ? openVnetTun({ name: config.interfaceName }, c) : {
      ...openTun({ name: config.interfaceName }, c),
      vnetHeader: false,
    };
  } catch (e) {
    nl.close();
    throw e;
  }
  const closeAll: (() => void | Promise<void>)[] = [() => tun.close(), () => nl.close()];
  const finish = async () => {
    for (const f of closeAll.splice(0).reverse()) {
      try {
        await f();
      } catch { /* best effort on the way out */ }
    }
  };
  try {
    const iface = new TunnelInterface(tun.name, { net: nl, writeSysctl, log });
    await iface.prepare(config.mtu);
    // The data plane exists before the agent that receives its events.
    let onDataplaneEvent: (e: WorkerEvent) => void = () => {};
    const dataplane = new WorkerDataplane({
      tunFd: tun.fd,
      vnetHeader: tun.vnetHeader,
      hopLimit: config.hopLimit,
      mtu: config.mtu,
      tepPrefixes: config.tepPrefixes,
      probeId: process.pid & 0xffff,
      onEvent: (e) => onDataplaneEvent(e),
    });
    let fatalError: unknown;
    let stopRequested: (() => void) | undefined;
    const stopped = new Promise<void>((r) => (stopRequested = r));
    const agent = new ClientAgent({
      settings: {
        serverText: config.serverText,
        serverHost: config.serverHost,
        serverPort: config.serverPort,
        source: config.source,
        routes: config.routes,
        mechanism: config.mechanism,
        createSasl: saslFactory(config),
        mtu: config.mtu,
        keepaliveSeconds: config.keepaliveSeconds,
        keepaliveMisses: config.keepaliveMisses,
        responseTimeoutMs: config.responseTimeoutMs,
        requestTimeoutMs: config.requestTimeoutMs,
        retryMs: config.retryMs,
        renewOnBindingUnknown: config.renewOnBindingUnknown,
        up: config.up,
        down: config.down,
        leaseCapMs: config.leaseCapMs,
      },
      filter: new DomainTepFilter({ prefixes: config.tepPrefixes }),
      log,
      clock: Date.now,
      timer: {
        set: (fn, ms) => setTimeout(fn, ms),
        clear: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
      },
      connect: tcpConnect(config.responseTimeoutMs),
      iface,
      dataplane,
      runHook: processHookRunner(log, config.hookTimeoutMs),
      onFatal: (e) => {
        fatalError = e;
        stopRequested?.();
      },
    });

    try {
      fs.mkdirSync(path.dirname(config.control), { recursive: true, mode: 0o755 });
    } catch { /* serveControl reports the real problem */ }
    onDataplaneEvent = (e) => agent.onDataplaneEvent(e);
    const control = await serveControl(config.control, (req) => {
      if (req.command !== "status") {
        return { result: 2, text: `unknown command ${req.command} (known: status)` };
      }
      const report: StatusReport = statusReport(agent.status(), dataplane.counters);
      return { result: 0, text: formatStatus(report), arguments: report };
    });
    closeAll.push(() => control.close());

    let signal = "";
    const onSignal = (name: string) => () => {
      if (signal) return;
      signal = name;
      log.info("client.signal", { signal: name });
      stopRequested?.();
    };
    const onTerm = onSignal("SIGTERM");
    const onInt = onSignal("SIGINT");
    // Kept until the process exits: a second signal during the shutdown must not kill it
    // half-way (routes left behind).
    process.on("SIGTERM", onTerm);
    process.on("SIGINT", onInt);
    // SIGHUP would otherwise end the process without a release; nothing is reloaded.
    const onHup = () =>
      log.info("client.sighup", {
        note: "nothing to reload; restart to apply a new configuration",
      });
    process.on("SIGHUP", onHup);

    log.info("client.start", {
      server: config.serverText,
      source: config.source ?? "kernel's choice",
      interface: tun.name,
      mechanism: config.mechanism,
      control: config.control,
      runtime: c.runtime,
    });
    agent.start();
    await stopped;
    await agent.shutdown();
    log.info("client.stop", { reason: fatalError ? "error" : signal || "stop" });
    if (fatalError !== undefined) {
      const code = exitCodeFor(fatalError);
      throw new ExitError(
        code === ExitCode.OK ? ExitCode.FAILURE : code,
        fatalError instanceof Error ? fatalError.message : String(fatalError),
      );
    }
    return ExitCode.OK;
  } finally {
    await finish();
  }
}
