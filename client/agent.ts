/**
 * The client host agent's main thread: the lease machine, the TEP monitor and the TSP glue
 * driven by one timer, and the side effects they ask for (protocol.md §5.2, §1.3, §4).
 *
 * ```
 *  TSP (TspGlue) ──granted/refused/failed/server-delete──▶ lease machine ──actions──▶
 *     request / release ──▶ TspGlue          configure / reconfigure-tep / deconfigure ──▶
 *     data plane (at once: lease in or out)  + interface and hooks (in order, one at a time)
 *  TEP monitor ──send-probe──▶ data plane;  ──tep-failed──▶ lease machine (asks the server again)
 *  data plane ──keepalive-reply / tep-unreachable / binding-unknown / mtu──▶ monitor, machine
 * ```
 *
 * - The data plane learns a lease change synchronously (a ring message), so a server `delete` or
 *   an expiry stops traffic at once; the interface and the hooks follow on a serial queue
 *   (`down` hook before the address goes, `up` hook after it is there).
 * - Every input goes through {@link ClientAgent}'s event methods with the injected clock; the one
 *   timer is re-armed at min(lease machine, monitor, TSP session) deadlines, clamped to 2^31−1 ms.
 * - {@link ClientAgent.shutdown} (SIGTERM/SIGINT): release (TSP `delete`, waited for a bounded
 *   time), deconfigure, close the session, stop the data plane.
 *
 * @module
 */
import { type Cidr4, formatIpv4, formatIpv6, parseIpv6 } from "../lib/addr/mod.ts";
import {
  type ClientLeaseAction,
  type ClientLeaseEvent,
  type ClientLeaseState,
  createLeaseMachine,
  type HeldLease,
  hookFor,
  hooksEnv,
  keepaliveIntervalMs,
  type LeaseMachine,
  TepMonitor,
  type TepMonitorAction,
} from "../lib/client/mod.ts";
import type { Logger } from "../lib/log/logger.ts";
import type { MechanismName, SaslClient } from "../lib/tsp/mod.ts";
import type { DataplaneControl } from "./dataplane_host.ts";
import type { HookRunner } from "./hooks.ts";
import type { WorkerEvent } from "./ring_messages.ts";
import type { Connect, Transport } from "./tcp_transport.ts";
import { DomainTepFilter } from "./tep_filter.ts";
import { type GlueOutput, TspGlue } from "./tsp_glue.ts";
import type { TunnelInterface } from "./tunnel_interface.ts";

/** Longest `setTimeout` delay (2^31 − 1 ms). */
export const MAX_TIMER_MS = 0x7fffffff;
/** Shortest gap between two renewals triggered by ICMPv6 1/5 "binding unknown", ms. */
export const BINDING_RENEW_GAP_MS = 60_000;
/** How long shutdown waits for the server to confirm the release, ms. */
export const RELEASE_WAIT_MS = 3_000;

/** A timer the agent can arm and cancel (setTimeout, or a scripted one in tests). */
export interface AgentTimer {
  /** Call `fn` after `ms`. */
  set(fn: () => void, ms: number): unknown;
  /** Cancel a timer from {@link set}. */
  clear(handle: unknown): void;
}

/** The settings the agent uses (a subset of `ClientConfig`). */
export interface AgentSettings {
  /** Server address text as configured (hooks, logs). */
  readonly serverText: string;
  /** Server IPv6. */
  readonly serverHost: string;
  /** Server port. */
  readonly serverPort: number;
  /** Registered IPv6, or undefined (learned from the first connection). */
  readonly source: string | undefined;
  /** IPv4 blocks routed into the tunnel. */
  readonly routes: readonly Cidr4[];
  /** SASL mechanism. */
  readonly mechanism: MechanismName;
  /** Make the SASL client. */
  readonly createSasl: (m: MechanismName) => SaslClient;
  /** Tunnel MTU. */
  readonly mtu: number;
  /** Keepalive interval when the server names none, seconds (0: off). */
  readonly keepaliveSeconds: number;
  /** Misses that declare the TEP failed. */
  readonly keepaliveMisses: number;
  /** TSP per-message timeout, ms. */
  readonly responseTimeoutMs: number;
  /** Lease request timeout, ms. */
  readonly requestTimeoutMs: number;
  /** First backoff delay, ms. */
  readonly retryMs: number;
  /** Renew on ICMPv6 1/5. */
  readonly renewOnBindingUnknown: boolean;
  /** Up hook. */
  readonly up: string | undefined;
  /** Down hook. */
  readonly down: string | undefined;
  /** Testing only: longest lease assumed, ms. */
  readonly leaseCapMs: number | undefined;
}

/** Everything the agent touches, injected. */
export interface AgentDeps {
  /** Settings. */
  readonly settings: AgentSettings;
  /** Logger. */
  readonly log: Logger;
  /** Clock, ms since the epoch. */
  readonly clock: () => number;
  /** The one timer. */
  readonly timer: AgentTimer;
  /** Opens TSP transports. */
  readonly connect: Connect;
  /** The TUN interface (already prepared). */
  readonly iface: TunnelInterface;
  /**
   * A mirror of the data plane's TEP filter (same prefixes; the agent adds each named TEP), for
   * `ctl status`.
   */
  readonly filter: DomainTepFilter;
  /** The data plane (not started: the agent starts it once the source is known). */
  readonly dataplane: DataplaneControl;
  /** Runs hook scripts. */
  readonly runHook: HookRunner;
  /** Random source (backoff and keepalive jitter). */
  readonly random?: () => number;
  /** Called once on a fatal error (the shell shuts down and exits with a failure code). */
  readonly onFatal: (error: unknown) => void;
}

/** The agent's answer to `ctl status` (also the `--json` form). */
export interface AgentStatus {
  /** Lease phase (`requesting`, `bound`, `renewing`, `expiring`, `expired`, ...). */
  phase: string;
  /** The lease held, if any. */
  lease?: {
    ipv4: string;
    tep: string;
    tepIpv4: string;
    lifetimeMinutes: number;
    grantedAt: string;
    renewAt: string;
    rebindAt: string;
    expiresAt: string;
    keepaliveSeconds?: number;
  };
  /** Lease counters and history. */
  leaseStats: {
    grants: number;
    renewals: number;
    tepChanges: number;
    losses: number;
    protocolErrors: number;
    staleEvents: number;
  };
  /** TSP session. */
  tsp: ReturnType<TspGlue["status"]> & { server: string };
  /** TEP liveness. */
  tep: ReturnType<TepMonitor["status"]> & { enabled: boolean };
  /** Accepted tunnel sources. */
  tepSources: { configured: string[]; learnedBlocks: string[]; namedTeps: string[] };
  /** The interface. */
  interface: ReturnType<TunnelInterface["status"]>;
}

/** The client agent; see the module documentation. */
export class ClientAgent {
  readonly #d: AgentDeps;
  readonly #s: AgentSettings;
  readonly #machine: LeaseMachine;
  #state: ClientLeaseState;
  readonly #monitor: TepMonitor;
  readonly #glue: TspGlue;
  readonly #filter: DomainTepFilter;
  #transport: Transport | undefined;
  #timer: unknown = undefined;
  #timerAt = Infinity;
  #queue: Promise<void> = Promise.resolve();
  #dataplaneStart: Promise<void> | undefined;
  #releaseWaiters: (() => void)[] = [];
  #releasesPending = 0;
  #lastBindingRenew = -Infinity;
  #stopped = false;
  #fatal = false;
  #stats = { grants: 0, renewals: 0, tepChanges: 0, losses: 0 };

  /** Build the agent (nothing starts before {@link start}). */
  constructor(deps: AgentDeps) {
    this.#d = deps;
    this.#s = deps.settings;
    const random = deps.random ?? Math.random;
    this.#machine = createLeaseMachine({
      backoffInitialMs: this.#s.retryMs,
      backoffMaxMs: Math.max(this.#s.retryMs, 60_000),
      requestTimeoutMs: this.#s.requestTimeoutMs,
      random,
    });
    this.#state = this.#machine.initial;
    this.#monitor = new TepMonitor({
      intervalMs: keepaliveIntervalMs(undefined, this.#s.keepaliveSeconds || 30),
      missLimit: this.#s.keepaliveMisses,
      random,
    });
    this.#glue = new TspGlue({
      mechanism: this.#s.mechanism,
      createSasl: this.#s.createSasl,
      source: this.#s.source,
      responseTimeoutMs: this.#s.responseTimeoutMs,
      ...(this.#s.leaseCapMs !== undefined ? { leaseCapMs: this.#s.leaseCapMs } : {}),
    });
    this.#filter = deps.filter;
  }

  /** The current lease state (tests, status). */
  get state(): ClientLeaseState {
    return this.#state;
  }

  /** The registered IPv6 address, once known. */
  get source(): string | undefined {
    return this.#glue.source;
  }

  /** Resolves when every queued interface/hook change is done (tests, shutdown). */
  settled(): Promise<void> {
    return this.#queue;
  }

  /** Begin: start the data plane if the source is known, then ask for a lease. */
  start(): void {
    if (this.#glue.source !== undefined) this.#startDataplane(this.#glue.source);
    this.#feed({ kind: "start", now: this.#d.clock() });
  }

  /**
   * Release the lease and take everything down (SIGTERM/SIGINT). Resolves when done; the data
   * plane is stopped last.
   */
  async shutdown(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    const now = this.#d.clock();
    this.#feed({ kind: "stop", now });
    if (this.#releasesPending > 0) {
      let timer: unknown;
      await Promise.race([
        new Promise<void>((r) => this.#releaseWaiters.push(r)),
        new Promise<void>((r) => (timer = this.#d.timer.set(r, RELEASE_WAIT_MS))),
      ]);
      this.#d.timer.clear(timer);
    }
    await this.#queue;
    this.#apply(this.#glue.close(this.#d.clock()));
    this.#disarm();
    this.#monitor.stop();
    await this.#d.dataplane.stop();
  }

  // --- inputs ------------------------------------------------------------------------------

  /** The one timer fired (or a test advanced the clock). */
  onTimer(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = this.#d.clock();
    this.#apply(this.#glue.tick(now));
    this.#feed({ kind: "tick", now });
    this.#monitorActions(this.#monitor.onTick(now), now);
    this.#rearm();
  }

  /** An event from the data-plane Worker. */
  onDataplaneEvent(e: WorkerEvent): void {
    const now = this.#d.clock();
    switch (e.kind) {
      case "keepalive-reply":
        this.#monitorActions(this.#monitor.onReply(e.seq, e.at), now);
        break;
      case "tep-unreachable":
        this.#d.log.info("tep.unreachable", { icmpv6_type: e.type, icmpv6_code: e.code });
        this.#monitorActions(this.#monitor.onIcmpError(e.at), now);
        break;
      case "binding-unknown":
        this.#d.log.warn("tep.binding-unknown", {
          policy: this.#s.renewOnBindingUnknown ? "renew" : "ignore",
        });
        if (this.#s.renewOnBindingUnknown && now - this.#lastBindingRenew >= BINDING_RENEW_GAP_MS) {
          this.#lastBindingRenew = now;
          this.#feed({ kind: "tep-failed", now, reason: "binding-unknown" });
        }
        break;
      case "mtu":
        this.#d.log.info("tunnel.mtu-lowered", { mtu: e.mtu });
        this.#enqueue("set MTU", () => this.#d.iface.setMtu(e.mtu));
        break;
      case "error":
        this.#d.log.error("dataplane.failed", { error: e.message });
        this.#die(new Error(`data plane failed: ${e.message}`));
        break;
      default:
        break;
    }
    this.#rearm();
  }

  /** The `ctl status` answer. */
  status(): AgentStatus {
    const s = this.#state;
    const iso = (t: number) => new Date(t).toISOString();
    const lease = "lease" in s ? s.lease : undefined;
    return {
      phase: s.phase,
      ...(lease
        ? {
          lease: {
            ipv4: formatIpv4(lease.ipv4),
            tep: formatIpv6(lease.tep.ipv6),
            tepIpv4: formatIpv4(lease.tep.ipv4),
            lifetimeMinutes: lease.lifetimeMinutes,
            grantedAt: iso(lease.grantedAt),
            renewAt: iso(lease.t1),
            rebindAt: iso(lease.t2),
            expiresAt: iso(lease.expiresAt),
            ...(lease.keepaliveSeconds !== undefined
              ? { keepaliveSeconds: lease.keepaliveSeconds }
              : {}),
          },
        }
        : {}),
      leaseStats: { ...this.#stats, ...s.counters },
      tsp: { ...this.#glue.status(), server: this.#s.serverText },
      tep: { ...this.#monitor.status(), enabled: this.#keepaliveFor(lease) > 0 },
      tepSources: {
        configured: this.#filter.prefixes().map((p) => `${formatIpv6(p.network)}/${p.prefix}`),
        learnedBlocks: this.#filter.learnsBlocks
          ? this.#filter.learnedBlocks().map((p) => `${formatIpv6(p.network)}/${p.prefix}`)
          : [],
        namedTeps: this.#filter.learnedTeps().map((t) => formatIpv6(t)),
      },
      interface: this.#d.iface.status(),
    };
  }

  // --- the lease machine -------------------------------------------------------------------

  #feed(ev: ClientLeaseEvent): void {
    const before = this.#state;
    const [next, actions] = this.#machine.step(before, ev);
    this.#state = next;
    for (const a of actions) this.#perform(a, ev.now);
    // A renewal that changed the keepalive interval (the server's value wins, §2.8).
    if ("lease" in next && "lease" in before && next.lease !== before.lease) {
      const ms = this.#keepaliveFor(next.lease);
      const st = this.#monitor.status();
      if (ms > 0 && st.active && st.intervalMs !== ms) this.#monitor.start(ev.now, ms);
    }
    this.#rearm();
  }

  #keepaliveFor(lease: HeldLease | undefined): number {
    if (lease?.keepaliveSeconds !== undefined) return keepaliveIntervalMs(lease.keepaliveSeconds);
    return this.#s.keepaliveSeconds > 0 ? keepaliveIntervalMs(this.#s.keepaliveSeconds) : 0;
  }

  #perform(a: ClientLeaseAction, now: number): void {
    const dp = this.#d.dataplane;
    switch (a.kind) {
      case "log":
        this.#d.log.log(a.level, a.event, a.fields);
        if (a.event === "lease.renewed") this.#stats.renewals++;
        return;
      case "request":
        this.#apply(this.#glue.request(now, a.id, a.ipv4));
        return;
      case "release":
        this.#releasesPending++;
        this.#apply(this.#glue.release(now, a.lease.ipv4));
        return;
      case "configure": {
        this.#stats.grants++;
        const lease = a.lease;
        dp.setLease(lease);
        this.#filter.addTep(lease.tep.ipv6);
        this.#startMonitor(lease, now);
        this.#enqueue("configure", async () => {
          await this.#dataplaneStart;
          await this.#d.iface.up(lease.ipv4, this.#s.routes);
          await this.#hook(a);
        });
        return;
      }
      case "reconfigure-tep": {
        this.#stats.tepChanges++;
        const lease = a.lease;
        dp.setLease(lease);
        this.#filter.addTep(lease.tep.ipv6);
        this.#startMonitor(lease, now);
        this.#enqueue("reconfigure-tep", () => this.#hook(a));
        return;
      }
      case "deconfigure":
        if (a.reason !== "stopped" && a.reason !== "replaced") this.#stats.losses++;
        this.#monitor.stop();
        dp.clearLease();
        this.#enqueue("deconfigure", async () => {
          await this.#hook(a);
          await this.#d.iface.down();
        });
        return;
    }
  }

  #startMonitor(lease: HeldLease, now: number): void {
    const ms = this.#keepaliveFor(lease);
    if (ms > 0) this.#monitor.start(now, ms);
    else this.#monitor.stop();
  }

  async #hook(a: ClientLeaseAction): Promise<void> {
    const h = hookFor(a);
    if (h === undefined) return;
    const script = h.event === "down" ? this.#s.down : this.#s.up;
    if (script === undefined) return;
    const source = this.#glue.source;
    const local = source === undefined ? undefined : parseIpv6(source);
    const env = hooksEnv({
      ...h,
      interfaceName: this.#d.iface.name,
      localIpv6: local?.ok ? local.value : new Uint8Array(16),
      mtu: this.#d.iface.status().mtu || this.#s.mtu,
      routes: this.#s.routes,
      server: this.#s.serverText,
    });
    const r = await this.#d.runHook(script, env);
    const fields = {
      script,
      event: h.event,
      code: r.code,
      signal: r.signal ?? undefined,
      timed_out: r.timedOut || undefined,
      error: r.error,
    };
    if (r.code === 0) this.#d.log.info("hook.done", fields);
    else this.#d.log.warn("hook.failed", fields);
  }

  #enqueue(what: string, job: () => Promise<void>): void {
    this.#queue = this.#queue.then(job).catch((e) => {
      this.#d.log.error("interface.failed", {
        step: what,
        error: e instanceof Error ? e.message : String(e),
      });
      this.#die(e);
    });
  }

  #die(e: unknown): void {
    if (this.#fatal) return;
    this.#fatal = true;
    this.#d.onFatal(e);
  }

  // --- the TEP monitor ---------------------------------------------------------------------

  #monitorActions(actions: TepMonitorAction[], now: number): void {
    for (const a of actions) {
      switch (a.kind) {
        case "send-probe":
          this.#d.dataplane.probe(a.seq);
          break;
        case "tep-failed":
          this.#d.log.warn("tep.failed", { reason: a.reason, misses: a.misses });
          this.#feed({ kind: "tep-failed", now, reason: a.reason });
          break;
        case "tep-recovered":
          this.#d.log.info("tep.recovered", { rtt_ms: a.rttMs });
          break;
      }
    }
  }

  // --- TSP -----------------------------------------------------------------------------------

  #apply(outputs: GlueOutput[]): void {
    for (const o of outputs) {
      switch (o.kind) {
        case "connect":
          this.#openTransport(o.source);
          break;
        case "send":
          this.#transport?.write(o.bytes);
          break;
        case "close":
          this.#transport?.close();
          this.#transport = undefined;
          break;
        case "lease-event":
          this.#feed(o.event);
          break;
        case "server-delete": {
          const s = this.#state;
          if ("lease" in s && s.lease.ipv4 === o.ipv4) {
            this.#d.log.warn("lease.server-delete", { ipv4: formatIpv4(o.ipv4) });
            this.#feed({ kind: "server-delete", now: this.#d.clock() });
          } else {
            this.#d.log.info("lease.server-delete-ignored", {
              ipv4: formatIpv4(o.ipv4),
              why: "not the current lease",
            });
          }
          break;
        }
        case "released":
          this.#d.log.log(o.ok ? "info" : "warn", "lease.released", {
            ipv4: formatIpv4(o.ipv4),
            confirmed: o.ok,
            detail: o.detail,
          });
          if (this.#releasesPending > 0) this.#releasesPending--;
          if (this.#releasesPending === 0) {
            for (const w of this.#releaseWaiters.splice(0)) w();
          }
          break;
        case "source":
          this.#d.log.info("tsp.source", { source: o.source, from: "kernel route to the server" });
          this.#startDataplane(o.source);
          break;
        case "log":
          this.#d.log.log(o.level, o.event, o.fields);
          break;
      }
    }
  }

  #openTransport(source: string | undefined): void {
    const target = {
      host: this.#s.serverHost,
      port: this.#s.serverPort,
      ...(source !== undefined ? { localAddress: source } : {}),
    };
    let t: Transport | undefined = undefined;
    const current = () => t !== undefined && this.#transport === t;
    t = this.#d.connect(target, {
      connected: (local) => {
        if (!current()) return;
        this.#apply(this.#glue.connected(this.#d.clock(), local));
        this.#rearm();
      },
      data: (bytes) => {
        if (!current()) return;
        this.#apply(this.#glue.data(this.#d.clock(), bytes));
        this.#rearm();
      },
      closed: (reason) => {
        if (!current()) return;
        this.#transport = undefined;
        this.#d.log.info("tsp.closed", { reason });
        this.#apply(this.#glue.closed(this.#d.clock(), reason));
        this.#rearm();
      },
    });
    this.#transport = t;
  }

  #startDataplane(source: string): void {
    if (this.#dataplaneStart !== undefined) return;
    this.#dataplaneStart = this.#d.dataplane.start(source).catch((e) => {
      this.#d.log.error("dataplane.start-failed", {
        error: e instanceof Error ? e.message : String(e),
      });
      this.#die(e);
      throw e;
    });
    // Failures are reported through onFatal; keep the rejection from being unhandled here.
    this.#dataplaneStart.catch(() => {});
  }

  // --- the one timer -------------------------------------------------------------------------

  #rearm(): void {
    if (this.#stopped && this.#releasesPending === 0 && !this.#glue.busy) {
      this.#disarm();
      return;
    }
    const at = Math.min(
      this.#machine.pollAt(this.#state),
      this.#monitor.pollAt(),
      this.#glue.pollAt(),
    );
    if (at === this.#timerAt && this.#timer !== undefined) return;
    this.#disarm();
    if (at === Infinity) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, at - this.#d.clock()));
    this.#timerAt = at;
    this.#timer = this.#d.timer.set(() => this.onTimer(), delay);
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#d.timer.clear(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }
}
