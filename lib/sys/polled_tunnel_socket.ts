/**
 * {@link TunnelSocket} over a raw IPIP socket ({@link openIpipSocket}) for the main thread:
 * receives through a {@link PacketPoller}, sends with one `sendto(2)`.
 *
 * @module
 */

import { Errno } from "./errno.ts";
import { formatIpv6, parseIpv6 } from "./ip_text.ts";
import { type Libc, libc } from "./libc.ts";
import { PacketPoller } from "./packet_poller.ts";
import { openIpipSocket, type Raw6Options, type Raw6Socket } from "./raw6_socket.ts";
import { SysError } from "./sys_error.ts";
import type { TunnelDatagram, TunnelSocket } from "./tunnel_socket.ts";

/** Options of {@link PolledTunnelSocket.open}. */
export interface PolledTunnelOptions extends Omit<Raw6Options, "protocol" | "icmpTypes"> {
  /** The local IPv6 address to bind (required). */
  local: string;
  /** Longest wait between polls while idle (default 10 ms). */
  maxIdleMs?: number;
}

/** IPv4-in-IPv6 over a raw socket, read by timer-driven nonblocking receives. */
export class PolledTunnelSocket implements TunnelSocket {
  /** {@inheritDoc TunnelSocket.local} */
  readonly local: string;
  readonly #sock: Raw6Socket;
  readonly #poller: PacketPoller<TunnelDatagram>;
  #closed = false;

  private constructor(sock: Raw6Socket, local: string, maxIdleMs?: number) {
    this.#sock = sock;
    this.local = local;
    const buf = new Uint8Array(65535);
    this.#poller = new PacketPoller(() => {
      const n = sock.recv(buf);
      if (n === -Errno.EAGAIN || n === -Errno.EINTR) return null;
      if (n < 0) throw new SysError(`receive on IPIP socket ${local}`, -n);
      return { packet: buf.slice(0, n), from: formatIpv6(sock.from) };
    }, maxIdleMs);
  }

  /** Open a raw IPIP socket bound to `options.local`; throws {@link SysError}. */
  static open(options: PolledTunnelOptions, c: Libc = libc()): PolledTunnelSocket {
    const sock = openIpipSocket({ ...options, nonBlocking: true }, c);
    return new PolledTunnelSocket(sock, formatIpv6(parseIpv6(options.local)!), options.maxIdleMs);
  }

  /** The socket fd (for handing over to a Worker). */
  get fd(): number {
    return this.#sock.fd;
  }

  /** {@inheritDoc TunnelSocket.recv} */
  recv(): Promise<TunnelDatagram | null> {
    return this.#poller.next();
  }

  /** {@inheritDoc TunnelSocket.send} */
  send(packet: Uint8Array, to: string): boolean {
    const dst = parseIpv6(to);
    if (!dst) throw new TypeError(`Cannot parse IPv6 address ${JSON.stringify(to)}`);
    if (this.#closed) throw new SysError(`send to ${to}`, Errno.EBADF);
    const n = this.#sock.send(packet, packet.length, dst);
    if (n >= 0) return true;
    if (n === -Errno.EAGAIN || n === -Errno.ENOBUFS) return false;
    throw new SysError(`send IPv4-in-IPv6 to ${to}`, -n);
  }

  /** {@inheritDoc TunnelSocket.close} */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#poller.close();
    this.#sock.close();
  }
}
