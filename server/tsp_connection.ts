/**
 * One TSP session on a transport (a TCP connection or a UDP peer): feeds bytes to a
 * {@link TspServerSession}, carries out its actions in order, hands commands to the
 * {@link DstmService}, and enforces the per-connection timers. It is the service's
 * {@link SessionHandle} for this session.
 *
 * Actions run strictly in order. `flush-pause` (between DIGEST-MD5's rspauth line and the
 * `200 Success` line, brief §8.3) holds the queue for its duration on TCP, so the two lines
 * leave in two separate segments; over UDP each message is its own datagram anyway.
 *
 * Timers, checked by the shell's housekeeping tick:
 * - authentication must finish within `authTimeoutMs` (the session's own deadline);
 * - an authenticated client session (not a TEP) idle for `idleTimeoutMs` is closed; idle means
 *   no complete message in either direction, so trickling bytes does not keep it open. A session
 *   that holds the live lease it created stays open: a server-sent lease `delete` travels on it;
 * - over TCP, a line or frame once started must complete within `frameTimeoutMs` (slow read;
 *   the session's `partialSince` says since when one is under way, the limit is read at each
 *   tick so a reload applies to open connections);
 * - over TCP, a peer that does not read (more than `maxWriteBacklog` bytes unsent) is dropped.
 *
 * Nothing thrown in here escapes: an exception is logged and counted as
 * `internal_errors_total` (a defect) and only this connection is dropped.
 *
 * @module
 */
import { setTimeout } from "node:timers";
import {
  type ServerAction,
  type ServerSessionOptions,
  TspServerSession,
  type TunnelMessage,
} from "../lib/tsp/mod.ts";
import type { Logger } from "../lib/log/logger.ts";
import type { DstmService, SessionHandle, SessionRole } from "./dstm_service.ts";
import { type Counters, reasonLabel } from "./counters.ts";

/** Largest slice of input handed to the session at once. */
export const FEED_SLICE = 8192;

/** What a connection needs from its transport. */
export interface Transport {
  /** `tcp` or `udp`. */
  readonly kind: "tcp" | "udp";
  /** Peer address text. */
  readonly peerAddress: string;
  /** Peer port. */
  readonly peerPort: number;
  /** Send one message (one write, or one queued datagram payload). */
  send(bytes: Uint8Array): void;
  /** Pushes the transport can take now. */
  pushRoom(): number;
  /** Bytes accepted and not yet sent (TCP); 0 for UDP. */
  backlog(): number;
  /** Close after what was sent. */
  end(): void;
  /** Turn on transport keepalive (TEP sessions over TCP), if the transport has one. */
  keepAlive?(): void;
}

/** Timer values (read at each tick, so a reload applies to open connections). */
export interface ConnectionTimeouts {
  /** Idle limit of an authenticated client session, ms. */
  readonly idleMs: number;
  /** Slow-read limit for a started line or frame (TCP), ms. */
  readonly frameMs: number;
  /** Most unsent bytes before the peer counts as not reading (TCP). */
  readonly maxWriteBacklog: number;
}

/** Shared dependencies of connections. */
export interface ConnectionDeps {
  /** The core. */
  readonly service: DstmService;
  /** Session options for a new session (current settings). */
  readonly sessionOptions: () => ServerSessionOptions;
  /** Counters. */
  readonly counters: Counters;
  /** Logger. */
  readonly log: Logger;
  /** Clock (ms). */
  readonly clock: () => number;
  /** Current timer values. */
  readonly timeouts: () => ConnectionTimeouts;
}

/** One TSP session on a transport; see the module documentation. */
export class TspConnection implements SessionHandle {
  readonly #t: Transport;
  readonly #d: ConnectionDeps;
  readonly #session: TspServerSession;
  readonly #queue: ServerAction[] = [];
  /** TCP: sends produced by one drain, written as one buffer at its end (see `#flushOut`). */
  readonly #out: Uint8Array[] = [];
  #outBytes = 0;
  #paused = false;
  #closed = false;
  #finished = false;
  #busy = false;
  #role: SessionRole | undefined;
  #lastActivity: number;
  #onFinish: ((c: TspConnection) => void) | undefined;

  /** Start a session on `transport` (nothing is sent until the peer speaks). */
  constructor(transport: Transport, deps: ConnectionDeps, onFinish?: (c: TspConnection) => void) {
    this.#t = transport;
    this.#d = deps;
    this.#onFinish = onFinish;
    const now = deps.clock();
    this.#session = new TspServerSession(deps.sessionOptions(), now);
    this.#lastActivity = now;
  }

  /** Transport kind (SessionHandle). */
  get transport(): "tcp" | "udp" {
    return this.#t.kind;
  }

  /** Peer address (SessionHandle). */
  get peerAddress(): string {
    return this.#t.peerAddress;
  }

  /** Peer port (SessionHandle). */
  get peerPort(): number {
    return this.#t.peerPort;
  }

  /** The session ended (no more input is read). */
  get closed(): boolean {
    return this.#closed;
  }

  /** A command waits for the service's answer (UDP: do not send an empty reply yet). */
  get awaitingHandler(): boolean {
    return this.#session.awaitingHandler;
  }

  /** What the authenticated peer is (undefined before authentication). */
  get role(): SessionRole | undefined {
    return this.#role;
  }

  /**
   * Bytes from the peer. A large read is fed in slices of {@link FEED_SLICE} bytes, so the
   * session consumes (and skips NULs) as it goes instead of holding the whole read unparsed.
   */
  data(bytes: Uint8Array): void {
    for (let off = 0; off < bytes.length && !this.#closed; off += FEED_SLICE) {
      const slice = bytes.subarray(off, Math.min(bytes.length, off + FEED_SLICE));
      this.#guard(() => {
        const now = this.#d.clock();
        this.#run(this.#session.handle({ kind: "data", now, bytes: slice }));
      });
    }
    if (bytes.length === 0 && !this.#closed) {
      this.#guard(() => {
        this.#run(this.#session.handle({ kind: "data", now: this.#d.clock(), bytes }));
      });
    }
  }

  /** The transport can take more (TCP drained, UDP datagram answered): pushes may flow. */
  ready(): void {
    if (this.#closed) return;
    this.#guard(() => this.#d.service.sessionReady(this));
  }

  /** The transport closed (peer FIN/RST, error, or after our own end()). */
  transportClosed(): void {
    this.#guard(() => {
      if (!this.#closed) this.#shut("peer closed the connection");
      this.#finish("peer closed the connection");
    });
  }

  /** Housekeeping: deadlines of the session and the shell's timers. */
  tick(now: number): void {
    if (this.#closed) return;
    this.#guard(() => {
      const due = this.#session.pollAt();
      if (due !== null && now >= due) this.#run(this.#session.handle({ kind: "tick", now }));
      if (this.#closed) return;
      const t = this.#d.timeouts();
      if (this.#t.kind === "tcp") {
        const since = this.#session.partialSince;
        if (since !== null && now - since >= t.frameMs) {
          this.#d.counters.inc("timeouts_total", ["frame"]);
          this.#d.log.info("conn.slow-read", { peer: this.peerAddress, after_ms: now - since });
          this.close("slow read: a started line or frame did not complete in time");
          return;
        }
        if (this.#t.backlog() > t.maxWriteBacklog) {
          this.#d.counters.inc("timeouts_total", ["write"]);
          this.#d.log.info("conn.not-reading", { peer: this.peerAddress });
          this.close("peer does not read");
          return;
        }
      }
      if (
        this.#role === "client" && !this.#busy && this.#session.phase === "command" &&
        now - this.#lastActivity >= t.idleMs && !this.#d.service.holdsLease(this)
      ) {
        this.#d.counters.inc("timeouts_total", ["idle"]);
        this.#d.log.debug("conn.idle", { peer: this.peerAddress });
        this.close("idle timeout");
      }
    });
  }

  // ---- SessionHandle ---------------------------------------------------------------------

  /** Pushes this session can take now: only when idle in the command phase. */
  pushCapacity(): number {
    if (this.#closed || this.#paused || this.#queue.length > 0) return 0;
    if (this.#session.phase !== "command") return 0;
    return Math.max(0, this.#t.pushRoom());
  }

  /**
   * Send a server-initiated message; `false` when the session cannot queue it (not
   * authenticated, closed, or its held pushes overflowed: the service then closes a TEP's
   * session so that the TEP resyncs).
   */
  push(message: TunnelMessage): boolean {
    if (this.#closed) return false;
    const phase = this.#session.phase;
    if (phase !== "command" && phase !== "handling" && phase !== "accepting") return false;
    let overflow = false;
    this.#guard(() => {
      const actions = this.#session.handle({ kind: "push", now: this.#d.clock(), message });
      overflow = actions.some((a) => a.kind === "push-overflow");
      this.#run(actions);
    });
    return !overflow && !this.#closed;
  }

  /** Close the session now (the service or a timer decided). */
  close(reason: string): void {
    if (this.#closed) return;
    this.#guard(() => {
      this.#shut(reason);
      this.#finish(reason);
    });
  }

  // ---- internals -------------------------------------------------------------------------

  /** Mark closed, settle a pending accept step, end the transport. */
  #shut(reason: string): void {
    this.#closed = true;
    this.#queue.length = 0;
    for (const a of this.#session.handle({ kind: "closed", now: this.#d.clock() })) {
      if (a.kind === "accept") this.#d.service.acceptOutcome(this, a.id, a.outcome);
    }
    this.#d.log.debug("conn.closing", { peer: this.peerAddress, reason });
    this.#flushOut();
    this.#t.end();
  }

  #finish(reason: string): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#d.service.sessionClosed(this, reason);
    this.#onFinish?.(this);
  }

  #run(actions: readonly ServerAction[]): void {
    for (const a of actions) this.#queue.push(a);
    this.#drain();
  }

  #drain(): void {
    const d = this.#d;
    while (!this.#paused && !this.#closed && this.#queue.length > 0) {
      const a = this.#queue.shift()!;
      switch (a.kind) {
        case "send":
          if (this.#t.kind === "tcp") {
            this.#out.push(a.bytes);
            this.#outBytes += a.bytes.length;
          } else {
            this.#t.send(a.bytes); // one datagram per message
          }
          this.#lastActivity = d.clock();
          break;
        case "flush-pause":
          if (this.#t.kind === "tcp") {
            this.#flushOut();
            this.#paused = true;
            setTimeout(() => {
              this.#paused = false;
              this.#guard(() => this.#drain());
            }, a.ms);
          }
          break;
        case "authenticated":
          this.#lastActivity = d.clock();
          d.counters.inc("auth_total", [a.mechanism, "ok"]);
          d.log.info("auth.ok", {
            peer: this.peerAddress,
            transport: this.#t.kind,
            identity: a.identity,
            mechanism: a.mechanism,
            version: a.version,
          });
          this.#role = d.service.sessionAuthenticated(this, a.identity, a.mechanism);
          if (this.#role === "tep") this.#t.keepAlive?.();
          break;
        case "request": {
          this.#busy = true;
          this.#lastActivity = d.clock();
          const id = a.id;
          if (a.repaired) d.log.info("request.repaired-xml", { peer: this.peerAddress });
          const answer = d.service.request(this, a);
          if (answer instanceof Promise) {
            answer.then((reply) => {
              this.#guard(() => {
                this.#busy = false;
                if (this.#closed) return;
                this.#lastActivity = d.clock();
                this.#run(this.#session.handle({ kind: "reply", now: d.clock(), id, reply }));
              });
            });
          } else {
            // Answered at once (query, info): go on with the next pipelined command in this
            // same drain, so a burst of queries becomes one burst of replies in one write.
            this.#busy = false;
            const now = d.clock();
            this.#lastActivity = now;
            for (const x of this.#session.handle({ kind: "reply", now, id, reply: answer })) {
              this.#queue.push(x);
            }
          }
          break;
        }
        case "accept":
          this.#lastActivity = d.clock();
          d.service.acceptOutcome(this, a.id, a.outcome);
          if (a.outcome === "timeout") d.counters.inc("timeouts_total", ["accept"]);
          break;
        case "protocol-error":
          d.counters.inc("protocol_errors_total", [reasonLabel(a.reason)]);
          d.log.debug("conn.protocol-error", { peer: this.peerAddress, reason: a.reason });
          break;
        case "push-overflow":
          // push() returns false; the service counts it and decides (closes a TEP's session)
          d.log.debug("conn.push-overflow", { peer: this.peerAddress, pending: a.pending });
          break;
        case "close":
          this.#onSessionClose(a.reason);
          break;
      }
    }
    this.#flushOut();
    if (
      !this.#paused && !this.#closed && this.#queue.length === 0 &&
      this.#session.phase === "command"
    ) {
      d.service.sessionReady(this);
    }
  }

  /** Write what this drain produced (TCP): one `send` for a burst of replies. */
  #flushOut(): void {
    const out = this.#out;
    if (out.length === 0) return;
    let bytes: Uint8Array;
    if (out.length === 1) bytes = out[0];
    else {
      bytes = new Uint8Array(this.#outBytes);
      let off = 0;
      for (const b of out) {
        bytes.set(b, off);
        off += b.length;
      }
    }
    out.length = 0;
    this.#outBytes = 0;
    this.#t.send(bytes);
  }

  #onSessionClose(reason: string): void {
    const d = this.#d;
    if (reason.startsWith("authentication failed") || reason.startsWith("mechanism not offered")) {
      d.counters.inc("auth_total", [
        reason.startsWith("mechanism") ? "unoffered" : "any",
        "failed",
      ]);
      d.log.info("auth.failed", { peer: this.peerAddress, transport: this.#t.kind, reason });
    } else if (reason === "authentication timeout") {
      d.counters.inc("timeouts_total", ["auth"]);
      d.log.info("conn.auth-timeout", { peer: this.peerAddress });
    } else if (reason.startsWith("framing") || reason.startsWith("unsupported version")) {
      d.log.info("conn.refused", { peer: this.peerAddress, reason });
    }
    this.#closed = true;
    this.#queue.length = 0;
    this.#flushOut();
    this.#t.end();
    this.#finish(reason);
  }

  #guard(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      const err = e as Error;
      this.#d.counters.inc("internal_errors_total");
      this.#d.log.error("conn.internal-error", {
        peer: this.peerAddress,
        error: err?.stack ?? String(e),
      });
      if (!this.#closed) {
        this.#closed = true;
        this.#queue.length = 0;
        try {
          this.#t.end();
        } catch { /* already gone */ }
      }
      try {
        this.#finish("internal error");
      } catch { /* nothing more to do */ }
    }
  }
}
