/**
 * Token buckets with injected time: {@link TokenBucket} (one bucket, e.g. the global query rate)
 * and {@link KeyedTokenBucket} (one bucket per key, e.g. per IPv4 source /32 or /24, with a
 * bounded number of keys and least-recently-used eviction). No timers, no allocation per call.
 *
 * A bucket holds up to `burst` tokens and gains `ratePerSec` tokens per second; `take` spends
 * tokens if there are enough. A fresh bucket starts full. Time never runs backwards for a
 * bucket: a `now` older than the last one seen refills nothing.
 *
 * @module
 */

/** Rate and burst of a token bucket. */
export interface TokenBucketOptions {
  /** Tokens gained per second (> 0, finite). */
  readonly ratePerSec: number;
  /** Capacity, i.e. the largest burst (>= 1, finite). */
  readonly burst: number;
}

function checkRate(what: string, o: TokenBucketOptions): void {
  if (typeof o.ratePerSec !== "number" || !(o.ratePerSec > 0) || !Number.isFinite(o.ratePerSec)) {
    throw new RangeError(
      `Cannot make ${what}: ratePerSec ${o.ratePerSec} is not a positive number`,
    );
  }
  if (typeof o.burst !== "number" || !(o.burst >= 1) || !Number.isFinite(o.burst)) {
    throw new RangeError(`Cannot make ${what}: burst ${o.burst} is not a number >= 1`);
  }
}

/**
 * One token bucket.
 *
 * @example
 * ```ts
 * const b = new TokenBucket({ ratePerSec: 10, burst: 2 });
 * b.take(0); b.take(0); // true, true
 * b.take(0); // false: empty
 * b.take(100); // true: 100 ms refilled one token
 * ```
 */
export class TokenBucket {
  /** Tokens gained per second. */
  readonly ratePerSec: number;
  /** Capacity. */
  readonly burst: number;
  // Tokens are kept in milli-tokens, so integer rates and integer-ms clocks refill exactly.
  #cap: number;
  #milli: number;
  #last = Number.NEGATIVE_INFINITY;

  /**
   * A full bucket.
   *
   * @throws {RangeError} if the rate or burst is not valid (a programmer error).
   */
  constructor(options: TokenBucketOptions) {
    checkRate("token bucket", options);
    this.ratePerSec = options.ratePerSec;
    this.burst = options.burst;
    this.#cap = options.burst * 1000;
    this.#milli = this.#cap;
  }

  #refill(now: number): void {
    if (now > this.#last) {
      if (this.#last !== Number.NEGATIVE_INFINITY) {
        const t = this.#milli + (now - this.#last) * this.ratePerSec;
        this.#milli = t < this.#cap ? t : this.#cap;
      }
      this.#last = now;
    }
  }

  /** Spend `n` tokens (default 1) at time `now` (ms) if available; true if spent. */
  take(now: number, n = 1): boolean {
    this.#refill(now);
    if (this.#milli >= n * 1000) {
      this.#milli -= n * 1000;
      return true;
    }
    return false;
  }

  /** True if `n` tokens (default 1) are available at `now`, without spending them. */
  canTake(now: number, n = 1): boolean {
    this.#refill(now);
    return this.#milli >= n * 1000;
  }

  /** Tokens available at `now` (fractional). */
  available(now: number): number {
    this.#refill(now);
    return this.#milli / 1000;
  }
}

/** Options of a {@link KeyedTokenBucket}. */
export interface KeyedTokenBucketOptions extends TokenBucketOptions {
  /** Most keys tracked at once (>= 1); the least recently used key is evicted beyond that. */
  readonly maxKeys: number;
}

/**
 * One token bucket per numeric key (an IPv4 source, a /24, a folded IPv6 prefix), at most
 * `maxKeys` of them, in preallocated typed arrays. Taking from a key makes it the most recently
 * used; a new key beyond `maxKeys` evicts the least recently used one, whose bucket is
 * forgotten (it comes back full). Pair it with a global {@link TokenBucket}: cycling through more
 * than `maxKeys` sources defeats the per-key limit but not the global one.
 *
 * Keys are any 32-bit integers (signed or unsigned; `k` and `k >>> 0` are the same key).
 * Lookups go through a `Map` keyed by the signed 32-bit form, which V8 keeps unboxed, so a call
 * allocates nothing.
 */
export class KeyedTokenBucket {
  /** Tokens gained per second, per key. */
  readonly ratePerSec: number;
  /** Capacity per key. */
  readonly burst: number;
  /** Most keys tracked. */
  readonly maxKeys: number;
  #cap: number;
  #index = new Map<number, number>();
  #key: Int32Array;
  #milli: Float64Array; // milli-tokens, as in TokenBucket
  #last: Float64Array;
  // LRU list over slots: head = least recently used.
  #prev: Int32Array;
  #next: Int32Array;
  #head = -1;
  #tail = -1;
  #used = 0;
  #evictions = 0;

  /**
   * An empty set of buckets.
   *
   * @throws {RangeError} if an option is not valid (a programmer error).
   */
  constructor(options: KeyedTokenBucketOptions) {
    checkRate("keyed token bucket", options);
    if (!Number.isInteger(options.maxKeys) || options.maxKeys < 1) {
      throw new RangeError(
        `Cannot make keyed token bucket: maxKeys ${options.maxKeys} is not an integer >= 1`,
      );
    }
    this.ratePerSec = options.ratePerSec;
    this.burst = options.burst;
    this.maxKeys = options.maxKeys;
    this.#cap = options.burst * 1000;
    const n = options.maxKeys;
    this.#key = new Int32Array(n);
    this.#milli = new Float64Array(n);
    this.#last = new Float64Array(n);
    this.#prev = new Int32Array(n);
    this.#next = new Int32Array(n);
  }

  /** Number of keys tracked. */
  get size(): number {
    return this.#index.size;
  }

  /** Number of keys evicted to make room so far. */
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

  #append(s: number): void {
    this.#prev[s] = this.#tail;
    this.#next[s] = -1;
    if (this.#tail >= 0) this.#next[this.#tail] = s;
    else this.#head = s;
    this.#tail = s;
  }

  /** The slot of `key` refilled to `now` and made most recent, creating it (full) if needed. */
  #slot(key: number, now: number): number {
    const k = key | 0;
    let s = this.#index.get(k);
    if (s === undefined) {
      if (this.#used < this.maxKeys) {
        s = this.#used++;
      } else {
        s = this.#head;
        this.#unlink(s);
        this.#index.delete(this.#key[s]);
        this.#evictions++;
      }
      this.#key[s] = k;
      this.#milli[s] = this.#cap;
      this.#last[s] = now;
      this.#index.set(k, s);
      this.#append(s);
      return s;
    }
    if (s !== this.#tail) {
      this.#unlink(s);
      this.#append(s);
    }
    const last = this.#last[s];
    if (now > last) {
      const t = this.#milli[s] + (now - last) * this.ratePerSec;
      this.#milli[s] = t < this.#cap ? t : this.#cap;
      this.#last[s] = now;
    }
    return s;
  }

  /** Spend `n` tokens (default 1) from the bucket of `key` at `now` (ms); true if spent. */
  take(key: number, now: number, n = 1): boolean {
    const s = this.#slot(key, now);
    if (this.#milli[s] >= n * 1000) {
      this.#milli[s] -= n * 1000;
      return true;
    }
    return false;
  }

  /**
   * Tokens available for `key` at `now`, without spending; a key not tracked reports `burst`
   * and is not added.
   */
  available(key: number, now: number): number {
    if (!this.#index.has(key | 0)) return this.burst;
    return this.#milli[this.#slot(key, now)] / 1000;
  }

  /** True if `key` has a bucket now. */
  has(key: number): boolean {
    return this.#index.has(key | 0);
  }

  /** Forget every key. */
  clear(): void {
    this.#index.clear();
    this.#used = 0;
    this.#head = -1;
    this.#tail = -1;
  }
}

/**
 * The rate-limit key of an IPv4 source: the address masked to its first `prefixLength` bits
 * (32 = per host, 24 = per /24), as an unsigned 32-bit integer.
 *
 * @throws {RangeError} if `prefixLength` is not an integer in 0..32 (a programmer error).
 */
export function ipv4PrefixKey(ipv4: number, prefixLength: number): number {
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > 32) {
    throw new RangeError(`Cannot make IPv4 prefix key: prefix length ${prefixLength} not in 0..32`);
  }
  return prefixLength === 0 ? 0 : (ipv4 & (0xffffffff << (32 - prefixLength))) >>> 0;
}

/**
 * The rate-limit key of an IPv6 source: its /64 folded into a 32-bit number (a multiplicative
 * hash of the two 32-bit halves). Two /64s may share a key, which only means they share a
 * bucket. No allocation.
 */
export function ipv6PrefixKey(bytes: Uint8Array, off: number): number {
  const hi = (bytes[off] << 24) | (bytes[off + 1] << 16) | (bytes[off + 2] << 8) | bytes[off + 3];
  const lo = (bytes[off + 4] << 24) | (bytes[off + 5] << 16) | (bytes[off + 6] << 8) |
    bytes[off + 7];
  return (Math.imul(hi ^ (hi >>> 15), 0x2c1b3c6d) ^ Math.imul(lo ^ (lo >>> 13), 0x297a2d39)) >>> 0;
}
