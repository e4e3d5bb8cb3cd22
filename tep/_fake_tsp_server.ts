/**
 * Test helper (not part of the TEP): a DSTM server stand-in over real TCP on `::1`, built on
 * `TspServerSession` with DIGEST-MD5, answering `query` from a table and pushing bindings to
 * authenticated sessions. Enough to test `tsp_link.ts` without root or the real server.
 *
 * @module
 */
import net from "node:net";
import { queryInfo, readQueryKey } from "../lib/tsp/dstm_profile.ts";
import { createSaslServer } from "../lib/tsp/sasl/factory.ts";
import {
  type ServerAction,
  type ServerReply,
  TspServerSession,
} from "../lib/tsp/server_session.ts";
import { Status } from "../lib/tsp/status_codes.ts";
import type { TunnelMessage } from "../lib/tsp/tunnel_message.ts";

/** One connection. */
interface Conn {
  readonly sock: net.Socket;
  readonly session: TspServerSession;
  identity?: string;
}

/** A fake DSTM server; see the module documentation. */
export class FakeTspServer {
  /** Users and passwords. */
  readonly users: Record<string, string>;
  /** Leases: IPv4 text → client IPv6 text. */
  readonly leases = new Map<string, string>();
  /** Queries received (IPv4 text), in order. */
  readonly queries: string[] = [];
  /** Leave queries unanswered (to test what happens to them when the session ends). */
  holdQueries = false;
  /** Connections accepted so far. */
  connections = 0;
  /** Identities that authenticated, in order. */
  readonly authenticated: string[] = [];
  readonly #server: net.Server;
  readonly #conns = new Set<Conn>();
  #n = 0;

  private constructor(users: Record<string, string>) {
    this.users = users;
    this.#server = net.createServer((sock) => this.#accept(sock));
  }

  /** Listen on `::1` on an ephemeral port. */
  static async start(users: Record<string, string>): Promise<FakeTspServer> {
    const s = new FakeTspServer(users);
    await new Promise<void>((resolve, reject) => {
      s.#server.once("error", reject);
      s.#server.listen(0, "::1", () => resolve());
    });
    return s;
  }

  /** The TCP port. */
  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  #accept(sock: net.Socket): void {
    this.connections++;
    const session = new TspServerSession({
      mechanisms: ["DIGEST-MD5"],
      flushPauseMs: 0,
      createSasl: (m) =>
        createSaslServer(m, {
          lookup: (u) => this.users[u],
          realm: "test",
          nonce: () => `nonce${++this.#n}`,
        }),
    }, Date.now());
    const conn: Conn = { sock, session };
    this.#conns.add(conn);
    sock.on("data", (d: Uint8Array) => {
      this.#run(conn, session.handle({ kind: "data", now: Date.now(), bytes: new Uint8Array(d) }));
    });
    sock.on("error", () => {});
    sock.on("close", () => {
      this.#conns.delete(conn);
      session.handle({ kind: "closed", now: Date.now() });
    });
  }

  #run(conn: Conn, actions: ServerAction[]): void {
    for (const a of actions) {
      switch (a.kind) {
        case "send":
          conn.sock.write(a.bytes);
          break;
        case "authenticated":
          conn.identity = a.identity;
          this.authenticated.push(a.identity);
          break;
        case "request":
          if (this.holdQueries && readQueryKey(a.command) !== undefined) {
            this.queries.push(readQueryKey(a.command)!);
            break;
          }
          this.#run(
            conn,
            conn.session.handle({
              kind: "reply",
              now: Date.now(),
              id: a.id,
              reply: this.#answer(a.command),
            }),
          );
          break;
        case "close":
          conn.sock.end();
          break;
        default:
          break;
      }
    }
  }

  #answer(command: TunnelMessage): ServerReply {
    const key = readQueryKey(command);
    if (key === undefined) return { code: Status.INVALID_REQUEST };
    this.queries.push(key);
    const v6 = this.leases.get(key);
    if (v6 === undefined) return { code: Status.ADDRESS_UNAVAILABLE };
    return { code: 200, message: queryInfo({ ipv4: key, clientIpv6: v6, lifetime: 7 }) };
  }

  /** Authenticated connections now. */
  get live(): number {
    let n = 0;
    for (const c of this.#conns) if (c.identity !== undefined) n++;
    return n;
  }

  /** Push `message` to every authenticated session. */
  push(message: TunnelMessage): void {
    for (const c of this.#conns) {
      if (c.identity !== undefined) {
        this.#run(c, c.session.handle({ kind: "push", now: Date.now(), message }));
      }
    }
  }

  /** Drop every connection (as a crashed server would). */
  dropAll(): void {
    for (const c of this.#conns) c.sock.destroy();
    this.#conns.clear();
  }

  /** Stop listening and drop every connection. */
  stop(): Promise<void> {
    this.dropAll();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
