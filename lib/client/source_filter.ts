/**
 * What the client's tunnel interface accepts from the IPv6 side (protocol.md §1.3 consequences,
 * §4.4, §6 row 7).
 *
 * With multiple TEPs, return traffic for the client's lease may come from any TEP of the domain
 * (BR2 in the draft's flow), not only the one the server named, so the client cannot keep a
 * strict point-to-point tunnel (RFC 4213 §3.6). It accepts IPv4-in-IPv6 (and tunnel ICMPv6, such
 * as the 1/5 "binding unknown" error of §4.4) only from a *set* of domain TEPs:
 *
 * - the IPv6 prefixes the operator configured (`--tep-prefix`, repeatable), and
 * - every TEP address the DSTM server has named to this client, added as the client learns them.
 *
 * With no prefix configured, the set is just the TEPs the server has named. That is safe but
 * drops return traffic from a TEP the server never named to this client; a multi-TEP domain
 * should configure `--tep-prefix`.
 *
 * The inner rule: a decapsulated IPv4 packet must be addressed to the client's current lease
 * (RFC 7596 §5.2; §4.4 last item); without a lease nothing is accepted.
 *
 * The checks read addresses in place and allocate nothing (they run per packet).
 *
 * @module
 */
import { type Cidr6, contains6 } from "../addr/mod.ts";

/** Default cap on the number of learned TEP addresses (oldest forgotten first). */
export const DEFAULT_MAX_LEARNED_TEPS = 64;

/** Options of {@link TepSourceFilter}. */
export interface SourceFilterOptions {
  /** Domain TEP prefixes (`--tep-prefix`); default none. The blocks are used as given. */
  readonly prefixes?: readonly Cidr6[];
  /** How many server-named TEP addresses to remember (default {@link DEFAULT_MAX_LEARNED_TEPS}). */
  readonly maxLearnedTeps?: number;
}

/** Why {@link TepSourceFilter.check} dropped a decapsulated packet (stable counter labels). */
export type SourceFilterReason =
  /** The packet is too short for the offsets given. */
  | "truncated"
  /** The outer IPv6 source is not a domain TEP. */
  | "source-not-tep"
  /** The client holds no lease, so no inner destination is acceptable. */
  | "no-lease"
  /** The inner IPv4 destination is not the client's lease. */
  | "inner-not-lease";

/** Every {@link SourceFilterReason}, for registering drop counters up front. */
export const SOURCE_FILTER_REASONS: readonly SourceFilterReason[] = Object.freeze([
  "truncated",
  "source-not-tep",
  "no-lease",
  "inner-not-lease",
]);

/** Result of {@link TepSourceFilter.check}: `"ok"` or the drop reason. */
export type SourceFilterVerdict = "ok" | SourceFilterReason;

function checkRoom(buf: Uint8Array, off: number, n: number, what: string): void {
  if (!Number.isInteger(off) || off < 0 || off + n > buf.length) {
    throw new RangeError(`Cannot read ${what}: offset ${off} + ${n} exceeds length ${buf.length}`);
  }
}

/**
 * The client's decapsulation filter: the set of domain TEPs plus the current lease.
 *
 * @example
 * ```ts
 * const filter = new TepSourceFilter({ prefixes: [tepPrefix] });
 * filter.addTep(lease.tep.ipv6);
 * filter.setLease(lease.ipv4);
 * // per received tunnel packet, outer IPv6 header at 0, inner IPv4 header at innerOff:
 * const verdict = filter.check(pkt, 0, innerOff); // "ok" or a drop-counter label
 * ```
 */
export class TepSourceFilter {
  readonly #prefixes: readonly Cidr6[];
  readonly #max: number;
  readonly #teps: Uint8Array;
  #count = 0;
  #oldest = 0;
  #lease = -1;

  /**
   * Create a filter with the configured prefixes and no learned TEP and no lease yet.
   *
   * @throws {RangeError} if `maxLearnedTeps` is not a positive integer (a programmer error).
   */
  constructor(options: SourceFilterOptions = {}) {
    this.#prefixes = [...(options.prefixes ?? [])];
    this.#max = options.maxLearnedTeps ?? DEFAULT_MAX_LEARNED_TEPS;
    if (!Number.isInteger(this.#max) || this.#max < 1) {
      throw new RangeError(`Cannot create source filter: bad maxLearnedTeps ${this.#max}`);
    }
    this.#teps = new Uint8Array(16 * this.#max);
  }

  /** Index of the learned TEP equal to the 16 bytes at `buf[off..]`, or -1. No allocation. */
  #find(buf: Uint8Array, off: number): number {
    const t = this.#teps;
    outer: for (let i = 0; i < this.#count; i++) {
      const base = i * 16;
      for (let j = 0; j < 16; j++) {
        if (t[base + j] !== buf[off + j]) continue outer;
      }
      return i;
    }
    return -1;
  }

  /**
   * Remember a TEP address the server named (16 bytes at `ipv6[off..]`). Returns `true` if it was
   * new. When the set is full the oldest learned address is forgotten.
   *
   * @throws {RangeError} if fewer than 16 bytes are available at `off`.
   */
  addTep(ipv6: Uint8Array, off = 0): boolean {
    checkRoom(ipv6, off, 16, "TEP address");
    if (this.#find(ipv6, off) >= 0) return false;
    let slot: number;
    if (this.#count < this.#max) {
      slot = this.#count++;
    } else {
      slot = this.#oldest;
      this.#oldest = (this.#oldest + 1) % this.#max;
    }
    this.#teps.set(ipv6.subarray(off, off + 16), slot * 16);
    return true;
  }

  /** The learned TEP addresses (copies), for `ctl status`. */
  learnedTeps(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = 0; i < this.#count; i++) out.push(this.#teps.slice(i * 16, i * 16 + 16));
    return out;
  }

  /** The configured prefixes. */
  prefixes(): readonly Cidr6[] {
    return this.#prefixes;
  }

  /** Set the current lease (unsigned 32-bit IPv4), or `undefined` when the client holds none. */
  setLease(ipv4: number | undefined): void {
    if (ipv4 === undefined) {
      this.#lease = -1;
      return;
    }
    if (typeof ipv4 !== "number" || (ipv4 >>> 0) !== ipv4) {
      throw new RangeError(`Cannot set lease: ${ipv4} is not an IPv4 address`);
    }
    this.#lease = ipv4;
  }

  /**
   * True if the 16-byte IPv6 source address at `buf[off..]` is a domain TEP: inside a configured
   * prefix or equal to a server-named TEP. Use it for tunnel packets and for tunnel ICMPv6 alike.
   * No allocation.
   *
   * @throws {RangeError} if fewer than 16 bytes are available at `off` (a programmer error).
   */
  accepts(buf: Uint8Array, off: number): boolean {
    checkRoom(buf, off, 16, "IPv6 source");
    const p = this.#prefixes;
    for (let i = 0; i < p.length; i++) {
      if (contains6(p[i], buf, off)) return true;
    }
    return this.#find(buf, off) >= 0;
  }

  /**
   * True if the 4-byte inner IPv4 destination at `buf[off..]` is the current lease. No allocation.
   *
   * @throws {RangeError} if fewer than 4 bytes are available at `off` (a programmer error).
   */
  acceptsInner(buf: Uint8Array, off: number): boolean {
    checkRoom(buf, off, 4, "IPv4 destination");
    if (this.#lease < 0) return false;
    const d = ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
    return d === this.#lease;
  }

  /**
   * Both rules on a received tunnel packet whose outer IPv6 header starts at `outerOff` and whose
   * inner IPv4 header starts at `innerOff` (source at `outerOff + 8`, destination at
   * `innerOff + 16`). Returns `"ok"` or the drop reason; never throws on packet contents.
   */
  check(packet: Uint8Array, outerOff: number, innerOff: number): SourceFilterVerdict {
    if (
      !Number.isInteger(outerOff) || !Number.isInteger(innerOff) || outerOff < 0 || innerOff < 0 ||
      outerOff + 24 > packet.length || innerOff + 20 > packet.length
    ) {
      return "truncated";
    }
    if (!this.accepts(packet, outerOff + 8)) return "source-not-tep";
    if (this.#lease < 0) return "no-lease";
    if (!this.acceptsInner(packet, innerOff + 16)) return "inner-not-lease";
    return "ok";
  }
}
