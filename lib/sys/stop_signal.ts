/**
 * Stopping a packet loop that runs in a Worker. A Worker blocked in `read` or `poll` cannot be
 * terminated reliably, so the loop polls with a timeout and checks a flag in a
 * SharedArrayBuffer; an eventfd in its poll set wakes it at once when the flag is set.
 *
 * @module
 */

import { type Libc, libc } from "./libc.ts";
import { LINUX } from "./linux_constants.ts";
import { SysError } from "./sys_error.ts";

/** What to post to the Worker so it can {@link StopSignal.attach} to the same signal. */
export interface StopSignalInit {
  /** 4-byte shared flag: non-zero means stop. */
  sab: SharedArrayBuffer;
  /** eventfd written on stop (-1: none, the loop notices within its poll timeout). */
  wakeFd: number;
}

/** A stop request shared between the main thread and a Worker. */
export class StopSignal {
  /** Post this to the Worker. */
  readonly init: StopSignalInit;
  readonly #flag: Int32Array;
  readonly #c: Libc;
  readonly #owner: boolean;
  readonly #one = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);

  private constructor(init: StopSignalInit, c: Libc, owner: boolean) {
    this.init = init;
    this.#flag = new Int32Array(init.sab);
    this.#c = c;
    this.#owner = owner;
  }

  /** A new signal with its eventfd (main thread); throws {@link SysError}. */
  static create(c: Libc = libc()): StopSignal {
    const fd = c.eventfd(0, LINUX.EFD_NONBLOCK | LINUX.EFD_CLOEXEC);
    if (fd < 0) throw new SysError("create eventfd", c.errno());
    return new StopSignal({ sab: new SharedArrayBuffer(4), wakeFd: fd }, c, true);
  }

  /** The same signal seen from a Worker. */
  static attach(init: StopSignalInit, c: Libc = libc()): StopSignal {
    return new StopSignal(init, c, false);
  }

  /** True once {@link stop} was called (from any thread). */
  get stopped(): boolean {
    return Atomics.load(this.#flag, 0) !== 0;
  }

  /** The eventfd the loop adds to its poll set (-1 if none). */
  get wakeFd(): number {
    return this.init.wakeFd;
  }

  /** Ask the loop to stop and wake it. */
  stop(): void {
    Atomics.store(this.#flag, 0, 1);
    if (this.init.wakeFd >= 0) this.#c.write(this.init.wakeFd, this.#one, 8);
  }

  /** Close the eventfd (creator only, after the loop has ended). */
  close(): void {
    if (this.#owner && this.init.wakeFd >= 0) this.#c.close(this.init.wakeFd);
  }
}
