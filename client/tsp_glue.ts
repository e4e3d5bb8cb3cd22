/**
 * The session glue between the client's lease machine and TSP, sans-I/O: lease-machine
 * `request`/`release` actions in, TSP bytes and transport actions out, server answers turned
 * back into lease-machine events (`granted`/`refused`/`failed`, echoing the request id).
 *
 * - One {@link TspClientSession} at a time, `persistent`: after the answer the TCP connection
 *   stays open, so a `delete` the server pushes on it (PUSH.md, protocol.md §5.2) is seen at once
 *   (`server-delete` output). When the server closes it (its idle timeout, a restart), the next
 *   request opens a new one ("reconnect on renewals").
 * - The client IPv6 in every `create`/`delete` is the registered address (`source`). When it is
 *   not configured, the first connection's local address is taken (the kernel's choice toward
 *   the server) and kept for the life of the process: later connections bind to it, so the
 *   address the server sees, the one in the XML and the tunnel source stay the same (§4.1).
 * - Requests: allocation `create` (client IPv6 only) or renewal `create` (with the current IPv4,
 *   §2.10); release: `delete` with both. Answers map in order (one connection carries them in
 *   order); a session or transport failure fails every request still unanswered.
 * - An `info` answer becomes a {@link ClientLease}: leased IPv4, lifetime in minutes (default
 *   1440, §5.1), TEP IPv6 + IPv4, `<keepalive interval>` if any. `leaseCapMs` (testing only)
 *   shortens the lifetime the machine sees.
 *
 * @module
 */
import {
  allocationRequest,
  type ClientAction,
  type CommandMessage,
  DEFAULT_LIFETIME_MINUTES,
  firstAddress,
  type InfoMessage,
  type MechanismName,
  releaseRequest,
  renewalRequest,
  type SaslClient,
  TspClientSession,
  type TunnelMessage,
} from "../lib/tsp/mod.ts";
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from "../lib/addr/mod.ts";
import type { ClientLease, ClientLeaseEvent } from "../lib/client/mod.ts";
import { MAX_LIFETIME_MINUTES, MS_PER_MINUTE } from "../lib/client/mod.ts";
import type { LogFields, LogLevel } from "../lib/log/logger.ts";

/** Options of {@link TspGlue}. */
export interface TspGlueOptions {
  /** SASL mechanism (must be offered by the server). */
  readonly mechanism: MechanismName;
  /** Make the SASL client. */
  readonly createSasl: (mechanism: MechanismName) => SaslClient;
  /** Registered IPv6 (text); undefined: learn it from the first connection. */
  readonly source?: string;
  /** TSP versions to try (default: the lib's list). */
  readonly versions?: readonly string[];
  /** Time allowed for each server message, ms (default 15000). */
  readonly responseTimeoutMs?: number;
  /** Testing only: the lifetime the lease machine sees is at most this, ms. */
  readonly leaseCapMs?: number;
}

/** An output of the glue, for the shell to carry out in order. */
export type GlueOutput =
  /** Open a transport to the server (bound to `source` when known); then call `connected`. */
  | { readonly kind: "connect"; readonly source: string | undefined }
  /** Write these bytes on the transport. */
  | { readonly kind: "send"; readonly bytes: Uint8Array }
  /** Close the transport (ignore if already closed). */
  | { readonly kind: "close"; readonly reason: string }
  /** Feed this event to the lease machine. */
  | { readonly kind: "lease-event"; readonly event: ClientLeaseEvent }
  /** The server pushed `delete` for this IPv4 (the shell checks it is the current lease). */
  | { readonly kind: "server-delete"; readonly ipv4: number; readonly clientIpv6?: string }
  /** A release finished (`ok`: the server confirmed it). */
  | {
    readonly kind: "released";
    readonly ipv4: number;
    readonly ok: boolean;
    readonly detail: string;
  }
  /** The registered address was learned from the first connection. */
  | { readonly kind: "source"; readonly source: string }
  /** Log one event. */
  | {
    readonly kind: "log";
    readonly level: LogLevel;
    readonly event: string;
    readonly fields: LogFields;
  };

type Job =
  | {
    readonly kind: "request";
    readonly id: number;
    readonly ipv4?: number;
    command?: CommandMessage;
  }
  | { readonly kind: "release"; readonly ipv4: number; command?: CommandMessage };

/** What `ctl status` shows about the TSP side. */
export interface GlueStatus {
  /** Transport state. */
  readonly link: "down" | "connecting" | "up";
  /** Session phase, if a session exists. */
  readonly phase: string | undefined;
  /** TSP version in use. */
  readonly version: string | undefined;
  /** Registered IPv6, once known. */
  readonly source: string | undefined;
  /** Connections opened. */
  readonly connections: number;
  /** Requests answered by the server. */
  readonly answers: number;
  /** Requests failed without an answer. */
  readonly failures: number;
  /** Pushes received. */
  readonly pushes: number;
  /** Protocol errors (messages that did not fit). */
  readonly protocolErrors: number;
}

/** Turn an allocation/renewal `info` into a lease, or say why it is unusable. */
export function leaseFromInfo(message: InfoMessage, leaseCapMs?: number): ClientLease | string {
  const ipv4Text = firstAddress(message.client, "ipv4");
  const tep6Text = firstAddress(message.server, "ipv6");
  const tep4Text = firstAddress(message.server, "ipv4");
  if (ipv4Text === undefined) return "no leased IPv4 in <client>";
  if (tep6Text === undefined) return "no TEP IPv6 in <server>";
  if (tep4Text === undefined) return "no TEP IPv4 in <server>";
  const ipv4 = parseIpv4(ipv4Text);
  const tep4 = parseIpv4(tep4Text);
  const tep6 = parseIpv6(tep6Text);
  if (!ipv4.ok) return `leased IPv4 ${ipv4Text} unreadable (${ipv4.reason})`;
  if (!tep4.ok) return `TEP IPv4 ${tep4Text} unreadable (${tep4.reason})`;
  if (!tep6.ok) return `TEP IPv6 ${tep6Text} unreadable (${tep6.reason})`;
  const a = ipv4.value;
  // Not a host address anyone could lease: 0/8, 127/8, multicast and above, limited broadcast.
  const first = a >>> 24;
  if (first === 0 || first === 127 || first >= 224) return `leased IPv4 ${ipv4Text} is not unicast`;
  const t6 = tep6.value;
  if (t6[0] === 0xff || t6.every((b) => b === 0)) return `TEP IPv6 ${tep6Text} is not unicast`;
  let minutes = message.lifetime ?? DEFAULT_LIFETIME_MINUTES;
  if (!(minutes > 0) || minutes > MAX_LIFETIME_MINUTES) return `lifetime ${minutes} out of range`;
  if (leaseCapMs !== undefined && minutes * MS_PER_MINUTE > leaseCapMs) {
    minutes = leaseCapMs / MS_PER_MINUTE;
  }
  const k = message.client?.keepalive?.interval;
  return {
    ipv4: a,
    lifetimeMinutes: minutes,
    tep: { ipv6: t6, ipv4: tep4.value },
    ...(typeof k === "number" && k > 0 ? { keepaliveSeconds: k } : {}),
  };
}

/** The TSP side of the client; see the module documentation. */
export class TspGlue {
  readonly #o: TspGlueOptions;
  #source: string | undefined;
  #session: TspClientSession | null = null;
  #link: "down" | "connecting" | "up" = "down";
  #waiting: Job[] = [];
  #sent: Job[] = [];
  #lastFailure = "";
  #connections = 0;
  #answers = 0;
  #failures = 0;
  #pushes = 0;
  #protocolErrors = 0;

  /** A glue with no connection yet. */
  constructor(options: TspGlueOptions) {
    this.#o = options;
    this.#source = options.source;
  }

  /** The registered IPv6 (text), once known. */
  get source(): string | undefined {
    return this.#source;
  }

  /** True while a request or release waits for the server. */
  get busy(): boolean {
    return this.#waiting.length > 0 || this.#sent.length > 0;
  }

  /** A snapshot for `ctl status`. */
  status(): GlueStatus {
    return {
      link: this.#link,
      phase: this.#session?.phase,
      version: this.#session?.version,
      source: this.#source,
      connections: this.#connections,
      answers: this.#answers,
      failures: this.#failures,
      pushes: this.#pushes,
      protocolErrors: this.#protocolErrors,
    };
  }

  /** The session's next deadline, or `Infinity`. */
  pollAt(): number {
    return this.#session?.pollAt() ?? Infinity;
  }

  /** Ask for a lease (`ipv4` undefined) or renew `ipv4`; the answer echoes `id`. */
  request(now: number, id: number, ipv4?: number): GlueOutput[] {
    return this.#submit(
      now,
      ipv4 === undefined ? { kind: "request", id } : { kind: "request", id, ipv4 },
    );
  }

  /** Release `ipv4` (TSP `delete`); a `released` output follows. */
  release(now: number, ipv4: number): GlueOutput[] {
    return this.#submit(now, { kind: "release", ipv4 });
  }

  /** The transport asked for by `connect` is open; `localAddress` is its local IPv6. */
  connected(now: number, localAddress: string): GlueOutput[] {
    const out: GlueOutput[] = [];
    if (this.#link !== "connecting") {
      out.push(log("warn", "tsp.unexpected-connect", {}));
      return out;
    }
    this.#link = "up";
    this.#connections++;
    if (this.#source === undefined) {
      const r = parseIpv6(localAddress);
      if (!r.ok) {
        this.#link = "down";
        out.push({ kind: "close", reason: "local address unreadable" });
        this.#failAll(now, `local address ${localAddress} is not IPv6`, out);
        return out;
      }
      this.#source = formatIpv6(r.value);
      out.push({ kind: "source", source: this.#source });
    }
    if (this.#session === null) {
      this.#session = new TspClientSession({
        mechanism: this.#o.mechanism,
        createSasl: this.#o.createSasl,
        persistent: true,
        responseTimeoutMs: this.#o.responseTimeoutMs ?? 15000,
        ...(this.#o.versions ? { versions: this.#o.versions } : {}),
      });
    }
    this.#run(now, this.#session.handle({ kind: "connected", now }), out);
    const jobs = this.#waiting;
    this.#waiting = [];
    for (const job of jobs) {
      if (this.#session === null) this.#fail(now, job, this.#lastFailure || "session ended", out);
      else this.#hand(now, job, out);
    }
    return out;
  }

  /** Bytes from the server. */
  data(now: number, bytes: Uint8Array): GlueOutput[] {
    const out: GlueOutput[] = [];
    if (this.#session && this.#link === "up") {
      this.#run(now, this.#session.handle({ kind: "data", now, bytes }), out);
    }
    return out;
  }

  /** The transport closed (or could not be opened: `reason`). */
  closed(now: number, reason = "connection closed"): GlueOutput[] {
    const out: GlueOutput[] = [];
    const was = this.#link;
    this.#link = "down";
    if (was === "connecting") {
      // The connection could not be made (first or 302 fallback): give up this session.
      this.#session = null;
      this.#failAll(now, reason, out);
      return out;
    }
    if (was === "up" && this.#session) {
      this.#lastFailure = reason;
      this.#run(now, this.#session.handle({ kind: "closed", now }), out);
    }
    this.#session = null;
    this.#failAll(now, this.#lastFailure || reason, out);
    return out;
  }

  /** Time passes: the session's deadline. */
  tick(now: number): GlueOutput[] {
    const out: GlueOutput[] = [];
    if (this.#session) this.#run(now, this.#session.handle({ kind: "tick", now }), out);
    return out;
  }

  /** End the session (shutdown). */
  close(now: number): GlueOutput[] {
    const out: GlueOutput[] = [];
    if (this.#session) this.#run(now, this.#session.handle({ kind: "close", now }), out);
    else if (this.#link !== "down") out.push({ kind: "close", reason: "closed by owner" });
    this.#link = "down";
    this.#session = null;
    this.#failAll(now, "closed by owner", out);
    return out;
  }

  // -------------------------------------------------------------------------------------------

  #submit(now: number, job: Job): GlueOutput[] {
    const out: GlueOutput[] = [];
    if (this.#link === "up" && this.#session !== null && this.#session.phase !== "closed") {
      this.#hand(now, job, out);
      return out;
    }
    this.#waiting.push(job);
    if (this.#link === "down") {
      this.#link = "connecting";
      this.#lastFailure = "";
      out.push({ kind: "connect", source: this.#source });
    }
    return out;
  }

  #command(job: Job): CommandMessage {
    const me = this.#source!;
    if (job.kind === "release") return releaseRequest(me, formatIpv4(job.ipv4));
    return job.ipv4 === undefined
      ? allocationRequest(me)
      : renewalRequest(me, formatIpv4(job.ipv4));
  }

  #hand(now: number, job: Job, out: GlueOutput[]): void {
    const session = this.#session!;
    job.command = this.#command(job);
    this.#sent.push(job);
    this.#run(now, session.handle({ kind: "command", now, message: job.command }), out);
  }

  #fail(now: number, job: Job, error: string, out: GlueOutput[]): void {
    this.#failures++;
    if (job.kind === "request") {
      out.push({ kind: "lease-event", event: { kind: "failed", now, error, id: job.id } });
    } else {
      out.push({ kind: "released", ipv4: job.ipv4, ok: false, detail: error });
    }
  }

  #failAll(now: number, error: string, out: GlueOutput[]): void {
    const jobs = [...this.#sent, ...this.#waiting];
    this.#sent = [];
    this.#waiting = [];
    for (const job of jobs) this.#fail(now, job, error, out);
  }

  #run(now: number, actions: ClientAction[], out: GlueOutput[]): void {
    for (const a of actions) {
      switch (a.kind) {
        case "send":
          out.push({ kind: "send", bytes: a.bytes });
          break;
        case "reconnect":
          // 302: the server closes; try the next version on a new connection (same session).
          out.push({ kind: "close", reason: `version fallback to ${a.version}` });
          out.push({ kind: "connect", source: this.#source });
          this.#link = "connecting";
          out.push(log("info", "tsp.version-fallback", { version: a.version }));
          break;
        case "ready":
          out.push(log("info", "tsp.ready", { version: a.version, mechanism: a.mechanism }));
          break;
        case "response":
          this.#answer(now, a, out);
          break;
        case "push":
          this.#push(a.message, out);
          break;
        case "redirect":
          this.#lastFailure = `redirected (${a.status.code}) to ${
            a.brokers.map((b) => b.addresses.map((x) => x.value).join("/")).join(", ") || "nobody"
          }`;
          out.push(log("warn", "tsp.redirect", { detail: this.#lastFailure }));
          break;
        case "failed":
          this.#lastFailure = `${a.stage}: ${a.reason}${a.status ? ` (${a.status.code})` : ""}`;
          out.push(
            log("warn", "tsp.session-failed", {
              stage: a.stage,
              reason: a.reason,
              code: a.status?.code,
            }),
          );
          break;
        case "done":
          break;
        case "close":
          out.push({ kind: "close", reason: a.reason });
          this.#link = "down";
          this.#session = null;
          this.#failAll(now, this.#lastFailure || a.reason, out);
          break;
        case "protocol-error":
          this.#protocolErrors++;
          out.push(log("warn", "tsp.protocol-error", { reason: a.reason }));
          break;
      }
    }
  }

  #answer(now: number, a: Extract<ClientAction, { kind: "response" }>, out: GlueOutput[]): void {
    const job = this.#sent.shift();
    if (job === undefined || job.command !== a.command) {
      this.#protocolErrors++;
      out.push(log("warn", "tsp.unmatched-answer", { code: a.status.code }));
      if (job !== undefined) this.#sent.unshift(job);
      return;
    }
    this.#answers++;
    const code = a.status.code;
    if (job.kind === "release") {
      out.push({
        kind: "released",
        ipv4: job.ipv4,
        ok: a.status.success,
        detail: `${code} ${a.status.text}`,
      });
      return;
    }
    const id = job.id;
    if (!a.status.success) {
      out.push({ kind: "lease-event", event: { kind: "refused", now, code, id } });
      return;
    }
    if (a.message?.action !== "info") {
      out.push({
        kind: "lease-event",
        event: { kind: "failed", now, error: 'success without <tunnel action="info">', id },
      });
      return;
    }
    if (a.accepted === false) {
      out.push({
        kind: "lease-event",
        event: { kind: "failed", now, error: "offer rejected", id },
      });
      return;
    }
    const lease = leaseFromInfo(a.message, this.#o.leaseCapMs);
    if (typeof lease === "string") {
      out.push({ kind: "lease-event", event: { kind: "failed", now, error: lease, id } });
      return;
    }
    out.push({ kind: "lease-event", event: { kind: "granted", now, lease, id } });
  }

  #push(m: TunnelMessage, out: GlueOutput[]): void {
    this.#pushes++;
    if (m.action !== "delete") {
      out.push(log("info", "tsp.push-ignored", { action: m.action }));
      return;
    }
    const text = firstAddress(m.client, "ipv4");
    const r = text === undefined ? undefined : parseIpv4(text);
    if (r === undefined || !r.ok) {
      this.#protocolErrors++;
      out.push(log("warn", "tsp.push-unreadable", { action: m.action }));
      return;
    }
    const clientIpv6 = firstAddress(m.client, "ipv6");
    out.push(
      clientIpv6 === undefined
        ? { kind: "server-delete", ipv4: r.value }
        : { kind: "server-delete", ipv4: r.value, clientIpv6 },
    );
  }
}

function log(level: LogLevel, event: string, fields: LogFields): GlueOutput {
  return { kind: "log", level, event, fields };
}
