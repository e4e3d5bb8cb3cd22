/**
 * The TSP listeners (brief §2.1, §2.9): TCP (`node:net`) and UDP (`node:dgram`) on port 3653 by
 * default, IPv6 and IPv4. Works the same on Deno and Bun.
 *
 * - TCP: one {@link TspConnection} per connection. Beyond `maxConnections` (TCP connections plus
 *   UDP peers) a new connection gets the bare line `530 Server too busy` and is closed. Under Bun
 *   the listener is Bun's native one (`lib/sys/native_tcp.ts`: no stream objects per connection,
 *   about half the CPU per connection of its `node:net` layer); elsewhere (Deno) it is `node:net`. Both
 *   behave the same: writes the kernel does not take at once wait (in order) for `drain`, a peer
 *   that closes its side gets ours closed after what was queued, and `end()` forces the socket
 *   shut 2 s later if the peer does not close.
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
import { clearInterval, setInterval, setTimeout } from "node:timers";
import {
  encodeLine,
  encodeUdpDatagram,
  parseUdpDatagram,
  UdpReplyCache,
  UdpServerLink,
} from "../lib/tsp/mod.ts";
import type { Endpoint } from "../lib/config/addresses.ts";
import {
  type NativeTcp,
  nativeTcp,
  type NativeTcpListener,
  type NativeTcpSocket,
} from "../lib/sys/native_tcp.ts";
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

/** A bound TCP listener (either implementation). */
export interface TcpListener {
  /** The bound address and port. */
  address(): { address: string; port: number };
  /** Stop accepting; open connections stay. */
  close(): void;
}

/**
 * Sockets told to close that must be gone by a deadline (closed by force then): one shared sweep
 * instead of a timer per socket.
 */
const closeDeadlines = new Map<{ destroy(): void }, number>();
let closeSweep: ReturnType<typeof setInterval> | undefined;

/** Forget a socket's deadline (it closed); the sweep stops when none is left. */
function forgetCloseDeadline(s: { destroy(): void }): void {
  if (!closeDeadlines.delete(s) || closeDeadlines.size > 0 || closeSweep === undefined) return;
  clearInterval(closeSweep);
  closeSweep = undefined;
}

function forceCloseAt(s: { destroy(): void }, at: number): void {
  closeDeadlines.set(s, at);
  if (closeSweep !== undefined) return;
  closeSweep = setInterval(() => {
    const now = Date.now();
    for (const [x, t] of closeDeadlines) {
      if (t > now) continue;
      closeDeadlines.delete(x);
      try {
        x.destroy();
      } catch { /* already gone */ }
    }
    if (closeDeadlines.size === 0) {
      clearInterval(closeSweep);
      closeSweep = undefined;
    }
  }, 250);
  (closeSweep as { unref?: () => void }).unref?.();
}

/** Start a TCP listener on `ep` (Bun's native sockets under Bun, `node:net` elsewhere). */
export function listenTcp(
  ep: Endpoint,
  deps: ConnectionDeps,
  conns: ConnectionSet,
): Promise<TcpListener> {
  return nativeTcp ? listenBunTcp(nativeTcp, ep, deps, conns) : listenNodeTcp(ep, deps, conns);
}

function listenNodeTcp(
  ep: Endpoint,
  deps: ConnectionDeps,
  conns: ConnectionSet,
): Promise<TcpListener> {
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
      resolve({
        address: () => server.address() as net.AddressInfo,
        close: () => void server.close(),
      });
    });
  });
}

// ---- Bun's native TCP ------------------------------------------------------------------------

/** A native socket carrying a {@link BunTcpTransport} (exported for tests). */
export type BunSocket = NativeTcpSocket<BunTcpTransport>;

/**
 * A connection on Bun's native socket. `write` there takes what the kernel takes and returns the
 * count; the rest is queued here (copied) and written on `drain`, in order. Exported for tests.
 */
export class BunTcpTransport implements Transport {
  /** Transport kind. */
  readonly kind = "tcp" as const;
  /** Peer address text. */
  readonly peerAddress: string;
  /** Peer port. */
  readonly peerPort: number;
  /** The session on this socket (none for a refused one). */
  conn: TspConnection | undefined;
  readonly #s: BunSocket;
  #queue: Uint8Array[] | undefined;
  #queued = 0;
  /** Our side is to close once the queue is written. */
  #ending = false;
  #closed = false;

  /** Wrap an open socket. */
  constructor(s: BunSocket) {
    this.#s = s;
    this.peerAddress = s.remoteAddress ?? "";
    this.peerPort = s.remotePort ?? 0;
  }

  /** Write one message (what the kernel does not take now waits for `drain`). */
  send(bytes: Uint8Array): void {
    if (this.#closed || this.#ending || bytes.length === 0) return;
    if (this.#queued > 0) {
      this.#enqueue(bytes.slice());
      return;
    }
    const n = this.#s.write(bytes);
    if (n < bytes.length) this.#enqueue(bytes.slice(Math.max(0, n)));
  }

  /** Pushes the socket can take now. */
  pushRoom(): number {
    return this.#queued < TCP_PUSH_HIGH_WATER ? TCP_PUSH_BATCH : 0;
  }

  /** Bytes waiting for `drain`. */
  backlog(): number {
    return this.#queued;
  }

  /** TCP keepalive on (TEP sessions). */
  keepAlive(): void {
    this.#s.setKeepAlive?.(true, TEP_KEEPALIVE_MS);
  }

  /** Close after what is queued; by force 2 s later if the peer does not close. */
  end(): void {
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    if (this.#queued === 0) this.#s.end();
    forceCloseAt(this, Date.now() + 2000);
  }

  /** Close now (deadline passed, or an error). */
  destroy(): void {
    if (this.#closed) return;
    this.#s.terminate();
  }

  /** The kernel takes more: write what is queued; then `ready` (or our deferred close). */
  drained(): void {
    const q = this.#queue;
    while (q !== undefined && q.length > 0 && !this.#closed) {
      const b = q[0];
      const n = this.#s.write(b);
      if (n < b.length) {
        const m = Math.max(0, n);
        q[0] = b.subarray(m);
        this.#queued -= m;
        return;
      }
      q.shift();
      this.#queued -= b.length;
    }
    if (this.#closed) return;
    if (this.#ending) this.#s.end();
    else this.conn?.ready();
  }

  /** The peer closed its side: close ours after what is queued (like `node:net`). */
  peerEnded(): void {
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    if (this.#queued === 0) this.#s.end();
    else forceCloseAt(this, Date.now() + 2000);
  }

  /** The socket is gone; returns false if it was already. */
  markClosed(): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    this.#queue = undefined;
    this.#queued = 0;
    forgetCloseDeadline(this);
    return true;
  }

  #enqueue(b: Uint8Array): void {
    (this.#queue ??= []).push(b);
    this.#queued += b.length;
  }
}

function listenBunTcp(
  bun: NativeTcp,
  ep: Endpoint,
  deps: ConnectionDeps,
  conns: ConnectionSet,
): Promise<TcpListener> {
  const internalError = (e: unknown) => {
    deps.counters.inc("internal_errors_total");
    deps.log.error("conn.internal-error", { error: (e as Error)?.stack ?? String(e) });
  };
  let listener: NativeTcpListener;
  try {
    listener = bun.listen<BunTcpTransport>({
      hostname: ep.host,
      port: ep.port,
      socket: {
        open(s) {
          try {
            const t = new BunTcpTransport(s);
            s.data = t;
            if (conns.size >= conns.maxConnections) {
              deps.counters.inc("connections_refused_total", ["tcp"]);
              t.send(BUSY_LINE);
              t.end();
              return;
            }
            s.setNoDelay?.(true);
            deps.counters.inc("connections_total", ["tcp"]);
            const conn = new TspConnection(t, deps);
            t.conn = conn;
            conns.tcp.add(conn);
          } catch (e) {
            internalError(e);
            s.terminate();
          }
        },
        data(s, d) {
          // `d` (a Buffer) goes as is: a view of it would make the engine create its ArrayBuffer
          const conn = s.data?.conn;
          if (conn) conn.data(d);
        },
        drain(s) {
          s.data?.drained();
        },
        end(s) {
          s.data?.peerEnded();
        },
        close(s) {
          const t = s.data;
          if (!t || !t.markClosed()) return;
          const conn = t.conn;
          if (!conn) return;
          conns.tcp.delete(conn);
          // node:net reports a close after the current call returns; so do we (a close inside
          // send()/end() must not re-enter the connection)
          queueMicrotask(() => conn.transportClosed());
        },
        error(s) {
          s.terminate();
        },
      },
    });
  } catch (e) {
    return Promise.reject(e);
  }
  return Promise.resolve({
    address: () => ({ address: listener.hostname, port: listener.port }),
    close: () => listener.stop(false),
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
