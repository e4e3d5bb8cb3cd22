/**
 * The TUN seam for main-thread code: whole IP packets in and out of one tunnel interface. The
 * real one is {@link PolledTunDevice}, the in-memory one {@link FakeTun}. (The data planes'
 * Workers use the fd directly with `runPollLoop`; this interface is for low-rate use and the
 * shells' unit tests.)
 *
 * @module
 */

/** A TUN interface carrying whole IPv4/IPv6 packets. */
export interface TunDevice {
  /** Interface name, e.g. `"tun0"`. */
  readonly name: string;
  /** The next packet the kernel routed into the interface; null once closed. */
  read(): Promise<Uint8Array | null>;
  /**
   * Hand one packet to the kernel as if received on the interface. False if the kernel's
   * queue is full and the packet was dropped; throws `SysError` on other failures.
   */
  write(packet: Uint8Array): boolean;
  /** Close; pending reads resolve to null. Idempotent. */
  close(): void;
}
