/**
 * The TEP's one persistent, authenticated TSP session to the DSTM server (protocol brief §1.4,
 * §3.3, §6 rows 2 and 3; `lib/tsp/PUSH.md`), over TCP with `node:net`.
 *
 * It runs a persistent {@link TspClientSession} (DIGEST-MD5 with the TEP's credentials; the
 * server's `rspauth` is verified before the session counts as up), sends `query` commands one at
 * a time in order, reports each answer, and reports the server's binding pushes. When the session
 * fails or the server goes away it reports `down`, fails every query still outstanding, and
 * reconnects after 1 s doubling to 30 s with jitter (`backoff.ts`); a session that reached `up`
 * resets the backoff.
 *
 * @module
 */
import net from "node:net";
import { parseIpv4 } from "../lib/addr/ipv4.ts";
import { TspClientSession } from "../lib/tsp/client_session.ts";
import type { ClientAction } from "../lib/tsp/client_session.ts";
import {
  queryRequest,
  readPush,
  readQueryInfo,
  readQueryKey,
  type TepAddresses,
} from "../lib/tsp/dstm_profile.ts";
import { createSaslClient } from "../lib/tsp/sasl/factory.ts";
import { Status } from "../lib/tsp/status_codes.ts";
import { BACKOFF_DEFAULTS, type BackoffOptions, reconnectDelay } from "./backoff.ts";

/** Where and as whom to connect. */
export interface TspLinkOptions {
  /** Server address (IPv6 or IPv4 text). */
  readonly host: string;
  /** Server port. */
  readonly port: number;
  /** SASL user (the TEP's name). */
  readonly user: string;
  /** Password. */
  readonly password: string;
  /** The TEP's addresses, sent in each query's `<client>` (brief §3.3). */
  readonly tep: TepAddresses;
  /** Reconnection backoff. */
  readonly backoff?: BackoffOptions;
  /** Time allowed for each server answer, ms. Default 10 000. */
  readonly responseTimeoutMs?: number;
  /** Randomness in [0, 1) for the backoff jitter. Default `Math.random`. */
  readonly random?: () => number;
}

/** The answer to one query. */
export type QueryAnswer =
  /** `200` with the binding; `lifetime` in minutes (1440 when the server sent none). */
  | { readonly kind: "found"; readonly clientIpv6: string; readonly lifetime: number }
  /** `308`/`501`: not leased or invalid. */
  | { readonly kind: "refused"; readonly code: number }
  /** Anything else, or the session ended before the answer. */
  | { readonly kind: "failed"; readonly reason: string };

/** A binding push from the server. */
export interface BindingPush {
  /** `add` (`create`) or `remove` (`delete`). */
  readonly kind: "add" | "remove";
  /** Leased IPv4. */
  readonly ipv4: string;
  /** The client's IPv6 address. */
  readonly clientIpv6: string;
  /** Minutes (adds), when sent. */
  readonly lifetime?: number;
}

/** What the link reports. */
export interface TspLinkEvents {
  /** Authenticated (after rspauth was verified); queries flow. */
  up(info: { version: string; mechanism: string }): void;
  /** The session ended; `retryInMs` until the next attempt. */
  down(info: { reason: string; retryInMs: number; wasUp: boolean }): void;
  /** A binding push. */
  push(p: BindingPush): void;
  /** The answer to `query(ipv4)`. */
  answer(ipv4: string, a: QueryAnswer): void;
  /** A server message that did not fit (counted, logged). */
  protocolError(reason: string): void;
}

/** Link state. */
export type TspLinkState = "connecting" | "up" | "waiting" | "stopped";

/** Counters of a {@link TspLink}. */
export interface TspLinkCounters {
  /** TCP connections opened. */
  connects: number;
  /** Sessions that reached `up`. */
  sessions: number;
  /** Sessions that ended (failed or closed). */
  downs: number;
  /** Queries sent. */
  queriesSent: number;
  /** Answers by kind. */
  found: number;
  refused: number;
  failed: number;
  /** Pushes received (add, remove). */
  pushesAdd: number;
  pushesRemove: number;
  /** Server messages that did not fit. */
  protocolErrors: number;
}

/** The TEP's TSP session with reconnection; see the module documentation. */
export class TspLink {
  readonly #o: TspLinkOptions;
  readonly #ev: TspLinkEvents;
  readonly #random: () => number;
  #state: TspLinkState = "waiting";
  #session: TspClientSession | undefined;
  #socket: net.Socket | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #attempt = 0;
  #wasUp = false;
  #pending: string[] = [];
  #downReason = "";
  #since = Date.now();
  #version = "";
  /** Counters. */
  readonly counters: TspLinkCounters = {
    connects: 0,
    sessions: 0,
    downs: 0,
    queriesSent: 0,
    found: 0,
    refused: 0,
    failed: 0,
    pushesAdd: 0,
    pushesRemove: 0,
    protocolErrors: 0,
  };

  /** A link (not started). */
  constructor(options: TspLinkOptions, events: TspLinkEvents) {
    this.#o = options;
    this.#ev = events;
    this.#random = options.random ?? Math.random;
  }

  /** The state. */
  get state(): TspLinkState {
    return this.#state;
  }

  /** When the state last changed (ms since the epoch). */
  get since(): number {
    return this.#since;
  }

  /** The TSP version of the session in use (empty when none). */
  get version(): string {
    return this.#version;
  }

  /** Why the last session ended (empty if none did). */
  get lastDownReason(): string {
    return this.#downReason;
  }

  /** Queries sent or queued and not yet answered. */
  get pendingQueries(): number {
    return this.#pending.length;
  }

  /** Connect (and keep reconnecting until {@link stop}). */
  start(): void {
    if (this.#state === "stopped") return;
    this.#connect();
  }

  /**
   * Ask the server who holds `ipv4`; the answer comes through `answer`. False (nothing sent)
   * while the session is not up.
   */
  query(ipv4: string): boolean {
    if (this.#state !== "up" || !this.#session) return false;
    this.#pending.push(ipv4);
    this.counters.queriesSent++;
    this.#run(
      this.#session.handle({
        kind: "command",
        now: Date.now(),
        message: queryRequest(ipv4, this.#o.tep),
      }),
    );
    return true;
  }

  /** End the session and stop reconnecting. Outstanding queries fail. */
  stop(): Promise<void> {
    const was = this.#state;
    this.#setState("stopped");
    if (this.#retry !== undefined) clearTimeout(this.#retry);
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#retry = this.#timer = undefined;
    const s = this.#session;
    this.#session = undefined;
    if (s && s.phase !== "closed") {
      for (const a of s.handle({ kind: "close", now: Date.now() })) {
        if (a.kind === "send") this.#socket?.write(a.bytes);
      }
    }
    this.#failPending("the TEP is stopping");
    const sock = this.#socket;
    this.#socket = undefined;
    if (!sock || was === "stopped") return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        sock.destroy();
        resolve();
      }, 1000);
      sock.once("close", () => {
        clearTimeout(t);
        resolve();
      });
      sock.end();
    });
  }

  #setState(s: TspLinkState): void {
    if (this.#state !== s) this.#since = Date.now();
    this.#state = s;
  }

  #connect(): void {
    this.#setState("connecting");
    this.#wasUp = false;
    this.#version = "";
    const host = this.#o.host;
    const uriHost = host.includes(":") ? `[${host}]` : host;
    this.#session = new TspClientSession({
      mechanism: "DIGEST-MD5",
      persistent: true,
      responseTimeoutMs: this.#o.responseTimeoutMs ?? 10_000,
      createSasl: (m) =>
        createSaslClient(m, {
          user: this.#o.user,
          pass: this.#o.password,
          digestUriHost: uriHost,
          cnonce: () => {
            // Unpredictable (RFC 2831 §2.1.2): from the system's CSPRNG, never from `random`.
            const b = crypto.getRandomValues(new Uint8Array(16));
            return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
          },
        }),
    });
    this.#open();
  }

  /** Open a TCP connection for the current session. */
  #open(): void {
    const session = this.#session!;
    this.counters.connects++;
    const sock = net.createConnection({ host: this.#o.host, port: this.#o.port });
    this.#socket = sock;
    sock.setNoDelay(true);
    sock.on("connect", () => {
      if (this.#socket !== sock || this.#session !== session) return;
      sock.setKeepAlive(true, 10_000);
      this.#run(session.handle({ kind: "connected", now: Date.now() }));
    });
    sock.on("data", (d: Uint8Array) => {
      if (this.#socket !== sock || this.#session !== session) return;
      this.#run(session.handle({ kind: "data", now: Date.now(), bytes: new Uint8Array(d) }));
    });
    sock.on("error", (e: Error) => {
      if (this.#socket === sock) this.#downReason = e.message;
    });
    sock.on("close", () => {
      if (this.#socket !== sock || this.#session !== session) return;
      this.#socket = undefined;
      if (session.phase === "closed") {
        this.#down(this.#downReason || "connection closed");
        return;
      }
      const reason = this.#downReason;
      this.#run(session.handle({ kind: "closed", now: Date.now() }));
      if (this.#session === session && this.#state !== "waiting") {
        this.#down(reason || "connection closed");
      }
    });
  }

  #run(actions: ClientAction[]): void {
    const session = this.#session;
    for (const a of actions) {
      switch (a.kind) {
        case "send":
          this.#socket?.write(a.bytes);
          break;
        case "close": {
          const sock = this.#socket;
          this.#socket = undefined;
          sock?.end();
          sock?.destroySoon?.();
          if (this.#state !== "stopped") this.#down(this.#downReason || a.reason);
          break;
        }
        case "reconnect": {
          // 302: the server refused this version and closes; try the next one.
          const sock = this.#socket;
          this.#socket = undefined;
          sock?.destroy();
          this.#open();
          break;
        }
        case "ready":
          this.#setState("up");
          this.#wasUp = true;
          this.#attempt = 0;
          this.#version = a.version;
          this.counters.sessions++;
          this.#ev.up({ version: a.version, mechanism: a.mechanism });
          break;
        case "response":
          this.#onResponse(a);
          break;
        case "push": {
          const p = readPush(a.message);
          if (!p) {
            this.counters.protocolErrors++;
            this.#ev.protocolError(`push without a binding (${a.message.action})`);
            break;
          }
          if (p.kind === "add") this.counters.pushesAdd++;
          else this.counters.pushesRemove++;
          this.#ev.push(p);
          break;
        }
        case "failed":
          this.#downReason = `${a.stage}: ${a.reason}`;
          break;
        case "redirect":
          this.#downReason = `redirected by the server (${a.status.code})`;
          break;
        case "done":
          break;
        case "protocol-error":
          this.counters.protocolErrors++;
          this.#ev.protocolError(a.reason);
          break;
      }
    }
    this.#arm(session);
  }

  #onResponse(a: Extract<ClientAction, { kind: "response" }>): void {
    const key = readQueryKey(a.command);
    if (key === undefined) return;
    const i = this.#pending.indexOf(key);
    if (i >= 0) this.#pending.splice(i, 1);
    let answer: QueryAnswer;
    const code = a.status.code;
    if (a.status.success && a.message) {
      const b = readQueryInfo(a.message);
      const want = parseIpv4(key);
      const got = b ? parseIpv4(b.ipv4) : undefined;
      if (b && want.ok && got?.ok && want.value === got.value) {
        answer = { kind: "found", clientIpv6: b.clientIpv6, lifetime: b.lifetime ?? 1440 };
      } else answer = { kind: "failed", reason: "answer without the binding asked for" };
    } else if (code === Status.ADDRESS_UNAVAILABLE || code === Status.INVALID_IPV4) {
      answer = { kind: "refused", code };
    } else answer = { kind: "failed", reason: `status ${code}` };
    this.counters[answer.kind]++;
    this.#ev.answer(key, answer);
  }

  /** Keep one timer at the session's deadline. */
  #arm(session: TspClientSession | undefined): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (!session || session !== this.#session) return;
    const at = session.pollAt();
    if (at === null) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#session === session) this.#run(session.handle({ kind: "tick", now: Date.now() }));
    }, Math.max(0, at - Date.now()));
  }

  #failPending(reason: string): void {
    const p = this.#pending;
    this.#pending = [];
    for (const ipv4 of p) {
      this.counters.failed++;
      this.#ev.answer(ipv4, { kind: "failed", reason });
    }
  }

  #down(reason: string): void {
    if (this.#state === "waiting" || this.#state === "stopped") return;
    const wasUp = this.#wasUp;
    this.#session = undefined;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const sock = this.#socket;
    this.#socket = undefined;
    sock?.destroy();
    this.counters.downs++;
    this.#setState("waiting");
    this.#version = "";
    const delay = reconnectDelay(
      this.#attempt++,
      this.#random(),
      this.#o.backoff ?? BACKOFF_DEFAULTS,
    );
    this.#downReason = reason;
    this.#ev.down({ reason, retryInMs: delay, wasUp });
    this.#failPending(`session down: ${reason}`);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (this.#state === "waiting") this.#connect();
    }, delay);
  }
}
