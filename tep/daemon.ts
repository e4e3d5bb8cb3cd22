/**
 * The running TEP: kernel set-up, the data-plane Worker, the TSP session to the server, the
 * control channel and metrics, and the orderly shutdown on SIGTERM/SIGINT.
 *
 * Control plane → data plane (over the message ring): the session state, pushed bindings and
 * removals, query answers. Data plane → control plane (`postMessage`): queries to send, sampled
 * drops, binding dumps. The main thread never touches packets.
 *
 * @module
 */
import process from "node:process";
import {
  contains6,
  formatIpv4,
  parseCidr4,
  parseCidr6,
  parseIpv4,
  parseIpv6,
} from "../lib/addr/mod.ts";
import { contains4 } from "../lib/addr/cidr.ts";
import type { Logger } from "../lib/log/logger.ts";
import { type ControlServer, serveControl } from "../lib/sys/control_socket.ts";
import { libc } from "../lib/sys/libc.ts";
import { Rtnetlink } from "../lib/sys/rtnetlink.ts";
import { runtimeVersion } from "../lib/sys/runtime.ts";
import type { CtlRequest, CtlResponse } from "../lib/ctl/protocol.ts";
import { VERSION } from "../lib/version.ts";
import type { TepConfig } from "./config.ts";
import {
  formatBindings,
  formatStats,
  formatStatus,
  type StatsInfo,
  type StatusInfo,
} from "./ctl.ts";
import { DataPlaneHost } from "./dataplane_host.ts";
import { type KernelState, setupKernel, teardownKernel } from "./kernel.ts";
import { type MetricsServer, serveMetrics, tepMetrics } from "./metrics.ts";
import { TspLink } from "./tsp_link.ts";

const MINUTE_MS = 60_000;

function endpointText(e: { host: string; port: number; family: 4 | 6 }): string {
  return e.family === 6 ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/** Run the TEP until SIGTERM/SIGINT; resolves to the exit code. */
export async function runDaemon(config: TepConfig, log: Logger): Promise<number> {
  const started = Date.now();
  const c = libc();
  const nl = Rtnetlink.open(c);
  const pool = parseCidr4(config.pool);
  const prefixes = config.clientPrefixes.map((p) => parseCidr6(p));
  const kernelLog = (event: string, fields: Record<string, string | number>) =>
    log.info(event, fields);
  let kernel: KernelState | undefined;
  let host: DataPlaneHost | undefined;
  let link: TspLink | undefined;
  let control: ControlServer | undefined;
  let metrics: MetricsServer | undefined;
  let finish!: (code: number) => void;
  const done = new Promise<number>((r) => (finish = r));
  const onSignal = (sig: string) => () => {
    log.info("tep.stopping", { signal: sig });
    finish(0);
  };
  const onTerm = onSignal("SIGTERM");
  const onInt = onSignal("SIGINT");
  const onHup = () =>
    log.warn("tep.reload.unsupported", { hint: "restart dstm-tep to apply a new configuration" });
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onInt);
  process.on("SIGHUP", onHup);
  let code = 1;
  try {
    kernel = await setupKernel(config, nl, c, kernelLog);
    const k = kernel;
    const inPool = (s: string) => {
      const a = parseIpv4(s);
      return a.ok && pool.ok && contains4(pool.value, a.value) ? a.value : undefined;
    };
    const clientV6 = (s: string) => {
      const a = parseIpv6(s);
      if (!a.ok) return undefined;
      return prefixes.some((p) => p.ok && contains6(p.value, a.value)) ? a.value : undefined;
    };
    const dp = await DataPlaneHost.start(k.tun.fd, config.dataPlane, {
      onQuery(ipv4, refresh) {
        const text = formatIpv4(ipv4);
        if (link && link.query(text)) {
          log.info("query.sent", { ipv4: text, refresh });
        } else {
          host?.send({
            kind: "query-answer",
            ipv4,
            result: "failed",
            ipv6: new Uint8Array(16),
            lifetimeMs: 0,
          });
        }
      },
      onDrop(s) {
        log.info("tep.drop", { reason: s.reason, count: s.count, peer: s.peer, ipv4: s.ipv4 });
      },
      onError(message) {
        log.error("tep.dataplane.failed", { error: message });
        code = 1;
        finish(1);
      },
    });
    host = dp;
    log.info("tep.dataplane.started", { interface: k.tun.name });
    link = new TspLink({
      host: config.server.host,
      port: config.server.port,
      user: config.name,
      password: config.password,
      tep: { ipv4: config.ipv4, ipv6: config.address },
      backoff: config.backoff,
    }, {
      up(info) {
        dp.send({ kind: "session", up: true });
        log.info("tep.session.up", {
          server: endpointText(config.server),
          version: info.version,
          mechanism: info.mechanism,
        });
      },
      down(info) {
        dp.send({ kind: "session", up: false });
        log.warn("tep.session.down", {
          server: endpointText(config.server),
          reason: info.reason,
          retryInMs: info.retryInMs,
        });
      },
      push(p) {
        const v4 = inPool(p.ipv4);
        const v6 = clientV6(p.clientIpv6);
        if (v4 === undefined || v6 === undefined) {
          log.warn("binding.rejected", {
            ipv4: p.ipv4,
            ipv6: p.clientIpv6,
            why: v4 === undefined ? "outside the pool" : "outside the client prefixes",
          });
          return;
        }
        if (p.kind === "add") {
          const minutes = p.lifetime ?? 1440;
          dp.send({
            kind: "binding-add",
            source: "push",
            ipv4: v4,
            ipv6: v6,
            lifetimeMs: minutes * MINUTE_MS,
          });
          log.info("binding.added", {
            ipv4: p.ipv4,
            ipv6: p.clientIpv6,
            source: "push",
            lifetime: minutes,
          });
        } else {
          dp.send({ kind: "binding-remove", ipv4: v4, ipv6: v6 });
          log.info("binding.removed", { ipv4: p.ipv4, ipv6: p.clientIpv6, source: "push" });
        }
      },
      answer(ipv4Text, a) {
        const v4 = inPool(ipv4Text);
        if (v4 === undefined) return;
        if (a.kind === "found") {
          const v6 = clientV6(a.clientIpv6);
          if (v6 === undefined) {
            log.warn("query.answered", {
              ipv4: ipv4Text,
              result: "rejected",
              ipv6: a.clientIpv6,
              why: "outside the client prefixes",
            });
            dp.send({
              kind: "query-answer",
              ipv4: v4,
              result: "failed",
              ipv6: new Uint8Array(16),
              lifetimeMs: 0,
            });
            return;
          }
          log.info("query.answered", {
            ipv4: ipv4Text,
            result: "found",
            ipv6: a.clientIpv6,
            lifetime: a.lifetime,
          });
          dp.send({
            kind: "query-answer",
            ipv4: v4,
            result: "found",
            ipv6: v6,
            lifetimeMs: a.lifetime * MINUTE_MS,
          });
          return;
        }
        log.info("query.answered", {
          ipv4: ipv4Text,
          result: a.kind,
          ...(a.kind === "refused" ? { code: a.code } : { reason: a.reason }),
        });
        dp.send({
          kind: "query-answer",
          ipv4: v4,
          result: a.kind,
          ipv6: new Uint8Array(16),
          lifetimeMs: 0,
        });
      },
      protocolError(reason) {
        log.warn("tep.session.protocol_error", { reason });
      },
    });
    const l = link;
    const status = (): StatusInfo => {
      const snap = dp.stats.snapshot();
      return {
        name: config.name,
        server: endpointText(config.server),
        session: l.state,
        sessionSince: new Date(l.since).toISOString(),
        tspVersion: l.version,
        lastDownReason: l.lastDownReason,
        interface: k.tun.name,
        address: config.address,
        ipv4: config.ipv4,
        pool: config.pool,
        clientPrefixes: config.clientPrefixes,
        bindings: snap.bindings.size,
        pendingQueries: l.pendingQueries,
        queuedPackets: snap.scheduler.queuedPackets,
        dropsTotal: dp.stats.totalDrops(),
        dataPlane: dp.running ? "running" : "stopped",
        uptimeSeconds: Math.round((Date.now() - started) / 1000),
        runtime: runtimeVersion(),
        version: VERSION,
      };
    };
    const stats = (): StatsInfo => ({
      ...dp.stats.snapshot(),
      session: { state: l.state, ...l.counters },
    });
    control = await serveControl(config.control, async (req: CtlRequest): Promise<CtlResponse> => {
      switch (req.command) {
        case "status": {
          await dp.syncStats();
          const s = status();
          return { result: 0, text: formatStatus(s), arguments: s };
        }
        case "bindings": {
          const entries = await dp.dumpBindings();
          return { result: 0, text: formatBindings(entries), arguments: { bindings: entries } };
        }
        case "stats": {
          await dp.syncStats();
          const s = stats();
          return { result: 0, text: formatStats(s), arguments: s };
        }
        default:
          return {
            result: 2,
            text: `unknown command ${req.command} (try status, bindings or stats)`,
          };
      }
    });
    if (config.metrics) {
      metrics = await serveMetrics(config.metrics, tepMetrics(dp.stats, l));
      log.info("tep.metrics.listening", { address: endpointText(config.metrics) });
    }
    l.start();
    log.info("tep.started", {
      name: config.name,
      server: endpointText(config.server),
      address: config.address,
      ipv4: config.ipv4,
      pool: config.pool,
      interface: k.tun.name,
      control: config.control,
      runtime: runtimeVersion(),
    });
    code = await done;
  } finally {
    // The signal handlers stay: removing the last one lets a runtime apply the default action
    // to a signal already being delivered (Deno then dies of SIGTERM instead of exiting 0).
    await link?.stop();
    await host?.stop();
    if (kernel) await teardownKernel(kernel, nl, kernelLog);
    await control?.close();
    await metrics?.close();
    nl.close();
    if (kernel) log.info("tep.stopped", { code });
  }
  return code;
}
