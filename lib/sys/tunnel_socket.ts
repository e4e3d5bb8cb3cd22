/**
 * The IPv6 side of a data plane, for main-thread code: IPv4 packets carried in IPv6 (next
 * header 4) to and from a peer. The real one is {@link PolledTunnelSocket} (a raw IPIP socket:
 * the kernel adds/strips the IPv6 header, fragments and reassembles), the in-memory one
 * {@link FakeTunnelSocket}.
 *
 * @module
 */

/** One received IPv4-in-IPv6 packet. */
export interface TunnelDatagram {
  /** The inner IPv4 packet. */
  packet: Uint8Array;
  /** Outer IPv6 source address (RFC 5952 text). */
  from: string;
}

/** Sends and receives IPv4 packets inside IPv6 from one local IPv6 address. */
export interface TunnelSocket {
  /** The local IPv6 address (the outer source of every send). */
  readonly local: string;
  /** The next packet received; null once closed. */
  recv(): Promise<TunnelDatagram | null>;
  /**
   * Send `packet` (an IPv4 packet) inside IPv6 to `to`. False if the kernel's queue is full
   * and it was dropped; throws `SysError` on other failures (EMSGSIZE, ENETUNREACH...).
   */
  send(packet: Uint8Array, to: string): boolean;
  /** Close; pending receives resolve to null. Idempotent. */
  close(): void;
}
