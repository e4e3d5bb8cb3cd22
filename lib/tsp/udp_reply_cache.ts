/**
 * Server-side reply cache for TSP over UDP (protocol brief §2.9, §8.4): the reply datagram sent
 * for (peer, sequence) is kept so that a retransmitted client datagram gets the same bytes back
 * without the server redoing the work (no second allocation).
 *
 * Bounded in entries (oldest evicted first) and in age (entries older than `maxAgeMs` are treated
 * as absent and pruned). Time is injected.
 *
 * Timestamp echo: the cached bytes are the whole reply datagram, header included, so a
 * retransmission gets the *first* transmission's timestamp back, not its own. That is harmless
 * for the protocol (the sequence number matches and the timestamp is opaque to the server), but a
 * client must not take an RTT sample from the reply to a retransmitted datagram (Karn's rule):
 * measured against the first timestamp it would include the retransmission timeout.
 * `UdpClientLink` follows that rule.
 *
 * @module
 */

/** Options of {@link UdpReplyCache}. */
export interface UdpReplyCacheOptions {
  /** Most entries kept. Default 4096. */
  readonly maxEntries?: number;
  /** Age in ms after which an entry is gone. Default 120000 (longer than a client's backoff). */
  readonly maxAgeMs?: number;
}

interface Entry {
  readonly bytes: Uint8Array;
  readonly at: number;
}

/** Reply cache keyed by (peer, sequence); see the module documentation. */
export class UdpReplyCache {
  readonly #maxEntries: number;
  readonly #maxAge: number;
  readonly #map = new Map<string, Entry>();

  /** Create a cache. Throws `RangeError` for non-positive limits. */
  constructor(options: UdpReplyCacheOptions = {}) {
    this.#maxEntries = options.maxEntries ?? 4096;
    this.#maxAge = options.maxAgeMs ?? 120000;
    if (!(this.#maxEntries > 0) || !(this.#maxAge > 0)) {
      throw new RangeError("Cannot create reply cache: limits must be positive");
    }
  }

  /** Entries currently held (expired ones included until pruned). */
  get size(): number {
    return this.#map.size;
  }

  /** The reply sent for (peer, sequence), or `undefined` when absent or too old. */
  get(peer: string, sequence: number, now: number): Uint8Array | undefined {
    const key = keyOf(peer, sequence);
    const e = this.#map.get(key);
    if (!e) return undefined;
    if (now - e.at > this.#maxAge) {
      this.#map.delete(key);
      return undefined;
    }
    return e.bytes;
  }

  /** Remember the reply datagram sent for (peer, sequence). */
  put(peer: string, sequence: number, bytes: Uint8Array, now: number): void {
    const key = keyOf(peer, sequence);
    this.#map.delete(key);
    this.#map.set(key, { bytes, at: now });
    this.prune(now);
    while (this.#map.size > this.#maxEntries) {
      const oldest = this.#map.keys().next().value as string;
      this.#map.delete(oldest);
    }
  }

  /** Drop entries older than `maxAgeMs` (insertion order is age order). */
  prune(now: number): void {
    for (const [k, e] of this.#map) {
      if (now - e.at <= this.#maxAge) break;
      this.#map.delete(k);
    }
  }

  /** Forget every entry of a peer (its session ended). */
  forgetPeer(peer: string): void {
    const prefix = peer + "#";
    for (const k of [...this.#map.keys()]) if (k.startsWith(prefix)) this.#map.delete(k);
  }
}

function keyOf(peer: string, sequence: number): string {
  return `${peer}#${sequence}`;
}
