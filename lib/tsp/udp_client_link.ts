/**
 * Client side of TSP over UDP (protocol brief §2.9, §8.4): stop-and-wait delivery of TSP data
 * with sequence numbers, retransmission and exponential backoff. Sans-I/O: events in (with
 * `now` in ms), actions out; {@link UdpClientLink.pollAt} gives the one deadline.
 *
 * Each payload handed to the link becomes one datagram with the next sequence number. One
 * datagram is in flight at a time; it is sent again with the same sequence number (and a fresh
 * timestamp) when no reply with that sequence number comes within the RTO. The RTO starts at 2 s,
 * doubles on every retransmission up to 30 s, and follows the smoothed RTT measured from the
 * echoed timestamps (Jacobson, as in Stevens *UNP* 3rd ed. §22.5). Only replies to datagrams
 * sent once give RTT samples (Karn's rule): the server's reply cache answers a retransmission
 * with the first reply, whose timestamp is the first transmission's, so the sample would include
 * the timeout; a backed-off RTO stays until a datagram gets through the first time. After
 * `maxTries` transmissions the link gives up.
 *
 * The server answers every datagram with exactly one datagram, empty (header only) when it has
 * nothing to say. When the session above expects a server message but has nothing to send (the
 * `200 Success` after DIGEST-MD5's rspauth, a reply still queued at the server, a push), the
 * shell sends an empty payload to fetch it: `if (link.idle && session.awaitingServer())
 * link.handle({ kind: "send", payload: new Uint8Array(0), now })`.
 *
 * Over UDP the session's response timeout must be longer than the link's worst case
 * ({@link UdpClientLink.giveUpAfterMs}, about 90 s with the defaults), so that losses are
 * handled by retransmission rather than by failing the session.
 *
 * @module
 */
import { encodeUdpDatagram, nextSequence, parseUdpDatagram, UDP_HEADER } from "./udp_header.ts";

/** Options of {@link UdpClientLink}; times in ms. */
export interface UdpClientLinkOptions {
  /** First sequence number (28 bits). Default 0x00000f0, gogoc's `0xF00000F0` without the nibble. */
  readonly initialSequence?: number;
  /** RTO before any RTT sample. Default 2000. */
  readonly initialRtoMs?: number;
  /** Lowest RTO computed from RTT samples. Default 1000. */
  readonly minRtoMs?: number;
  /** Highest RTO, also the backoff ceiling. Default 30000. */
  readonly maxRtoMs?: number;
  /** Transmissions of one datagram before giving up (first one included). Default 6. */
  readonly maxTries?: number;
  /** Payloads waiting behind the one in flight. Default 64. */
  readonly maxQueue?: number;
}

/** The defaults of {@link UdpClientLinkOptions}. */
export const UDP_CLIENT_DEFAULTS: Readonly<Required<UdpClientLinkOptions>> = Object.freeze({
  initialSequence: 0x00000f0,
  initialRtoMs: 2000,
  minRtoMs: 1000,
  maxRtoMs: 30000,
  maxTries: 6,
  maxQueue: 64,
});

/** Events of {@link UdpClientLink}. */
export type UdpClientEvent =
  /** Send this TSP data (one datagram). */
  | { readonly kind: "send"; readonly now: number; readonly payload: Uint8Array }
  /** A datagram arrived from the server. */
  | { readonly kind: "datagram"; readonly now: number; readonly bytes: Uint8Array }
  /** The deadline of `pollAt()` passed. */
  | { readonly kind: "tick"; readonly now: number };

/** Why a received datagram was dropped. */
export type UdpClientDropReason = "truncated" | "not-signal" | "unexpected-sequence" | "queue-full";

/** Actions of {@link UdpClientLink}. */
export type UdpClientAction =
  /** Send these bytes as one datagram to the server. */
  | {
    readonly kind: "transmit";
    readonly bytes: Uint8Array;
    readonly sequence: number;
    readonly retransmission: boolean;
  }
  /** The server's TSP data for our datagram (may be empty): feed it to the session. */
  | { readonly kind: "deliver"; readonly payload: Uint8Array; readonly sequence: number }
  /** A datagram or a payload was dropped; count it. */
  | { readonly kind: "drop"; readonly reason: UdpClientDropReason }
  /** No reply after `maxTries` transmissions: the server is unreachable; the queue is cleared. */
  | { readonly kind: "give-up"; readonly sequence: number; readonly tries: number };

interface InFlight {
  readonly sequence: number;
  readonly payload: Uint8Array;
  tries: number;
  deadline: number;
}

/** Client-side reliable stop-and-wait link; see the module documentation. */
export class UdpClientLink {
  readonly #o: Readonly<Required<UdpClientLinkOptions>>;
  #seq: number;
  #rto: number;
  #srtt = -1;
  #rttvar = 0;
  #inFlight: InFlight | null = null;
  readonly #queue: Uint8Array[] = [];

  /** Create a link. Throws `RangeError` for non-positive times or tries. */
  constructor(options: UdpClientLinkOptions = {}) {
    const o = { ...UDP_CLIENT_DEFAULTS, ...options };
    for (const k of ["initialRtoMs", "minRtoMs", "maxRtoMs", "maxTries", "maxQueue"] as const) {
      if (!Number.isFinite(o[k]) || o[k] <= 0) {
        throw new RangeError(`Cannot create UDP link: ${k} must be positive`);
      }
    }
    this.#o = o;
    this.#seq = o.initialSequence & UDP_HEADER.SEQUENCE_MASK;
    this.#rto = o.initialRtoMs;
  }

  /** True when nothing is in flight or queued. */
  get idle(): boolean {
    return this.#inFlight === null && this.#queue.length === 0;
  }

  /** The current retransmission timeout in ms. */
  get rto(): number {
    return this.#rto;
  }

  /**
   * The longest one datagram can stay unanswered before the link gives up, from the current RTO:
   * the sum of the backed-off timeouts of `maxTries` transmissions.
   */
  get giveUpAfterMs(): number {
    let rto = this.#rto;
    let total = 0;
    for (let i = 0; i < this.#o.maxTries; i++) {
      total += rto;
      rto = Math.min(rto * 2, this.#o.maxRtoMs);
    }
    return total;
  }

  /** When to send a `tick`, or `null` when nothing is in flight. */
  pollAt(): number | null {
    return this.#inFlight ? this.#inFlight.deadline : null;
  }

  /** Process one event and return what to do. */
  handle(event: UdpClientEvent): UdpClientAction[] {
    const out: UdpClientAction[] = [];
    switch (event.kind) {
      case "send":
        if (this.#queue.length >= this.#o.maxQueue) {
          out.push({ kind: "drop", reason: "queue-full" });
          break;
        }
        this.#queue.push(event.payload.slice());
        this.#startNext(event.now, out);
        break;
      case "datagram":
        this.#receive(event.now, event.bytes, out);
        break;
      case "tick":
        this.#tick(event.now, out);
        break;
    }
    return out;
  }

  #startNext(now: number, out: UdpClientAction[]): void {
    if (this.#inFlight !== null) return;
    const payload = this.#queue.shift();
    if (payload === undefined) return;
    const sequence = this.#seq;
    this.#seq = nextSequence(this.#seq);
    this.#inFlight = { sequence, payload, tries: 0, deadline: now };
    this.#transmit(now, out);
  }

  #transmit(now: number, out: UdpClientAction[]): void {
    const f = this.#inFlight!;
    f.tries++;
    f.deadline = now + this.#rto;
    const bytes = encodeUdpDatagram({ sequence: f.sequence, timestamp: stamp(now) }, f.payload);
    out.push({ kind: "transmit", bytes, sequence: f.sequence, retransmission: f.tries > 1 });
  }

  #tick(now: number, out: UdpClientAction[]): void {
    const f = this.#inFlight;
    if (!f || now < f.deadline) return;
    if (f.tries >= this.#o.maxTries) {
      out.push({ kind: "give-up", sequence: f.sequence, tries: f.tries });
      this.#inFlight = null;
      this.#queue.length = 0;
      return;
    }
    this.#rto = Math.min(this.#rto * 2, this.#o.maxRtoMs);
    this.#transmit(now, out);
  }

  #receive(now: number, bytes: Uint8Array, out: UdpClientAction[]): void {
    const d = parseUdpDatagram(bytes);
    if (!d.ok) {
      out.push({ kind: "drop", reason: d.reason });
      return;
    }
    const f = this.#inFlight;
    if (!f || d.header.sequence !== f.sequence) {
      out.push({ kind: "drop", reason: "unexpected-sequence" });
      return;
    }
    if (f.tries === 1) this.#sample((stamp(now) - d.header.timestamp) >>> 0);
    this.#inFlight = null;
    out.push({ kind: "deliver", payload: d.payload.slice(), sequence: f.sequence });
    this.#startNext(now, out);
  }

  /** Jacobson/Karels RTT estimation; samples beyond the ceiling (clock jumps) are ignored. */
  #sample(rtt: number): void {
    if (rtt > this.#o.maxRtoMs) return;
    if (this.#srtt < 0) {
      this.#srtt = rtt;
      this.#rttvar = rtt / 2;
    } else {
      this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - rtt);
      this.#srtt = 0.875 * this.#srtt + 0.125 * rtt;
    }
    this.#rto = Math.min(
      this.#o.maxRtoMs,
      Math.max(this.#o.minRtoMs, this.#srtt + 4 * this.#rttvar),
    );
  }
}

/** The 32-bit timestamp for `now` (ms, modulo 2^32). */
function stamp(now: number): number {
  return Math.floor(now) >>> 0;
}
