/**
 * Timer-driven reads from a nonblocking fd for the main thread: never blocks the event loop,
 * costs nothing while nobody waits, and polls with a backoff from 0 ms (right after a packet)
 * up to `maxIdleMs` (idle). For low-rate use and tests; the data planes use a Worker with
 * {@link runPollLoop} instead.
 *
 * @module
 */

/** Reads at most one item: the item, or null when nothing is waiting (EAGAIN). May throw. */
export type TryRead<T> = () => T | null;

/** Longest wait between two polls when idle, unless configured. */
export const DEFAULT_MAX_IDLE_MS = 10;
/** Items read ahead of the callers, at most. */
const READ_AHEAD = 256;

/** Turns a {@link TryRead} into promise-returning `next()` calls. */
export class PacketPoller<T> {
  readonly #tryRead: TryRead<T>;
  readonly #maxIdleMs: number;
  readonly #ready: T[] = [];
  #waiters: { resolve(v: T | null): void; reject(e: unknown): void }[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #delay = 0;
  #closed = false;

  /**
   * @param tryRead reads one item or returns null when none is waiting
   * @param maxIdleMs longest wait between polls while idle (default 10 ms)
   */
  constructor(tryRead: TryRead<T>, maxIdleMs = DEFAULT_MAX_IDLE_MS) {
    this.#tryRead = tryRead;
    this.#maxIdleMs = maxIdleMs;
  }

  /** The next item; null once closed. Rejects with the read's error. */
  next(): Promise<T | null> {
    if (this.#ready.length > 0) return Promise.resolve(this.#ready.shift()!);
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      if (this.#timer === undefined) {
        this.#delay = 0;
        this.#schedule();
      }
    });
  }

  #schedule(): void {
    this.#timer = setTimeout(() => this.#tick(), this.#delay);
  }

  #tick(): void {
    this.#timer = undefined;
    if (this.#closed) return;
    let got = 0;
    try {
      while (this.#ready.length < READ_AHEAD) {
        const item = this.#tryRead();
        if (item === null) break;
        got++;
        const w = this.#waiters.shift();
        if (w) w.resolve(item);
        else this.#ready.push(item);
      }
    } catch (e) {
      const w = this.#waiters;
      this.#waiters = [];
      for (const x of w) x.reject(e);
      return;
    }
    if (this.#waiters.length === 0) return;
    this.#delay = got > 0 ? 0 : Math.min(this.#maxIdleMs, Math.max(1, this.#delay * 2));
    this.#schedule();
  }

  /** Stop polling; pending and later `next()` calls resolve to null (after buffered items). */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const w = this.#waiters;
    this.#waiters = [];
    for (const x of w) x.resolve(null);
  }
}
