/**
 * {@link TunDevice} over a real TUN fd for the main thread: reads through a
 * {@link PacketPoller} (timers, never blocking the event loop), writes with one `write(2)`.
 *
 * @module
 */

import { Errno } from "./errno.ts";
import { readPacket, setNonBlocking, writePacket } from "./fd_io.ts";
import { type Libc, libc } from "./libc.ts";
import { PacketPoller } from "./packet_poller.ts";
import { SysError } from "./sys_error.ts";
import { openTun, type TunHandle, type TunOptions } from "./tun.ts";
import type { TunDevice } from "./tun_device.ts";

/** Options of {@link PolledTunDevice.open}. */
export interface PolledTunOptions extends TunOptions {
  /** Longest wait between polls while idle (default 10 ms). */
  maxIdleMs?: number;
  /** Largest packet to read (default 65535). */
  maxPacket?: number;
}

/** A TUN read by timer-driven nonblocking reads. */
export class PolledTunDevice implements TunDevice {
  /** {@inheritDoc TunDevice.name} */
  readonly name: string;
  readonly #handle: TunHandle;
  readonly #c: Libc;
  readonly #poller: PacketPoller<Uint8Array>;
  #closed = false;

  /** Wrap an open TUN (its fd is made nonblocking). */
  constructor(handle: TunHandle, options: PolledTunOptions = {}, c: Libc = libc()) {
    this.#handle = handle;
    this.#c = c;
    this.name = handle.name;
    setNonBlocking(c, handle.fd, true);
    const buf = new Uint8Array(options.maxPacket ?? 65535);
    this.#poller = new PacketPoller(() => {
      const n = readPacket(c, handle.fd, buf);
      if (n === -Errno.EAGAIN || n === -Errno.EINTR) return null;
      if (n < 0) throw new SysError(`read from TUN ${this.name}`, -n);
      return buf.slice(0, n);
    }, options.maxIdleMs);
  }

  /** Create or attach a TUN and wrap it; throws {@link SysError}. */
  static open(options: PolledTunOptions = {}, c: Libc = libc()): PolledTunDevice {
    return new PolledTunDevice(openTun({ ...options, nonBlocking: true }, c), options, c);
  }

  /** The TUN fd (for handing over to a Worker). */
  get fd(): number {
    return this.#handle.fd;
  }

  /** {@inheritDoc TunDevice.read} */
  read(): Promise<Uint8Array | null> {
    return this.#poller.next();
  }

  /** {@inheritDoc TunDevice.write} */
  write(packet: Uint8Array): boolean {
    if (this.#closed) throw new SysError(`write to TUN ${this.name}`, Errno.EBADF);
    const n = writePacket(this.#c, this.#handle.fd, packet, packet.length);
    if (n >= 0) return true;
    if (n === -Errno.EAGAIN || n === -Errno.ENOBUFS) return false;
    throw new SysError(`write to TUN ${this.name}`, -n);
  }

  /** {@inheritDoc TunDevice.close} */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#poller.close();
    this.#handle.close();
  }
}
