/**
 * The TSP listeners (brief §2.1, §2.9): TCP (`node:net`) and UDP (`node:dgram`) on port 3653 by
 * default, IPv6 and IPv4. Works the same on Deno and Bun.
 *
 * - TCP: one {@link TspConnection} per connection. Beyond `maxConnections` (TCP connections plus
 *   UDP peers) a new connection gets the bare line `530 Server too busy` and is closed.
 * - UDP: one {@link TspConnection} per peer (address and port) behind a `UdpServerLink`, with a
 *   server-wide `UdpReplyCache`: a retransmitted datagram gets the same reply again without
 *   reaching the session (no second allocation); a new `VERSION=` datagram from a known peer
 *   starts a new session; a peer silent for `idleTimeoutMs` is forgotten. Beyond
 *   `maxConnections` a new peer gets `530 Server too busy` in a datagram echoing its header.
 *
 * @module
 */
import net from "node:net";
import dgram from "node:dgram";
import { setTimeout } from "node:timers";
import {
  encodeLine,
  encodeUdpDatagram,
  parseUdpDatagram,
  UdpReplyCache,
  UdpServerLink,
} from "../lib/tsp/mod.ts";
import type { Endpoint } from "../lib/config/addresses.ts";
import { type ConnectionDeps, type Transport, TspConnection } from "./tsp_connection.ts";

/** Pushes held for a TCP session before it counts as full (then the TEP outbox waits). */
const TCP_PUSH_BATCH = 32;
/** Unsent bytes above which pushes wait for `drain`. */
const TCP_PUSH_HIGH_WATER = 64 * 1024;
/** Idle time before TCP keepalive probes start on a TEP session. */
const TEP_KEEPALIVE_MS = 10_000;
/** Messages a UDP link holds for its peer. */
const UDP_QUEUE = 32;

const BUSY_LINE = encodeLine("530 Server too busy");

/** All open sessions, for the connection cap and housekeeping. */
export class ConnectionSet {
  readonly tcp = new Set<TspConnection>();
  readonly udp = new Map<string, UdpPeer>();
  /** Current cap (reloadable). */
  maxConnections: number;

  /** An empty set with a cap. */
  constructor(maxConnections: number) {
    this.maxConnections = maxConnections;
  }

  /** TCP connections plus UDP peers. */
  get size(): number {
    return this.tcp.size + this.udp.size;
  }

  /** Tick every session; forget UDP peers idle longer than `udpIdleMs`. */
  tick(now: number, udpIdleMs: number): void {
    for (const c of this.tcp) c.tick(now);
    for (const [key, p] of this.udp) {
      if (now - p.lastSeen >= udpIdleMs) {
        p.conn.close("UDP peer idle");
        this.udp.delete(key);
      } else p.conn.tick(now);
    }
  }

  /** Close every session (shutdown). */
  closeAll(reason: string): void {
    for (const c of [...this.tcp]) c.close(reason);
    for (const p of this.udp.values()) p.conn.close(reason);
    this.udp.clear();
  }
}

function u8(b: Uint8Array): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

class TcpTransport implements Transport {
  readonly kind = "tcp" as const;
  readonly peerAddress: string;
  readonly peerPort: number;
  readonly #s: net.Socket;

  constructor(s: net.Socket) {
    this.#s = s;
    this.peerAddress = s.remoteAddress ?? "";
    this.peerPort = s.remotePort ?? 0;
  }

  send(bytes: Uint8Array): void {
    if (!this.#s.destroyed) this.#s.write(bytes);
  }

  pushRoom(): number {
    return this.#s.writableLength < TCP_PUSH_HIGH_WATER ? TCP_PUSH_BATCH : 0;
  }

  backlog(): number {
    return this.#s.writableLength;
  }

  keepAlive(): void {
    // A TEP host that vanishes without closing is found by TCP keepalive (first probe after
    // 10 s idle; the kernel's interval and count decide the rest) or by its next failed push.
    this.#s.setKeepAlive(true, TEP_KEEPALIVE_MS);
  }

  end(): void {
    const s = this.#s;
    if (s.destroyed) return;
    s.end();
    setTimeout(() => s.destroy(), 2000).unref();
  }
}

/** Start a TCP listener on `ep`. */
export function listenTcp(
  ep: Endpoint,
  deps: ConnectionDeps,
  conns: ConnectionSet,
): Promise<net.Server> {
  const server = net.createServer((socket) => {
    try {
      socket.on("error", () => socket.destroy());
      if (conns.size >= conns.maxConnections) {
        deps.counters.inc("connections_refused_total", ["tcp"]);
        socket.end(BUSY_LINE);
        setTimeout(() => socket.destroy(), 1000).unref();
        return;
      }
      socket.setNoDelay(true);
      deps.counters.inc("connections_total", ["tcp"]);
      const conn = new TspConnection(new TcpTransport(socket), deps);
      conns.tcp.add(conn);
      socket.on("data", (d: Uint8Array) => conn.data(u8(d)));
      socket.on("drain", () => conn.ready());
      socket.on("close", () => {
        conns.tcp.delete(conn);
        conn.transportClosed();
      });
    } catch (e) {
      deps.counters.inc("internal_errors_total");
      deps.log.error("conn.internal-error", { error: (e as Error)?.stack ?? String(e) });
      socket.destroy();
    }
  });
  server.on("error", (e) => deps.log.error("listen.error", { error: (e as Error).message }));
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: ep.host, port: ep.port }, () => {
      server.off("error", reject);
      resolve(server);
    });
  });
}

/** One UDP peer: its link and its session. */
export class UdpPeer implements Transport {
  readonly kind = "udp" as const;
  readonly peerAddress: string;
  readonly peerPort: number;
  readonly link: UdpServerLink;
  readonly conn: TspConnection;
  lastSeen: number;
  readonly #sock: dgram.Socket;
  readonly #deps: ConnectionDeps;

  constructor(
    sock: dgram.Socket,
    address: string,
    port: number,
    key: string,
    cache: UdpReplyCache,
    deps: ConnectionDeps,
    onFinish: (c: TspConnection) => void,
  ) {
    this.#sock = sock;
    this.#deps = deps;
    this.peerAddress = address;
    this.peerPort = port;
    this.link = new UdpServerLink({ peer: key, cache, maxQueue: UDP_QUEUE });
    this.lastSeen = deps.clock();
    this.conn = new TspConnection(this, deps, onFinish);
  }

  /** A datagram from the peer. */
  receive(bytes: Uint8Array, now: number): void {
    const r = this.link.receive(bytes, now);
    if (r.kind === "resend") {
      this.#deps.counters.inc("udp_resends_total");
      this.#out(r.bytes);
      return;
    }
    if (r.kind === "drop") {
      this.#deps.counters.inc("udp_drops_total", [r.reason]);
      return;
    }
    this.lastSeen = now;
    this.conn.data(r.payload);
    this.flush();
    this.conn.ready();
  }

  send(bytes: Uint8Array): void {
    this.link.enqueue(bytes);
    this.flush();
  }

  /** Answer the outstanding datagram if there is something (or nothing, and not busy). */
  flush(): void {
    const d = this.link.flush(this.#deps.clock(), this.conn.awaitingHandler);
    if (d) this.#out(d);
  }

  pushRoom(): number {
    return UDP_QUEUE - this.link.queued;
  }

  backlog(): number {
    return 0;
  }

  end(): void {
    // The last reply is already queued and goes out as the answer to the outstanding datagram.
  }

  #out(bytes: Uint8Array): void {
    try {
      this.#sock.send(bytes, this.peerPort, this.peerAddress, () => {});
    } catch (e) {
      this.#deps.log.debug("udp.send-error", { peer: this.peerAddress, error: String(e) });
    }
  }
}

const VERSION_PREFIX = [0x56, 0x45, 0x52, 0x53, 0x49, 0x4f, 0x4e, 0x3d]; // "VERSION="

function startsWithVersion(p: Uint8Array): boolean {
  let i = 0;
  while (i < p.length && (p[i] === 0 || p[i] === 0x0d || p[i] === 0x0a)) i++;
  if (p.length - i < VERSION_PREFIX.length) return false;
  for (let k = 0; k < VERSION_PREFIX.length; k++) {
    let c = p[i + k];
    if (c >= 0x61 && c <= 0x7a) c -= 0x20;
    if (c !== VERSION_PREFIX[k]) return false;
  }
  return true;
}

/** Start a UDP listener on `ep`. */
export function listenUdp(
  ep: Endpoint,
  deps: ConnectionDeps,
  conns: ConnectionSet,
): Promise<dgram.Socket> {
  const sock = dgram.createSocket({ type: ep.family === 6 ? "udp6" : "udp4" });
  const cache = new UdpReplyCache();
  sock.on("message", (msg: Uint8Array, rinfo: dgram.RemoteInfo) => {
    try {
      const bytes = u8(msg);
      const now = deps.clock();
      const d = parseUdpDatagram(bytes);
      if (!d.ok) {
        deps.counters.inc("udp_drops_total", [d.reason]);
        return;
      }
      const key = `[${rinfo.address}]:${rinfo.port}`;
      const cached = cache.get(key, d.header.sequence, now);
      if (cached) {
        deps.counters.inc("udp_resends_total");
        sock.send(cached, rinfo.port, rinfo.address, () => {});
        return;
      }
      let peer = conns.udp.get(key);
      if (peer && (peer.conn.closed || startsWithVersion(d.payload))) {
        peer.conn.close("new session from the same peer");
        conns.udp.delete(key);
        peer = undefined;
      }
      if (!peer) {
        if (conns.size >= conns.maxConnections) {
          deps.counters.inc("connections_refused_total", ["udp"]);
          sock.send(encodeUdpDatagram(d.header, BUSY_LINE), rinfo.port, rinfo.address, () => {});
          return;
        }
        deps.counters.inc("connections_total", ["udp"]);
        const created: UdpPeer = new UdpPeer(
          sock,
          rinfo.address,
          rinfo.port,
          key,
          cache,
          deps,
          () => {
            if (conns.udp.get(key) === created) conns.udp.delete(key);
          },
        );
        peer = created;
        conns.udp.set(key, peer);
      }
      peer.receive(bytes, now);
    } catch (e) {
      deps.counters.inc("internal_errors_total");
      deps.log.error("udp.internal-error", { error: (e as Error)?.stack ?? String(e) });
    }
  });
  sock.on("error", (e) => deps.log.error("udp.error", { error: (e as Error).message }));
  return new Promise((resolve, reject) => {
    sock.once("error", reject);
    sock.bind(ep.port, ep.host, () => {
      sock.off("error", reject);
      resolve(sock);
    });
  });
}
