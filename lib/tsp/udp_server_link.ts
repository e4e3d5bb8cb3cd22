/**
 * Server side of TSP over UDP for one peer (protocol brief §2.9, §8.4). Sans-I/O.
 *
 * Rules:
 * - Every new client datagram gets exactly one reply datagram carrying the same header (sequence
 *   and timestamp echoed unchanged).
 * - The reply carries the oldest message the session has queued for this peer; when the session
 *   has nothing to say and is not busy (no handler answer pending) the reply is empty (header
 *   only): after `AUTHENTICATE PLAIN`, after `accept`, for a poll.
 * - Messages beyond one per datagram wait for the next client datagram: DIGEST-MD5's `200
 *   Success` after the rspauth line (the client sends an empty datagram for it), and pushes.
 * - A datagram whose (peer, sequence) is in the shared {@link UdpReplyCache} gets the cached
 *   reply again, without reaching the session; one being processed right now is dropped; one
 *   older than the newest seen and not cached is dropped as stale.
 *
 * Use: `const r = link.receive(bytes, now)`; on `deliver`, feed `r.payload` to the session,
 * `enqueue()` each `send` action's bytes, then `flush(now, session.awaitingHandler)` and send
 * what it returns; call `flush` again whenever the session produces output later.
 *
 * @module
 */
import {
  compareSequence,
  encodeUdpDatagram,
  parseUdpDatagram,
  type UdpHeader,
} from "./udp_header.ts";
import type { UdpReplyCache } from "./udp_reply_cache.ts";

/** Result of {@link UdpServerLink.receive}. */
export type UdpServerReceive =
  /** A new datagram: feed the payload (maybe empty) to the session. */
  | { readonly kind: "deliver"; readonly payload: Uint8Array; readonly sequence: number }
  /** A retransmission already answered: send these cached bytes again. */
  | { readonly kind: "resend"; readonly bytes: Uint8Array; readonly sequence: number }
  /** Not for the session; count the reason. */
  | {
    readonly kind: "drop";
    readonly reason: "truncated" | "not-signal" | "in-progress" | "stale";
  };

/** Options of {@link UdpServerLink}. */
export interface UdpServerLinkOptions {
  /** The peer's key (address and port), as used in the cache. */
  readonly peer: string;
  /** The server-wide reply cache. */
  readonly cache: UdpReplyCache;
  /** Most session messages held for the next datagrams. Default 32. */
  readonly maxQueue?: number;
}

/** One peer's UDP link state; see the module documentation. */
export class UdpServerLink {
  readonly #peer: string;
  readonly #cache: UdpReplyCache;
  readonly #maxQueue: number;
  readonly #queue: Uint8Array[] = [];
  #outstanding: UdpHeader | null = null;
  #last: number | null = null;
  #overflow = 0;

  /** Create a link for one peer. */
  constructor(options: UdpServerLinkOptions) {
    this.#peer = options.peer;
    this.#cache = options.cache;
    this.#maxQueue = options.maxQueue ?? 32;
  }

  /** Session messages waiting for a client datagram. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Messages dropped because the queue was full. */
  get overflowed(): number {
    return this.#overflow;
  }

  /** True when a client datagram waits for its reply. */
  get outstanding(): boolean {
    return this.#outstanding !== null;
  }

  /** Classify a datagram from the peer. Never throws. */
  receive(bytes: Uint8Array, now: number): UdpServerReceive {
    const d = parseUdpDatagram(bytes);
    if (!d.ok) return { kind: "drop", reason: d.reason };
    const seq = d.header.sequence;
    const cached = this.#cache.get(this.#peer, seq, now);
    if (cached) return { kind: "resend", bytes: cached, sequence: seq };
    if (this.#outstanding && this.#outstanding.sequence === seq) {
      return { kind: "drop", reason: "in-progress" };
    }
    if (this.#last !== null && compareSequence(seq, this.#last) <= 0) {
      return { kind: "drop", reason: "stale" };
    }
    this.#outstanding = d.header;
    this.#last = seq;
    return { kind: "deliver", payload: d.payload.slice(), sequence: seq };
  }

  /** Queue one session message (the bytes of a `send` action). */
  enqueue(payload: Uint8Array): void {
    if (this.#queue.length >= this.#maxQueue) {
      this.#overflow++;
      return;
    }
    this.#queue.push(payload);
  }

  /**
   * The reply datagram to send now, or `null`: when a client datagram is outstanding, it gets the
   * oldest queued message, or an empty payload unless the session is `busy`.
   */
  flush(now: number, busy: boolean): Uint8Array | null {
    const h = this.#outstanding;
    if (!h) return null;
    let payload = this.#queue.shift();
    if (payload === undefined) {
      if (busy) return null;
      payload = new Uint8Array(0);
    }
    const bytes = encodeUdpDatagram(h, payload);
    this.#cache.put(this.#peer, h.sequence, bytes, now);
    this.#outstanding = null;
    return bytes;
  }
}
