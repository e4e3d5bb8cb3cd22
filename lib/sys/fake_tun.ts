/**
 * In-memory {@link TunDevice} for unit tests of the shells: the test plays the kernel.
 * {@link FakeTun.inject} queues a packet for `read()`; packets the code under test writes
 * collect in {@link FakeTun.written}.
 *
 * @module
 */

import { Errno } from "./errno.ts";
import { SysError } from "./sys_error.ts";
import type { TunDevice } from "./tun_device.ts";

/** A TUN with queues both ways. */
export class FakeTun implements TunDevice {
  /** {@inheritDoc TunDevice.name} */
  readonly name: string;
  /** Copies of the packets written by the code under test, oldest first. */
  readonly written: Uint8Array[] = [];
  /** When true, `write` reports a full queue (returns false) and keeps nothing. */
  full = false;
  readonly #inbox: Uint8Array[] = [];
  #waiters: ((p: Uint8Array | null) => void)[] = [];
  #closed = false;

  /** @param name interface name to report */
  constructor(name = "tun0") {
    this.name = name;
  }

  /** True after {@link close}. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Queue a packet as if the kernel routed it into the interface (a copy is kept). */
  inject(packet: Uint8Array): void {
    if (this.#closed) return;
    const copy = packet.slice();
    const w = this.#waiters.shift();
    if (w) w(copy);
    else this.#inbox.push(copy);
  }

  /** Remove and return everything written so far. */
  takeWritten(): Uint8Array[] {
    return this.written.splice(0, this.written.length);
  }

  /** {@inheritDoc TunDevice.read} */
  read(): Promise<Uint8Array | null> {
    const p = this.#inbox.shift();
    if (p) return Promise.resolve(p);
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** {@inheritDoc TunDevice.write} */
  write(packet: Uint8Array): boolean {
    if (this.#closed) throw new SysError(`write to TUN ${this.name}`, Errno.EBADF);
    if (this.full) return false;
    this.written.push(packet.slice());
    return true;
  }

  /** {@inheritDoc TunDevice.close} */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f(null);
  }
}
