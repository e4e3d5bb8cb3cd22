/**
 * The lease life of the DSTM client (`dstm-client`), as a pure, time-injected state machine.
 *
 * The client asks the DSTM server for a temporary IPv4 address over TSP (`create`, type `v4v6`),
 * gets back the address, a lifetime in **minutes** and the TEP's IPv6/IPv4 addresses
 * (protocol.md §2.10, §5.1), brings the address up on its tunnel interface, renews, releases, and
 * survives the failure of its TEP by asking the server again and moving to the TEP it names.
 *
 * ```
 *  idle --start--> requesting --granted--> bound --T1--> renewing --T2--> expiring --expiry--+
 *                    ^   |                   ^              |                                 |
 *                    |   +--failed/refused   +---granted----+  (renewing: retry with backoff) |
 *                    |      (backoff, forever)                                               |
 *                    +----------- backoff (policy) ---------- expired <--308 / delete--------+
 *  any --stop--> released   (with a lease: release, then deconfigure)
 * ```
 *
 * Rules (protocol.md §5.2, §1.4 items 5-6, §8.8):
 * - renew at T1 = 0.5 × lifetime with a `create` that carries the current IPv4 (§2.10);
 * - a failed renewal is retried with exponential backoff (jittered by an injected random source)
 *   until T2 = 0.875 × lifetime; the address stays in use meanwhile; after T2 no new attempt is
 *   made (an answer already on its way is still taken) and the lease runs out at expiry;
 * - refusal 308 or expiry: stop using the address (`deconfigure`), then ask for a new allocation
 *   after a backoff: at once (`always`, the default) or when IPv4 traffic shows up again
 *   (`on-demand`, the drafts' wording);
 * - a failed first request is retried with backoff forever (capped interval);
 * - a renewal answered with another IPv4 replaces the address (`deconfigure` old, `configure`
 *   new); one answered with the same IPv4 and another TEP swaps only the tunnel destination
 *   (`reconfigure-tep`);
 * - a `delete` pushed by the server on the open session applies at once (§1.4 item 6, §5.2);
 * - TEP failure (from the TEP monitor) sends a renewal at once, so the server can name a new TEP
 *   (lease reassignment); the answer is handled like any renewal answer;
 * - `stop` (SIGTERM) with a lease: `release` (TSP `delete`), then `deconfigure`.
 *
 * Style (docs/style.md): immutable state as a discriminated union on `phase`;
 * `step(state, event)` returns `[state, actions]`; `now` (ms) arrives inside each event;
 * {@link leasePollAt} gives the next deadline, and only `tick` events act on deadlines. Impossible
 * transitions are counted in `state.counters.protocolErrors` (and logged), never thrown.
 *
 * @module
 */
import { formatIpv4, formatIpv6 } from "../addr/mod.ts";
import type { LogFields, LogLevel } from "../log/logger.ts";

// ---------------------------------------------------------------------------------------------
// Spec constants (protocol.md §5.1, §5.2) and implementation defaults.

/** Renewal time T1 as a fraction of the lifetime (protocol.md §5.2). */
export const RENEW_FRACTION = 0.5;
/** Time T2 after which no new renewal attempt is made, as a fraction of the lifetime (§5.2). */
export const REBIND_FRACTION = 0.875;
/** TSP `lifetime` is in minutes (protocol.md §5.1). */
export const MS_PER_MINUTE = 60_000;
/**
 * Longest lifetime taken from a grant (100 years, in minutes); anything longer is a broken reply
 * (it would also push the expiry out of `Date`'s range).
 */
export const MAX_LIFETIME_MINUTES = 100 * 365 * 24 * 60;
/** TSP status `308 Requested Address Unavailable`: renewal refused (protocol.md §2.7, §1.4). */
export const STATUS_ADDRESS_UNAVAILABLE = 308;

/** Default first backoff delay (ms); doubles per failed attempt. */
export const DEFAULT_BACKOFF_INITIAL_MS = 2_000;
/** Default cap on the backoff delay (ms). */
export const DEFAULT_BACKOFF_MAX_MS = 60_000;
/** Default jitter: each delay is drawn from `[(1 - jitter) × d, d]`. */
export const DEFAULT_BACKOFF_JITTER = 0.25;
/** Default time (ms) after which a request the shell never answered counts as failed. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

// ---------------------------------------------------------------------------------------------
// Leases.

/** The TEP a lease names: TEPV6ADDR (the tunnel destination) and TEPV4ADDR (§2.10). */
export interface TepAddresses {
  /** TEP IPv6 address, 16 bytes in network byte order. */
  readonly ipv6: Uint8Array;
  /** TEP IPv4 address as an unsigned 32-bit integer (the keepalive target, §2.8). */
  readonly ipv4: number;
}

/** What the server granted in a TSP `info` reply, as the shell hands it to the machine. */
export interface ClientLease {
  /** The leased IPv4 address (ASSIGNEDV4ADDR) as an unsigned 32-bit integer. */
  readonly ipv4: number;
  /** Lease lifetime in **minutes** (TSP `lifetime`, protocol.md §5.1); positive. */
  readonly lifetimeMinutes: number;
  /** The TEP assigned to this lease. */
  readonly tep: TepAddresses;
  /** Keepalive interval in seconds from `<keepalive interval>`, if the server sent one (§2.8). */
  readonly keepaliveSeconds?: number;
}

/** A lease the client holds: the grant plus its absolute deadlines (ms). */
export interface HeldLease extends ClientLease {
  /** When the grant was received (ms). */
  readonly grantedAt: number;
  /** T1: when renewal starts (ms). */
  readonly t1: number;
  /** T2: after this no new renewal attempt is made (ms). */
  readonly t2: number;
  /** When the lease ends (ms). */
  readonly expiresAt: number;
}

// ---------------------------------------------------------------------------------------------
// Configuration.

/** When to ask for a new allocation after the address was lost (308, expiry, server delete). */
export type ReallocatePolicy =
  /** Re-request after a backoff (default: an agent that must keep the interface up). */
  | "always"
  /** Re-request only once a `traffic` event says IPv4 traffic showed up again (§5.2), and not
   * before the backoff has passed. */
  | "on-demand";

/** Options of {@link createLeaseMachine}. */
export interface LeaseMachineConfig {
  /** See {@link ReallocatePolicy}; default `always`. */
  readonly reallocate?: ReallocatePolicy;
  /** First backoff delay in ms (default {@link DEFAULT_BACKOFF_INITIAL_MS}). */
  readonly backoffInitialMs?: number;
  /** Backoff cap in ms (default {@link DEFAULT_BACKOFF_MAX_MS}). */
  readonly backoffMaxMs?: number;
  /** Jitter fraction in [0, 1) (default {@link DEFAULT_BACKOFF_JITTER}). */
  readonly backoffJitter?: number;
  /** Request timeout in ms (default {@link DEFAULT_REQUEST_TIMEOUT_MS}). */
  readonly requestTimeoutMs?: number;
  /** Random source returning numbers in [0, 1); default `Math.random`. Inject a seeded one in tests. */
  readonly random?: () => number;
}

// ---------------------------------------------------------------------------------------------
// States.

/** Counters every state carries (for `ctl status` and metrics). */
export interface LeaseCounters {
  /** Impossible transitions: an event that makes no sense in the current phase (ignored). */
  readonly protocolErrors: number;
  /** Late answers and notices that no longer apply (a failure for a request already given up). */
  readonly staleEvents: number;
}

/** A request the shell is carrying out: its id and the time after which it counts as failed. */
export interface InFlight {
  /** The id of the `request` action; answers may echo it. */
  readonly id: number;
  /** When the machine gives up waiting (ms). */
  readonly deadline: number;
}

/** What a renewal-phase or requesting-phase machine is waiting for. */
export type Pending =
  /** A request is out; waiting for its answer. */
  | { readonly kind: "in-flight"; readonly id: number; readonly deadline: number }
  /** Waiting to retry at `until` (ms); `Infinity` when no retry is left (renewal past T2). */
  | { readonly kind: "backoff"; readonly until: number };

/** Why the machine is asking for a lease or a renewal. */
export type RequestReason =
  /** The first request after `start`. */
  | "initial"
  /** A retry of a failed first request or re-allocation. */
  | "retry"
  /** A new allocation after the address was lost. */
  | "reallocate"
  /** A renewal (T1, or its retries). */
  | "renew"
  /** A renewal sent because the TEP monitor declared the TEP dead. */
  | "tep-failed";

/** Why an address was lost. */
export type LossReason = "expired" | "refused" | "deleted";

/** The fields every {@link ClientLeaseState} carries. */
export interface LeaseStateCommon {
  /** Counters carried across every transition. */
  readonly counters: LeaseCounters;
  /** The id the next `request` action will get. */
  readonly nextRequestId: number;
}

/** Not started. */
export interface IdleState extends LeaseStateCommon {
  /** Discriminant. */
  readonly phase: "idle";
}
/** No address; asking for one (first request, or a new allocation). */
export interface RequestingState extends LeaseStateCommon {
  /** Discriminant. */
  readonly phase: "requesting";
  /** Failed attempts so far in this phase (drives the backoff). */
  readonly attempt: number;
  /** The request out, or the retry time. */
  readonly pending: Pending;
}
/** Holding a lease; nothing to do before T1. */
export interface BoundState extends LeaseStateCommon {
  /** Discriminant. */
  readonly phase: "bound";
  /** The lease in use. */
  readonly lease: HeldLease;
}
/** Holding a lease, renewing it (from T1, or early because the TEP failed). */
export interface RenewingState extends LeaseStateCommon {
  /** Discriminant. */
  readonly phase: "renewing";
  /** The lease in use. */
  readonly lease: HeldLease;
  /** Why the renewal started. */
  readonly cause: "renew" | "tep-failed";
  /** Failed attempts so far in this phase (drives the backoff). */
  readonly attempt: number;
  /** The request out, or the retry time (`Infinity` once no retry fits before T2). */
  readonly pending: Pending;
}
/** Past T2: still using the address until expiry, no new renewal attempt (except on TEP failure). */
export interface ExpiringState extends LeaseStateCommon {
  /** Discriminant. */
  readonly phase: "expiring";
  /** The lease in use. */
  readonly lease: HeldLease;
  /** A request still out, or `null`. */
  readonly inFlight: InFlight | null;
}
/** The address was lost and deconfigured; waiting to ask for a new allocation. */
export interface ExpiredState extends LeaseStateCommon {
  /** Discriminant. */
  readonly phase: "expired";
  /** How the address was lost. */
  readonly reason: LossReason;
  /** Earliest time (ms) of the new request. */
  readonly retryAt: number;
  /** `on-demand` policy: still waiting for a `traffic` event. */
  readonly needsTraffic: boolean;
}
/** Stopped (terminal). */
export interface ReleasedState extends LeaseStateCommon {
  /** Discriminant. */
  readonly phase: "released";
}

/** Every state of the client lease machine, discriminated on `phase`. */
export type ClientLeaseState =
  | IdleState
  | RequestingState
  | BoundState
  | RenewingState
  | ExpiringState
  | ExpiredState
  | ReleasedState;

/** The `phase` of a {@link ClientLeaseState}. */
export type ClientLeasePhase = ClientLeaseState["phase"];

// ---------------------------------------------------------------------------------------------
// Events and actions.

/**
 * An input of the machine. `now` is the time (ms) of the event. Answers (`granted`, `refused`,
 * `failed`) may carry the `id` of the `request` they answer; without it they answer the request
 * currently out.
 */
export type ClientLeaseEvent =
  /** Begin: send the first request. */
  | { readonly kind: "start"; readonly now: number }
  /** The server answered `200` with an `info` (the shell has sent `accept`). */
  | {
    readonly kind: "granted";
    readonly now: number;
    readonly lease: ClientLease;
    readonly id?: number;
  }
  /** The server answered with an error status (306, 308, 310, ...). */
  | { readonly kind: "refused"; readonly now: number; readonly code: number; readonly id?: number }
  /** The request did not complete: transport error, timeout, unparsable reply. */
  | { readonly kind: "failed"; readonly now: number; readonly error: string; readonly id?: number }
  /** Time passes; deadlines due at or before `now` are acted on. */
  | { readonly kind: "tick"; readonly now: number }
  /** SIGTERM: release and stop. */
  | { readonly kind: "stop"; readonly now: number }
  /** The server sent `delete` on an open session: the lease is gone, at once. */
  | { readonly kind: "server-delete"; readonly now: number }
  /** The TEP monitor declared the assigned TEP dead. */
  | { readonly kind: "tep-failed"; readonly now: number; readonly reason?: string }
  /** IPv4 traffic wants out (only matters to the `on-demand` policy). */
  | { readonly kind: "traffic"; readonly now: number };

/** The `kind` of a {@link ClientLeaseEvent}. */
export type ClientLeaseEventKind = ClientLeaseEvent["kind"];

/** Why an address is being taken down. */
export type DeconfigureReason = LossReason | "stopped" | "replaced";

/** An output of the machine, for the shell to carry out in order. */
export type ClientLeaseAction =
  /**
   * Open a TSP session and send `create` (type `v4v6`); on renewal `ipv4` is the address being
   * renewed and goes into `<client>` (§2.10). Answer with `granted`/`refused`/`failed` (echo `id`).
   */
  | {
    readonly kind: "request";
    readonly id: number;
    readonly reason: RequestReason;
    readonly attempt: number;
    readonly ipv4?: number;
  }
  /** Bring up the address (/32), the tunnel to `lease.tep.ipv6`, and the routes; run the up hook. */
  | { readonly kind: "configure"; readonly lease: HeldLease }
  /** Same address, new TEP: swap the tunnel destination without dropping the address. */
  | {
    readonly kind: "reconfigure-tep";
    readonly lease: HeldLease;
    readonly previousTep: TepAddresses;
  }
  /** Remove the address and routes of `lease`; run the down hook. */
  | { readonly kind: "deconfigure"; readonly lease: HeldLease; readonly reason: DeconfigureReason }
  /** Send TSP `delete` for `lease` (best effort; no answer expected). */
  | { readonly kind: "release"; readonly lease: HeldLease }
  /** Log one event (stable name, e.g. `lease.bound`). */
  | {
    readonly kind: "log";
    readonly level: LogLevel;
    readonly event: string;
    readonly fields: LogFields;
  };

/** The `kind` of a {@link ClientLeaseAction}. */
export type ClientLeaseActionKind = ClientLeaseAction["kind"];

/** What {@link LeaseMachine.step} returns: the next state and the actions, in order. */
export type LeaseStep = readonly [ClientLeaseState, readonly ClientLeaseAction[]];

/** A configured lease machine: pure functions over {@link ClientLeaseState}. */
export interface LeaseMachine {
  /** The state before `start`. */
  readonly initial: ClientLeaseState;
  /** Apply one event. Never throws on any event; unknown or impossible events are counted. */
  step(state: ClientLeaseState, event: ClientLeaseEvent): LeaseStep;
  /** The next deadline of `state` in ms (`Infinity` if none); same as {@link leasePollAt}. */
  pollAt(state: ClientLeaseState): number;
  /** The jittered backoff delay (ms) after `attempt` failures (0-based). Draws one random number. */
  backoffDelay(attempt: number): number;
}

// ---------------------------------------------------------------------------------------------
// Implementation.

function checkPositive(name: string, v: number): void {
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0) {
    throw new RangeError(
      `Cannot create lease machine: ${name} must be a positive number, got ${v}`,
    );
  }
}

function isU32(v: unknown): v is number {
  return typeof v === "number" && (v >>> 0) === v;
}

/** Why a granted lease is unusable, or `undefined` if it is fine. */
function leaseProblem(lease: ClientLease): string | undefined {
  if (lease === null || typeof lease !== "object") return "not-an-object";
  if (!isU32(lease.ipv4)) return "bad-ipv4";
  const m = lease.lifetimeMinutes;
  if (typeof m !== "number" || !(m > 0 && m <= MAX_LIFETIME_MINUTES)) return "bad-lifetime";
  const tep = lease.tep;
  if (tep === null || typeof tep !== "object") return "bad-tep";
  if (!(tep.ipv6 instanceof Uint8Array) || tep.ipv6.length !== 16) return "bad-tep-ipv6";
  if (!isU32(tep.ipv4)) return "bad-tep-ipv4";
  const k = lease.keepaliveSeconds;
  if (k !== undefined && (typeof k !== "number" || !Number.isFinite(k) || k <= 0)) {
    return "bad-keepalive";
  }
  return undefined;
}

/** Copy a grant into a held lease with absolute deadlines from `now`. */
function hold(lease: ClientLease, now: number): HeldLease {
  const life = lease.lifetimeMinutes * MS_PER_MINUTE;
  const held: HeldLease = {
    ipv4: lease.ipv4,
    lifetimeMinutes: lease.lifetimeMinutes,
    tep: { ipv6: lease.tep.ipv6.slice(), ipv4: lease.tep.ipv4 },
    ...(lease.keepaliveSeconds !== undefined ? { keepaliveSeconds: lease.keepaliveSeconds } : {}),
    grantedAt: now,
    t1: now + Math.floor(life * RENEW_FRACTION),
    t2: now + Math.floor(life * REBIND_FRACTION),
    expiresAt: now + life,
  };
  return held;
}

function sameTep(a: TepAddresses, b: TepAddresses): boolean {
  if (a.ipv4 !== b.ipv4) return false;
  for (let i = 0; i < 16; i++) if (a.ipv6[i] !== b.ipv6[i]) return false;
  return true;
}

function leaseFields(lease: HeldLease): LogFields {
  return {
    ipv4: formatIpv4(lease.ipv4),
    tep: formatIpv6(lease.tep.ipv6),
    tep_ipv4: formatIpv4(lease.tep.ipv4),
    lifetime_min: lease.lifetimeMinutes,
    expires_at: lease.expiresAt,
  };
}

function log(level: LogLevel, event: string, fields: LogFields = {}): ClientLeaseAction {
  return { kind: "log", level, event, fields };
}

function holdsLease(s: ClientLeaseState): s is BoundState | RenewingState | ExpiringState {
  return s.phase === "bound" || s.phase === "renewing" || s.phase === "expiring";
}

/** The request currently out in `s`, if any. */
function inFlightOf(s: ClientLeaseState): InFlight | null {
  switch (s.phase) {
    case "requesting":
    case "renewing":
      return s.pending.kind === "in-flight" ? s.pending : null;
    case "expiring":
      return s.inFlight;
    default:
      return null;
  }
}

/**
 * The next deadline of `state` in ms, or `Infinity` if nothing is scheduled (idle, released,
 * waiting for an answer with no timeout, waiting for traffic). A `tick` at or after this time acts;
 * a `tick` before it changes nothing.
 */
export function leasePollAt(state: ClientLeaseState): number {
  switch (state.phase) {
    case "idle":
    case "released":
      return Infinity;
    case "requesting":
      return state.pending.kind === "in-flight" ? state.pending.deadline : state.pending.until;
    case "bound":
      return state.lease.t1;
    case "renewing": {
      const p = state.pending.kind === "in-flight" ? state.pending.deadline : state.pending.until;
      return Math.min(p, state.lease.t2);
    }
    case "expiring":
      return Math.min(state.lease.expiresAt, state.inFlight?.deadline ?? Infinity);
    case "expired":
      return state.needsTraffic ? Infinity : state.retryAt;
  }
}

/**
 * Create a lease machine with `config` (defaults: `always` reallocation, 2 s backoff doubling to
 * 60 s with 25 % jitter, 60 s request timeout, `Math.random`).
 *
 * @throws {RangeError} on a configuration value out of range (a programmer error).
 */
export function createLeaseMachine(config: LeaseMachineConfig = {}): LeaseMachine {
  const policy = config.reallocate ?? "always";
  if (policy !== "always" && policy !== "on-demand") {
    throw new RangeError(`Cannot create lease machine: unknown reallocate policy ${policy}`);
  }
  const initialMs = config.backoffInitialMs ?? DEFAULT_BACKOFF_INITIAL_MS;
  const maxMs = config.backoffMaxMs ?? DEFAULT_BACKOFF_MAX_MS;
  const jitter = config.backoffJitter ?? DEFAULT_BACKOFF_JITTER;
  const timeoutMs = config.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const random = config.random ?? Math.random;
  checkPositive("backoffInitialMs", initialMs);
  checkPositive("backoffMaxMs", maxMs);
  checkPositive("requestTimeoutMs", timeoutMs);
  if (maxMs < initialMs) {
    throw new RangeError("Cannot create lease machine: backoffMaxMs is below backoffInitialMs");
  }
  if (typeof jitter !== "number" || !(jitter >= 0 && jitter < 1)) {
    throw new RangeError(
      `Cannot create lease machine: backoffJitter must be in [0, 1), got ${jitter}`,
    );
  }
  if (typeof random !== "function") {
    throw new TypeError("Cannot create lease machine: random must be a function");
  }

  function backoffDelay(attempt: number): number {
    const n = Math.max(0, Math.min(Math.floor(attempt), 60));
    const base = Math.min(maxMs, initialMs * 2 ** n);
    let r = Number(random());
    if (!(r >= 0)) r = 0; // NaN or negative from a broken source
    if (r >= 1) r = 1 - Number.EPSILON;
    return Math.max(1, Math.round(base * (1 - jitter * r)));
  }

  const initial: IdleState = {
    phase: "idle",
    counters: { protocolErrors: 0, staleEvents: 0 },
    nextRequestId: 1,
  };

  // --- helpers building next states ----------------------------------------------------------

  function bump(s: ClientLeaseState, which: keyof LeaseCounters): ClientLeaseState {
    return { ...s, counters: { ...s.counters, [which]: s.counters[which] + 1 } };
  }

  function protocolError(s: ClientLeaseState, ev: ClientLeaseEvent, why: string): LeaseStep {
    const kind = (ev as { kind?: unknown } | null)?.kind;
    return [bump(s, "protocolErrors"), [
      log("warn", "lease.protocol-error", { phase: s.phase, event: String(kind), why }),
    ]];
  }

  function stale(s: ClientLeaseState, ev: ClientLeaseEvent, why: string): LeaseStep {
    return [bump(s, "staleEvents"), [
      log("debug", "lease.stale-event", { phase: s.phase, event: ev.kind, why }),
    ]];
  }

  /** A new request action plus the in-flight record for it. */
  function send(
    s: ClientLeaseState,
    now: number,
    reason: RequestReason,
    attempt: number,
    ipv4?: number,
  ): { inFlight: InFlight; nextRequestId: number; action: ClientLeaseAction } {
    const id = s.nextRequestId;
    const action: ClientLeaseAction = ipv4 === undefined
      ? { kind: "request", id, reason, attempt }
      : { kind: "request", id, reason, attempt, ipv4 };
    return { inFlight: { id, deadline: now + timeoutMs }, nextRequestId: id + 1, action };
  }

  function requesting(
    s: ClientLeaseState,
    now: number,
    reason: RequestReason,
    attempt: number,
    acts: ClientLeaseAction[],
  ): RequestingState {
    const r = send(s, now, reason, attempt);
    acts.push(r.action);
    return {
      phase: "requesting",
      counters: s.counters,
      nextRequestId: r.nextRequestId,
      attempt,
      pending: { kind: "in-flight", ...r.inFlight },
    };
  }

  function renewing(
    s: ClientLeaseState,
    lease: HeldLease,
    now: number,
    cause: "renew" | "tep-failed",
    attempt: number,
    acts: ClientLeaseAction[],
  ): RenewingState {
    const r = send(s, now, cause, attempt, lease.ipv4);
    acts.push(r.action);
    return {
      phase: "renewing",
      counters: s.counters,
      nextRequestId: r.nextRequestId,
      lease,
      cause,
      attempt,
      pending: { kind: "in-flight", ...r.inFlight },
    };
  }

  function bound(s: ClientLeaseState, lease: HeldLease): BoundState {
    return { phase: "bound", counters: s.counters, nextRequestId: s.nextRequestId, lease };
  }

  /** Lose the address: deconfigure it and wait to reallocate. */
  function lose(
    s: BoundState | RenewingState | ExpiringState,
    now: number,
    reason: LossReason,
    acts: ClientLeaseAction[],
  ): ExpiredState {
    acts.push({ kind: "deconfigure", lease: s.lease, reason });
    const retryAt = now + backoffDelay(0);
    acts.push(
      log("warn", `lease.${reason}`, {
        ...leaseFields(s.lease),
        retry_at: retryAt,
        policy,
      }),
    );
    return {
      phase: "expired",
      counters: s.counters,
      nextRequestId: s.nextRequestId,
      reason,
      retryAt,
      needsTraffic: policy === "on-demand",
    };
  }

  /** A failed request in `requesting`: back off (forever, capped). */
  function requestFailed(
    s: RequestingState,
    now: number,
    what: LogFields,
    acts: ClientLeaseAction[],
  ): RequestingState {
    const until = now + backoffDelay(s.attempt);
    acts.push(
      log("warn", "lease.request-failed", { ...what, attempt: s.attempt, retry_at: until }),
    );
    return { ...s, attempt: s.attempt + 1, pending: { kind: "backoff", until } };
  }

  /** A failed renewal: retry with backoff if the retry still falls before T2. */
  function renewFailed(
    s: RenewingState,
    now: number,
    what: LogFields,
    acts: ClientLeaseAction[],
  ): RenewingState {
    const at = now + backoffDelay(s.attempt);
    const until = at < s.lease.t2 ? at : Infinity;
    acts.push(
      log("warn", "lease.renew-failed", {
        ...what,
        attempt: s.attempt,
        retry_at: until === Infinity ? "none" : until,
        t2: s.lease.t2,
      }),
    );
    return { ...s, attempt: s.attempt + 1, pending: { kind: "backoff", until } };
  }

  // --- events ----------------------------------------------------------------------------------

  function onGranted(
    s: ClientLeaseState,
    ev: Extract<ClientLeaseEvent, { kind: "granted" }>,
  ): LeaseStep {
    const now = ev.now;
    if (s.phase === "idle") return protocolError(s, ev, "granted before start");
    const problem = leaseProblem(ev.lease);
    if (problem !== undefined) {
      // An unusable grant: count it, and treat it as a failure of the request it answers.
      const [s2, a1] = protocolError(s, ev, `invalid lease: ${problem}`);
      const [s3, a2] = onFailed(s2, {
        kind: "failed",
        now,
        error: `invalid lease: ${problem}`,
        ...(ev.id !== undefined ? { id: ev.id } : {}),
      });
      return [s3, [...a1, ...a2]];
    }
    const lease = hold(ev.lease, now);
    const acts: ClientLeaseAction[] = [];
    switch (s.phase) {
      case "released":
        // A grant that crossed our stop: hand the address back at once.
        acts.push({ kind: "release", lease });
        acts.push(log("info", "lease.late-grant-released", leaseFields(lease)));
        return [s, acts];
      case "requesting":
      case "expired":
        // Whatever request it answers, a grant is a lease: take it rather than ask again.
        acts.push({ kind: "configure", lease });
        acts.push(log("info", "lease.bound", leaseFields(lease)));
        return [bound(s, lease), acts];
      case "bound":
      case "renewing":
      case "expiring": {
        const old = s.lease;
        if (old.ipv4 !== lease.ipv4) {
          acts.push({ kind: "deconfigure", lease: old, reason: "replaced" });
          acts.push({ kind: "configure", lease });
          acts.push(
            log("warn", "lease.address-changed", {
              ...leaseFields(lease),
              previous_ipv4: formatIpv4(old.ipv4),
            }),
          );
        } else if (!sameTep(old.tep, lease.tep)) {
          acts.push({ kind: "reconfigure-tep", lease, previousTep: old.tep });
          acts.push(
            log("info", "lease.tep-changed", {
              ...leaseFields(lease),
              previous_tep: formatIpv6(old.tep.ipv6),
            }),
          );
        } else {
          acts.push(log("info", "lease.renewed", leaseFields(lease)));
        }
        return [bound(s, lease), acts];
      }
    }
  }

  /** Does an answer (with optional `id`) belong to the request out in `s`? */
  function answers(s: ClientLeaseState, id: number | undefined): boolean {
    const f = inFlightOf(s);
    return f !== null && (id === undefined || id === f.id);
  }

  function onRefused(
    s: ClientLeaseState,
    ev: Extract<ClientLeaseEvent, { kind: "refused" }>,
  ): LeaseStep {
    if (s.phase === "idle") return protocolError(s, ev, "refused before start");
    if (!answers(s, ev.id)) return stale(s, ev, "no matching request");
    const acts: ClientLeaseAction[] = [];
    const code = typeof ev.code === "number" ? ev.code : NaN;
    switch (s.phase) {
      case "requesting":
        return [requestFailed(s, ev.now, { code }, acts), acts];
      case "renewing":
      case "expiring":
        if (code === STATUS_ADDRESS_UNAVAILABLE) return [lose(s, ev.now, "refused", acts), acts];
        if (s.phase === "renewing") return [renewFailed(s, ev.now, { code }, acts), acts];
        acts.push(log("warn", "lease.renew-failed", { code, attempt: "last", retry_at: "none" }));
        return [{ ...s, inFlight: null }, acts];
      default:
        return stale(s, ev, "no matching request");
    }
  }

  function onFailed(
    s: ClientLeaseState,
    ev: Extract<ClientLeaseEvent, { kind: "failed" }>,
  ): LeaseStep {
    if (s.phase === "idle") return protocolError(s, ev, "failed before start");
    if (!answers(s, ev.id)) return stale(s, ev, "no matching request");
    const acts: ClientLeaseAction[] = [];
    const error = String(ev.error);
    switch (s.phase) {
      case "requesting":
        return [requestFailed(s, ev.now, { error }, acts), acts];
      case "renewing":
        return [renewFailed(s, ev.now, { error }, acts), acts];
      case "expiring":
        acts.push(log("warn", "lease.renew-failed", { error, attempt: "last", retry_at: "none" }));
        return [{ ...s, inFlight: null }, acts];
      default:
        return stale(s, ev, "no matching request");
    }
  }

  /** Act on every deadline due at or before `now`, in order. */
  function onTick(s0: ClientLeaseState, now: number): LeaseStep {
    let s = s0;
    const acts: ClientLeaseAction[] = [];
    // Each pass handles one deadline and moves the state on; a clock jump (suspend/resume) may
    // need several. Every transition here either leaves a deadline > now or a phase with fewer
    // deadlines, so the loop ends; the bound is a safety net.
    for (let pass = 0; pass < 16; pass++) {
      const next = tickOnce(s, now, acts);
      if (next === s) break;
      s = next;
    }
    return [s, acts];
  }

  function tickOnce(s: ClientLeaseState, now: number, acts: ClientLeaseAction[]): ClientLeaseState {
    switch (s.phase) {
      case "idle":
      case "released":
        return s;
      case "requesting": {
        const p = s.pending;
        if (p.kind === "backoff") {
          if (now < p.until) return s;
          return requesting(s, now, "retry", s.attempt, acts);
        }
        if (now < p.deadline) return s;
        return requestFailed(s, now, { error: "timeout" }, acts);
      }
      case "bound": {
        const l = s.lease;
        if (now >= l.expiresAt) return lose(s, now, "expired", acts);
        if (now >= l.t2) {
          // Woke up past T2 without having tried: one last attempt, then wait for expiry.
          const r = send(s, now, "renew", 0, l.ipv4);
          acts.push(r.action);
          acts.push(log("warn", "lease.expiring", { ...leaseFields(l), late: true }));
          return {
            phase: "expiring",
            counters: s.counters,
            nextRequestId: r.nextRequestId,
            lease: l,
            inFlight: r.inFlight,
          };
        }
        if (now >= l.t1) {
          acts.push(log("info", "lease.renewing", leaseFields(l)));
          return renewing(s, l, now, "renew", 0, acts);
        }
        return s;
      }
      case "renewing": {
        const l = s.lease;
        if (now >= l.expiresAt) return lose(s, now, "expired", acts);
        if (now >= l.t2) {
          acts.push(log("warn", "lease.expiring", leaseFields(l)));
          return {
            phase: "expiring",
            counters: s.counters,
            nextRequestId: s.nextRequestId,
            lease: l,
            inFlight: s.pending.kind === "in-flight"
              ? { id: s.pending.id, deadline: s.pending.deadline }
              : null,
          };
        }
        const p = s.pending;
        if (p.kind === "in-flight") {
          if (now < p.deadline) return s;
          return renewFailed(s, now, { error: "timeout" }, acts);
        }
        if (now < p.until) return s;
        return renewing(s, l, now, s.cause, s.attempt, acts);
      }
      case "expiring": {
        if (now >= s.lease.expiresAt) return lose(s, now, "expired", acts);
        if (s.inFlight !== null && now >= s.inFlight.deadline) {
          acts.push(
            log("warn", "lease.renew-failed", {
              error: "timeout",
              attempt: "last",
              retry_at: "none",
            }),
          );
          return { ...s, inFlight: null };
        }
        return s;
      }
      case "expired": {
        if (s.needsTraffic || now < s.retryAt) return s;
        acts.push(log("info", "lease.reallocating", { after: s.reason }));
        return requesting(s, now, "reallocate", 0, acts);
      }
    }
  }

  function onStop(s: ClientLeaseState, now: number): LeaseStep {
    const acts: ClientLeaseAction[] = [];
    if (s.phase === "released") return [s, acts];
    if (holdsLease(s)) {
      acts.push({ kind: "release", lease: s.lease });
      acts.push({ kind: "deconfigure", lease: s.lease, reason: "stopped" });
    }
    acts.push(log("info", "lease.stopped", { phase: s.phase, at: now }));
    return [{ phase: "released", counters: s.counters, nextRequestId: s.nextRequestId }, acts];
  }

  function onTepFailed(
    s: ClientLeaseState,
    ev: Extract<ClientLeaseEvent, { kind: "tep-failed" }>,
  ): LeaseStep {
    const acts: ClientLeaseAction[] = [];
    const why = ev.reason === undefined ? {} : { reason: String(ev.reason) };
    switch (s.phase) {
      case "bound":
        acts.push(log("warn", "lease.tep-failed", { ...leaseFields(s.lease), ...why }));
        return [renewing(s, s.lease, ev.now, "tep-failed", 0, acts), acts];
      case "renewing":
        if (s.pending.kind === "in-flight") return [s, acts]; // already asking the server
        acts.push(log("warn", "lease.tep-failed", { ...leaseFields(s.lease), ...why }));
        // A TEP failure is urgent: skip the rest of the backoff (the monitor rate-limits this).
        return [renewing(s, s.lease, ev.now, "tep-failed", s.attempt, acts), acts];
      case "expiring": {
        if (s.inFlight !== null) return [s, acts];
        acts.push(log("warn", "lease.tep-failed", { ...leaseFields(s.lease), ...why }));
        const r = send(s, ev.now, "tep-failed", 0, s.lease.ipv4);
        acts.push(r.action);
        return [{ ...s, nextRequestId: r.nextRequestId, inFlight: r.inFlight }, acts];
      }
      default:
        return stale(s, ev, "no lease");
    }
  }

  function step(s: ClientLeaseState, ev: ClientLeaseEvent): LeaseStep {
    if (
      ev === null || typeof ev !== "object" || typeof ev.now !== "number" ||
      !Number.isFinite(ev.now)
    ) {
      return protocolError(s, ev, "malformed event");
    }
    switch (ev.kind) {
      case "start":
        if (s.phase !== "idle") return protocolError(s, ev, "already started");
        {
          const acts: ClientLeaseAction[] = [log("info", "lease.starting", { policy })];
          return [requesting(s, ev.now, "initial", 0, acts), acts];
        }
      case "granted":
        return onGranted(s, ev);
      case "refused":
        return onRefused(s, ev);
      case "failed":
        return onFailed(s, ev);
      case "tick":
        return onTick(s, ev.now);
      case "stop":
        return onStop(s, ev.now);
      case "server-delete": {
        if (!holdsLease(s)) return stale(s, ev, "no lease");
        const acts: ClientLeaseAction[] = [];
        return [lose(s, ev.now, "deleted", acts), acts];
      }
      case "tep-failed":
        return onTepFailed(s, ev);
      case "traffic": {
        if (s.phase !== "expired" || !s.needsTraffic) return [s, []];
        const woken: ExpiredState = { ...s, needsTraffic: false };
        if (ev.now < woken.retryAt) return [woken, []];
        return onTick(woken, ev.now);
      }
      default:
        return protocolError(s, ev, "unknown event");
    }
  }

  return { initial, step, pollAt: leasePollAt, backoffDelay };
}
