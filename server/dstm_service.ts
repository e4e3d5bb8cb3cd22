/**
 * The DSTM server's core: answers the commands of authenticated TSP sessions from the durable
 * lease store, keeps the TEP registry (a TEP is live while its authenticated session is open),
 * and fans pushes out to TEPs and clients (protocol brief §1.3, §1.4, §3, §5.3, §6; PUSH.md).
 *
 * No sockets and no timers here: sessions are {@link SessionHandle}s implemented by the shell,
 * time comes from the injected clock, and the only I/O is the {@link LeaseStore}'s journal.
 * The pure decisions live beside it: `tep_select.ts` (assignment, failover),
 * `binding_lifetime.ts`, `push_targets.ts`, `client_address.ts`, `tep_outbox.ts`. The
 * per-client limits are the lease table's own (`LeaseAllocator.setLimits`, set from the settings
 * at start and on every reload).
 *
 * Ordering rules (the store's contract):
 * - an `info` (allocation, renewal, query answer) is sent only after the change it reports is on
 *   disk (`durable`);
 * - a binding push is sent only after the TTL it carries is on disk (`noteQuery`; query replies
 *   do not wait, see `#query`), so the
 *   quarantine of the address covers it even after a crash;
 * - a removal push is sent after the release/expiry is on disk.
 *
 * Pushes to one TEP go out in order through its {@link TepOutbox}, paced by what the transport
 * can take ({@link SessionHandle.pushCapacity}); when the outbox overflows, the TEP's session is
 * closed and the TEP gets a full resync when it reconnects.
 *
 * @module
 */
import {
  allocationInfo,
  bindingPush,
  firstAddress,
  leaseDeletePush,
  queryInfo,
  readQueryKey,
  readRequestAddresses,
  type ServerAction,
  type ServerReply,
  Status,
  type TunnelMessage,
} from "../lib/tsp/mod.ts";
import type { Committed, Lease, LeaseEvent, LeaseStore } from "../lib/lease/mod.ts";
import { formatIpv4, formatIpv6, parseIpv4 } from "../lib/addr/mod.ts";
import type { Credential } from "../lib/auth/credentials.ts";
import type { Logger } from "../lib/log/logger.ts";
import type { TepConfig } from "./config.ts";
import { chooseTep, renewalTep, type TepCandidate } from "./tep_select.ts";
import { bindingMinutes, leaseMinutes, MINUTE_MS } from "./binding_lifetime.ts";
import { removalTargets } from "./push_targets.ts";
import { resolveClientIpv6 } from "./client_address.ts";
import { TepOutbox } from "./tep_outbox.ts";
import type { Counters } from "./counters.ts";

/** A `request` action of a TSP server session. */
export type RequestAction = Extract<ServerAction, { kind: "request" }>;

/** One TSP session as the service sees it (implemented by the shell's connection). */
export interface SessionHandle {
  /** Transport of the session. */
  readonly transport: "tcp" | "udp";
  /** Peer address text as the socket reports it. */
  readonly peerAddress: string;
  /** Peer port. */
  readonly peerPort: number;
  /** How many pushes the session can take right now without queueing beyond its transport. */
  pushCapacity(): number;
  /** Send a server-initiated message; `false` when it could not be queued. */
  push(message: TunnelMessage): boolean;
  /** Close the session (answers nothing more). */
  close(reason: string): void;
}

/**
 * Per-client lease limits (protocol brief §6 row 9), enforced by the lease table: a reload
 * applies them to new leases, leases already held stay.
 */
export interface ClientLimits {
  /** Live leases per client IPv6 address. */
  readonly perIpv6: number;
  /** Live leases per non-anonymous identity. */
  readonly perIdentity: number;
}

/** The settings the service uses; SIGHUP replaces them with {@link DstmService.updateSettings}. */
export interface ServiceSettings {
  /** The TEPs of the domain, in configuration order. */
  readonly teps: readonly TepConfig[];
  /** Users from the credentials file. */
  readonly users: ReadonlyMap<string, Credential>;
  /** Lease lifetime handed out, ms. */
  readonly lifetimeMs: number;
  /** Longest binding lifetime handed to a TEP, minutes. */
  readonly tepBindingMaxMinutes: number;
  /** Per-client limits. */
  readonly limits: ClientLimits;
  /** `<dns_server>` sent to clients. */
  readonly dnsServer?: string;
  /** Keepalive interval sent to clients (0: none). */
  readonly keepaliveSeconds: number;
  /** See `ServerConfig.trustRequestAddress`. */
  readonly trustRequestAddress: boolean;
  /** Outbox bound per TEP. */
  readonly tepPushQueue: number;
  /**
   * After start, how long a TEP that has not connected yet keeps its leases on renewal (default
   * 10 s): TEPs reconnect within a second or two of a server restart.
   */
  readonly tepStartupGraceMs?: number;
}

/** What an authenticated session is. */
export type SessionRole = "client" | "tep";

interface PendingAccept {
  readonly ipv4: number;
  readonly isNew: boolean;
}

interface SessionCtx {
  readonly role: SessionRole;
  /** TEP name (role tep). */
  readonly tep?: string;
  /** The SASL identity. */
  readonly identity: string;
  /** The identity leases are recorded under (`""` for ANONYMOUS). */
  readonly leaseIdentity: string;
  readonly pending: Map<number, PendingAccept>;
  readonly leases: Set<number>;
}

interface TepState {
  config: TepConfig;
  link: SessionHandle | undefined;
  since: number;
  readonly outbox: TepOutbox;
  inflight: number;
  chain: Promise<void>;
  pushes: number;
  resyncTotal: number;
  /** Still in the configuration (false after a reload removed it). */
  configured: boolean;
  /** It has had a session since this process started. */
  everUp: boolean;
}

/** A lease as `ctl leases` lists it. */
export interface LeaseView {
  /** Leased IPv4. */
  readonly ipv4: string;
  /** Client IPv6. */
  readonly clientIpv6: string;
  /** Identity (`""` anonymous). */
  readonly identity: string;
  /** Assigned TEP. */
  readonly tep: string;
  /** Expiry, ISO 8601. */
  readonly expiresAt: string;
  /** Seconds left. */
  readonly remainingSeconds: number;
  /** Other TEPs that may hold a binding. */
  readonly tepsThatQueried: readonly string[];
  /** Latest binding TTL handed out, ISO 8601 (empty when none). */
  readonly bindingUntil: string;
}

/** A TEP as `ctl teps` lists it. */
export interface TepView {
  /** Name. */
  readonly name: string;
  /** TEPV6ADDR. */
  readonly ipv6: string;
  /** TEPV4ADDR. */
  readonly ipv4: string;
  /** `up` when its session is authenticated. */
  readonly state: "up" | "down";
  /** Since when (ISO 8601; process start for a TEP never seen). */
  readonly since: string;
  /** Peer of the session, when up. */
  readonly peer: string;
  /** Transport of the session, when up. */
  readonly transport: string;
  /** Leases assigned. */
  readonly leases: number;
  /** Pushes sent over its sessions since start. */
  readonly pushes: number;
  /** Pushes waiting. */
  readonly queued: number;
  /** False when a reload removed it (its leases move on renewal). */
  readonly configured: boolean;
}

/** Options of {@link DstmService}. */
export interface ServiceOptions {
  /** The opened lease store. */
  readonly store: LeaseStore;
  /** Initial settings. */
  readonly settings: ServiceSettings;
  /** Logger. */
  readonly log: Logger;
  /** Counters. */
  readonly counters: Counters;
  /** Wall clock in ms (lease times are absolute and survive restarts). */
  readonly clock: () => number;
  /** Told whenever the next lease deadline may have moved earlier (arm the expiry timer). */
  readonly onDeadline?: (at: number) => void;
}

const RESOLVED: Promise<void> = Promise.resolve();
/** Least time between two `tep.none-live` warnings (ms); the ones between are counted. */
const NONE_LIVE_LOG_MS = 10_000;

function reply(code: number, close = false): ServerReply {
  return close ? { code, close } : { code };
}

/** The DSTM server's core; see the module documentation. */
export class DstmService {
  readonly #store: LeaseStore;
  readonly #log: Logger;
  readonly #counters: Counters;
  readonly #clock: () => number;
  readonly #onDeadline: (at: number) => void;
  #settings: ServiceSettings;
  readonly #teps = new Map<string, TepState>();
  readonly #sessions = new Map<SessionHandle, SessionCtx>();
  /** Lease IPv4 → the client session that last created/renewed it (lease delete pushes). */
  readonly #clientSessions = new Map<number, SessionHandle>();
  readonly #started: number;
  #stopping = false;
  /** When `tep.none-live` was last logged, and how many were held back since (see #create). */
  #noneLiveAt = -Infinity;
  #noneLiveHeld = 0;

  /** Build the service over an opened store; the settings' limits go to its lease table. */
  constructor(o: ServiceOptions) {
    this.#store = o.store;
    this.#log = o.log;
    this.#counters = o.counters;
    this.#clock = o.clock;
    this.#onDeadline = o.onDeadline ?? (() => {});
    this.#settings = o.settings;
    this.#started = o.clock();
    this.#applyLimits();
    this.#syncTeps();
  }

  /** The settings in force. */
  get settings(): ServiceSettings {
    return this.#settings;
  }

  /**
   * Replace the settings (SIGHUP). TEPs removed from the list lose their session; new limits
   * apply to new leases (leases already held stay).
   */
  updateSettings(s: ServiceSettings): void {
    this.#settings = s;
    this.#applyLimits();
    this.#syncTeps();
  }

  /** Stop pushing (shutdown). */
  stop(): void {
    this.#stopping = true;
  }

  /** Next time something in the lease table is due (ms), `Infinity` if nothing. */
  nextDeadline(): number {
    return this.#store.allocator.pollAt();
  }

  /** Expire what is due (call at {@link nextDeadline}). */
  expire(now: number = this.#clock()): void {
    this.#commit(this.#store.expire(now));
  }

  // ---- sessions --------------------------------------------------------------------------

  /**
   * A session authenticated. It is a TEP session when the identity is a configured TEP whose
   * user has role `tep` and it used DIGEST-MD5 (ANONYMOUS and PLAIN never authenticate a TEP);
   * the TEP is then live and gets a full resync.
   */
  sessionAuthenticated(h: SessionHandle, identity: string, mechanism: string): SessionRole {
    const user = this.#settings.users.get(identity);
    const st = this.#teps.get(identity);
    const isTep = mechanism === "DIGEST-MD5" && user?.role === "tep" && st !== undefined &&
      st.configured;
    const ctx: SessionCtx = {
      role: isTep ? "tep" : "client",
      tep: isTep ? identity : undefined,
      identity,
      leaseIdentity: mechanism === "ANONYMOUS" ? "" : identity,
      pending: new Map(),
      leases: new Set(),
    };
    this.#sessions.set(h, ctx);
    if (!isTep) {
      if (user?.role === "tep") {
        this.#log.warn("tep.unknown", { user: identity, peer: h.peerAddress });
      }
      return "client";
    }
    const now = this.#clock();
    const old = st!.link;
    if (old && old !== h) {
      this.#counters.inc("tep_sessions_total", ["replaced"]);
      this.#log.warn("tep.replaced", { tep: identity, old_peer: old.peerAddress });
      st!.link = undefined;
      old.close("replaced by a new session of the same TEP");
    }
    const leases = this.#store.allocator.leasesOfTep(identity);
    st!.link = h;
    st!.everUp = true;
    st!.since = now;
    st!.inflight = 0;
    st!.chain = RESOLVED;
    st!.resyncTotal = leases.length;
    st!.outbox.startResync(leases);
    this.#counters.inc("tep_sessions_total", ["up"]);
    this.#log.info("tep.up", {
      tep: identity,
      peer: h.peerAddress,
      transport: h.transport,
      resync: leases.length,
    });
    this.#pump(st!);
    return "tep";
  }

  /** The session can take pushes again (idle after a reply, TCP drained, UDP answered). */
  sessionReady(h: SessionHandle): void {
    const ctx = this.#sessions.get(h);
    if (ctx?.tep === undefined) return;
    const st = this.#teps.get(ctx.tep);
    if (st && st.link === h) this.#pump(st);
  }

  /**
   * True while `h` is the open session of a live lease it created: the session that a
   * server-sent lease `delete` would travel on, so the idle timeout must not close it.
   */
  holdsLease(h: SessionHandle): boolean {
    const ctx = this.#sessions.get(h);
    if (!ctx) return false;
    for (const ipv4 of ctx.leases) if (this.#clientSessions.get(ipv4) === h) return true;
    return false;
  }

  /** The session ended (either side). A TEP goes down. */
  sessionClosed(h: SessionHandle, reason: string): void {
    const ctx = this.#sessions.get(h);
    if (!ctx) return;
    this.#sessions.delete(h);
    for (const ipv4 of ctx.leases) {
      if (this.#clientSessions.get(ipv4) === h) this.#clientSessions.delete(ipv4);
    }
    if (ctx.tep === undefined) return;
    const st = this.#teps.get(ctx.tep);
    if (!st || st.link !== h) return;
    const now = this.#clock();
    st.link = undefined;
    st.outbox.clear();
    this.#counters.inc("tep_sessions_total", ["down"]);
    this.#log.warn("tep.down", {
      tep: ctx.tep,
      reason,
      up_seconds: Math.round((now - st.since) / 1000),
    });
    st.since = now;
  }

  /** The accept step of a `create` ended: a rejected new lease is released at once. */
  acceptOutcome(h: SessionHandle, id: number, outcome: string): void {
    const ctx = this.#sessions.get(h);
    const p = ctx?.pending.get(id);
    if (!ctx || !p) return;
    ctx.pending.delete(id);
    if (outcome !== "reject" || !p.isNew) return;
    const now = this.#clock();
    const lease = this.#store.allocator.lookup(p.ipv4, now);
    if (!lease.ok) return;
    this.#log.info("lease.rejected", { ipv4: formatIpv4(p.ipv4) });
    this.#commit(
      this.#store.release(p.ipv4, now, {
        clientIpv6: lease.lease.clientIpv6,
        identity: lease.lease.identity,
      }),
      h,
    );
  }

  /**
   * Answer a command. `query` and `info` are answered at once (the connection then goes on with
   * the next pipelined command in the same read); `create` and `delete` wait for the disk and
   * answer through a promise. Never throws or rejects: failures become `310 Server side error`
   * and a close.
   */
  request(h: SessionHandle, req: RequestAction): ServerReply | Promise<ServerReply> {
    const action = req.command.action;
    if (action !== "query" && action !== "info") return this.#requestAsync(h, req);
    let r: ServerReply;
    try {
      const ctx = this.#sessions.get(h);
      if (!ctx) r = reply(Status.AUTH_FAILED, true);
      else r = action === "query" ? this.#query(h, ctx, req) : this.#info(h, ctx, req);
    } catch (e) {
      r = this.#requestFailed(action, e);
    }
    this.#counters.inc("requests_total", [action, String(r.code)]);
    return r;
  }

  async #requestAsync(h: SessionHandle, req: RequestAction): Promise<ServerReply> {
    const action = req.command.action;
    let r: ServerReply;
    try {
      const ctx = this.#sessions.get(h);
      if (!ctx) r = reply(Status.AUTH_FAILED, true);
      else if (req.command.action === "create") r = await this.#create(h, ctx, req);
      else if (req.command.action === "delete") r = await this.#delete(h, ctx, req);
      else r = reply(Status.INVALID_REQUEST);
    } catch (e) {
      r = this.#requestFailed(action, e);
    }
    this.#counters.inc("requests_total", [action, String(r.code)]);
    return r;
  }

  #requestFailed(action: string, e: unknown): ServerReply {
    const err = e as Error;
    if (this.#store.failure) {
      this.#log.error("request.store-failed", { action, error: err?.message });
    } else {
      this.#counters.inc("internal_errors_total");
      this.#log.error("server.internal-error", { action, error: err?.stack ?? String(e) });
    }
    return reply(Status.SERVER_ERROR, true);
  }

  // ---- commands --------------------------------------------------------------------------

  #clientAddress(h: SessionHandle, requested: string | undefined) {
    return resolveClientIpv6(h.peerAddress, requested, this.#settings.trustRequestAddress);
  }

  #refuse(reason: string, code: number, fields: Record<string, string | number>): ServerReply {
    this.#counters.inc("lease_refusals_total", [reason]);
    this.#log.info("lease.refused", { reason, code, ...fields });
    return reply(code);
  }

  async #create(h: SessionHandle, ctx: SessionCtx, req: RequestAction): Promise<ServerReply> {
    if (ctx.role === "tep") {
      this.#log.warn("request.refused", { identity: ctx.identity, action: "create", why: "tep" });
      return reply(Status.AUTH_FAILED, true);
    }
    const s = this.#settings;
    const { clientIpv6: reqV6, ipv4: reqV4 } = readRequestAddresses(req.command);
    const who = this.#clientAddress(h, reqV6);
    if (!who.ok) {
      return this.#refuse(`ipv6-${who.reason}`, Status.DSTM_INVALID_IPV6, { peer: h.peerAddress });
    }
    let requested: number | undefined;
    if (reqV4 !== undefined) {
      const p = parseIpv4(reqV4);
      if (!p.ok) return this.#refuse("bad-ipv4", Status.INVALID_IPV4, { peer: h.peerAddress });
      requested = p.value;
    }
    const now = this.#clock();
    const cands = this.#candidates();
    const choice = chooseTep(cands);
    if (!choice) return reply(Status.SERVER_ERROR);
    const c = this.#commit(
      this.#store.create({
        clientIpv6: who.ipv6,
        identity: ctx.leaseIdentity,
        tep: choice.name,
        requestedIpv4: requested,
        lifetimeMs: s.lifetimeMs,
      }, now),
    );
    if (!c.result.ok) {
      await c.durable;
      if (c.result.reason === "pool-exhausted") {
        this.#log.warn("pool.exhausted", { client: formatIpv6(who.ipv6) });
      }
      return this.#refuse(c.result.reason, c.result.code, { client: formatIpv6(who.ipv6) });
    }
    let lease = c.result.lease;
    const renewed = c.result.renewed;
    let durable = c.durable;
    if (!renewed && choice.fallback) this.#warnNoneLive(now, lease.ipv4, choice.name);
    if (renewed) {
      const move = renewalTep(lease.tep, cands);
      if (move.kind === "move") {
        const m = this.#commit(this.#store.reassign(lease.ipv4, move.to, now));
        if (m.durable !== durable) durable = Promise.all([durable, m.durable]).then(() => {});
        if (m.result.ok) lease = m.result.lease;
        this.#log.warn("lease.failover", {
          ipv4: formatIpv4(lease.ipv4),
          to: move.to,
          reason: move.reason,
        });
      }
    }
    await durable;
    const tep = this.#teps.get(lease.tep)?.config;
    if (!tep) return reply(Status.SERVER_ERROR);
    this.#enqueueAdd(lease.tep, lease.ipv4);
    ctx.leases.add(lease.ipv4);
    this.#clientSessions.set(lease.ipv4, h);
    if (req.acceptStep) ctx.pending.set(req.id, { ipv4: lease.ipv4, isNew: !renewed });
    return {
      code: Status.SUCCESS,
      message: allocationInfo({
        ipv4: formatIpv4(lease.ipv4),
        tepIpv4: tep.ipv4,
        tepIpv6: tep.ipv6,
        lifetime: leaseMinutes(s.lifetimeMs),
        clientIpv6: formatIpv6(lease.clientIpv6),
        ...(s.dnsServer ? { dnsServers: [{ type: "ipv6" as const, value: s.dnsServer }] } : {}),
        ...(s.keepaliveSeconds > 0
          ? {
            keepalive: {
              interval: s.keepaliveSeconds,
              addresses: [{ type: "ipv4" as const, value: tep.ipv4 }],
            },
          }
          : {}),
      }),
    };
  }

  /**
   * `tep.none-live`: a lease assigned while no TEP is up. At most one line per
   * {@link NONE_LIVE_LOG_MS} (with no TEP up, every allocation would log one), carrying how many
   * were held back since the previous line.
   */
  #warnNoneLive(now: number, ipv4: number, assigned: string): void {
    if (now - this.#noneLiveAt < NONE_LIVE_LOG_MS) {
      this.#noneLiveHeld++;
      return;
    }
    const held = this.#noneLiveHeld;
    this.#noneLiveAt = now;
    this.#noneLiveHeld = 0;
    this.#log.warn("tep.none-live", {
      ipv4: formatIpv4(ipv4),
      assigned,
      ...(held > 0 ? { more_since_last: held } : {}),
    });
  }

  async #delete(h: SessionHandle, ctx: SessionCtx, req: RequestAction): Promise<ServerReply> {
    if (ctx.role === "tep") {
      this.#log.warn("request.refused", { identity: ctx.identity, action: "delete", why: "tep" });
      return reply(Status.AUTH_FAILED, true);
    }
    const { clientIpv6: reqV6, ipv4: reqV4 } = readRequestAddresses(req.command);
    const who = this.#clientAddress(h, reqV6);
    if (!who.ok) {
      return this.#refuse(`ipv6-${who.reason}`, Status.DSTM_INVALID_IPV6, { peer: h.peerAddress });
    }
    const now = this.#clock();
    let ipv4: number;
    if (reqV4 !== undefined) {
      const p = parseIpv4(reqV4);
      if (!p.ok) return this.#refuse("bad-ipv4", Status.INVALID_IPV4, { peer: h.peerAddress });
      ipv4 = p.value;
    } else {
      const held = this.#store.allocator.findLease(who.ipv6, ctx.leaseIdentity, now);
      if (!held) {
        return this.#refuse("not-leased", Status.ADDRESS_UNAVAILABLE, {
          client: formatIpv6(who.ipv6),
        });
      }
      ipv4 = held.ipv4;
    }
    const c = this.#commit(
      this.#store.release(ipv4, now, { clientIpv6: who.ipv6, identity: ctx.leaseIdentity }),
      h,
    );
    await c.durable;
    if (!c.result.ok) {
      return this.#refuse(c.result.reason, c.result.code, { ipv4: formatIpv4(ipv4) });
    }
    ctx.leases.delete(ipv4);
    return reply(Status.SUCCESS);
  }

  #info(h: SessionHandle, ctx: SessionCtx, req: RequestAction): ServerReply {
    if (ctx.role === "tep") return reply(Status.AUTH_FAILED, true);
    const who = this.#clientAddress(h, firstAddress(req.command.client, "ipv6"));
    if (!who.ok) return reply(Status.DSTM_INVALID_IPV6);
    const now = this.#clock();
    const lease = this.#store.allocator.findLease(who.ipv6, ctx.leaseIdentity, now);
    const tep = lease ? this.#teps.get(lease.tep)?.config : undefined;
    if (!lease || !tep) return reply(Status.ADDRESS_UNAVAILABLE);
    return {
      code: Status.SUCCESS,
      message: allocationInfo({
        ipv4: formatIpv4(lease.ipv4),
        tepIpv4: tep.ipv4,
        tepIpv6: tep.ipv6,
        lifetime: Math.max(0, Math.ceil((lease.expiresAt - now) / MINUTE_MS)),
        clientIpv6: formatIpv6(lease.clientIpv6),
      }),
    };
  }

  #query(h: SessionHandle, ctx: SessionCtx, req: RequestAction): ServerReply {
    if (ctx.role !== "tep") {
      this.#counters.inc("queries_total", ["refused"]);
      this.#log.warn("query.refused", { identity: ctx.identity, peer: h.peerAddress });
      return reply(Status.AUTH_FAILED, true);
    }
    const tep = this.#teps.get(ctx.tep!)!;
    const keyText = readQueryKey(req.command);
    const p = keyText === undefined ? undefined : parseIpv4(keyText);
    if (!p || !p.ok) {
      this.#counters.inc("queries_total", ["outside"]);
      this.#log.info("query.answered", { tep: ctx.tep, ipv4: keyText ?? "", code: 501 });
      return reply(Status.INVALID_IPV4);
    }
    const now = this.#clock();
    const alloc = this.#store.allocator;
    const found = alloc.lookup(p.value, now);
    if (!found.ok) {
      this.#counters.inc("queries_total", [found.code === 501 ? "outside" : "miss"]);
      this.#log.info("query.answered", { tep: ctx.tep, ipv4: keyText, code: found.code });
      return reply(found.code);
    }
    const minutes = bindingMinutes(
      found.lease.expiresAt,
      now,
      this.#settings.tepBindingMaxMinutes,
    );
    // Record the binding handed out, rounded up to the next whole minute plus one: queries for the
    // same address within that minute then add nothing to the journal. The reply does not wait
    // for the disk: the record is ordered before any later durable write, and after a crash the
    // store raises every live lease's binding floor to the cap (LeaseStore bindingFloor), so the
    // quarantine still covers what this reply hands out.
    const until = Math.ceil((now + minutes * MINUTE_MS) / MINUTE_MS) * MINUTE_MS + MINUTE_MS;
    const c = this.#commit(this.#store.noteQuery(p.value, ctx.tep!, until - now, now));
    if (!c.result.ok) {
      this.#counters.inc("queries_total", ["miss"]);
      return reply(c.result.code);
    }
    const lease = c.result.lease;
    const client = formatIpv6(lease.clientIpv6);
    this.#counters.inc("queries_total", ["hit"]);
    this.#log.debug("query.answered", {
      tep: ctx.tep,
      ipv4: keyText,
      code: 200,
      client,
      lifetime: minutes,
    });
    return {
      code: Status.SUCCESS,
      message: queryInfo({
        ipv4: formatIpv4(lease.ipv4),
        clientIpv6: client,
        lifetime: minutes,
        tep: { ipv4: tep.config.ipv4, ipv6: tep.config.ipv6 },
      }),
    };
  }

  // ---- lease events and pushes -----------------------------------------------------------

  /** Look at the events of a store call (logs, removal fan-out), then return it. */
  #commit<T>(c: Committed<T>, releasedBy?: SessionHandle): Committed<T> {
    const ended: Lease[] = [];
    for (const ev of c.events) {
      this.#counters.inc("lease_events_total", [ev.kind]);
      this.#onEvent(ev, ended);
    }
    if (ended.length > 0) {
      c.durable.then(() => {
        for (const l of ended) this.#fanOutRemoval(l, releasedBy);
      }, () => {});
    }
    if (c.events.length > 0) this.#onDeadline(this.#store.allocator.pollAt());
    return c;
  }

  #onEvent(ev: LeaseEvent, ended: Lease[]): void {
    if (ev.kind === "release" || ev.kind === "expire") {
      if (ev.lease) ended.push(ev.lease);
    }
    // The lines below are info/debug: at warn (the usual production level) skip formatting them.
    if (!this.#log.enabled(ev.kind === "binding" ? "debug" : "info")) return;
    switch (ev.kind) {
      case "allocate":
        this.#log.info("lease.allocated", {
          ipv4: formatIpv4(ev.ipv4),
          client: formatIpv6(ev.clientIpv6),
          identity: ev.identity || "(anonymous)",
          tep: ev.tep,
          expires: new Date(ev.expiresAt).toISOString(),
        });
        return;
      case "renew":
        this.#log.info("lease.renewed", {
          ipv4: formatIpv4(ev.ipv4),
          expires: new Date(ev.expiresAt).toISOString(),
        });
        return;
      case "release":
      case "expire": {
        const l = ev.lease;
        this.#log.info(ev.kind === "release" ? "lease.released" : "lease.expired", {
          ipv4: formatIpv4(ev.ipv4),
          client: l ? formatIpv6(l.clientIpv6) : undefined,
          tep: l?.tep,
          quarantine_until: new Date(ev.quarantineUntil).toISOString(),
        });
        return;
      }
      case "reassign":
        this.#log.info("lease.reassigned", {
          ipv4: formatIpv4(ev.ipv4),
          from: ev.previousTep,
          to: ev.tep,
        });
        return;
      case "binding":
        this.#log.debug("lease.binding", {
          ipv4: formatIpv4(ev.ipv4),
          tep: ev.tep,
          until: new Date(ev.until).toISOString(),
        });
        return;
    }
  }

  #fanOutRemoval(l: Lease, releasedBy?: SessionHandle): void {
    if (this.#stopping) return;
    const clientIpv6 = formatIpv6(l.clientIpv6);
    for (const name of removalTargets(l)) {
      const st = this.#teps.get(name);
      if (!st?.link) continue;
      if (!st.outbox.enqueue({ kind: "remove", ipv4: l.ipv4, clientIpv6 })) {
        this.#overflow(st);
        continue;
      }
      this.#pump(st);
    }
    const h = this.#clientSessions.get(l.ipv4);
    if (h) {
      this.#clientSessions.delete(l.ipv4);
      if (h !== releasedBy && this.#sessions.has(h) && h.pushCapacity() > 0) {
        const tep = this.#teps.get(l.tep)?.config;
        const msg = leaseDeletePush(
          { ipv4: formatIpv4(l.ipv4), clientIpv6 },
          tep ? { ipv4: tep.ipv4, ipv6: tep.ipv6 } : {},
        );
        if (h.push(msg)) {
          this.#counters.inc("pushes_total", ["client-delete"]);
          this.#log.info("client.push", { ipv4: formatIpv4(l.ipv4), client: clientIpv6 });
        }
      }
    }
  }

  #enqueueAdd(tepName: string, ipv4: number): void {
    const st = this.#teps.get(tepName);
    if (!st?.link || this.#stopping) return;
    if (!st.outbox.enqueue({ kind: "add", ipv4 })) {
      this.#overflow(st);
      return;
    }
    this.#pump(st);
  }

  #overflow(st: TepState): void {
    const link = st.link;
    if (!link) return;
    this.#counters.inc("push_overflows_total");
    this.#log.warn("tep.push-overflow", {
      tep: st.config.name,
      queued: st.outbox.size,
      action: "closing the session; the TEP resyncs when it reconnects",
    });
    st.outbox.clear();
    link.close("push queue overflow");
  }

  /** Move pushes from the outbox into the TEP's session while it can take them. */
  #pump(st: TepState): void {
    const link = st.link;
    if (!link || this.#stopping) return;
    let room = link.pushCapacity() - st.inflight;
    const alloc = this.#store.allocator;
    while (room > 0) {
      const fromResync = st.outbox.resyncRemaining > 0;
      const e = st.outbox.next();
      if (!e) break;
      if (e.kind === "add") {
        const now = this.#clock();
        const r = alloc.lookup(e.ipv4, now);
        if (!r.ok || r.lease.tep !== st.config.name) continue;
        const minutes = bindingMinutes(r.lease.expiresAt, now, this.#settings.tepBindingMaxMinutes);
        if (minutes <= 0) continue;
        const c = this.#commit(
          this.#store.noteQuery(e.ipv4, st.config.name, minutes * MINUTE_MS, now),
        );
        const msg = bindingPush("add", {
          ipv4: formatIpv4(e.ipv4),
          clientIpv6: formatIpv6(r.lease.clientIpv6),
          lifetime: minutes,
        });
        this.#sendAfter(st, link, c.durable, msg, "add", fromResync);
      } else {
        const msg = bindingPush("remove", {
          ipv4: formatIpv4(e.ipv4),
          clientIpv6: e.clientIpv6,
        });
        this.#sendAfter(st, link, RESOLVED, msg, "remove", false);
      }
      room--;
    }
  }

  #sendAfter(
    st: TepState,
    link: SessionHandle,
    durable: Promise<void>,
    msg: TunnelMessage,
    kind: "add" | "remove",
    resync: boolean,
  ): void {
    st.inflight++;
    st.chain = st.chain.then(() => durable).then(() => {
      // a new session reset the count: a callback of the old one must not touch it
      if (st.link !== link) return;
      st.inflight--;
      if (this.#stopping) return;
      if (!link.push(msg)) {
        this.#overflow(st);
        return;
      }
      st.pushes++;
      this.#counters.inc("pushes_total", [kind]);
      const b = msg.action === "create" || msg.action === "delete" ? msg.client : undefined;
      const fields = {
        tep: st.config.name,
        kind,
        ipv4: b?.addresses[0]?.value,
        client: b?.addresses[1]?.value,
        lifetime: msg.action === "create" ? msg.lifetime : undefined,
      };
      if (resync) this.#log.debug("tep.push", { ...fields, resync: true });
      else this.#log.info("tep.push", fields);
      if (resync && st.outbox.resyncRemaining === 0 && st.inflight === 0) {
        this.#log.info("tep.resynced", { tep: st.config.name, bindings: st.resyncTotal });
      }
      this.#pump(st);
    }, () => {
      if (st.link === link) st.inflight--; // the store failed; the daemon stops
    });
  }

  // ---- settings --------------------------------------------------------------------------

  #applyLimits(): void {
    const l = this.#settings.limits;
    this.#store.allocator.setLimits({ maxPerIpv6: l.perIpv6, maxPerIdentity: l.perIdentity });
  }

  // ---- TEP registry ----------------------------------------------------------------------

  #syncTeps(): void {
    const now = this.#clock();
    const names = new Set(this.#settings.teps.map((t) => t.name));
    for (const t of this.#settings.teps) {
      const st = this.#teps.get(t.name);
      if (st) {
        st.config = t;
        st.configured = true;
      } else {
        this.#teps.set(t.name, {
          config: t,
          link: undefined,
          since: now,
          outbox: new TepOutbox(this.#settings.tepPushQueue),
          inflight: 0,
          chain: RESOLVED,
          pushes: 0,
          resyncTotal: 0,
          configured: true,
          everUp: false,
        });
      }
    }
    for (const [name, st] of this.#teps) {
      if (names.has(name) || !st.configured) continue;
      st.configured = false;
      this.#log.warn("tep.removed", { tep: name, leases: this.#store.allocator.tepLoad(name) });
      st.link?.close("TEP removed from the configuration");
    }
  }

  #candidates(): TepCandidate[] {
    const alloc = this.#store.allocator;
    // Right after a (re)start no TEP has reconnected yet: a renewal then must not move leases
    // off TEPs that are merely a reconnect away.
    const inGrace = this.#clock() - this.#started < (this.#settings.tepStartupGraceMs ?? 10_000);
    return this.#settings.teps.map((t) => {
      const st = this.#teps.get(t.name);
      return {
        name: t.name,
        live: st?.link !== undefined,
        awaited: st?.link === undefined && !st?.everUp && inGrace,
        load: alloc.tepLoad(t.name),
      };
    });
  }

  // ---- views for ctl ---------------------------------------------------------------------

  /** Every live lease and the quarantined addresses. */
  leases(now: number = this.#clock()): {
    leases: LeaseView[];
    quarantine: { ipv4: string; until: string }[];
  } {
    const alloc = this.#store.allocator;
    const leases: LeaseView[] = [];
    for (const l of alloc.leases()) {
      if (l.expiresAt <= now) continue;
      leases.push({
        ipv4: formatIpv4(l.ipv4),
        clientIpv6: formatIpv6(l.clientIpv6),
        identity: l.identity,
        tep: l.tep,
        expiresAt: new Date(l.expiresAt).toISOString(),
        remainingSeconds: Math.ceil((l.expiresAt - now) / 1000),
        tepsThatQueried: [...l.tepsThatQueried],
        bindingUntil: l.bindingUntil > 0 ? new Date(l.bindingUntil).toISOString() : "",
      });
    }
    const quarantine = [...alloc.quarantine()].map((q) => ({
      ipv4: formatIpv4(q.ipv4),
      until: new Date(q.until).toISOString(),
    }));
    return { leases, quarantine };
  }

  /** The TEPs (configured ones first, then removed ones still holding leases). */
  teps(): TepView[] {
    const alloc = this.#store.allocator;
    const out: TepView[] = [];
    for (const st of this.#teps.values()) {
      if (!st.configured && alloc.tepLoad(st.config.name) === 0) continue;
      out.push({
        name: st.config.name,
        ipv6: st.config.ipv6,
        ipv4: st.config.ipv4,
        state: st.link ? "up" : "down",
        since: new Date(st.since).toISOString(),
        peer: st.link ? st.link.peerAddress : "",
        transport: st.link ? st.link.transport : "",
        leases: alloc.tepLoad(st.config.name),
        pushes: st.pushes,
        queued: st.outbox.size + st.inflight,
        configured: st.configured,
      });
    }
    return out;
  }

  /** When the service started (ms). */
  get startedAt(): number {
    return this.#started;
  }

  /** Number of live TEPs. */
  get tepsUp(): number {
    let n = 0;
    for (const st of this.#teps.values()) if (st.link) n++;
    return n;
  }
}
