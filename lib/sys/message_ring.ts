/**
 * A single-producer, single-consumer ring of byte messages in a SharedArrayBuffer, with an
 * eventfd that wakes the consumer's `poll(2)`. The main thread uses it to hand control-plane
 * updates (bindings, leases, MTU) to a data-plane Worker that spends its life in a blocking
 * packet loop and so never runs its event loop: `postMessage` could not reach it.
 *
 * Layout: Int32 `head` (next write offset, producer-owned), Int32 `tail` (next read offset,
 * consumer-owned), then `capacity` bytes of records `[u16 length][payload]`, each padded to 4
 * bytes. A record that would cross the end is preceded by a 0xffff wrap marker.
 *
 * @module
 */
import { type Libc, libc } from "./libc.ts";
import { LINUX } from "./linux_constants.ts";
import { SysError } from "./sys_error.ts";

/** What to post to the other thread so it can {@link MessageRing.attach}. */
export interface MessageRingInit {
  /** The shared memory: 8 header bytes + capacity. */
  sab: SharedArrayBuffer;
  /** eventfd the producer writes after each push (-1: none). */
  wakeFd: number;
}

const HEADER = 8;
const WRAP = 0xffff;
/** Largest payload of one message. */
export const MESSAGE_RING_MAX = 0xfff0;

/** One direction of a shared message channel. */
export class MessageRing {
  /** Post this to the Worker. */
  readonly init: MessageRingInit;
  readonly #idx: Int32Array;
  readonly #data: Uint8Array;
  readonly #cap: number;
  readonly #c: Libc | undefined;
  readonly #one = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);
  readonly #scratch = new Uint8Array(8);
  readonly #owner: boolean;

  private constructor(init: MessageRingInit, c: Libc | undefined, owner: boolean) {
    this.init = init;
    this.#idx = new Int32Array(init.sab, 0, 2);
    this.#data = new Uint8Array(init.sab, HEADER);
    this.#cap = this.#data.length;
    this.#c = c;
    this.#owner = owner;
  }

  /**
   * A new ring of `capacity` bytes (a multiple of 4). With `wake`, an eventfd is created (throws
   * {@link SysError} if that fails) so the consumer can poll on {@link wakeFd}.
   */
  static create(capacity: number, wake = true, c?: Libc): MessageRing {
    if (!Number.isInteger(capacity) || capacity < 64 || capacity % 4 !== 0) {
      throw new RangeError(`ring capacity must be a multiple of 4 >= 64, got ${capacity}`);
    }
    let fd = -1;
    const lc = wake ? (c ?? libc()) : c;
    if (wake && lc) {
      fd = lc.eventfd(0, LINUX.EFD_NONBLOCK | LINUX.EFD_CLOEXEC);
      if (fd < 0) throw new SysError("create eventfd", lc.errno());
    }
    return new MessageRing({ sab: new SharedArrayBuffer(HEADER + capacity), wakeFd: fd }, lc, true);
  }

  /** The same ring seen from the other thread. */
  static attach(init: MessageRingInit, c?: Libc): MessageRing {
    return new MessageRing(init, init.wakeFd >= 0 ? (c ?? libc()) : c, false);
  }

  /** The eventfd to add to the consumer's poll set (-1 if none). */
  get wakeFd(): number {
    return this.init.wakeFd;
  }

  /** Bytes of records waiting (approximate from the producer's side). */
  get pending(): number {
    const h = Atomics.load(this.#idx, 0);
    const t = Atomics.load(this.#idx, 1);
    return h >= t ? h - t : this.#cap - t + h;
  }

  /**
   * Producer: append `len` bytes of `msg` and wake the consumer. Returns false (nothing written)
   * when the ring has no room; the caller decides what a full ring means.
   */
  push(msg: Uint8Array, len = msg.length): boolean {
    if (len > MESSAGE_RING_MAX || len > msg.length) {
      throw new RangeError(`message of ${len} bytes does not fit a ring record`);
    }
    const need = (2 + len + 3) & ~3;
    const head = Atomics.load(this.#idx, 0);
    const tail = Atomics.load(this.#idx, 1);
    // Offsets are multiples of 4; the writer never lets head catch up with tail from behind, so
    // head == tail always means empty.
    let at = head;
    if (head >= tail) {
      if (need <= this.#cap - head && !(head + need === this.#cap && tail === 0)) {
        at = head;
      } else {
        // Not enough room before the end: wrap to 0 if the start is free up to tail.
        if (need >= tail) return false;
        this.#data[head] = WRAP & 0xff;
        this.#data[head + 1] = WRAP >> 8;
        at = 0;
      }
    } else if (need > tail - head - 4) return false;
    this.#data[at] = len & 0xff;
    this.#data[at + 1] = len >> 8;
    this.#data.set(len === msg.length ? msg : msg.subarray(0, len), at + 2);
    let next = at + need;
    if (next >= this.#cap) next = 0;
    Atomics.store(this.#idx, 0, next);
    if (this.init.wakeFd >= 0 && this.#c) this.#c.write(this.init.wakeFd, this.#one, 8);
    return true;
  }

  /** Consumer: copy the next message into `out` and return its length, or -1 if empty. */
  pop(out: Uint8Array): number {
    let tail = Atomics.load(this.#idx, 1);
    const head = Atomics.load(this.#idx, 0);
    if (tail === head) return -1;
    if (this.#cap - tail < 2 || (this.#data[tail] | (this.#data[tail + 1] << 8)) === WRAP) {
      tail = 0;
      if (tail === head) {
        Atomics.store(this.#idx, 1, 0);
        return -1;
      }
    }
    const len = this.#data[tail] | (this.#data[tail + 1] << 8);
    if (len > out.length) throw new RangeError(`message of ${len} bytes, buffer of ${out.length}`);
    out.set(this.#data.subarray(tail + 2, tail + 2 + len));
    let next = tail + ((2 + len + 3) & ~3);
    if (next >= this.#cap) next = 0;
    Atomics.store(this.#idx, 1, next);
    return len;
  }

  /** Consumer: reset the eventfd after a wake-up (call before draining with {@link pop}). */
  clearWake(): void {
    if (this.init.wakeFd >= 0 && this.#c) this.#c.read(this.init.wakeFd, this.#scratch, 8);
  }

  /** Close the eventfd (creator only). */
  close(): void {
    if (this.#owner && this.init.wakeFd >= 0 && this.#c) this.#c.close(this.init.wakeFd);
  }
}
