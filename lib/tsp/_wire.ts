/**
 * Test helpers (not part of the public API): in-memory wiring of a {@link TspClientSession} to
 * {@link TspServerSession}s over the TCP framing (random segmentation) and over the UDP framing
 * (loss, duplication and reordering), a fake DSTM handler, and SASL factories for the tests.
 *
 * @module
 */
import type { ClientAction, TspClientSession } from "./client_session.ts";
import { allocationInfo, queryInfo, readQueryKey, readRequestAddresses } from "./dstm_profile.ts";
import { createSaslClient, createSaslServer } from "./sasl/mod.ts";
import type { MechanismName, SaslClient, SaslServer } from "./sasl/mod.ts";
import type {
  ServerAction,
  ServerReply,
  ServerSessionOptions,
  TspServerSession,
} from "./server_session.ts";
import { Status } from "./status_codes.ts";
import type { TunnelMessage } from "./tunnel_message.ts";
import { UdpClientLink } from "./udp_client_link.ts";
import { UdpReplyCache } from "./udp_reply_cache.ts";
import { UdpServerLink } from "./udp_server_link.ts";
import type { Prng } from "../testing/prng.ts";

/** A `request` action. */
export type RequestAction = Extract<ServerAction, { kind: "request" }>;

/** Users known to the test servers. */
export const USERS: Readonly<Record<string, string>> = { user1: "secret", tep2: "tep-secret" };

let counter = 0;

/** Server SASL factory for tests (real mechanisms, deterministic nonces). */
export function testSaslServer(
  mechanism: MechanismName,
  ctx: { readonly version: string },
): SaslServer {
  return createSaslServer(mechanism, {
    lookup: (u) => USERS[u],
    realm: "dstm.example",
    nonce: () => `n${++counter}`,
    acceptLegacyA1: ctx.version === "2.0.0" || ctx.version.startsWith("1."),
  });
}

/** Client SASL factory for tests. */
export function testSaslClient(user = "user1"): (m: MechanismName) => SaslClient {
  return (m) =>
    createSaslClient(m, {
      user,
      pass: USERS[user],
      digestUriHost: "[2001:db8:1::1]",
      cnonce: () => `c${++counter}`,
    });
}

/** Base server options for tests. */
export function testServerOptions(extra: Partial<ServerSessionOptions> = {}): ServerSessionOptions {
  return { mechanisms: ["DIGEST-MD5", "PLAIN", "ANONYMOUS"], createSasl: testSaslServer, ...extra };
}

/** The TEP the fake server assigns. */
export const TEP1 = { ipv4: "192.0.2.1", ipv6: "2001:db8:ffff::1" };

/**
 * A fake DSTM server handler: leases keyed by IPv4, allocated from 198.51.100.7 upwards,
 * committed on accept (2.x) or at once (1.x), rolled back on reject/timeout.
 */
export class FakeDstm {
  /** Committed and pending leases: IPv4 → client IPv6. */
  readonly leases = new Map<string, { ipv6: string; committed: boolean }>();
  /** How many allocations were made (UDP duplicates must not add any). */
  allocations = 0;
  /** Requests seen. */
  readonly requests: RequestAction[] = [];
  /** Accept outcomes seen. */
  readonly outcomes: Extract<ServerAction, { kind: "accept" }>[] = [];
  #next = 7;
  readonly #pending = new Map<number, string>();

  /** Answer a request. */
  handle(req: RequestAction): ServerReply {
    this.requests.push(req);
    const c = req.command;
    switch (c.action) {
      case "create": {
        const { clientIpv6, ipv4 } = readRequestAddresses(c);
        if (clientIpv6 === undefined) return { code: Status.INVALID_IPV6 };
        if (ipv4 !== undefined) {
          const l = this.leases.get(ipv4);
          if (!l || l.ipv6 !== clientIpv6) return { code: Status.ADDRESS_UNAVAILABLE };
          return { code: 200, message: this.#info(ipv4, clientIpv6) };
        }
        const addr = `198.51.100.${this.#next++}`;
        this.allocations++;
        this.leases.set(addr, { ipv6: clientIpv6, committed: !req.acceptStep });
        if (req.acceptStep) this.#pending.set(req.id, addr);
        return { code: 200, message: this.#info(addr, clientIpv6) };
      }
      case "delete": {
        const { clientIpv6, ipv4 } = readRequestAddresses(c);
        const l = ipv4 === undefined ? undefined : this.leases.get(ipv4);
        if (!l || l.ipv6 !== clientIpv6) return { code: Status.ADDRESS_UNAVAILABLE };
        this.leases.delete(ipv4!);
        return { code: 200 };
      }
      case "query": {
        const key = readQueryKey(c);
        const l = key === undefined ? undefined : this.leases.get(key);
        if (!l || !l.committed) return { code: Status.ADDRESS_UNAVAILABLE };
        return {
          code: 200,
          message: queryInfo({
            ipv4: key!,
            clientIpv6: l.ipv6,
            lifetime: 1312,
            tep: { ipv4: "192.0.2.2", ipv6: "2001:db8:ffff::2" },
          }),
        };
      }
      default:
        return { code: Status.INVALID_REQUEST };
    }
  }

  /** Record an accept outcome; commit or roll back. */
  outcome(a: Extract<ServerAction, { kind: "accept" }>): void {
    this.outcomes.push(a);
    const addr = this.#pending.get(a.id);
    if (addr === undefined) return;
    this.#pending.delete(a.id);
    const l = this.leases.get(addr);
    if (!l) return;
    if (a.accepted) l.committed = true;
    else this.leases.delete(addr);
  }

  #info(ipv4: string, clientIpv6: string): TunnelMessage {
    return allocationInfo({
      ipv4,
      tepIpv4: TEP1.ipv4,
      tepIpv6: TEP1.ipv6,
      lifetime: 1440,
      clientIpv6,
    });
  }
}

/** Options of the wires. */
export interface WireOptions {
  /** Create the server session for a new connection at `now`. */
  readonly newServer: (now: number) => TspServerSession;
  /** The handler. */
  readonly dstm: FakeDstm;
  /** Randomness (segmentation, loss, delays). */
  readonly rng: Prng;
  /** Answer requests after this many ms instead of at once (async handler). */
  readonly handlerDelayMs?: number;
}

/** What a wire run observed. */
export interface WireLog {
  /** Every client action, in order. */
  readonly client: ClientAction[];
  /** Every server action, in order, over all connections. */
  readonly server: ServerAction[];
  /** Server sessions created. */
  sessions: number;
}

interface Timer {
  readonly at: number;
  readonly run: () => void;
}

/** Shared event-loop machinery of both wires. */
abstract class Wire {
  now = 0;
  readonly log: WireLog = { client: [], server: [], sessions: 0 };
  protected readonly timers: Timer[] = [];
  protected server: TspServerSession | null = null;
  protected clientClosed = false;

  constructor(readonly client: TspClientSession, readonly o: WireOptions) {}

  protected after(ms: number, run: () => void): void {
    this.timers.push({ at: this.now + ms, run });
  }

  protected newServer(): TspServerSession {
    this.log.sessions++;
    this.server = this.o.newServer(this.now);
    return this.server;
  }

  /** Carry out server actions common to both transports; return the sends. */
  protected serverActions(
    actions: ServerAction[],
    send: (b: Uint8Array) => void,
    session: TspServerSession,
  ): void {
    for (const a of actions) {
      this.log.server.push(a);
      switch (a.kind) {
        case "send":
          send(a.bytes);
          break;
        case "request": {
          const reply = this.o.dstm.handle(a);
          if (this.o.handlerDelayMs === undefined) {
            this.serverEvent(session, { kind: "reply", now: this.now, id: a.id, reply });
          } else {
            this.after(
              this.o.handlerDelayMs,
              () => this.serverEvent(session, { kind: "reply", now: this.now, id: a.id, reply }),
            );
          }
          break;
        }
        case "accept":
          this.o.dstm.outcome(a);
          break;
        default:
          break;
      }
    }
  }

  /** Deliver an event to a server session and carry out its actions. */
  abstract serverEvent(
    session: TspServerSession,
    e: Parameters<TspServerSession["handle"]>[0],
  ): void;

  /** Queue a server push on the current server session. */
  push(message: TunnelMessage): void {
    if (this.server) this.serverEvent(this.server, { kind: "push", now: this.now, message });
  }

  /** Queue a client command. */
  command(
    message: Extract<TunnelMessage, { action: "create" | "delete" | "info" | "query" }>,
  ): void {
    this.clientActions(this.client.handle({ kind: "command", now: this.now, message }));
  }

  /** Ask the client to end (persistent sessions). */
  close(): void {
    this.clientActions(this.client.handle({ kind: "close", now: this.now }));
  }

  protected abstract clientActions(actions: ClientAction[]): void;

  /** One step of network work; false when there is none. */
  protected abstract step(): boolean;

  /** Deadlines of the sessions and links. */
  protected abstract deadlines(): (number | null)[];

  /** Run until nothing is left to do (or the step budget is spent). */
  run(maxSteps = 20000): void {
    for (let i = 0; i < maxSteps; i++) {
      if (this.step()) continue;
      const due: number[] = this.timers.map((t) => t.at);
      for (const d of this.deadlines()) if (d !== null) due.push(d);
      if (due.length === 0) return;
      const at = Math.min(...due);
      if (at > this.now) this.now = at;
      const ready = this.timers.filter((t) => t.at <= this.now);
      if (ready.length > 0) {
        const t = ready[0];
        this.timers.splice(this.timers.indexOf(t), 1);
        t.run();
        continue;
      }
      this.tick();
    }
    throw new Error("wire: step budget exhausted");
  }

  protected abstract tick(): void;
}

/** TCP: byte pipes in both directions, delivered in random segments. */
export class TcpWire extends Wire {
  #c2s: number[] = [];
  #s2c: number[] = [];
  #serverClosing = false;

  /** Open the first connection. */
  start(): this {
    this.newServer();
    this.clientActions(this.client.handle({ kind: "connected", now: this.now }));
    return this;
  }

  serverEvent(session: TspServerSession, e: Parameters<TspServerSession["handle"]>[0]): void {
    const actions = session.handle(e);
    if (session !== this.server) return;
    this.serverActions(actions, (b) => this.#s2c.push(...b), session);
    for (const a of actions) {
      if (a.kind === "flush-pause") this.now += a.ms;
      if (a.kind === "close") this.#serverClosing = true;
    }
  }

  protected clientActions(actions: ClientAction[]): void {
    for (const a of actions) {
      this.log.client.push(a);
      if (a.kind === "send") this.#c2s.push(...a.bytes);
      else if (a.kind === "close") this.clientClosed = true;
      else if (a.kind === "reconnect") {
        this.#c2s = [];
        this.#s2c = [];
        this.#serverClosing = false;
        this.newServer();
        this.clientActions(this.client.handle({ kind: "connected", now: this.now }));
      }
    }
  }

  #chunk(pipe: number[]): Uint8Array {
    const n = 1 + this.o.rng.int(Math.min(pipe.length, 64));
    const take = this.o.rng.int(4) === 0 ? pipe.length : n;
    return Uint8Array.from(pipe.splice(0, take));
  }

  protected step(): boolean {
    const server = this.server!;
    if (this.#c2s.length > 0 && server.phase !== "closed") {
      this.serverEvent(server, { kind: "data", now: this.now, bytes: this.#chunk(this.#c2s) });
      return true;
    }
    if (this.#s2c.length > 0 && !this.clientClosed) {
      this.clientActions(
        this.client.handle({ kind: "data", now: this.now, bytes: this.#chunk(this.#s2c) }),
      );
      return true;
    }
    this.#c2s = [];
    this.#s2c = [];
    if (this.#serverClosing && !this.clientClosed && this.client.phase !== "connect") {
      this.#serverClosing = false;
      this.clientActions(this.client.handle({ kind: "closed", now: this.now }));
      return true;
    }
    if (this.clientClosed && server.phase !== "closed") {
      this.serverEvent(server, { kind: "closed", now: this.now });
      return true;
    }
    return false;
  }

  protected deadlines(): (number | null)[] {
    if (this.clientClosed) return [];
    return [this.client.pollAt(), this.server?.pollAt() ?? null];
  }

  protected tick(): void {
    const c = this.client.pollAt();
    if (c !== null && c <= this.now) {
      this.clientActions(this.client.handle({ kind: "tick", now: this.now }));
    }
    const server = this.server;
    const s = server?.pollAt() ?? null;
    if (server && s !== null && s <= this.now) {
      this.serverEvent(server, { kind: "tick", now: this.now });
    }
  }
}

/** Options of the UDP wire. */
export interface UdpWireOptions extends WireOptions {
  /** Probability (0..1) that a datagram is lost. */
  readonly loss?: number;
  /** Probability (0..1) that a datagram is delivered twice. */
  readonly duplicate?: number;
}

interface InFlightDatagram {
  readonly at: number;
  readonly to: "server" | "client";
  readonly bytes: Uint8Array;
}

/** UDP: datagrams through a lossy, duplicating, reordering network. */
export class UdpWire extends Wire {
  readonly link = new UdpClientLink();
  readonly cache = new UdpReplyCache();
  readonly serverLink = new UdpServerLink({ peer: "[2001:db8:100::10]:50000", cache: this.cache });
  readonly #net: InFlightDatagram[] = [];
  /** Datagrams lost, duplicated, resent from cache, dropped by the server link. */
  readonly stats = {
    lost: 0,
    duplicated: 0,
    resent: 0,
    serverDrops: 0,
    clientDrops: 0,
    transmissions: 0,
  };
  readonly #uo: UdpWireOptions;

  constructor(client: TspClientSession, o: UdpWireOptions) {
    super(client, o);
    this.#uo = o;
  }

  /** Open the first (virtual) connection. */
  start(): this {
    this.clientActions(this.client.handle({ kind: "connected", now: this.now }));
    return this;
  }

  #transmit(to: "server" | "client", bytes: Uint8Array): void {
    this.stats.transmissions++;
    const rng = this.o.rng;
    const copies = rng.u32() / 2 ** 32 < (this.#uo.duplicate ?? 0) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      if (rng.u32() / 2 ** 32 < (this.#uo.loss ?? 0)) {
        this.stats.lost++;
        continue;
      }
      this.#net.push({ at: this.now + 1 + rng.int(40), to, bytes });
    }
  }

  serverEvent(session: TspServerSession, e: Parameters<TspServerSession["handle"]>[0]): void {
    const actions = session.handle(e);
    if (session !== this.server) return;
    this.serverActions(actions, (b) => this.serverLink.enqueue(b), session);
    const d = this.serverLink.flush(this.now, session.awaitingHandler);
    if (d) this.#transmit("client", d);
  }

  protected clientActions(actions: ClientAction[]): void {
    for (const a of actions) {
      this.log.client.push(a);
      if (a.kind === "send") {
        this.#linkActions(this.link.handle({ kind: "send", now: this.now, payload: a.bytes }));
      } else if (a.kind === "close") this.clientClosed = true;
      else if (a.kind === "reconnect") {
        this.clientActions(this.client.handle({ kind: "connected", now: this.now }));
      }
    }
    this.#poll();
  }

  /** The UDP rule: a session waiting for the server with an idle link fetches with an empty datagram. */
  #poll(): void {
    if (!this.clientClosed && this.link.idle && this.client.awaitingServer()) {
      this.#linkActions(
        this.link.handle({ kind: "send", now: this.now, payload: new Uint8Array(0) }),
      );
    }
  }

  #linkActions(actions: ReturnType<UdpClientLink["handle"]>): void {
    for (const a of actions) {
      if (a.kind === "transmit") this.#transmit("server", a.bytes);
      else if (a.kind === "deliver") {
        if (!this.clientClosed) {
          this.clientActions(this.client.handle({ kind: "data", now: this.now, bytes: a.payload }));
        }
      } else if (a.kind === "drop") this.stats.clientDrops++;
      else if (a.kind === "give-up") {
        if (!this.clientClosed) {
          this.clientActions(this.client.handle({ kind: "closed", now: this.now }));
        }
      }
    }
    this.#poll();
  }

  #toServer(bytes: Uint8Array): void {
    const r = this.serverLink.receive(bytes, this.now);
    if (r.kind === "resend") {
      this.stats.resent++;
      this.#transmit("client", r.bytes);
      return;
    }
    if (r.kind === "drop") {
      this.stats.serverDrops++;
      return;
    }
    let session = this.server;
    if (!session || session.phase === "closed") session = this.newServer();
    this.serverEvent(session, { kind: "data", now: this.now, bytes: r.payload });
  }

  protected step(): boolean {
    let best = -1;
    for (let i = 0; i < this.#net.length; i++) {
      if (this.#net[i].at <= this.now && (best < 0 || this.#net[i].at < this.#net[best].at)) {
        best = i;
      }
    }
    if (best < 0) return false;
    const d = this.#net.splice(best, 1)[0];
    if (d.to === "server") this.#toServer(d.bytes);
    else this.#linkActions(this.link.handle({ kind: "datagram", now: this.now, bytes: d.bytes }));
    return true;
  }

  protected deadlines(): (number | null)[] {
    const out: (number | null)[] = this.#net.map((d) => d.at);
    if (!this.clientClosed || !this.link.idle) out.push(this.link.pollAt());
    if (!this.clientClosed) out.push(this.client.pollAt());
    return out;
  }

  protected tick(): void {
    this.#linkActions(this.link.handle({ kind: "tick", now: this.now }));
    const c = this.client.pollAt();
    if (!this.clientClosed && c !== null && c <= this.now) {
      this.clientActions(this.client.handle({ kind: "tick", now: this.now }));
    }
  }
}
