/**
 * The client side of TSP sessions (protocol brief §2.2-§2.5, §2.7, §3, §8), sans-I/O: events in
 * (each with `now` in ms), actions out, one deadline from {@link TspClientSession.pollAt}.
 *
 * One instance covers what a client does with one server, possibly over several transports:
 * 1. `connect`: the shell opens a transport and sends `connected`; the session sends `VERSION=`.
 * 2. `version` (§2.3, §8.6): `CAPABILITY` must offer the tunnel type (`V4V6`) and the configured
 *    mechanism, else the session fails at stage `capability`. On `302` the server closes; the
 *    session asks for a new transport (`reconnect`) and tries the next version of its list
 *    (default 2.0.2 → 2.0.1 → 2.0.0 → 1.0). A redirect (`1302` + broker list) ends the session
 *    with a `redirect` action.
 * 3. `auth` (§2.4): `AUTHENTICATE <MECH>`, then the {@link SaslClient}'s steps; a success line
 *    (`200 …` or `OK …`) is accepted only when the mechanism allows it (DIGEST-MD5: after the
 *    server's rspauth was verified), anything else fails at stage `auth`.
 * 4. `ready`/`awaiting`: commands are sent one at a time, each framed with `Content-length`; the
 *    answer (framed, or an unframed status line) goes up as a `response`. After a `200` `info`
 *    answer to `create` on a 2.x version the session sends `accept` (or `reject`, per
 *    `acceptPolicy`) at once; VERSION=1.x has no such step (§3.2 item 7). A redirect status with
 *    a broker list gives `redirect` and ends the session.
 * 5. Unless `persistent`, the session ends (`done`, `close`) when its command queue is empty.
 *    A persistent session (the TEP's query session) takes more `command` events and reports
 *    server-initiated messages (`create`/`delete` framed like replies, PUSH.md) as `push`.
 *
 * @module
 */
import { parseCapabilityLine } from "./capability.ts";
import { readAllocationInfo } from "./dstm_profile.ts";
import { encodeTunnel, type XmlLayout } from "./encode_tunnel.ts";
import { type FrameLimits, FrameReader } from "./frame_reader.ts";
import { encodeCommand, encodeLine, encodeLineBytes } from "./frame_writer.ts";
import { parseTunnel } from "./parse_tunnel.ts";
import { parseReplyBody } from "./reply_body.ts";
import type { MechanismName, SaslClient, SaslClientStep } from "./sasl/mechanism.ts";
import { Status } from "./status_codes.ts";
import { parseStatusLine, type StatusLine } from "./status_line.ts";
import type {
  Broker,
  CommandMessage,
  CreateMessage,
  InfoMessage,
  TunnelMessage,
} from "./tunnel_message.ts";
import { formatVersionLine, hasAcceptStep, TSP_VERSIONS } from "./version.ts";
import { formatAuthenticateLine } from "./authenticate.ts";

/** Options of {@link TspClientSession}; times in ms. */
export interface ClientSessionOptions {
  /** The mechanism to use; it must be in the server's `CAPABILITY` line. */
  readonly mechanism: MechanismName;
  /** Make the SASL client (from `lib/tsp/sasl`). */
  readonly createSasl: (mechanism: MechanismName) => SaslClient;
  /** Versions to try, in order, falling back after each `302`. Default 2.0.2, 2.0.1, 2.0.0, 1.0. */
  readonly versions?: readonly string[];
  /** The tunnel token the server must offer. Default `V4V6`. */
  readonly tunnelType?: string;
  /** Commands to send once authenticated, in order. */
  readonly commands?: readonly CommandMessage[];
  /** Keep the session open for more `command` events and pushes. Default false. */
  readonly persistent?: boolean;
  /**
   * Whether to `accept` (true) or `reject` an `info` offered for a `create` (2.x only). Default:
   * accept when the answer names a leased IPv4 and a TEP IPv6 address.
   */
  readonly acceptPolicy?: (info: InfoMessage, command: CreateMessage) => boolean;
  /** Time allowed for each expected server message. Default 30000. */
  readonly responseTimeoutMs?: number;
  /** Line and frame limits. */
  readonly limits?: FrameLimits;
  /** Write commands one element per line (default: one line). */
  readonly xmlLayout?: XmlLayout;
}

/** Events of {@link TspClientSession}. */
export type ClientEvent =
  /** A transport to the server is open (first, and after each `reconnect`). */
  | { readonly kind: "connected"; readonly now: number }
  /** Bytes from the server (a TCP segment, or a UDP payload, possibly empty). */
  | { readonly kind: "data"; readonly now: number; readonly bytes: Uint8Array }
  /** Queue a command (any time; sent once authenticated and nothing is outstanding). */
  | { readonly kind: "command"; readonly now: number; readonly message: CommandMessage }
  /** The owner ends a persistent session. */
  | { readonly kind: "close"; readonly now: number }
  /** The deadline of `pollAt()` passed. */
  | { readonly kind: "tick"; readonly now: number }
  /** The transport closed. */
  | { readonly kind: "closed"; readonly now: number };

/** Where a session failed. */
export type ClientFailureStage =
  | "version"
  | "capability"
  | "auth"
  | "protocol"
  | "timeout"
  | "closed";

/** Actions of {@link TspClientSession}, to be carried out in order. */
export type ClientAction =
  /** Write these bytes (one write / one datagram). */
  | { readonly kind: "send"; readonly bytes: Uint8Array }
  /** Close the transport. */
  | { readonly kind: "close"; readonly reason: string }
  /**
   * Close the transport, open a new one to the same server and send `connected` (302 fallback).
   * Do not report the old transport's closing after the new `connected`.
   */
  | { readonly kind: "reconnect"; readonly version: string }
  /** Authenticated; commands flow now. */
  | { readonly kind: "ready"; readonly version: string; readonly mechanism: MechanismName }
  /** The server's answer to `command`. `accepted` is set when an accept/reject was sent. */
  | {
    readonly kind: "response";
    readonly command: CommandMessage;
    readonly status: StatusLine;
    readonly message?: TunnelMessage;
    readonly accepted?: boolean;
    readonly repaired: boolean;
  }
  /** A server-initiated message (PUSH.md). */
  | { readonly kind: "push"; readonly message: TunnelMessage }
  /** The server redirects to other brokers; the session ends. */
  | { readonly kind: "redirect"; readonly status: StatusLine; readonly brokers: readonly Broker[] }
  /** The session failed; it ends. */
  | {
    readonly kind: "failed";
    readonly stage: ClientFailureStage;
    readonly reason: string;
    readonly status?: StatusLine;
  }
  /** The session ended normally. */
  | { readonly kind: "done" }
  /** A server message that did not fit; ignored, count it. */
  | { readonly kind: "protocol-error"; readonly reason: string };

/** The phases of a client session. */
export type ClientPhase =
  | "connect"
  | "version"
  | "redirect-list"
  | "auth"
  | "ready"
  | "awaiting"
  | "closed";

type State =
  | { readonly phase: "connect" | "ready" | "closed" }
  | { readonly phase: "version"; readonly deadline: number }
  | {
    readonly phase: "redirect-list";
    readonly deadline: number;
    readonly status: StatusLine;
    readonly lines: string[];
  }
  | { readonly phase: "auth"; readonly deadline: number; readonly sasl: SaslClient }
  | { readonly phase: "awaiting"; readonly deadline: number; readonly command: CommandMessage };

const text = new TextDecoder();

function defaultAcceptPolicy(info: InfoMessage): boolean {
  return readAllocationInfo(info) !== undefined;
}

/** Client side of TSP; see the module documentation. */
export class TspClientSession {
  readonly #o: ClientSessionOptions;
  readonly #versions: readonly string[];
  readonly #timeout: number;
  readonly #queue: CommandMessage[];
  #reader: FrameReader;
  #vi = 0;
  #state: State = { phase: "connect" };

  /** Create a session. Throws `TypeError` for bad options. */
  constructor(options: ClientSessionOptions) {
    if (
      !options || typeof options.createSasl !== "function" || typeof options.mechanism !== "string"
    ) {
      throw new TypeError("Cannot create client session: mechanism and createSasl are required");
    }
    this.#o = options;
    this.#versions = options.versions ?? TSP_VERSIONS;
    if (this.#versions.length === 0) {
      throw new TypeError("Cannot create client session: no versions");
    }
    this.#timeout = options.responseTimeoutMs ?? 30000;
    this.#queue = [...(options.commands ?? [])];
    this.#reader = new FrameReader({ limits: options.limits });
  }

  /** The current phase. */
  get phase(): ClientPhase {
    return this.#state.phase;
  }

  /** The version in use (the one being tried before authentication). */
  get version(): string {
    return this.#versions[this.#vi];
  }

  /** Commands not yet sent. */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * True while the session expects a server message. Over UDP, when this is true and the link
   * is idle, the shell sends an empty datagram to fetch it (see `udp_client_link.ts`).
   */
  awaitingServer(): boolean {
    const p = this.#state.phase;
    return p === "version" || p === "redirect-list" || p === "auth" || p === "awaiting";
  }

  /** The next deadline, or `null`. */
  pollAt(): number | null {
    const s = this.#state;
    return "deadline" in s ? s.deadline : null;
  }

  /** Process one event; never throws on server input. */
  handle(event: ClientEvent): ClientAction[] {
    const out: ClientAction[] = [];
    const s = this.#state;
    if (s.phase === "closed") return out;
    switch (event.kind) {
      case "connected":
        if (s.phase !== "connect") {
          out.push({ kind: "protocol-error", reason: "connected twice" });
          break;
        }
        this.#reader = new FrameReader({ limits: this.#o.limits });
        out.push({ kind: "send", bytes: encodeLine(formatVersionLine(this.version)) });
        this.#state = { phase: "version", deadline: event.now + this.#timeout };
        break;
      case "data":
        if (s.phase === "connect") break; // leftovers of a transport already given up
        this.#reader.push(event.bytes);
        this.#drain(event.now, out);
        break;
      case "command":
        this.#queue.push(event.message);
        if (s.phase === "ready") this.#next(event.now, out);
        break;
      case "close":
        this.#finish(out, "closed by owner");
        break;
      case "tick":
        if ("deadline" in s && event.now >= s.deadline) {
          this.#fail(out, "timeout", `no answer from the server in phase ${s.phase}`);
        }
        break;
      case "closed":
        if (s.phase === "connect") break; // the server closed after 302; reconnect is pending
        if (s.phase === "ready") this.#finish(out, "server closed the session");
        else this.#fail(out, "closed", `transport closed in phase ${s.phase}`);
        break;
    }
    return out;
  }

  #drain(now: number, out: ClientAction[]): void {
    for (;;) {
      if (this.#state.phase === "connect" || this.#state.phase === "closed") return;
      const item = this.#reader.next("reply");
      if (item === null) return;
      if (item.kind === "error") {
        this.#fail(out, "protocol", item.detail);
        return;
      }
      if (item.kind === "frame") this.#onMessage(now, item.body, true, out);
      else this.#onLine(now, item.line, out);
    }
  }

  #onLine(now: number, line: Uint8Array, out: ClientAction[]): void {
    const s = this.#state;
    const t = text.decode(line);
    if (s.phase === "redirect-list") {
      s.lines.push(t);
      const joined = s.lines.join("\n");
      if (/<\/tunnel\s*>/i.test(joined)) this.#redirect(out, s.status, joined);
      return;
    }
    if (s.phase === "version" && /^capability(\s|$)/i.test(t.trim())) {
      this.#onCapability(now, t, out);
      return;
    }
    if (s.phase === "auth" && !parseStatusLine(t).ok) {
      this.#runSasl(now, [s.sasl.step(line)], out);
      return;
    }
    this.#onMessage(now, line, false, out);
  }

  #onCapability(now: number, t: string, out: ClientAction[]): void {
    const c = parseCapabilityLine(t);
    const want = (this.#o.tunnelType ?? "V4V6").toUpperCase();
    if (!c.ok) return this.#fail(out, "capability", "unreadable CAPABILITY line");
    if (!c.capabilities.tunnels.includes(want)) {
      return this.#fail(out, "capability", `server does not offer TUNNEL=${want}`);
    }
    if (!c.capabilities.mechanisms.includes(this.#o.mechanism)) {
      return this.#fail(out, "capability", `server does not offer AUTH=${this.#o.mechanism}`);
    }
    out.push({ kind: "send", bytes: encodeLine(formatAuthenticateLine(this.#o.mechanism)) });
    const sasl = this.#o.createSasl(this.#o.mechanism);
    this.#state = { phase: "auth", deadline: now + this.#timeout, sasl };
    this.#runSasl(now, sasl.start(), out);
  }

  #runSasl(now: number, steps: readonly SaslClientStep[], out: ClientAction[]): void {
    for (const step of steps) {
      if (this.#state.phase !== "auth") return;
      switch (step.kind) {
        case "send":
          out.push({ kind: "send", bytes: encodeLineBytes(step.line) });
          break;
        case "await":
        case "verified":
          break;
        case "failure":
          return this.#fail(out, "auth", step.reason);
      }
    }
    if (this.#state.phase === "auth") {
      this.#state = { ...this.#state, deadline: now + this.#timeout };
    }
  }

  /** A status-bearing server message: a frame body, or an unframed line. */
  #onMessage(now: number, bytes: Uint8Array, framed: boolean, out: ClientAction[]): void {
    const s = this.#state;
    const r = parseReplyBody(bytes);
    if (!r.ok) {
      if (s.phase === "ready") {
        out.push({ kind: "protocol-error", reason: `unreadable server message (${r.reason})` });
        return;
      }
      return this.#fail(out, "protocol", `unreadable server message (${r.reason})`);
    }
    const status = r.reply.status;
    let message: TunnelMessage | undefined;
    let repaired = false;
    if (r.reply.xml !== null) {
      const p = parseTunnel(r.reply.xml);
      if (p.ok) {
        message = p.message;
        repaired = p.repaired;
      } else {
        out.push({ kind: "protocol-error", reason: `server XML refused (${p.reason})` });
      }
    }
    if (message && status.success && (message.action === "create" || message.action === "delete")) {
      if (s.phase === "version" || s.phase === "auth") {
        out.push({ kind: "protocol-error", reason: "push before authentication ignored" });
      } else {
        out.push({ kind: "push", message });
      }
      return;
    }
    if (status.redirect) {
      if (message?.action === "list") {
        return this.#redirect(out, status, undefined, message.brokers);
      }
      if (!framed && (s.phase === "version" || s.phase === "auth")) {
        this.#state = { phase: "redirect-list", deadline: now + this.#timeout, status, lines: [] };
        return;
      }
      return this.#redirect(out, status, undefined, []);
    }
    switch (s.phase) {
      case "version":
        if (status.code === Status.UNSUPPORTED_VERSION && this.#vi + 1 < this.#versions.length) {
          this.#vi++;
          this.#state = { phase: "connect" };
          out.push({ kind: "reconnect", version: this.version });
          return;
        }
        return this.#fail(out, "version", `server refused VERSION=${this.version}`, status);
      case "auth":
        if (!status.success) {
          return this.#fail(out, "auth", "server refused authentication", status);
        }
        if (s.sasl.successAllowed === false) {
          return this.#fail(
            out,
            "auth",
            "success before the server proved itself (no rspauth)",
            status,
          );
        }
        this.#state = { phase: "ready" };
        out.push({ kind: "ready", version: this.version, mechanism: this.#o.mechanism });
        this.#next(now, out);
        return;
      case "awaiting": {
        const command = s.command;
        let accepted: boolean | undefined;
        if (
          command.action === "create" && status.code === Status.SUCCESS &&
          message?.action === "info" &&
          hasAcceptStep(this.version)
        ) {
          const policy = this.#o.acceptPolicy ?? defaultAcceptPolicy;
          accepted = policy(message, command);
          out.push({
            kind: "send",
            bytes: encodeCommand(encodeTunnel({ action: accepted ? "accept" : "reject" })),
          });
        }
        out.push({
          kind: "response",
          command,
          status,
          ...(message ? { message } : {}),
          ...(accepted === undefined ? {} : { accepted }),
          repaired,
        });
        this.#state = { phase: "ready" };
        this.#next(now, out);
        return;
      }
      default:
        out.push({ kind: "protocol-error", reason: `unsolicited server message ${status.code}` });
    }
  }

  /** Send the next queued command, or end a non-persistent session with nothing left. */
  #next(now: number, out: ClientAction[]): void {
    if (this.#state.phase !== "ready") return;
    const command = this.#queue.shift();
    if (command === undefined) {
      if (!this.#o.persistent) this.#finish(out, "all commands answered");
      return;
    }
    out.push({ kind: "send", bytes: encodeCommand(encodeTunnel(command, this.#o.xmlLayout)) });
    this.#state = { phase: "awaiting", deadline: now + this.#timeout, command };
  }

  #redirect(
    out: ClientAction[],
    status: StatusLine,
    xml?: string,
    brokers?: readonly Broker[],
  ): void {
    let list = brokers;
    if (list === undefined) {
      const p = xml === undefined ? undefined : parseTunnel(xml);
      list = p && p.ok && p.message.action === "list" ? p.message.brokers : [];
    }
    out.push({ kind: "redirect", status, brokers: list });
    this.#state = { phase: "closed" };
    out.push({ kind: "close", reason: `redirected (${status.code})` });
  }

  #fail(out: ClientAction[], stage: ClientFailureStage, reason: string, status?: StatusLine): void {
    out.push(
      status ? { kind: "failed", stage, reason, status } : { kind: "failed", stage, reason },
    );
    this.#state = { phase: "closed" };
    out.push({ kind: "close", reason });
  }

  #finish(out: ClientAction[], reason: string): void {
    out.push({ kind: "done" });
    this.#state = { phase: "closed" };
    out.push({ kind: "close", reason });
  }
}
