/**
 * The one table of every reason a TEP can drop a packet for, with a one-line explanation for
 * `ctl stats` and `/metrics`, and {@link DropCounters}: one counter per reason in a
 * `Float64Array` that can live in a `SharedArrayBuffer`, so a data-plane Worker counts and the
 * main thread reads.
 *
 * The order of {@link DROP_REASONS} fixes each reason's index ({@link DROP_REASON_ID}) and so the
 * counter layout: append new reasons at the end of their group, never reorder, so that a reader
 * and a writer built from the same source agree.
 *
 * @module
 */

/** One row of {@link DROP_REASONS}. */
export interface DropReasonInfo {
  /** Stable kebab-case name, used as a counter label and in logs (`tep.drop reason=...`). */
  readonly name: string;
  /** One-line explanation for operators (`ctl stats`, Prometheus `# HELP`). */
  readonly help: string;
}

/**
 * Every drop reason, in counter order. Data-plane reasons (decapsulation, encapsulation,
 * fragments, ICMP, loops) come first, then the reasons of the miss path (`QueryScheduler`
 * decisions: queries, negative cache, rate limits, queues).
 */
export const DROP_REASONS = [
  // Decapsulation (client -> IPv4 world), protocol brief §4.5 "Decapsulation".
  {
    name: "not-to-tunnel-address",
    help: "IPv6 packet not addressed to one of this TEP's tunnel addresses",
  },
  {
    name: "not-ipip",
    help: "IPv6 packet whose final Next Header is not 4 (IPv4-in-IPv6)",
  },
  {
    name: "outside-client-prefix",
    help: "outer IPv6 source outside the domain's client prefixes (ingress filtering, RFC 3704)",
  },
  {
    name: "no-binding",
    help: "no binding for the IPv4 address (bindings come only from server push or query)",
  },
  {
    name: "spoofed-source",
    help:
      "binding exists for the inner IPv4 source but with another IPv6 address than the outer source",
  },
  {
    name: "binding-expired",
    help: "the binding for the IPv4 address had expired (TTL = min(server lifetime, local cap))",
  },
  {
    name: "ipv6-multicast",
    help:
      "IPv6 multicast the kernel itself sends on the TUN (MLD reports at bring-up); never tunnel traffic",
  },
  // Forwarding.
  {
    name: "ttl-exceeded",
    help: "IPv4 TTL or IPv6 hop limit would reach zero on forwarding",
  },
  {
    name: "too-big-df",
    help: "IPv4 packet with DF set larger than the tunnel MTU (ICMPv4 3/4 sent, rate-limited)",
  },
  {
    name: "malformed-ipv6",
    help: "IPv6 header or extension header chain that does not parse",
  },
  {
    name: "malformed-ipv4",
    help: "IPv4 header that does not parse (length, version, checksum)",
  },
  // IPv6 fragment reassembly (brief §4.3).
  {
    name: "fragment-reassembly-timeout",
    help: "IPv6 fragments of a packet that never completed within the reassembly timeout",
  },
  {
    name: "fragment-overlap",
    help: "overlapping IPv6 fragments (RFC 5722: the whole packet is dropped)",
  },
  {
    name: "fragment-memory",
    help: "IPv6 fragment dropped because the reassembly memory limit was reached",
  },
  // ICMP, hairpin, loops (brief §6 rows 11 and 12).
  {
    name: "icmp-rate-limited",
    help: "ICMP error not sent because the ICMP rate limit was reached",
  },
  {
    name: "hairpin-disabled",
    help: "inner IPv4 destination is a pool address and hairpinning is disabled by policy",
  },
  {
    name: "loop",
    help:
      "tunnel source/destination equal the inner source/destination, or to/from a TEP's own address (RFC 2473 §4.1.2)",
  },
  // The miss path: queries to the DSTM server (brief §4.5 "Encapsulation", §6 rows 2 and 4).
  {
    name: "query-failed",
    help:
      "the query to the DSTM server failed (server unreachable, 300 or 310); queued packets dropped",
  },
  {
    name: "query-refused",
    help:
      "the DSTM server answered 308/501 (address not leased or invalid); negative entry installed",
  },
  {
    name: "query-timeout",
    help: "no answer from the DSTM server within the query timeout; queued packets dropped",
  },
  {
    name: "outside-pool",
    help: "IPv4 address outside the DSTM pool: never queried",
  },
  {
    name: "negative-cached",
    help: "the server recently said this pool address has no lease (negative cache entry)",
  },
  {
    name: "rate-limited-source",
    help: "a query was needed but the per-source query rate limit was reached",
  },
  {
    name: "rate-limited-global",
    help: "a query was needed but the global query rate limit was reached",
  },
  {
    name: "query-table-full",
    help: "a query was needed but the maximum number of queries in flight was reached",
  },
  {
    name: "queue-full",
    help: "the packet queue of a pool address waiting for its query was full",
  },
  {
    name: "queue-memory",
    help: "no free buffer in the bounded memory shared by all query queues",
  },
  {
    name: "queue-packet-too-big",
    help: "packet larger than one query-queue buffer, so it could not wait for the query",
  },
  {
    name: "queue-timeout",
    help: "packet waited for its query longer than the queue timeout",
  },
  {
    name: "fragment-duplicate",
    help: "IPv6 fragment identical to one already held for the same datagram",
  },
  {
    name: "fragment-too-big",
    help: "reassembled IPv6 packet would exceed 65535 bytes of payload or the configured maximum",
  },
  {
    name: "fragment-malformed",
    help: "IPv6 fragment with a bad length (not a multiple of 8, empty, or past the datagram end)",
  },
  {
    name: "encap-too-big",
    help: "IPv4 packet plus the encapsulation header would exceed the IPv6 payload limit",
  },
] as const satisfies readonly DropReasonInfo[];

/** The name of a drop reason: `"spoofed-source"`, `"queue-full"`, ... */
export type DropReason = (typeof DROP_REASONS)[number]["name"];

/** Number of drop reasons: the length of a {@link DropCounters} array. */
export const DROP_REASON_COUNT: number = DROP_REASONS.length;

/**
 * Reason name -> counter index, e.g. `DROP_REASON_ID["spoofed-source"] === 4`. Frozen; a hot
 * path can hoist `const SPOOFED = DROP_REASON_ID["spoofed-source"]` and call
 * `counters.inc(SPOOFED)`.
 */
export const DROP_REASON_ID: { readonly [R in DropReason]: number } = Object.freeze(
  Object.fromEntries(DROP_REASONS.map((r, i) => [r.name, i])) as { [R in DropReason]: number },
);

const HELP: ReadonlyMap<string, string> = new Map(DROP_REASONS.map((r) => [r.name, r.help]));

/** True if `name` is one of the {@link DROP_REASONS}. */
export function isDropReason(name: unknown): name is DropReason {
  return typeof name === "string" && HELP.has(name);
}

/**
 * The one-line explanation of `reason`.
 *
 * @throws {RangeError} if `reason` is not a drop reason (a programmer error).
 */
export function dropReasonHelp(reason: DropReason): string {
  const help = HELP.get(reason);
  if (help === undefined) throw new RangeError(`Cannot explain drop reason: unknown ${reason}`);
  return help;
}

/**
 * One packet counter per {@link DropReason}, as `Float64Array` elements (exact up to 2^53)
 * indexed by {@link DROP_REASON_ID}, over an `ArrayBuffer` or a `SharedArrayBuffer`.
 *
 * Sharing: give each writer (a data-plane Worker) its own region of one `SharedArrayBuffer`
 * (`byteOffset = lane * DropCounters.BYTES`) and let the main thread open the same regions to
 * read and sum them. Writes are plain `+=` by a single writer per region, so increments cost no
 * atomic and allocate nothing. Caveat: the ECMAScript memory model does not promise that a
 * non-atomic 8-byte read racing with a write is tear-free; 64-bit engines (V8, JavaScriptCore)
 * store an aligned double with one instruction, so a reader sees the old or the new value.
 *
 * @example
 * ```ts
 * const sab = new SharedArrayBuffer(DropCounters.BYTES);
 * const writer = new DropCounters(sab); // in the Worker
 * writer.count("spoofed-source");
 * new DropCounters(sab).get("spoofed-source"); // 1, on the main thread
 * ```
 */
export class DropCounters {
  /** Bytes one set of counters takes: `DROP_REASON_COUNT * 8`. */
  static readonly BYTES: number = DROP_REASON_COUNT * 8;

  /** The counters, indexed by {@link DROP_REASON_ID}. */
  readonly values: Float64Array;

  /**
   * Counters over `buffer` at `byteOffset` (a multiple of 8), or over a fresh `ArrayBuffer`.
   *
   * @throws {RangeError} if the region does not fit in `buffer` or is misaligned.
   */
  constructor(buffer?: ArrayBufferLike, byteOffset = 0) {
    const buf = buffer ?? new ArrayBuffer(DropCounters.BYTES);
    if (
      !Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % 8 !== 0 ||
      byteOffset + DropCounters.BYTES > buf.byteLength
    ) {
      throw new RangeError(
        `Cannot make drop counters: ${DropCounters.BYTES} bytes at offset ${byteOffset} do not fit a ${buf.byteLength}-byte buffer`,
      );
    }
    this.values = new Float64Array(buf, byteOffset, DROP_REASON_COUNT);
  }

  /** Add one to the counter with index `id` (from {@link DROP_REASON_ID}). No allocation. */
  inc(id: number): void {
    this.values[id]++;
  }

  /** Add `n` to the counter with index `id`. No allocation. */
  add(id: number, n: number): void {
    this.values[id] += n;
  }

  /** Add `n` (default 1) to the counter of `reason`, by name. No allocation. */
  count(reason: DropReason, n = 1): void {
    this.values[DROP_REASON_ID[reason]] += n;
  }

  /** The current value of the counter of `reason`. */
  get(reason: DropReason): number {
    return this.values[DROP_REASON_ID[reason]];
  }

  /** Sum of all counters. */
  total(): number {
    let t = 0;
    for (let i = 0; i < this.values.length; i++) t += this.values[i];
    return t;
  }

  /** All counters by name, in table order (allocates; for `ctl stats` and `/metrics`). */
  snapshot(): Record<DropReason, number> {
    const out = {} as Record<DropReason, number>;
    for (let i = 0; i < DROP_REASONS.length; i++) out[DROP_REASONS[i].name] = this.values[i];
    return out;
  }

  /** Add every counter of `other` into this one (e.g. the main thread summing Worker lanes). */
  addAll(other: DropCounters): void {
    for (let i = 0; i < this.values.length; i++) this.values[i] += other.values[i];
  }

  /** Set every counter to zero. */
  reset(): void {
    this.values.fill(0);
  }
}
