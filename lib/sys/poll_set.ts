/**
 * A preallocated array of `struct pollfd` for `poll(2)`: built once, waited on in a loop with
 * no allocation.
 *
 * @module
 */

import type { Libc } from "./libc.ts";
import { HOST_LE, LINUX } from "./linux_constants.ts";

/** A fixed set of fds to wait on with `poll(2)`. */
export class PollSet {
  /** The `struct pollfd` array (8 bytes per fd), as passed to `poll`. */
  readonly bytes: Uint8Array;
  /** Number of fds. */
  readonly size: number;
  readonly #dv: DataView;

  /**
   * @param fds the descriptors, in index order
   * @param events the events to wait for on each (default POLLIN)
   */
  constructor(fds: readonly number[], events: number = LINUX.POLLIN) {
    this.size = fds.length;
    this.bytes = new Uint8Array(8 * fds.length);
    this.#dv = new DataView(this.bytes.buffer);
    fds.forEach((fd, i) => {
      this.#dv.setInt32(8 * i, fd, HOST_LE);
      this.#dv.setInt16(8 * i + 4, events, HOST_LE);
    });
  }

  /** `poll(2)`: how many fds are ready, 0 on timeout, or `-errno`. */
  wait(c: Libc, timeoutMs: number): number {
    const n = c.poll(this.bytes, this.size, timeoutMs);
    return n >= 0 ? n : -c.errno();
  }

  /** The fd at `index`. */
  fd(index: number): number {
    return this.#dv.getInt32(8 * index, HOST_LE);
  }

  /** The events `poll` reported for `index` (POLLIN, POLLERR, POLLHUP, POLLNVAL...). */
  revents(index: number): number {
    return this.#dv.getInt16(8 * index + 6, HOST_LE);
  }
}
