/**
 * In-memory {@link TunnelSocket} for unit tests. {@link FakeTunnelSocket.inject} queues a
 * received packet; sends collect in {@link FakeTunnelSocket.sent} and, when the socket joined a
 * {@link FakeTunnelNetwork}, are delivered to the socket bound to the destination address.
 *
 * @module
 */

import { Errno } from "./errno.ts";
import { formatIpv6, parseIpv6 } from "./ip_text.ts";
import { SysError } from "./sys_error.ts";
import type { TunnelDatagram, TunnelSocket } from "./tunnel_socket.ts";

/** Connects fake tunnel sockets by their local address. */
export class FakeTunnelNetwork {
  readonly #sockets = new Map<string, FakeTunnelSocket>();

  /** Register a socket under its local address. */
  attach(sock: FakeTunnelSocket): void {
    this.#sockets.set(sock.local, sock);
  }

  /** Remove a socket. */
  detach(sock: FakeTunnelSocket): void {
    if (this.#sockets.get(sock.local) === sock) this.#sockets.delete(sock.local);
  }

  /** Deliver to the socket bound to `to`; false if there is none. */
  deliver(packet: Uint8Array, from: string, to: string): boolean {
    const s = this.#sockets.get(to);
    if (!s) return false;
    s.inject(packet, from);
    return true;
  }
}

function canonical(text: string): string {
  const b = parseIpv6(text);
  if (!b) throw new TypeError(`Cannot parse IPv6 address ${JSON.stringify(text)}`);
  return formatIpv6(b);
}

/** A tunnel socket with queues both ways. */
export class FakeTunnelSocket implements TunnelSocket {
  /** {@inheritDoc TunnelSocket.local} */
  readonly local: string;
  /** Copies of the packets sent by the code under test, with their destination. */
  readonly sent: { packet: Uint8Array; to: string }[] = [];
  /** When true, `send` reports a full queue (returns false) and keeps nothing. */
  full = false;
  readonly #network: FakeTunnelNetwork | undefined;
  readonly #inbox: TunnelDatagram[] = [];
  #waiters: ((d: TunnelDatagram | null) => void)[] = [];
  #closed = false;

  /**
   * @param local the local IPv6 address
   * @param network optional network delivering sends to other fake sockets
   */
  constructor(local: string, network?: FakeTunnelNetwork) {
    this.local = canonical(local);
    this.#network = network;
    network?.attach(this);
  }

  /** Queue a received packet from `from` (a copy is kept). */
  inject(packet: Uint8Array, from: string): void {
    if (this.#closed) return;
    const d = { packet: packet.slice(), from: canonical(from) };
    const w = this.#waiters.shift();
    if (w) w(d);
    else this.#inbox.push(d);
  }

  /** Remove and return everything sent so far. */
  takeSent(): { packet: Uint8Array; to: string }[] {
    return this.sent.splice(0, this.sent.length);
  }

  /** {@inheritDoc TunnelSocket.recv} */
  recv(): Promise<TunnelDatagram | null> {
    const d = this.#inbox.shift();
    if (d) return Promise.resolve(d);
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** {@inheritDoc TunnelSocket.send} */
  send(packet: Uint8Array, to: string): boolean {
    const dst = canonical(to);
    if (this.#closed) throw new SysError(`send to ${to}`, Errno.EBADF);
    if (this.full) return false;
    this.sent.push({ packet: packet.slice(), to: dst });
    this.#network?.deliver(packet, this.local, dst);
    return true;
  }

  /** {@inheritDoc TunnelSocket.close} */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#network?.detach(this);
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f(null);
  }
}
