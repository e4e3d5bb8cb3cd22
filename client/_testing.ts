/**
 * Test helpers (not part of the client's API): an in-memory DSTM server behind the client's
 * {@link Connect} seam, built on the real `TspServerSession`, with a small lease handler that
 * names TEPs, refuses on demand and pushes `delete`; a scripted clock and timer.
 *
 * Deliveries are queued and run by {@link MemoryNet.pump}, so no callback re-enters the code
 * that caused it.
 *
 * @module
 */
import {
  allocationInfo,
  createSaslClient,
  createSaslServer,
  leaseDeletePush,
  type MechanismName,
  readRequestAddresses,
  type SaslClient,
  type ServerAction,
  type ServerReply,
  Status,
  TspServerSession,
} from "../lib/tsp/mod.ts";
import type { Connect, TransportHandlers } from "./tcp_transport.ts";
import type { AgentTimer } from "./agent.ts";

/** Users of the test server. */
export const TEST_USERS: Readonly<Record<string, string>> = { alice: "secret" };

/** The TEPs the test server names, in order. */
export const TEST_TEPS = [
  { ipv6: "2001:db8:ffff::1", ipv4: "192.0.2.1" },
  { ipv6: "2001:db8:ffff::2", ipv4: "192.0.2.2" },
] as const;

/** A SASL client factory for the test users. */
export function testSasl(user = "alice"): (m: MechanismName) => SaslClient {
  let n = 0;
  return (m) =>
    createSaslClient(m, {
      user,
      pass: TEST_USERS[user],
      digestUriHost: "[2001:db8:1::1]",
      cnonce: () => `cn${++n}`,
    });
}

/** A lease as the test server keeps it. */
export interface TestLease {
  /** Client IPv6. */
  ipv6: string;
  /** Index into {@link TEST_TEPS}. */
  tep: number;
  /** Committed (accepted). */
  committed: boolean;
}

/** The lease handler of the in-memory server. */
export class TestDstm {
  /** Leases by IPv4. */
  readonly leases = new Map<string, TestLease>();
  /** Every command seen: action and the IPv4 it named, if any. */
  readonly log: { action: string; ipv4?: string; ipv6?: string }[] = [];
  /** Lifetime handed out, minutes. */
  lifetime = 10;
  /** TEP named to new leases and on renewal (index into {@link TEST_TEPS}). */
  tep = 0;
  /** Answer renewals with 308. */
  refuseRenewals = false;
  /** Answer every create with this status instead. */
  failWith: number | undefined;
  /** Keepalive interval sent, seconds (0: none). */
  keepalive = 0;
  #next = 7;
  readonly #pending = new Map<number, string>();

  /** Answer a request. */
  handle(a: Extract<ServerAction, { kind: "request" }>): ServerReply {
    const c = a.command;
    const { clientIpv6, ipv4 } = readRequestAddresses(c);
    this.log.push({
      action: c.action,
      ...(ipv4 !== undefined ? { ipv4 } : {}),
      ...(clientIpv6 !== undefined ? { ipv6: clientIpv6 } : {}),
    });
    if (clientIpv6 === undefined) return { code: Status.INVALID_IPV6 };
    if (c.action === "delete") {
      const l = ipv4 === undefined ? undefined : this.leases.get(ipv4);
      if (!l || l.ipv6 !== clientIpv6) return { code: Status.ADDRESS_UNAVAILABLE };
      this.leases.delete(ipv4!);
      return { code: 200 };
    }
    if (c.action !== "create") return { code: Status.INVALID_REQUEST };
    if (this.failWith !== undefined) return { code: this.failWith };
    if (ipv4 !== undefined) {
      const l = this.leases.get(ipv4);
      if (this.refuseRenewals || !l || l.ipv6 !== clientIpv6) {
        return { code: Status.ADDRESS_UNAVAILABLE };
      }
      l.tep = this.tep;
      return { code: 200, message: this.#info(ipv4, clientIpv6, l.tep) };
    }
    const addr = `198.51.100.${this.#next++}`;
    this.leases.set(addr, { ipv6: clientIpv6, tep: this.tep, committed: !a.acceptStep });
    if (a.acceptStep) this.#pending.set(a.id, addr);
    return { code: 200, message: this.#info(addr, clientIpv6, this.tep) };
  }

  /** An accept step ended. */
  outcome(a: Extract<ServerAction, { kind: "accept" }>): void {
    const addr = this.#pending.get(a.id);
    if (addr === undefined) return;
    this.#pending.delete(a.id);
    const l = this.leases.get(addr);
    if (l && a.accepted) l.committed = true;
    else this.leases.delete(addr);
  }

  #info(ipv4: string, clientIpv6: string, tep: number) {
    const t = TEST_TEPS[tep];
    return allocationInfo({
      ipv4,
      tepIpv4: t.ipv4,
      tepIpv6: t.ipv6,
      lifetime: this.lifetime,
      clientIpv6,
      ...(this.keepalive > 0
        ? { keepalive: { interval: this.keepalive, addresses: [{ type: "ipv4", value: t.ipv4 }] } }
        : {}),
    });
  }
}

interface Conn {
  readonly session: TspServerSession;
  readonly h: TransportHandlers;
  open: boolean;
}

/** The client's network to the in-memory server. */
export class MemoryNet {
  /** The lease handler. */
  readonly dstm = new TestDstm();
  /** Connections made (open or closed). */
  readonly conns: Conn[] = [];
  /** Local address reported to the client. */
  localAddress = "2001:db8:100::10";
  /** Local addresses the client asked to bind, per connection. */
  readonly binds: (string | undefined)[] = [];
  /** Refuse connections (connect fails). */
  refuse = false;
  /** Mechanisms offered. */
  mechanisms: MechanismName[] = ["DIGEST-MD5", "ANONYMOUS"];
  readonly #queue: (() => void)[] = [];
  readonly #now: () => number;
  #nonce = 0;

  /** A network whose server reads `now` from the test clock. */
  constructor(now: () => number) {
    this.#now = now;
  }

  /** The client side: a {@link Connect}. */
  readonly connect: Connect = (target, h) => {
    this.binds.push(target.localAddress);
    if (this.refuse) {
      this.#queue.push(() => h.closed("connection refused"));
      return { write() {}, close() {} };
    }
    const session = new TspServerSession({
      mechanisms: this.mechanisms,
      createSasl: (m) =>
        createSaslServer(m, {
          lookup: (u) => TEST_USERS[u],
          realm: "dstm.example",
          nonce: () => `n${++this.#nonce}`,
        }),
      flushPauseMs: 0,
    }, this.#now());
    const conn: Conn = { session, h, open: true };
    this.conns.push(conn);
    this.#queue.push(() => {
      if (conn.open) h.connected(target.localAddress ?? this.localAddress);
    });
    return {
      write: (bytes) => {
        const copy = bytes.slice();
        this.#queue.push(() => {
          if (conn.open) {
            this.#server(conn, session.handle({ kind: "data", now: this.#now(), bytes: copy }));
          }
        });
      },
      close: () => {
        this.#queue.push(() => {
          if (!conn.open) return;
          conn.open = false;
          session.handle({ kind: "closed", now: this.#now() });
        });
      },
    };
  };

  #server(conn: Conn, actions: ServerAction[]): void {
    for (const a of actions) {
      switch (a.kind) {
        case "send": {
          const bytes = a.bytes;
          this.#queue.push(() => {
            if (conn.open) conn.h.data(bytes);
          });
          break;
        }
        case "request": {
          const reply = this.dstm.handle(a);
          this.#server(
            conn,
            conn.session.handle({ kind: "reply", now: this.#now(), id: a.id, reply }),
          );
          break;
        }
        case "accept":
          this.dstm.outcome(a);
          break;
        case "close":
          this.#queue.push(() => {
            if (!conn.open) return;
            conn.open = false;
            conn.h.closed("server closed the session");
          });
          break;
        default:
          break;
      }
    }
  }

  /** Connections still open. */
  get open(): number {
    return this.conns.filter((c) => c.open).length;
  }

  /** The server closes every open connection (idle timeout, restart). */
  dropAll(): void {
    for (const c of this.conns) {
      if (!c.open) continue;
      c.open = false;
      c.session.handle({ kind: "closed", now: this.#now() });
      const h = c.h;
      this.#queue.push(() => h.closed("connection reset"));
    }
  }

  /** Push a lease `delete` for `ipv4` on every open session (PUSH.md). */
  pushDelete(ipv4: string): void {
    const l = this.dstm.leases.get(ipv4);
    this.dstm.leases.delete(ipv4);
    const t = TEST_TEPS[l?.tep ?? 0];
    for (const c of this.conns) {
      if (!c.open) continue;
      const message = leaseDeletePush({ ipv4, clientIpv6: l?.ipv6 ?? "2001:db8:100::10" }, t);
      this.#server(c, c.session.handle({ kind: "push", now: this.#now(), message }));
    }
  }

  /** Run one queued delivery; false if none was waiting. */
  pumpOne(): boolean {
    const f = this.#queue.shift();
    if (f === undefined) return false;
    f();
    return true;
  }

  /** Run every queued delivery (and what they cause) until none is left. */
  pump(max = 100_000): void {
    for (let i = 0; i < max; i++) {
      const f = this.#queue.shift();
      if (f === undefined) return;
      f();
    }
    throw new Error("memory net: pump budget exhausted");
  }
}

/** A scripted clock and the agent's one timer over it. */
export class ScriptedClock {
  /** Now, ms since the epoch. */
  now = Date.UTC(2025, 0, 1);
  #timers = new Map<number, { at: number; fn: () => void }>();
  #id = 0;

  /** The clock function. */
  readonly clock = (): number => this.now;

  /** The timer. */
  readonly timer: AgentTimer = {
    set: (fn, ms) => {
      const id = ++this.#id;
      this.#timers.set(id, { at: this.now + ms, fn });
      return id;
    },
    clear: (h) => {
      this.#timers.delete(h as number);
    },
  };

  /** When the earliest timer fires, or Infinity. */
  next(): number {
    let at = Infinity;
    for (const t of this.#timers.values()) at = Math.min(at, t.at);
    return at;
  }

  /**
   * Advance to `until`, firing timers in order; `between` runs after each firing (e.g. to pump
   * the network).
   */
  advance(until: number, between: () => void = () => {}): void {
    for (let guard = 0; guard < 100_000; guard++) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.#timers) if (e[1].at <= until && (!due || e[1].at < due[1].at)) due = e;
      if (!due) break;
      this.#timers.delete(due[0]);
      if (due[1].at > this.now) this.now = due[1].at;
      due[1].fn();
      between();
    }
    if (until > this.now) this.now = until;
  }
}
