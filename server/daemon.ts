/**
 * The running `dstm-server`: wires the configuration to the lease store, the core service, the
 * TSP listeners, the timers, the control socket and the metrics endpoint, and implements reload
 * (SIGHUP) and graceful stop (SIGTERM/SIGINT). Signals themselves are installed by `app.ts`, so
 * tests can run several daemons in one process.
 *
 * Timers (the only ones): one housekeeping interval (session deadlines, idle/slow-read checks,
 * UDP peers), one lease timer at the allocator's next deadline (clamped to 2^31-1 ms), and the
 * short DIGEST-MD5 flush pause per connection.
 *
 * @module
 */
import type net from "node:net";
import type dgram from "node:dgram";
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { randomBytes } from "node:crypto";
import { clearInterval, clearTimeout, setInterval, setTimeout } from "node:timers";
import { Ipv4Pool, parseCidr4, parseIpv4 } from "../lib/addr/mod.ts";
import { LeaseAllocator, LeaseStore } from "../lib/lease/mod.ts";
import {
  createSaslServer,
  isTsp20Version,
  type MechanismName,
  type ServerSessionOptions,
} from "../lib/tsp/mod.ts";
import { createLogger, type LogFields, type Logger, type LogLevel } from "../lib/log/logger.ts";
import type { CtlRequest, CtlResponse } from "../lib/ctl/protocol.ts";
import { type ControlServer, serveControl } from "../lib/sys/control_socket.ts";
import { MetricsRegistry } from "../lib/metrics/registry.ts";
import type { ConfigIssue } from "../lib/config/config_error.ts";
import type { Endpoint } from "../lib/config/addresses.ts";
import { VERSION } from "../lib/version.ts";
import { runtimeVersion } from "../lib/sys/runtime.ts";
import type { ServerConfig } from "./config.ts";
import { DstmService, type ServiceSettings } from "./dstm_service.ts";
import { COUNTER_FAMILIES, type CounterName, Counters } from "./counters.ts";
import { ConnectionSet, listenTcp, listenUdp, type TcpListener } from "./listeners.ts";
import type { ConnectionDeps } from "./tsp_connection.ts";
import { lockStateDir, type StateLock } from "./state_lock.ts";
import { renderLeases, renderStats, renderStatus, renderTeps, type StatusView } from "./control.ts";

/** Housekeeping period (ms). */
const TICK_MS = 250;
/** Longest delay a Node-style timer takes. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Unsent bytes after which a TCP peer counts as not reading. */
const MAX_WRITE_BACKLOG = 1024 * 1024;

/** The result of a reload. */
export interface ReloadResult {
  /** The new configuration is in force (perhaps without its restart-only changes). */
  readonly ok: boolean;
  /** Why it was refused. */
  readonly issues: readonly ConfigIssue[];
  /** Changed keys that need a restart (kept at their old values). */
  readonly restartNeeded: readonly string[];
}

/** Options of {@link startDaemon}. */
export interface DaemonOptions {
  /** Where log lines go. Default: stderr. */
  readonly writeLog?: (line: string) => void;
  /** Re-read the configuration (SIGHUP). Without it, reload only re-applies the same config. */
  readonly reloadConfig?: () =>
    | { ok: true; config: ServerConfig; warnings: string[] }
    | { ok: false; issues: ConfigIssue[] };
  /** Fsync the journal (default true; tests may turn it off). */
  readonly sync?: boolean;
}

/** A running server. */
export interface Daemon {
  /** Bound TSP listeners: `{ transport, address, port }`. */
  readonly bound: readonly { transport: "tcp" | "udp"; address: string; port: number }[];
  /** The bound metrics endpoint, if any. */
  readonly metrics: { address: string; port: number } | undefined;
  /** The configuration in force. */
  readonly config: ServerConfig;
  /** The core (for tests). */
  readonly service: DstmService;
  /** Counters (for tests). */
  readonly counters: Counters;
  /** Re-read and apply the configuration (SIGHUP). */
  reload(): ReloadResult;
  /** Graceful stop; resolves when done. */
  stop(code?: number): Promise<number>;
  /** Resolves with the exit code once stopped (by `stop` or a fatal store error). */
  readonly done: Promise<number>;
  /** Answer a control request (what the socket does). */
  control(req: CtlRequest): Promise<CtlResponse>;
}

/** A logger whose format and level can be replaced (SIGHUP). */
class SwitchLogger implements Logger {
  #inner: Logger;
  readonly #write: (line: string) => void;
  constructor(write: (line: string) => void, format: "text" | "json", level: LogLevel) {
    this.#write = write;
    this.#inner = createLogger({ write, format, level });
  }
  set(format: "text" | "json", level: LogLevel): void {
    this.#inner = createLogger({ write: this.#write, format, level });
  }
  log(level: LogLevel, event: string, fields?: LogFields): void {
    this.#inner.log(level, event, fields);
  }
  debug(event: string, fields?: LogFields): void {
    this.#inner.debug(event, fields);
  }
  info(event: string, fields?: LogFields): void {
    this.#inner.info(event, fields);
  }
  warn(event: string, fields?: LogFields): void {
    this.#inner.warn(event, fields);
  }
  error(event: string, fields?: LogFields): void {
    this.#inner.error(event, fields);
  }
  enabled(level: LogLevel): boolean {
    return this.#inner.enabled(level);
  }
}

function settingsOf(c: ServerConfig): ServiceSettings {
  return {
    teps: c.teps,
    users: c.users,
    lifetimeMs: c.lifetimeMs,
    tepBindingMaxMinutes: c.tepBindingMaxMinutes,
    limits: { perIpv6: c.maxLeasesPerIpv6, perIdentity: c.maxLeasesPerIdentity },
    dnsServer: c.dnsServer,
    keepaliveSeconds: c.keepaliveSeconds,
    trustRequestAddress: c.trustRequestAddress,
    tepPushQueue: c.tepPushQueue,
  };
}

/** The mechanisms offered under `c`, strongest first. */
export function mechanismsOf(c: ServerConfig): MechanismName[] {
  const m: MechanismName[] = [];
  if (c.users.size > 0) m.push("DIGEST-MD5");
  if (c.allowPlain) m.push("PLAIN");
  if (c.allowAnonymous) m.push("ANONYMOUS");
  return m;
}

/**
 * Versions accepted: every 2.0.x (brief §2.3, §8.6; tsps accepts any `VERSION=2.0.`) and 1.0 (the
 * multi-TEP draft's own examples).
 */
function acceptVersion(version: string): boolean {
  return version === "1.0" || isTsp20Version(version);
}

function sessionOptionsOf(c: ServerConfig): ServerSessionOptions {
  const users = c.users;
  // PLAIN is cleartext: never for a TEP identity (a TEP must use DIGEST-MD5).
  const plainLookup = (u: string) => {
    const x = users.get(u);
    return x && x.role === "client" ? x.password : undefined;
  };
  const digestLookup = (u: string) => users.get(u)?.password;
  const realm = c.realm;
  return {
    mechanisms: mechanismsOf(c),
    acceptVersion,
    createSasl: (mechanism, ctx) =>
      createSaslServer(mechanism, {
        lookup: mechanism === "PLAIN" ? plainLookup : digestLookup,
        realm,
        nonce: () => randomBytes(16).toString("hex"),
        acceptLegacyA1: ctx.version === "2.0.0" || ctx.version.startsWith("1."),
      }),
    authTimeoutMs: c.authTimeoutMs,
    acceptTimeoutMs: 30000,
    idleTimeoutMs: null,
    limits: {
      maxLineLength: c.maxLineLength,
      maxContentLength: c.maxContentLength,
      maxBuffered: Math.max(65536, c.maxLineLength + c.maxContentLength + 2),
    },
  };
}

/** Keys whose change needs a restart. */
const RESTART_KEYS = [
  "listen",
  "pool",
  "exclude",
  "stateDir",
  "control",
  "metrics",
  "quarantineMs",
] as const satisfies readonly (keyof ServerConfig)[];

function teps4InPool(c: ServerConfig): string {
  const cidr = parseCidr4(c.pool);
  if (!cidr.ok) return "";
  const inside: string[] = [];
  for (const t of c.teps) {
    const a = parseIpv4(t.ipv4);
    if (a.ok && ((a.value & cidr.value.mask) >>> 0) === cidr.value.network) inside.push(t.ipv4);
  }
  return inside.sort().join(",");
}

function endpointText(e: { address: string; port: number }): string {
  return e.address.includes(":") ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

/** Start the server with `config`. Throws an `Error` with a one-line message on failure. */
export async function startDaemon(config: ServerConfig, opts: DaemonOptions = {}): Promise<Daemon> {
  const write = opts.writeLog ?? ((line: string) => void process.stderr.write(line));
  const log = new SwitchLogger(write, config.logFormat, config.logLevel);
  let cfg = config;
  const counters = new Counters();
  const clock = () => Date.now();

  // ---- state directory and lease store --------------------------------------------------
  const locked = lockStateDir(cfg.stateDir);
  if (!locked.ok) throw new Error(locked.message);
  const lock: StateLock = locked.lock;
  const cidr = parseCidr4(cfg.pool);
  if (!cidr.ok) {
    lock.release();
    throw new Error(`bad pool ${cfg.pool}`);
  }
  const excluded: number[] = [];
  for (const x of [...cfg.exclude, ...cfg.teps.map((t) => t.ipv4)]) {
    const a = parseIpv4(x);
    if (a.ok) excluded.push(a.value);
  }
  const pool = new Ipv4Pool(cidr.value, excluded);
  // The per-client limits are set (and changed on reload) by the service, from its settings.
  const allocator = new LeaseAllocator({
    pool,
    leaseMs: cfg.lifetimeMs,
    quarantineMinMs: cfg.quarantineMs,
  });
  let fail: (e: Error) => void = () => {};
  const opened = LeaseStore.open({
    dir: cfg.stateDir,
    allocator,
    sync: opts.sync ?? true,
    onFailure: (e) => fail(e),
    // Query replies do not wait for their binding record to reach the disk (see DstmService):
    // after a crash, cover whatever was handed out with the binding cap.
    bindingFloor: { now: Date.now(), capMs: cfg.tepBindingMaxMinutes * 60_000 },
  });
  if (!opened.ok) {
    lock.release();
    throw new Error(
      `cannot open the lease journal in ${cfg.stateDir}: ${opened.reason}` +
        `${opened.file ? ` (${opened.file})` : ""}: ${opened.detail}`,
    );
  }
  const store = opened.store;
  const rec = opened.recovery;
  log.info("store.opened", {
    dir: cfg.stateDir,
    leases: allocator.stats().leased,
    quarantined: allocator.stats().quarantined,
    snapshot: rec.snapshotFound,
    records_replayed: rec.recordsReplayed,
    torn_tails: rec.torn.length,
    outside_pool: rec.outsidePool,
    generation: rec.generation,
  });
  for (const t of rec.torn) {
    log.info("store.torn-tail", { file: t.file, offset: t.offset, dropped_bytes: t.droppedBytes });
  }
  if (rec.outsidePool > 0) {
    log.warn("store.outside-pool", {
      dropped: rec.outsidePool,
      hint: "leases of addresses no longer in the pool were dropped",
    });
  }

  // ---- expiry timer ----------------------------------------------------------------------
  let expiryTimer: ReturnType<typeof setTimeout> | undefined;
  let expiryAt = Infinity;
  let stopping = false;
  const armExpiry = (at: number): void => {
    if (stopping || !(at < Infinity)) return;
    if (expiryTimer !== undefined && expiryAt <= at) return;
    if (expiryTimer !== undefined) clearTimeout(expiryTimer);
    expiryAt = at;
    const delay = Math.min(Math.max(0, at - clock()), MAX_TIMER_MS);
    expiryTimer = setTimeout(onExpiryTimer, delay);
  };
  const service = new DstmService({
    store,
    settings: settingsOf(cfg),
    log,
    counters,
    clock,
    onDeadline: (at) => armExpiry(at),
  });
  function onExpiryTimer(): void {
    expiryTimer = undefined;
    expiryAt = Infinity;
    if (stopping) return;
    try {
      service.expire(clock());
    } catch (e) {
      log.error("lease.expire-error", { error: (e as Error).message });
    }
    armExpiry(Math.max(service.nextDeadline(), clock() + 10));
  }

  // ---- listeners -------------------------------------------------------------------------
  const conns = new ConnectionSet(cfg.maxConnections);
  let sessionOptions = sessionOptionsOf(cfg);
  const deps: ConnectionDeps = {
    service,
    sessionOptions: () => sessionOptions,
    counters,
    log,
    clock,
    timeouts: () => ({
      idleMs: cfg.idleTimeoutMs,
      frameMs: cfg.frameTimeoutMs,
      maxWriteBacklog: MAX_WRITE_BACKLOG,
    }),
  };
  const tcpServers: TcpListener[] = [];
  const udpSockets: dgram.Socket[] = [];
  const bound: { transport: "tcp" | "udp"; address: string; port: number }[] = [];
  let control: ControlServer | undefined;
  let metricsServer: http.Server | undefined;
  let metricsBound: { address: string; port: number } | undefined;
  const closeAll = async () => {
    for (const s of tcpServers) s.close();
    for (const s of udpSockets) {
      try {
        s.close();
      } catch { /* closed */ }
    }
    if (control) await control.close().catch(() => {});
    if (metricsServer) metricsServer.close();
  };
  const dualStackPorts = new Set(
    cfg.listen.filter((e) => e.family === 6 && e.host === "::").map((e) => e.port),
  );
  const startupFail = async (message: string): Promise<never> => {
    await closeAll();
    await store.close().catch(() => {});
    lock.release();
    throw new Error(message);
  };
  for (const ep of cfg.listen) {
    for (const transport of ["tcp", "udp"] as const) {
      try {
        if (transport === "tcp") {
          const s = await listenTcp(ep, deps, conns);
          tcpServers.push(s);
          const a = s.address();
          bound.push({ transport, address: a.address, port: a.port });
        } else {
          const s = await listenUdp(ep, deps, conns);
          udpSockets.push(s);
          const a = s.address();
          bound.push({ transport, address: a.address, port: a.port });
        }
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code === "EADDRINUSE" && ep.family === 4 && dualStackPorts.has(ep.port)) {
          log.info("listen.dual-stack", {
            transport,
            address: `${ep.host}:${ep.port}`,
            note: "IPv4 is already served by the [::] socket on this port",
          });
          continue;
        }
        const hint = err.code === "EACCES" || err.code === "EPERM"
          ? " (permission denied: ports below 1024 need privileges; 3653 does not)"
          : "";
        await startupFail(
          `cannot listen on ${transport} ${
            ep.family === 6 ? `[${ep.host}]` : ep.host
          }:${ep.port}: ` +
            `${err.code ?? err.message}${hint}`,
        );
      }
    }
  }

  // ---- control, metrics, housekeeping ----------------------------------------------------
  const statusView = (): StatusView => {
    const st = allocator.stats();
    const ss = store.stats();
    const now = clock();
    return {
      version: `dstm-server ${VERSION}`,
      runtime: runtimeVersion(),
      pid: process.pid,
      startedAt: new Date(service.startedAt).toISOString(),
      uptimeSeconds: Math.round((now - service.startedAt) / 1000),
      listening: bound.map((b) => `${b.transport} ${endpointText(b)}`),
      pool: {
        cidr: cfg.pool,
        size: st.size,
        leased: st.leased,
        quarantined: st.quarantined,
        available: st.available,
      },
      teps: { configured: cfg.teps.length, up: service.tepsUp },
      connections: { tcp: conns.tcp.size, udp: conns.udp.size, max: conns.maxConnections },
      store: {
        dir: cfg.stateDir,
        generation: ss.generation,
        journalBytes: ss.journalBytes,
        records: ss.records,
      },
      mechanisms: mechanismsOf(cfg),
    };
  };

  const handleControl = (req: CtlRequest): Promise<CtlResponse> => {
    switch (req.command) {
      case "status":
        return Promise.resolve(renderStatus(statusView()));
      case "leases":
        return Promise.resolve(renderLeases(service.leases(clock())));
      case "teps":
        return Promise.resolve(renderTeps(service.teps()));
      case "stats":
        return Promise.resolve(renderStats(counters.toJSON()));
      case "reload": {
        const r = reload();
        return Promise.resolve({
          result: r.ok ? 0 : 1,
          text: r.ok
            ? `configuration reloaded${
              r.restartNeeded.length
                ? `; restart needed to change ${r.restartNeeded.join(", ")}`
                : ""
            }\n`
            : `reload refused, old configuration kept:\n${
              r.issues.map((i) => `  ${i.path}: ${i.message}`).join("\n")
            }\n`,
          arguments: r,
        });
      }
      default:
        return Promise.resolve({
          result: 2,
          text: `unknown command ${req.command} (status, leases, teps, stats, reload)\n`,
        });
    }
  };
  try {
    fs.mkdirSync(path.dirname(cfg.control), { recursive: true });
    control = await serveControl(cfg.control, handleControl);
  } catch (e) {
    await startupFail(
      `cannot open the control socket ${cfg.control}: ${(e as Error).message} ` +
        `(use --control PATH)`,
    );
  }

  if (cfg.metrics) {
    const registry = metricsRegistry(counters, () => statusView(), service);
    const ep: Endpoint = cfg.metrics;
    metricsServer = http.createServer((req, res) => {
      if (req.method === "GET" && (req.url === "/metrics" || req.url?.startsWith("/metrics?"))) {
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4" });
        res.end(registry.render());
      } else {
        res.writeHead(404, { "content-type": "text/plain" });
        res.end("not found: try /metrics\n");
      }
    });
    try {
      await new Promise<void>((resolve, reject) => {
        metricsServer!.once("error", reject);
        metricsServer!.listen(ep.port, ep.host, () => resolve());
      });
      const a = metricsServer.address() as net.AddressInfo;
      metricsBound = { address: a.address, port: a.port };
      log.info("metrics.listening", { address: endpointText(a) });
    } catch (e) {
      await startupFail(`cannot serve metrics on ${ep.host}:${ep.port}: ${(e as Error).message}`);
    }
  }

  const housekeeping = setInterval(() => {
    try {
      conns.tick(clock(), cfg.idleTimeoutMs);
    } catch (e) {
      counters.inc("internal_errors_total");
      log.error("server.internal-error", { error: (e as Error)?.stack ?? String(e) });
    }
  }, TICK_MS);
  armExpiry(service.nextDeadline());

  let resolveDone!: (code: number) => void;
  const done = new Promise<number>((r) => resolveDone = r);
  let stopPromise: Promise<number> | undefined;
  const stop = (code = 0): Promise<number> => {
    if (stopPromise) return stopPromise;
    stopping = true;
    stopPromise = (async () => {
      log.info("server.stopping", { code });
      service.stop();
      clearInterval(housekeeping);
      if (expiryTimer !== undefined) clearTimeout(expiryTimer);
      for (const s of tcpServers) s.close();
      for (const s of udpSockets) {
        try {
          s.close();
        } catch { /* closed */ }
      }
      // Let answers already on their way to disk go out, then close the sessions.
      await Promise.race([
        store.flush().catch(() => {}),
        new Promise((r) => setTimeout(r, 5000).unref()),
      ]);
      await new Promise((r) => setTimeout(r, 20));
      conns.closeAll("server shutting down");
      if (control) await control.close().catch(() => {});
      if (metricsServer) metricsServer.close();
      let exit = code;
      try {
        await store.close();
      } catch (e) {
        log.error("store.close-failed", { error: (e as Error).message });
        exit = exit || 1;
      }
      lock.release();
      log.info("server.stopped", { code: exit });
      resolveDone(exit);
      return exit;
    })();
    return stopPromise;
  };
  fail = (e: Error) => {
    log.error("store.failed", {
      error: e.message,
      action: "stopping; restart the server to recover from the journal",
    });
    void stop(1);
  };

  const reload = (): ReloadResult => {
    const r = opts.reloadConfig
      ? opts.reloadConfig()
      : { ok: true as const, config: cfg, warnings: [] as string[] };
    if (!r.ok) {
      for (const i of r.issues) {
        log.error("config.reload-failed", { path: i.path, issue: i.message });
      }
      log.error("config.kept", { note: "the old configuration stays in force" });
      return { ok: false, issues: r.issues, restartNeeded: [] };
    }
    const next = r.config;
    if (teps4InPool(next) !== teps4InPool(cfg)) {
      const issue = {
        path: "teps",
        message: "TEP IPv4 addresses inside the pool changed: the pool changes, restart needed",
      };
      log.error("config.reload-failed", { path: issue.path, issue: issue.message });
      return { ok: false, issues: [issue], restartNeeded: [] };
    }
    const restartNeeded: string[] = [];
    const merged: ServerConfig = { ...next };
    for (const k of RESTART_KEYS) {
      if (JSON.stringify(next[k]) !== JSON.stringify(cfg[k])) {
        restartNeeded.push(k);
        (merged as unknown as Record<string, unknown>)[k] = cfg[k];
      }
    }
    for (const w of r.warnings) log.warn("config.warning", { message: w });
    if (restartNeeded.length) {
      log.warn("config.restart-needed", {
        keys: restartNeeded.join(","),
        note: "these keys keep their old values until a restart",
      });
    }
    cfg = merged;
    log.set(cfg.logFormat, cfg.logLevel);
    sessionOptions = sessionOptionsOf(cfg);
    conns.maxConnections = cfg.maxConnections;
    service.updateSettings(settingsOf(cfg));
    if (cfg.allowPlain) {
      log.warn("auth.plain-cleartext", { note: "PLAIN sends passwords in clear" });
    }
    log.info("config.reloaded", {
      teps: cfg.teps.map((t) => t.name).join(","),
      users: cfg.users.size,
      lifetime_ms: cfg.lifetimeMs,
      mechanisms: mechanismsOf(cfg).join(","),
      log_level: cfg.logLevel,
    });
    return { ok: true, issues: [], restartNeeded };
  };

  const daemon: Daemon = {
    bound,
    metrics: metricsBound,
    get config() {
      return cfg;
    },
    service,
    counters,
    reload,
    stop,
    done,
    control: handleControl,
  };

  if (cfg.allowPlain) {
    log.warn("auth.plain-cleartext", {
      note: "PLAIN is offered: passwords cross the network in clear; use it only on a " +
        "network you trust (TEPs never authenticate with PLAIN)",
    });
  }
  log.info("server.started", {
    version: VERSION,
    runtime: runtimeVersion(),
    listen: bound.map((b) => `${b.transport}:${endpointText(b)}`).join(","),
    pool: cfg.pool,
    pool_size: pool.size,
    leases: allocator.stats().leased,
    teps: cfg.teps.map((t) => t.name).join(","),
    mechanisms: mechanismsOf(cfg).join(","),
    control: cfg.control,
  });
  return daemon;
}

function metricsRegistry(
  counters: Counters,
  status: () => StatusView,
  service: DstmService,
): MetricsRegistry {
  const r = new MetricsRegistry();
  const g = (name: string, help: string, read: () => number) =>
    r.single(`dstm_server_${name}`, "gauge", help, read);
  g("pool_addresses", "Addresses the pool can lease", () => status().pool.size);
  g("leases", "Live leases", () => status().pool.leased);
  g(
    "quarantined",
    "Addresses in quarantine after a release or expiry",
    () => status().pool.quarantined,
  );
  g("available", "Addresses available now", () => status().pool.available);
  g("teps_configured", "TEPs in the configuration", () => status().teps.configured);
  g("teps_up", "TEPs with an authenticated session", () => status().teps.up);
  g("uptime_seconds", "Seconds since start", () => status().uptimeSeconds);
  g("journal_bytes", "Bytes in the current journal segment", () => status().store.journalBytes);
  r.register({
    name: "dstm_server_sessions",
    type: "gauge",
    help: "Open TSP sessions by transport",
    samples: () => {
      const c = status().connections;
      return [[{ transport: "tcp" }, c.tcp], [{ transport: "udp" }, c.udp]];
    },
  });
  r.register({
    name: "dstm_server_tep_up",
    type: "gauge",
    help: "1 while the TEP has an authenticated session",
    samples: () => service.teps().map((t) => [{ tep: t.name }, t.state === "up" ? 1 : 0]),
  });
  r.register({
    name: "dstm_server_tep_leases",
    type: "gauge",
    help: "Leases assigned to the TEP",
    samples: () => service.teps().map((t) => [{ tep: t.name }, t.leases]),
  });
  for (const name of Object.keys(COUNTER_FAMILIES) as CounterName[]) {
    r.register({
      name: `dstm_server_${name}`,
      type: "counter",
      help: COUNTER_FAMILIES[name].help,
      samples: () => counters.samples(name),
    });
  }
  return r;
}
