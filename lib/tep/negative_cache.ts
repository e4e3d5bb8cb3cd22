/**
 * The TEP's negative cache (protocol brief §4.5 "Encapsulation" step 3): pool IPv4 addresses the
 * DSTM server recently said have no lease (`308`/`501` to a `query`, §3.2 item 10), so packets
 * to them are dropped without asking again; and a short entry when the server could not be
 * reached, so a dead server is not hammered but is retried soon (§4.5: "do not negative-cache
 * for long").
 *
 * Bounded: at most `capacity` entries in preallocated typed arrays; adding beyond that evicts
 * the oldest entry (least recently added). Expired entries count as absent and are reclaimed
 * lazily. `has` allocates nothing.
 *
 * @module
 */

/** Options of a {@link NegativeCache}. */
export interface NegativeCacheOptions {
  /** Most entries (>= 1). Default 4096. */
  readonly capacity?: number;
  /** TTL of an entry after `308`/`501`, in ms (> 0). Default 30 000 (the brief suggests 30–60 s). */
  readonly ttlMs?: number;
  /** TTL of an entry after the server could not be reached, in ms (> 0). Default 3 000. */
  readonly unreachableTtlMs?: number;
}

/** Default {@link NegativeCacheOptions.capacity}. */
export const NEGATIVE_CACHE_DEFAULT_CAPACITY = 4096;
/** Default {@link NegativeCacheOptions.ttlMs}: 30 s. */
export const NEGATIVE_CACHE_DEFAULT_TTL_MS = 30_000;
/** Default {@link NegativeCacheOptions.unreachableTtlMs}: 3 s. */
export const NEGATIVE_CACHE_DEFAULT_UNREACHABLE_TTL_MS = 3_000;

function positive(what: string, v: number): number {
  if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) {
    throw new RangeError(`Cannot make negative cache: ${what} ${v} is not a positive number`);
  }
  return v;
}

/**
 * Per-IPv4 negative entries with a TTL, bounded, oldest evicted first.
 *
 * @example
 * ```ts
 * const neg = new NegativeCache({ ttlMs: 30_000 });
 * neg.add(0xc6336407, 0); // 198.51.100.7 after a 308
 * neg.has(0xc6336407, 29_999); // true
 * neg.has(0xc6336407, 30_000); // false (expired, reclaimed)
 * ```
 */
export class NegativeCache {
  /** Most entries. */
  readonly capacity: number;
  /** TTL after `308`/`501`, ms. */
  readonly ttlMs: number;
  /** TTL after an unreachable server, ms. */
  readonly unreachableTtlMs: number;
  #index = new Map<number, number>();
  #ipv4: Uint32Array;
  #expires: Float64Array;
  // Insertion-order list over slots: head = oldest.
  #prev: Int32Array;
  #next: Int32Array;
  #head = -1;
  #tail = -1;
  #free: Int32Array;
  #freeTop: number;
  #evictions = 0;

  /**
   * An empty cache.
   *
   * @throws {RangeError} if an option is not valid (a programmer error).
   */
  constructor(options: NegativeCacheOptions = {}) {
    const cap = options.capacity ?? NEGATIVE_CACHE_DEFAULT_CAPACITY;
    if (!Number.isInteger(cap) || cap < 1) {
      throw new RangeError(`Cannot make negative cache: capacity ${cap} is not an integer >= 1`);
    }
    this.capacity = cap;
    this.ttlMs = positive("ttlMs", options.ttlMs ?? NEGATIVE_CACHE_DEFAULT_TTL_MS);
    this.unreachableTtlMs = positive(
      "unreachableTtlMs",
      options.unreachableTtlMs ?? NEGATIVE_CACHE_DEFAULT_UNREACHABLE_TTL_MS,
    );
    this.#ipv4 = new Uint32Array(cap);
    this.#expires = new Float64Array(cap);
    this.#prev = new Int32Array(cap);
    this.#next = new Int32Array(cap);
    this.#free = new Int32Array(cap);
    for (let i = 0; i < cap; i++) this.#free[i] = cap - 1 - i;
    this.#freeTop = cap;
  }

  /** Number of entries held, including expired ones not reclaimed yet. */
  get size(): number {
    return this.#index.size;
  }

  /** Number of entries evicted (oldest first) to make room so far. */
  get evictions(): number {
    return this.#evictions;
  }

  #unlink(s: number): void {
    const p = this.#prev[s];
    const n = this.#next[s];
    if (p >= 0) this.#next[p] = n;
    else this.#head = n;
    if (n >= 0) this.#prev[n] = p;
    else this.#tail = p;
  }

  #release(s: number): void {
    this.#unlink(s);
    this.#index.delete(this.#ipv4[s] | 0);
    this.#free[this.#freeTop++] = s;
  }

  /**
   * Add (or renew) a negative entry for `ipv4` at `now` that lasts `ttlMs` (default: the
   * `308`/`501` TTL). A renewed entry counts as the newest. If the cache is full, the oldest
   * entry is evicted.
   */
  add(ipv4: number, now: number, ttlMs: number = this.ttlMs): void {
    const key = ipv4 | 0;
    let s = this.#index.get(key);
    if (s !== undefined) {
      this.#unlink(s);
    } else {
      if (this.#freeTop === 0) {
        const old = this.#head;
        if (!(this.#expires[old] <= now)) this.#evictions++;
        this.#release(old);
      }
      s = this.#free[--this.#freeTop];
      this.#ipv4[s] = ipv4 >>> 0;
      this.#index.set(key, s);
    }
    this.#expires[s] = now + ttlMs;
    this.#prev[s] = this.#tail;
    this.#next[s] = -1;
    if (this.#tail >= 0) this.#next[this.#tail] = s;
    else this.#head = s;
    this.#tail = s;
  }

  /** Add a short entry for `ipv4`: the server could not be reached (`unreachableTtlMs`). */
  addUnreachable(ipv4: number, now: number): void {
    this.add(ipv4, now, this.unreachableTtlMs);
  }

  /** True if `ipv4` has an unexpired negative entry at `now`. Reclaims an expired one. */
  has(ipv4: number, now: number): boolean {
    const s = this.#index.get(ipv4 | 0);
    if (s === undefined) return false;
    if (now < this.#expires[s]) return true;
    this.#release(s);
    return false;
  }

  /** When the entry for `ipv4` expires (ms), or -1 if there is none (expired or not). */
  expiresAt(ipv4: number, now: number): number {
    return this.has(ipv4, now) ? this.#expires[this.#index.get(ipv4 | 0)!] : -1;
  }

  /**
   * Remove the entry for `ipv4` (e.g. the server pushed a binding for it); true if there was
   * one.
   */
  remove(ipv4: number): boolean {
    const s = this.#index.get(ipv4 | 0);
    if (s === undefined) return false;
    this.#release(s);
    return true;
  }

  /** Reclaim every expired entry; returns how many. O(size); for housekeeping, not per packet. */
  sweep(now: number): number {
    let n = 0;
    for (let s = this.#head; s >= 0;) {
      const next = this.#next[s];
      if (this.#expires[s] <= now) {
        this.#release(s);
        n++;
      }
      s = next;
    }
    return n;
  }

  /** Unexpired entries, oldest first (allocates; for `ctl`). */
  entries(now: number): { ipv4: number; expiresAt: number }[] {
    const out: { ipv4: number; expiresAt: number }[] = [];
    for (let s = this.#head; s >= 0; s = this.#next[s]) {
      if (now < this.#expires[s]) out.push({ ipv4: this.#ipv4[s], expiresAt: this.#expires[s] });
    }
    return out;
  }

  /** Remove every entry. */
  clear(): void {
    while (this.#head >= 0) this.#release(this.#head);
  }
}
