/**
 * The pushes waiting for one TEP session (pure): a full resync (every binding assigned to the
 * TEP, when its session authenticates) followed by the binding adds and removes that happened
 * since, in order, with a bound. PUSH.md describes the messages.
 *
 * The shell moves entries into the TEP's TSP session only while the transport can take them
 * (TCP write buffer not full, UDP queue not full, session idle), so a TEP that reads slowly
 * never makes the server buffer without limit: when more than `limit` entries wait,
 * {@link TepOutbox.enqueue} refuses and the shell closes that session. The TEP then reconnects
 * and gets a full resync, so no push is silently lost.
 *
 * @module
 */

/** One push to make: add (looked up when sent, so it carries the current lifetime) or remove. */
export type PushEntry =
  | { readonly kind: "add"; readonly ipv4: number }
  | { readonly kind: "remove"; readonly ipv4: number; readonly clientIpv6: string };

/** Pending pushes of one TEP; see the module documentation. */
export class TepOutbox {
  readonly #limit: number;
  #resync: readonly number[] = [];
  #resyncAt = 0;
  #queue: PushEntry[] = [];
  #head = 0;

  /** An empty outbox holding at most `limit` queued entries (the resync is not counted). */
  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`Cannot create outbox: limit ${limit} must be a positive integer`);
    }
    this.#limit = limit;
  }

  /** Entries waiting: resync remainder plus queue. */
  get size(): number {
    return this.#resync.length - this.#resyncAt + this.#queue.length - this.#head;
  }

  /** Resync entries not yet taken. */
  get resyncRemaining(): number {
    return this.#resync.length - this.#resyncAt;
  }

  /** Forget everything and start a full resync with these addresses (the new session's view). */
  startResync(ipv4s: readonly number[]): void {
    this.clear();
    this.#resync = ipv4s;
  }

  /** Queue a push; `false` (nothing queued) when `limit` entries already wait. */
  enqueue(e: PushEntry): boolean {
    if (this.#queue.length - this.#head >= this.#limit) return false;
    this.#queue.push(e);
    return true;
  }

  /** The next push, resync first; `undefined` when empty. */
  next(): PushEntry | undefined {
    if (this.#resyncAt < this.#resync.length) {
      return { kind: "add", ipv4: this.#resync[this.#resyncAt++] };
    }
    if (this.#head >= this.#queue.length) return undefined;
    const e = this.#queue[this.#head++];
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return e;
  }

  /** Drop everything (the session ended). */
  clear(): void {
    this.#resync = [];
    this.#resyncAt = 0;
    this.#queue = [];
    this.#head = 0;
  }
}
