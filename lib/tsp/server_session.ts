/**
 * The server side of one TSP session (protocol brief §2.2-§2.5, §3.2, §8), sans-I/O: events in
 * (each with `now` in ms), actions out, one deadline from {@link TspServerSession.pollAt}.
 *
 * Phases, each citing the brief:
 * 1. `version` (§2.3, §8.6): `VERSION=<v>`; an accepted version (default 1.0, 2.0.0, 2.0.1,
 *    2.0.2; or a list, or a predicate such as "1.0 or any 2.0.x" with `isTsp20Version`)
 *    gets the `CAPABILITY` line; any other gets `302 Unsupported client version` (or `1302` and
 *    a broker list when a redirect is configured) and the session closes.
 * 2. `authenticate` (§2.3): `AUTHENTICATE <MECH>`; a mechanism not offered gets `300
 *    Authentication failed` and close.
 * 3. `sasl` (§2.4, §8.2, §8.3): lines go to the {@link SaslServer}. On success a DIGEST-MD5
 *    `rspauth` line goes first, then a `flush-pause` action, then the success line as a separate
 *    send: `200 Success`, or for VERSION=1.0 the configurable `OK Authentication successful`.
 * 4. `command` (§2.2 recommendation): any number of `Content-length` framed commands. Each
 *    well-formed `create`/`delete`/`info`/`query` goes up to the shell as a `request` action; the
 *    shell answers with a `reply` event, at once or later (async handler). Parse failures are
 *    answered here: 303 unknown tunnel type, 501/502 bad address, 500 otherwise (§3.2 item 10).
 * 5. `accepting` (§2.2): after a `200` `info` answer to `create` on a 2.x session, the next
 *    message should be `accept` or `reject`; the outcome goes up as an `accept` action. VERSION=1.0
 *    has no such step, nor has `query` (§3.2 item 8); a stray `accept` is ignored.
 *
 * Pushes (PUSH.md): a `push` event sends a server-initiated message framed like a reply
 * (`Content-length`, `200 Success`, XML) at once when the session is idle in the command phase,
 * or after the pending reply/accept step otherwise. At most `maxPendingPushes` wait; one more is
 * dropped with a `push-overflow` action (the session stays open; the shell decides, e.g. closes
 * a TEP's session so that it resyncs).
 *
 * Slow reads: {@link TspServerSession.partialSince} says since when a line or frame has been
 * partly received, so the shell can close a peer that trickles bytes (its timer, its limit).
 *
 * Framing errors are answered with 500 and close (the stream cannot be resynchronised): framed in
 * the command phase, a bare line before it.
 *
 * @module
 */
import { parseAuthenticateLine } from "./authenticate.ts";
import { formatCapabilityLine } from "./capability.ts";
import { encodeTunnel, type XmlLayout } from "./encode_tunnel.ts";
import { type FrameLimits, FrameReader } from "./frame_reader.ts";
import { encodeLine, encodeReply } from "./frame_writer.ts";
import { parseTunnel, statusForParseFailure } from "./parse_tunnel.ts";
import type { MechanismName, SaslServer, SaslServerStep } from "./sasl/mechanism.ts";
import { REDIRECT_OFFSET, Status } from "./status_codes.ts";
import { formatStatusLine } from "./status_line.ts";
import {
  type CommandMessage,
  isCommandMessage,
  type ListMessage,
  type TunnelMessage,
} from "./tunnel_message.ts";
import { hasAcceptStep, parseVersionLine, TSP_VERSIONS } from "./version.ts";

/** Options of {@link TspServerSession}; times in ms. */
export interface ServerSessionOptions {
  /** Mechanisms offered, in `CAPABILITY` order (e.g. `["DIGEST-MD5", "ANONYMOUS"]`). */
  readonly mechanisms: readonly MechanismName[];
  /**
   * Make the SASL server for the mechanism the client chose (e.g. `createSaslServer` of
   * `lib/tsp/sasl`). `version` lets DIGEST-MD5 accept gogoc's legacy A1 for 2.0.0 and older.
   */
  readonly createSasl: (
    mechanism: MechanismName,
    context: { readonly version: string },
  ) => SaslServer;
  /** Versions accepted. Default: 1.0, 2.0.0, 2.0.1, 2.0.2. Ignored when `acceptVersion` is set. */
  readonly versions?: readonly string[];
  /**
   * Decide which versions are accepted (the `<v>` of a well-formed `VERSION=<v>` line), instead
   * of the `versions` list; e.g. `(v) => v === "1.0" || isTsp20Version(v)` accepts 1.0 and every
   * 2.0.x as the brief's §2.3 says a server should (tsps accepts any `VERSION=2.0.`).
   */
  readonly acceptVersion?: (version: string) => boolean;
  /** Tunnel tokens offered, upper case. Default `["V4V6"]`. */
  readonly tunnelTypes?: readonly string[];
  /** Success line after authentication for VERSION=1.x. Default `OK Authentication successful`. */
  readonly v1AuthSuccessLine?: string;
  /** Pause between DIGEST-MD5's rspauth line and the success line (brief §8.3). Default 50. */
  readonly flushPauseMs?: number;
  /** Time allowed from creation to the end of authentication. Default 30000. */
  readonly authTimeoutMs?: number;
  /** Time allowed for `accept`/`reject` after an `info`. Default 30000. */
  readonly acceptTimeoutMs?: number;
  /** Close an authenticated session idle this long; `null` (default) never closes it. */
  readonly idleTimeoutMs?: number | null;
  /** Line and frame limits. */
  readonly limits?: FrameLimits;
  /** When set, a refused version gets `1302` and this broker list instead of `302`. */
  readonly versionRedirect?: ListMessage;
  /** Pushes held while a reply or accept step is pending. Default 64. */
  readonly maxPendingPushes?: number;
  /** Write reply and push XML one element per line (default: one line, brief §8.5). */
  readonly xmlLayout?: XmlLayout;
}

/** What the shell's handler answers for a `request`. */
export interface ServerReply {
  /** Status code (200, 306, 308, 1302, ...). */
  readonly code: number;
  /** Status text; default: the table's text for the code. */
  readonly text?: string;
  /** XML message after the status line (`info`, or a `list` with a redirect code). */
  readonly message?: TunnelMessage;
  /** Close the session after sending this reply. */
  readonly close?: boolean;
}

/** Events of {@link TspServerSession}. */
export type ServerEvent =
  /** Bytes from the client (a TCP segment, or a UDP payload). */
  | { readonly kind: "data"; readonly now: number; readonly bytes: Uint8Array }
  /** The handler's answer to the `request` with this id. */
  | {
    readonly kind: "reply";
    readonly now: number;
    readonly id: number;
    readonly reply: ServerReply;
  }
  /** Send a server-initiated message on this session (PUSH.md). */
  | { readonly kind: "push"; readonly now: number; readonly message: TunnelMessage }
  /** The deadline of `pollAt()` passed. */
  | { readonly kind: "tick"; readonly now: number }
  /** The transport closed (peer FIN/RST, or the shell dropped it). */
  | { readonly kind: "closed"; readonly now: number };

/** How an accept step ended. */
export type AcceptOutcome = "accept" | "reject" | "timeout" | "closed" | "no-accept";

/** Actions of {@link TspServerSession}, to be carried out in order. */
export type ServerAction =
  /** Write these bytes (one write / one datagram). */
  | { readonly kind: "send"; readonly bytes: Uint8Array }
  /** Flush and wait this long before the next `send` (DIGEST-MD5 rspauth, brief §8.3). */
  | { readonly kind: "flush-pause"; readonly ms: number }
  /** Authentication succeeded. */
  | {
    readonly kind: "authenticated";
    readonly identity: string;
    readonly mechanism: MechanismName;
    readonly version: string;
  }
  /** A command for the handler; answer with a `reply` event carrying the same id. */
  | {
    readonly kind: "request";
    readonly id: number;
    readonly command: CommandMessage;
    readonly identity: string;
    readonly mechanism: MechanismName;
    readonly version: string;
    /** The XML needed the §3.2 repair (log it). */
    readonly repaired: boolean;
    /** A 200 `info` answer will be followed by an accept step (2.x `create`). */
    readonly acceptStep: boolean;
  }
  /** The accept step of request `id` ended: commit the tunnel only when `accepted`. */
  | {
    readonly kind: "accept";
    readonly id: number;
    readonly accepted: boolean;
    readonly outcome: AcceptOutcome;
  }
  /** Something the peer did wrong that did not end the session; count it. */
  | { readonly kind: "protocol-error"; readonly reason: string }
  /**
   * A `push` was dropped: `maxPendingPushes` pushes already wait behind a pending reply or
   * accept step. The session stays open; the receiver of the push has missed it (a TEP should be
   * made to resync, e.g. by closing its session).
   */
  | { readonly kind: "push-overflow"; readonly pending: number }
  /** Close the transport after the sends above. */
  | { readonly kind: "close"; readonly reason: string };

/** The phases of a server session. */
export type ServerPhase =
  | "version"
  | "authenticate"
  | "sasl"
  | "command"
  | "handling"
  | "accepting"
  | "closed";

type State =
  | { readonly phase: "version" | "authenticate" | "command" | "closed" }
  | { readonly phase: "sasl"; readonly sasl: SaslServer }
  | { readonly phase: "handling"; readonly id: number; readonly acceptStep: boolean }
  | { readonly phase: "accepting"; readonly id: number; readonly deadline: number };

const text = new TextDecoder();

/** One TSP session, server side; see the module documentation. */
export class TspServerSession {
  readonly #o: ServerSessionOptions;
  readonly #acceptVersion: (version: string) => boolean;
  readonly #tunnels: readonly string[];
  readonly #reader: FrameReader;
  readonly #authDeadline: number;
  #state: State = { phase: "version" };
  #version = "";
  #identity = "";
  #mechanism: MechanismName = "ANONYMOUS";
  #nextId = 1;
  #idleDeadline: number | null = null;
  readonly #pushes: Uint8Array[] = [];
  #partialSince: number | null = null;
  #completedSeen = 0;

  /** Create a session for a connection accepted at `now`. Throws `TypeError` for bad options. */
  constructor(options: ServerSessionOptions, now: number) {
    if (
      !options || typeof options.createSasl !== "function" || !Array.isArray(options.mechanisms)
    ) {
      throw new TypeError("Cannot create server session: mechanisms and createSasl are required");
    }
    this.#o = options;
    if (options.acceptVersion !== undefined && typeof options.acceptVersion !== "function") {
      throw new TypeError("Cannot create server session: acceptVersion must be a function");
    }
    const versions: readonly string[] = options.versions ?? TSP_VERSIONS;
    this.#acceptVersion = options.acceptVersion ?? ((v) => versions.includes(v));
    this.#tunnels = (options.tunnelTypes ?? ["V4V6"]).map((t) => t.toUpperCase());
    this.#reader = new FrameReader({ limits: options.limits });
    this.#authDeadline = now + (options.authTimeoutMs ?? 30000);
  }

  /** The current phase. */
  get phase(): ServerPhase {
    return this.#state.phase;
  }

  /** The version the client announced (empty before). */
  get version(): string {
    return this.#version;
  }

  /** The authenticated identity (empty before). */
  get identity(): string {
    return this.#identity;
  }

  /** True while a `request` waits for its `reply` (UDP: do not send an empty reply yet). */
  get awaitingHandler(): boolean {
    return this.#state.phase === "handling";
  }

  /**
   * Since when (ms) a line or frame has been partly received: the `now` of the event that brought
   * its first bytes, or of the reply after which reading resumed with them held. `null` when
   * none is: nothing started, or the session is not reading (waiting for its handler, closed).
   * A complete item restarts it. The shell closes the session when this is too old (slow read);
   * the session itself sets no such deadline, so the limit can change while it runs.
   */
  get partialSince(): number | null {
    return this.#partialSince;
  }

  /** The next deadline, or `null`. */
  pollAt(): number | null {
    const s = this.#state;
    switch (s.phase) {
      case "version":
      case "authenticate":
      case "sasl":
        return this.#authDeadline;
      case "accepting":
        return s.deadline;
      case "command":
        return this.#idleDeadline;
      default:
        return null;
    }
  }

  /** Process one event; never throws on peer input. */
  handle(event: ServerEvent): ServerAction[] {
    const out: ServerAction[] = [];
    if (this.#state.phase === "closed") return out;
    switch (event.kind) {
      case "data":
        this.#reader.push(event.bytes);
        this.#drain(event.now, out);
        break;
      case "reply":
        this.#onReply(event.now, event.id, event.reply, out);
        break;
      case "push":
        this.#onPush(event.now, event.message, out);
        break;
      case "tick":
        this.#onTick(event.now, out);
        break;
      case "closed":
        this.#endAccept("closed", out);
        this.#close("peer-closed", out);
        break;
    }
    this.#trackPartial(event.now);
    return out;
  }

  /** Update {@link partialSince} after an event (the reader is drained when reading). */
  #trackPartial(now: number): void {
    const phase = this.#state.phase;
    const completed = this.#reader.completed;
    if (phase === "handling" || phase === "closed" || !this.#reader.partial) {
      this.#partialSince = null;
    } else if (this.#partialSince === null || completed !== this.#completedSeen) {
      this.#partialSince = now;
    }
    this.#completedSeen = completed;
  }

  #drain(now: number, out: ServerAction[]): void {
    for (;;) {
      const phase = this.#state.phase;
      let mode: "line" | "command";
      if (phase === "version" || phase === "authenticate" || phase === "sasl") mode = "line";
      else if (phase === "command" || phase === "accepting") mode = "command";
      else return;
      const item = this.#reader.next(mode);
      if (item === null) return;
      if (item.kind === "error") {
        this.#endAccept("closed", out);
        out.push({ kind: "protocol-error", reason: item.reason });
        this.#send(mode === "line" ? encodeLine(formatStatusLine(500)) : encodeReply(500), out);
        this.#close(`framing: ${item.reason}`, out);
        return;
      }
      if (item.kind === "line") this.#onLine(now, item.line, out);
      else if (item.kind === "frame") this.#onFrame(now, item.body, out);
    }
  }

  #onLine(now: number, line: Uint8Array, out: ServerAction[]): void {
    const s = this.#state;
    if (s.phase === "sasl") {
      this.#saslStep(now, s.sasl.step(line), out);
      return;
    }
    if (line.length === 0) return; // blank lines before VERSION / AUTHENTICATE are harmless
    const t = text.decode(line);
    if (s.phase === "version") {
      const v = parseVersionLine(t);
      if (!v.ok && v.reason === "not-version") {
        this.#send(encodeLine(formatStatusLine(Status.INVALID_REQUEST)), out);
        this.#close("expected VERSION", out);
        return;
      }
      if (!v.ok || !this.#acceptVersion(v.version)) {
        const redirect = this.#o.versionRedirect;
        if (redirect) {
          const code = Status.UNSUPPORTED_VERSION + REDIRECT_OFFSET;
          this.#send(encodeLine(formatStatusLine(code)), out);
          this.#send(encodeLine(encodeTunnel(redirect)), out, true);
        } else {
          this.#send(encodeLine(formatStatusLine(Status.UNSUPPORTED_VERSION)), out);
        }
        this.#close(`unsupported version ${v.ok ? v.version : "(malformed)"}`, out);
        return;
      }
      this.#version = v.version;
      const caps = formatCapabilityLine({ tunnels: this.#tunnels, mechanisms: this.#o.mechanisms });
      this.#send(encodeLine(caps), out);
      this.#state = { phase: "authenticate" };
      return;
    }
    // authenticate
    const a = parseAuthenticateLine(t);
    if (!a.ok) {
      this.#send(
        encodeLine(
          formatStatusLine(
            a.reason === "not-authenticate" ? Status.INVALID_REQUEST : Status.AUTH_FAILED,
          ),
        ),
        out,
      );
      this.#close("expected AUTHENTICATE", out);
      return;
    }
    const mech = this.#o.mechanisms.find((m) => m === a.mechanism);
    if (mech === undefined) {
      this.#send(encodeLine(formatStatusLine(Status.AUTH_FAILED)), out);
      this.#close(`mechanism not offered: ${a.mechanism}`, out);
      return;
    }
    this.#mechanism = mech;
    const sasl = this.#o.createSasl(mech, { version: this.#version });
    this.#state = { phase: "sasl", sasl };
    this.#saslStep(now, sasl.start(), out);
  }

  #saslStep(now: number, step: SaslServerStep, out: ServerAction[]): void {
    switch (step.kind) {
      case "challenge":
        this.#send(encodeLine(step.line), out);
        return;
      case "await":
        return;
      case "failure":
        this.#send(encodeLine(formatStatusLine(Status.AUTH_FAILED)), out);
        this.#close(`authentication failed: ${step.reason}`, out);
        return;
      case "success": {
        if (step.final !== undefined) {
          this.#send(encodeLine(step.final), out);
          out.push({ kind: "flush-pause", ms: this.#o.flushPauseMs ?? 50 });
        }
        const line = this.#version.startsWith("1.")
          ? (this.#o.v1AuthSuccessLine ?? "OK Authentication successful")
          : formatStatusLine(Status.SUCCESS);
        this.#send(encodeLine(line), out);
        this.#identity = step.identity;
        this.#state = { phase: "command" };
        this.#touch(now);
        out.push({
          kind: "authenticated",
          identity: step.identity,
          mechanism: this.#mechanism,
          version: this.#version,
        });
        return;
      }
    }
  }

  #onFrame(now: number, body: Uint8Array, out: ServerAction[]): void {
    this.#touch(now);
    const r = parseTunnel(body, { maxLength: body.length + 1 });
    if (!r.ok) {
      this.#endAccept("no-accept", out);
      out.push({ kind: "protocol-error", reason: `command: ${r.reason}` });
      this.#send(encodeReply(statusForParseFailure(r.reason)), out);
      return;
    }
    const m = r.message;
    if (m.action === "accept" || m.action === "reject") {
      if (this.#state.phase === "accepting") {
        this.#endAccept(m.action, out);
        this.#flushPushes(out);
      } else {
        out.push({ kind: "protocol-error", reason: `unexpected ${m.action}` });
      }
      return;
    }
    this.#endAccept("no-accept", out);
    if (!isCommandMessage(m)) {
      out.push({ kind: "protocol-error", reason: `client sent ${m.action}` });
      this.#send(encodeReply(Status.INVALID_REQUEST), out);
      return;
    }
    if (!this.#tunnels.includes(m.type.toUpperCase())) {
      this.#send(encodeReply(Status.UNSUPPORTED_TUNNEL_TYPE), out);
      return;
    }
    const id = this.#nextId++;
    const acceptStep = m.action === "create" && hasAcceptStep(this.#version);
    this.#state = { phase: "handling", id, acceptStep };
    out.push({
      kind: "request",
      id,
      command: m,
      identity: this.#identity,
      mechanism: this.#mechanism,
      version: this.#version,
      repaired: r.repaired,
      acceptStep,
    });
  }

  #onReply(now: number, id: number, reply: ServerReply, out: ServerAction[]): void {
    const s = this.#state;
    if (s.phase !== "handling" || s.id !== id) {
      out.push({ kind: "protocol-error", reason: `reply for unknown request ${id}` });
      return;
    }
    let bytes: Uint8Array;
    try {
      bytes = encodeReply(
        reply.code,
        reply.text,
        reply.message ? encodeTunnel(reply.message, this.#o.xmlLayout) : undefined,
      );
    } catch (e) {
      out.push({ kind: "protocol-error", reason: `bad handler reply: ${(e as Error).message}` });
      bytes = encodeReply(Status.SERVER_ERROR);
      reply = { code: Status.SERVER_ERROR };
    }
    this.#send(bytes, out);
    this.#touch(now);
    if (reply.close) {
      this.#close("handler closed the session", out);
      return;
    }
    if (s.acceptStep && reply.code === Status.SUCCESS && reply.message?.action === "info") {
      this.#state = { phase: "accepting", id, deadline: now + (this.#o.acceptTimeoutMs ?? 30000) };
    } else {
      this.#state = { phase: "command" };
      this.#flushPushes(out);
    }
    this.#drain(now, out);
  }

  #onPush(now: number, message: TunnelMessage, out: ServerAction[]): void {
    const phase = this.#state.phase;
    if (phase === "version" || phase === "authenticate" || phase === "sasl") {
      out.push({ kind: "protocol-error", reason: "push before authentication dropped" });
      return;
    }
    const bytes = encodeReply(Status.SUCCESS, undefined, encodeTunnel(message, this.#o.xmlLayout));
    if (phase === "command") {
      this.#send(bytes, out);
      this.#touch(now);
      return;
    }
    if (this.#pushes.length >= (this.#o.maxPendingPushes ?? 64)) {
      out.push({ kind: "push-overflow", pending: this.#pushes.length });
      return;
    }
    this.#pushes.push(bytes);
  }

  #onTick(now: number, out: ServerAction[]): void {
    const s = this.#state;
    if (
      (s.phase === "version" || s.phase === "authenticate" || s.phase === "sasl") &&
      now >= this.#authDeadline
    ) {
      this.#close("authentication timeout", out);
    } else if (s.phase === "accepting" && now >= s.deadline) {
      this.#endAccept("timeout", out);
      this.#touch(now);
      this.#flushPushes(out);
      this.#drain(now, out);
    } else if (s.phase === "command" && this.#idleDeadline !== null && now >= this.#idleDeadline) {
      this.#close("idle timeout", out);
    }
  }

  /** Leave the accepting phase (if in it) with an outcome. */
  #endAccept(outcome: AcceptOutcome, out: ServerAction[]): void {
    const s = this.#state;
    if (s.phase !== "accepting") return;
    out.push({ kind: "accept", id: s.id, accepted: outcome === "accept", outcome });
    this.#state = { phase: "command" };
  }

  #flushPushes(out: ServerAction[]): void {
    if (this.#state.phase !== "command") return;
    for (const p of this.#pushes.splice(0)) this.#send(p, out);
  }

  #touch(now: number): void {
    const idle = this.#o.idleTimeoutMs;
    this.#idleDeadline = idle === undefined || idle === null ? null : now + idle;
  }

  /** Queue a send; `join` appends to the previous send (one write for a redirect's line + list). */
  #send(bytes: Uint8Array, out: ServerAction[], join = false): void {
    const prev = out[out.length - 1];
    if (join && prev && prev.kind === "send") {
      const merged = new Uint8Array(prev.bytes.length + bytes.length);
      merged.set(prev.bytes);
      merged.set(bytes, prev.bytes.length);
      out[out.length - 1] = { kind: "send", bytes: merged };
      return;
    }
    out.push({ kind: "send", bytes });
  }

  #close(reason: string, out: ServerAction[]): void {
    this.#state = { phase: "closed" };
    out.push({ kind: "close", reason });
  }
}
