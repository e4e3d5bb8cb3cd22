/**
 * The data plane of the DSTM client (`dstm-client`), sans-I/O in the manner of boringtun's
 * `Tunn`: each packet goes in with its offsets, a verdict comes out, and the shell carries it
 * out. Nothing here reads a socket, a TUN or a clock.
 *
 * The shell's I/O, for which the verdicts are shaped:
 * - the client's 4over6 interface is a TUN carrying IPv4 only (the leased /32 on it, MTU = the
 *   tunnel MTU);
 * - the IPv6 side is a raw socket `socket(AF_INET6, SOCK_RAW, IPPROTO_IPIP)` bound to the
 *   registered IPv6 address: `sendto(innerIpv4, TEP IPv6)` makes the kernel add the IPv6 header
 *   (source = the registered address, protocol.md §4.1; next header 4) and fragment it when it
 *   exceeds the path MTU (the DF=0 branch of §4.3); a receive gives the reassembled inner IPv4
 *   packet and the outer IPv6 source;
 * - an optional raw ICMPv6 socket gives ICMPv6 errors (the whole message and its source). Set
 *   an `ICMP6_FILTER` passing types 1, 2 and 3 only: anything else is counted as ignored.
 *
 * The rules (protocol.md):
 * - **TUN → tunnel** ({@link ClientDataplane.fromTun}): only with a lease, only IPv4 whose
 *   source is the lease (§6 row 5: never send another address's traffic), no TTL decrement
 *   (§4.2). Larger than the tunnel MTU with DF=1: dropped and answered with ICMPv4 3/4 carrying
 *   the tunnel MTU, from the TEP's IPv4, into the TUN (§4.3, RFC 2473 §7.2), rate-limited (§6
 *   row 12). With DF=0 it is sent: the kernel fragments the IPv6 packet, never the IPv4 one.
 * - **tunnel → TUN** ({@link ClientDataplane.fromTunnel}): only from a domain TEP (any TEP of
 *   the set, §1.3: return traffic may come through another BR), only to the lease (§4.4, §6 row
 *   7). The keepalive echo replies (§2.8, §8 item 5) are consumed, not written to the TUN.
 * - **ICMPv6** ({@link ClientDataplane.fromIcmpv6}, §4.4, §6 row 7): Destination Unreachable,
 *   Time Exceeded (hop limit) and Packet Too Big are accepted from any source, since routers on
 *   the path report them, but only when they quote one of our tunnel packets (outer source = the
 *   registered address, destination = the current TEP, next header 4). Destination Unreachable
 *   code 5 ("binding unknown", RFC 7596 §6.2) is accepted only from a domain TEP. As RFC 2473
 *   §8 requires, the error is passed on to the local IPv4 stack: ICMPv4 3/1 for an unreachable
 *   TEP, 3/4 with the new tunnel MTU for a Packet Too Big about a DF=1 packet (rate-limited).
 *
 * Hot paths allocate nothing: each entry point fills and returns one result object of its own,
 * reused from call to call (read it before the next call to the same entry point). The ICMPv4
 * builders of lib/inet take a packet as a whole `Uint8Array`, so building an error needs a view
 * of the offending packet: for {@link ClientDataplane.fromTun} it runs from the packet's offset
 * to the end of the buffer and is cached, so a shell reading into one buffer at a fixed offset
 * never allocates; relaying a tunnel error from {@link ClientDataplane.fromIcmpv6} makes one
 * view of the exact quote (cached while the geometry repeats), only after the rate limit let
 * the error through.
 *
 * @module
 */
import { TokenBucket } from "../ratelimit/token_bucket.ts";
import {
  checkIpv4,
  decapsulateIpv4,
  equals16,
  ICMPV4_MAX_ERROR_LENGTH,
  type Icmpv4EchoSpec,
  icmpv4ErrorAllowed,
  internetChecksum,
  IP_PROTO,
  ipv4DontFragment,
  ipv4Dst,
  ipv4HeaderLength,
  ipv4IsFragment,
  ipv4Protocol,
  ipv4Src,
  ipv4TotalLength,
  IPV6_HEADER_LENGTH,
  ipv6PseudoHeaderSum,
  Ipv6Walk,
  writeIcmpv4Echo,
  writeIcmpv4FragmentationNeeded,
  writeIcmpv4HostUnreachable,
} from "../inet/mod.ts";
import type { TepAddresses } from "./lease_machine.ts";
import type { TepSourceFilter } from "./source_filter.ts";

// ---------------------------------------------------------------------------------------------
// Constants.

/** IPv6 minimum link MTU (RFC 8200 §5). */
export const IPV6_MIN_MTU = 1280;
/** Bytes the tunnel adds in front of each IPv4 packet: the IPv6 header (protocol.md §4.3). */
export const TUNNEL_OVERHEAD = IPV6_HEADER_LENGTH;
/** Lowest tunnel MTU a Packet Too Big can set: 1280 − 40 (protocol.md §4.3). */
export const MIN_TUNNEL_MTU = IPV6_MIN_MTU - TUNNEL_OVERHEAD;
/** Usual tunnel MTU: 1500 − 40 (protocol.md §4.3). */
export const DEFAULT_TUNNEL_MTU = 1500 - TUNNEL_OVERHEAD;
/** Smallest IPv4 MTU (RFC 791): the lowest tunnel MTU that can be configured. */
export const IPV4_MIN_MTU = 68;
/** Largest tunnel MTU: an IPv6 payload holds at most 65535 bytes. */
export const MAX_TUNNEL_MTU = 0xffff;
/** Default rate of ICMPv4 errors written into the TUN, per second (protocol.md §6 row 12). */
export const DEFAULT_ICMP_RATE_PER_SEC = 10;
/** Default burst of ICMPv4 errors written into the TUN. */
export const DEFAULT_ICMP_BURST = 10;
/** Smallest reply buffer: the largest ICMPv4 error built (RFC 1812 §4.3.2.3). */
export const REPLY_BUFFER_LENGTH = ICMPV4_MAX_ERROR_LENGTH;
/** Length of the keepalive echo request {@link ClientDataplane.buildKeepalive} writes. */
export const KEEPALIVE_LENGTH = 28;

// ---------------------------------------------------------------------------------------------
// Counters.

/** One row of {@link CLIENT_DROP_REASONS} or {@link CLIENT_TRAFFIC_COUNTERS}. */
export interface ClientCounterInfo {
  /** Stable kebab-case name: the counter label and the `reason=` of a log line. */
  readonly name: string;
  /** One-line explanation for `ctl status` and `/metrics`. */
  readonly help: string;
}

/**
 * Every reason the client data plane drops something for, in counter order (the index of a row
 * is its {@link CLIENT_DROP_REASON_ID}). Append new reasons at the end; never reorder, so that
 * a writer and a reader built from the same source agree on the layout.
 */
export const CLIENT_DROP_REASONS = [
  {
    name: "no-lease",
    help: "no lease held: nothing goes into the tunnel and nothing comes out of it",
  },
  {
    name: "malformed-ipv4",
    help: "IPv4 header that does not parse (version, lengths; from the tunnel also the checksum)",
  },
  {
    name: "not-lease-source",
    help: "IPv4 packet from the local stack whose source is not the lease (never sent)",
  },
  {
    name: "too-big-df",
    help:
      "IPv4 packet with DF set larger than the tunnel MTU (dropped; an ICMPv4 3/4 goes back unless rate-limited)",
  },
  {
    name: "icmp-rate-limited",
    help: "ICMPv4 error for the local stack not sent because the ICMP rate limit was reached",
  },
  {
    name: "source-not-tep",
    help: "tunnel packet whose IPv6 source is not a domain TEP (configured prefix or server-named)",
  },
  {
    name: "inner-not-lease",
    help: "decapsulated IPv4 packet not addressed to the lease",
  },
  {
    name: "malformed-icmpv6",
    help: "ICMPv6 message too short, with a bad checksum, or quoting no parseable IPv6 packet",
  },
  {
    name: "icmp-not-ours",
    help:
      "ICMPv6 error not quoting one of our tunnel packets (registered address to current TEP, next header 4)",
  },
  {
    name: "icmp-source-not-tep",
    help: "ICMPv6 1/5 (binding unknown) whose source is not a domain TEP",
  },
  {
    name: "icmpv6-ignored",
    help:
      "ICMPv6 message the tunnel does not act on (informational, Parameter Problem, reassembly timeout)",
  },
] as const satisfies readonly ClientCounterInfo[];

/** The name of a client drop reason. */
export type ClientDropReason = (typeof CLIENT_DROP_REASONS)[number]["name"];

/** Reasons {@link ClientDataplane.fromTun} drops a packet for. */
export type TunDropReason =
  | "no-lease"
  | "malformed-ipv4"
  | "not-lease-source"
  | "too-big-df"
  | "icmp-rate-limited";

/** Reasons {@link ClientDataplane.fromTunnel} drops a packet for. */
export type TunnelDropReason = "no-lease" | "malformed-ipv4" | "source-not-tep" | "inner-not-lease";

/** Reasons {@link ClientDataplane.fromIcmpv6} drops a message for. */
export type Icmpv6DropReason =
  | "malformed-icmpv6"
  | "icmp-not-ours"
  | "icmp-source-not-tep"
  | "icmpv6-ignored";

/** Drop reason name → index in {@link ClientDataplaneCounters.drops}. Frozen. */
export const CLIENT_DROP_REASON_ID: { readonly [R in ClientDropReason]: number } = Object.freeze(
  Object.fromEntries(CLIENT_DROP_REASONS.map((r, i) => [r.name, i])) as {
    [R in ClientDropReason]: number;
  },
);

/**
 * The traffic counters of the client data plane, in counter order (index =
 * {@link CLIENT_TRAFFIC_COUNTER_ID}). Bytes are inner IPv4 bytes (the IPv4 Total Length).
 */
export const CLIENT_TRAFFIC_COUNTERS = [
  { name: "tunnel-tx-packets", help: "IPv4 packets from the TUN sent into the tunnel" },
  { name: "tunnel-tx-bytes", help: "IPv4 bytes from the TUN sent into the tunnel" },
  { name: "tunnel-rx-packets", help: "IPv4 packets from the tunnel written to the TUN" },
  { name: "tunnel-rx-bytes", help: "IPv4 bytes from the tunnel written to the TUN" },
  {
    name: "icmpv4-errors-sent",
    help: "ICMPv4 errors written into the TUN (3/4 too big, relayed 3/1 and 3/4)",
  },
  { name: "keepalive-replies", help: "keepalive echo replies from the TEP consumed" },
  {
    name: "tep-unreachable",
    help: "ICMPv6 Destination Unreachable or Time Exceeded about our packets to the TEP",
  },
  { name: "binding-unknown", help: "ICMPv6 1/5 from a domain TEP: no binding for our lease" },
  { name: "packet-too-big", help: "ICMPv6 Packet Too Big about our tunnel packets" },
  { name: "mtu-lowered", help: "times a Packet Too Big lowered the tunnel MTU" },
] as const satisfies readonly ClientCounterInfo[];

/** The name of a client traffic counter. */
export type ClientTrafficCounter = (typeof CLIENT_TRAFFIC_COUNTERS)[number]["name"];

/** Traffic counter name → index in {@link ClientDataplaneCounters.traffic}. Frozen. */
export const CLIENT_TRAFFIC_COUNTER_ID: { readonly [C in ClientTrafficCounter]: number } = Object
  .freeze(
    Object.fromEntries(CLIENT_TRAFFIC_COUNTERS.map((c, i) => [c.name, i])) as {
      [C in ClientTrafficCounter]: number;
    },
  );

const T = CLIENT_TRAFFIC_COUNTER_ID;
const D = CLIENT_DROP_REASON_ID;

/**
 * The counters of one {@link ClientDataplane}: {@link CLIENT_TRAFFIC_COUNTERS} then
 * {@link CLIENT_DROP_REASONS}, as `Float64Array` elements (exact up to 2^53) over an
 * `ArrayBuffer` or a region of a `SharedArrayBuffer`, so that a data-plane Worker writes and the
 * main thread reads for `ctl status`. A single writer uses plain `+=`: no atomics, no
 * allocation. (Aligned 8-byte stores are single instructions on 64-bit V8 and JavaScriptCore,
 * so a racing reader sees the old or the new value.)
 *
 * @example
 * ```ts
 * const sab = new SharedArrayBuffer(ClientDataplaneCounters.BYTES);
 * const dp = new ClientDataplane({ ...opts, counters: new ClientDataplaneCounters(sab) });
 * new ClientDataplaneCounters(sab).drop("source-not-tep"); // read on another thread
 * ```
 */
export class ClientDataplaneCounters {
  /** Bytes one set of counters takes. */
  static readonly BYTES: number = (CLIENT_TRAFFIC_COUNTERS.length + CLIENT_DROP_REASONS.length) *
    8;

  /** Traffic counters, indexed by {@link CLIENT_TRAFFIC_COUNTER_ID}. */
  readonly traffic: Float64Array;
  /** Drop counters, indexed by {@link CLIENT_DROP_REASON_ID}. */
  readonly drops: Float64Array;

  /**
   * Counters over `buffer` at `byteOffset` (a multiple of 8), or over a fresh `ArrayBuffer`.
   *
   * @throws {RangeError} if the region does not fit in `buffer` or is misaligned.
   */
  constructor(buffer?: ArrayBufferLike, byteOffset = 0) {
    const buf = buffer ?? new ArrayBuffer(ClientDataplaneCounters.BYTES);
    if (
      !Number.isInteger(byteOffset) || byteOffset < 0 || byteOffset % 8 !== 0 ||
      byteOffset + ClientDataplaneCounters.BYTES > buf.byteLength
    ) {
      throw new RangeError(
        `Cannot make client counters: ${ClientDataplaneCounters.BYTES} bytes at offset ${byteOffset} do not fit a ${buf.byteLength}-byte buffer`,
      );
    }
    this.traffic = new Float64Array(buf, byteOffset, CLIENT_TRAFFIC_COUNTERS.length);
    this.drops = new Float64Array(
      buf,
      byteOffset + CLIENT_TRAFFIC_COUNTERS.length * 8,
      CLIENT_DROP_REASONS.length,
    );
  }

  /** The value of the drop counter of `reason`. */
  drop(reason: ClientDropReason): number {
    return this.drops[D[reason]];
  }

  /** The value of the traffic counter `name`. */
  get(name: ClientTrafficCounter): number {
    return this.traffic[T[name]];
  }

  /** Sum of all drop counters. */
  totalDrops(): number {
    let t = 0;
    for (let i = 0; i < this.drops.length; i++) t += this.drops[i];
    return t;
  }

  /** Every counter by name, traffic then drops (allocates; for `ctl status` and `/metrics`). */
  snapshot(): {
    traffic: Record<ClientTrafficCounter, number>;
    drops: Record<ClientDropReason, number>;
  } {
    const traffic = {} as Record<ClientTrafficCounter, number>;
    for (let i = 0; i < CLIENT_TRAFFIC_COUNTERS.length; i++) {
      traffic[CLIENT_TRAFFIC_COUNTERS[i].name] = this.traffic[i];
    }
    const drops = {} as Record<ClientDropReason, number>;
    for (let i = 0; i < CLIENT_DROP_REASONS.length; i++) {
      drops[CLIENT_DROP_REASONS[i].name] = this.drops[i];
    }
    return { traffic, drops };
  }

  /** Set every counter to zero. */
  reset(): void {
    this.traffic.fill(0);
    this.drops.fill(0);
  }
}

// ---------------------------------------------------------------------------------------------
// Results.

/**
 * Verdict of {@link ClientDataplane.fromTun}. The object is reused by the next call.
 * - `send-tunnel`: send `buffer[offset .. offset + length]` to the current TEP's IPv6 (the raw
 *   socket adds the IPv6 header). `buffer` is the input; `length` is the IPv4 Total Length.
 * - `reply-tun`: write `buffer[offset .. offset + length]` (an ICMPv4 error built in the reply
 *   buffer) into the TUN; the packet itself is dropped (counted as `too-big-df`).
 * - `drop`: nothing to do; `reason` was counted.
 */
export type TunResult =
  | {
    readonly kind: "send-tunnel" | "reply-tun";
    readonly buffer: Uint8Array;
    readonly offset: number;
    readonly length: number;
  }
  | { readonly kind: "drop"; readonly reason: TunDropReason };

/**
 * Verdict of {@link ClientDataplane.fromTunnel}. The object is reused by the next call.
 * - `write-tun`: write `buffer[offset .. offset + length]` (the inner IPv4 packet, trimmed to
 *   its Total Length) into the TUN.
 * - `keepalive-reply`: an echo reply from the TEP to the lease with our probe identifier:
 *   feed `seq` to the TEP monitor; nothing goes to the TUN.
 * - `drop`: nothing to do; `reason` was counted.
 */
export type TunnelResult =
  | {
    readonly kind: "write-tun";
    readonly buffer: Uint8Array;
    readonly offset: number;
    readonly length: number;
  }
  | { readonly kind: "keepalive-reply"; readonly seq: number }
  | { readonly kind: "drop"; readonly reason: TunnelDropReason };

/**
 * Verdict of {@link ClientDataplane.fromIcmpv6}. The object is reused by the next call.
 * - `tep-unreachable`: the path reports our tunnel packets to the current TEP undeliverable
 *   (`type` 1 or 3, `code`): feed the TEP monitor (`onIcmpError`). When `length > 0`, also
 *   write `buffer[offset .. offset + length]` (an ICMPv4 3/1 about the quoted IPv4 packet, from
 *   the TEP's IPv4) into the TUN.
 * - `binding-unknown`: a domain TEP has no binding for our lease (ICMPv6 1/5): the shell may
 *   renew the lease (protocol.md §4.4; configurable policy).
 * - `mtu`: a Packet Too Big quoting our packet. `mtu` is the tunnel MTU now in force; when
 *   `changed`, it was lowered and the shell sets the TUN MTU to it. When `length > 0`, also write
 *   `buffer[offset .. offset + length]` (an ICMPv4 3/4 with `mtu`) into the TUN.
 * - `drop`: nothing to do; `reason` was counted.
 */
export type Icmpv6Result =
  | {
    readonly kind: "tep-unreachable";
    readonly type: number;
    readonly code: number;
    readonly buffer: Uint8Array;
    readonly offset: number;
    readonly length: number;
  }
  | { readonly kind: "binding-unknown" }
  | {
    readonly kind: "mtu";
    readonly mtu: number;
    readonly changed: boolean;
    readonly buffer: Uint8Array;
    readonly offset: number;
    readonly length: number;
  }
  | { readonly kind: "drop"; readonly reason: Icmpv6DropReason };

const EMPTY = new Uint8Array(0);

/**
 * Views of a packet for the ICMPv4 helpers of lib/inet, which take a packet as a whole
 * `Uint8Array`: the last view is kept, so a caller that reuses its buffer and offsets makes no
 * new one.
 */
class ViewCache {
  #fromBuf: Uint8Array = EMPTY;
  #fromStart = -1;
  #fromView: Uint8Array = EMPTY;
  #rangeBuf: Uint8Array = EMPTY;
  #rangeStart = -1;
  #rangeEnd = -1;
  #rangeView: Uint8Array = EMPTY;

  /** `buf[start..]`: from an offset to the end of the buffer. */
  from(buf: Uint8Array, start: number): Uint8Array {
    if (buf !== this.#fromBuf || start !== this.#fromStart) {
      this.#fromBuf = buf;
      this.#fromStart = start;
      this.#fromView = start === 0 ? buf : buf.subarray(start);
    }
    return this.#fromView;
  }

  /** `buf[start..end]`: an exact range. */
  range(buf: Uint8Array, start: number, end: number): Uint8Array {
    if (buf !== this.#rangeBuf || start !== this.#rangeStart || end !== this.#rangeEnd) {
      this.#rangeBuf = buf;
      this.#rangeStart = start;
      this.#rangeEnd = end;
      this.#rangeView = start === 0 && end === buf.length ? buf : buf.subarray(start, end);
    }
    return this.#rangeView;
  }
}

/** The mutable object behind the three result types; one per entry point. */
class Slot {
  kind: string = "drop";
  reason: string = "no-lease";
  buffer: Uint8Array;
  offset = 0;
  length = 0;
  seq = 0;
  type = 0;
  code = 0;
  mtu = 0;
  changed = false;
  constructor(buffer: Uint8Array) {
    this.buffer = buffer;
  }
}

// ---------------------------------------------------------------------------------------------
// The data plane.

/** The lease as the data plane needs it; a `ClientLease` or `HeldLease` fits. */
export interface DataplaneLease {
  /** The leased IPv4 address as an unsigned 32-bit integer. */
  readonly ipv4: number;
  /** The TEP the lease names: the tunnel destination and the source of ICMPv4 errors. */
  readonly tep: TepAddresses;
}

/** Options of {@link ClientDataplane}. */
export interface ClientDataplaneOptions {
  /** The client's registered IPv6 address (16 bytes), the raw socket's bound source. */
  readonly localIpv6: Uint8Array;
  /** The domain TEP set. The data plane adds each lease's TEP and sets the filter's lease. */
  readonly filter: TepSourceFilter;
  /** Identifier of the keepalive echo requests (16 bits), e.g. the process id & 0xffff. */
  readonly probeId: number;
  /** Tunnel MTU (IPv4 bytes), {@link IPV4_MIN_MTU}..{@link MAX_TUNNEL_MTU}; default {@link DEFAULT_TUNNEL_MTU}. */
  readonly tunnelMtu?: number;
  /** The current lease, if any (see {@link ClientDataplane.setLease}). */
  readonly lease?: DataplaneLease;
  /** Where ICMPv4 errors for the TUN are built: at least {@link REPLY_BUFFER_LENGTH} bytes. */
  readonly replyBuffer?: Uint8Array;
  /** ICMPv4 errors per second into the TUN (default {@link DEFAULT_ICMP_RATE_PER_SEC}). */
  readonly icmpRatePerSec?: number;
  /** Burst of ICMPv4 errors (default {@link DEFAULT_ICMP_BURST}). */
  readonly icmpBurst?: number;
  /** Verify the ICMPv6 checksum (pseudo-header to the registered address); default true. */
  readonly verifyIcmpv6Checksum?: boolean;
  /** Counters to write (e.g. over a `SharedArrayBuffer`); default fresh ones. */
  readonly counters?: ClientDataplaneCounters;
}

const QUOTED = { quoted: true } as const;

function checkRange(what: string, buf: Uint8Array, off: number, len: number): void {
  if (
    !(buf instanceof Uint8Array) || !Number.isInteger(off) || !Number.isInteger(len) || off < 0 ||
    len < 0 || off + len > buf.length
  ) {
    throw new RangeError(
      `Cannot read ${what}: range ${off}+${len} is outside a buffer of ${buf?.length} bytes`,
    );
  }
}

function checkMtu(mtu: number): void {
  if (!Number.isInteger(mtu) || mtu < IPV4_MIN_MTU || mtu > MAX_TUNNEL_MTU) {
    throw new RangeError(
      `Cannot set tunnel MTU: ${mtu} is not an integer in ${IPV4_MIN_MTU}..${MAX_TUNNEL_MTU}`,
    );
  }
}

function checkU32(what: string, v: number): void {
  if (typeof v !== "number" || (v >>> 0) !== v) {
    throw new RangeError(`Cannot set ${what}: ${v} is not an IPv4 address`);
  }
}

/** Classification of an ICMPv6 message type/code. */
const ICMP_IGNORED = 0;
const ICMP_UNREACHABLE = 1;
const ICMP_BINDING = 2;
const ICMP_TOO_BIG = 3;

function classifyIcmpv6(type: number, code: number): number {
  if (type === 1) return code === 5 ? ICMP_BINDING : ICMP_UNREACHABLE;
  if (type === 2) return ICMP_TOO_BIG;
  if (type === 3 && code === 0) return ICMP_UNREACHABLE;
  return ICMP_IGNORED;
}

/**
 * The client's data-plane core: decisions for each packet between the TUN, the raw tunnel
 * socket and the raw ICMPv6 socket, plus the keepalive probe builder and the counters.
 *
 * @example
 * ```ts
 * const dp = new ClientDataplane({ localIpv6, filter, probeId: pid & 0xffff });
 * dp.setLease(lease); // on configure / reconfigure-tep; dp.setLease(undefined) on deconfigure
 * // TUN readable: n bytes at buf[0]
 * const r = dp.fromTun(buf, 0, n, clock());
 * if (r.kind === "send-tunnel") raw.sendto(r.buffer, r.offset, r.length, lease.tep.ipv6);
 * else if (r.kind === "reply-tun") tun.write(r.buffer, r.offset, r.length);
 * // raw socket readable: n bytes at buf[0], source address in from[0..16]
 * const t = dp.fromTunnel(buf, 0, n, from, 0);
 * if (t.kind === "write-tun") tun.write(t.buffer, t.offset, t.length);
 * else if (t.kind === "keepalive-reply") feedMonitor(monitor.onReply(t.seq, clock()));
 * ```
 */
export class ClientDataplane {
  /** Identifier of the keepalive echo requests. */
  readonly probeId: number;
  /** The counters this data plane writes. */
  readonly counters: ClientDataplaneCounters;
  /** Where ICMPv4 errors for the TUN are built (the `buffer` of `reply-tun` results). */
  readonly replyBuffer: Uint8Array;

  readonly #filter: TepSourceFilter;
  readonly #local = new Uint8Array(16);
  readonly #tepIpv6 = new Uint8Array(16);
  #tepIpv4 = 0;
  #lease = -1;
  #mtu: number;
  readonly #verifyIcmpv6: boolean;
  readonly #traffic: Float64Array;
  readonly #drops: Float64Array;
  // Rate limiter of every ICMPv4 message this data plane builds.
  readonly #icmpBucket: TokenBucket;
  // Results, one per entry point.
  readonly #tun: Slot;
  readonly #tunnel: Slot;
  readonly #icmp: Slot;
  // Scratch.
  readonly #walk = new Ipv6Walk();
  readonly #echo: Icmpv4EchoSpec = {
    reply: false,
    identifier: 0,
    sequence: 0,
    data: EMPTY,
    src: 0,
    dst: 0,
    dontFragment: true,
  };
  // Views for the ICMPv4 helpers, which take a packet as a whole Uint8Array.
  readonly #tunViews = new ViewCache();
  readonly #icmpViews = new ViewCache();

  /**
   * A data plane with the given configuration (and no lease unless `options.lease`).
   *
   * @throws {RangeError} on a bad option (a programmer error): `localIpv6` not 16 bytes,
   * `probeId` not 16 bits, tunnel MTU out of range, reply buffer too small, bad rate or burst.
   */
  constructor(options: ClientDataplaneOptions) {
    if (!(options.localIpv6 instanceof Uint8Array) || options.localIpv6.length !== 16) {
      throw new RangeError("Cannot create client data plane: localIpv6 must be 16 bytes");
    }
    this.#local.set(options.localIpv6);
    if (!Number.isInteger(options.probeId) || options.probeId < 0 || options.probeId > 0xffff) {
      throw new RangeError(
        `Cannot create client data plane: probeId ${options.probeId} is not 16 bits`,
      );
    }
    this.probeId = options.probeId;
    this.#filter = options.filter;
    const mtu = options.tunnelMtu ?? DEFAULT_TUNNEL_MTU;
    checkMtu(mtu);
    this.#mtu = mtu;
    const reply = options.replyBuffer ?? new Uint8Array(REPLY_BUFFER_LENGTH);
    if (!(reply instanceof Uint8Array) || reply.length < REPLY_BUFFER_LENGTH) {
      throw new RangeError(
        `Cannot create client data plane: reply buffer must hold ${REPLY_BUFFER_LENGTH} bytes`,
      );
    }
    this.replyBuffer = reply;
    const rate = options.icmpRatePerSec ?? DEFAULT_ICMP_RATE_PER_SEC;
    const burst = options.icmpBurst ?? DEFAULT_ICMP_BURST;
    if (!(rate > 0 && Number.isFinite(rate)) || !(burst >= 1 && Number.isFinite(burst))) {
      throw new RangeError(
        `Cannot create client data plane: ICMP rate ${rate}/s burst ${burst} out of range`,
      );
    }
    this.#icmpBucket = new TokenBucket({ ratePerSec: rate, burst });
    this.#verifyIcmpv6 = options.verifyIcmpv6Checksum ?? true;
    this.counters = options.counters ?? new ClientDataplaneCounters();
    this.#traffic = this.counters.traffic;
    this.#drops = this.counters.drops;
    this.#tun = new Slot(EMPTY);
    this.#tunnel = new Slot(EMPTY);
    this.#icmp = new Slot(EMPTY);
    if (options.lease !== undefined) this.setLease(options.lease);
  }

  // -------------------------------------------------------------------------------------------
  // Configuration.

  /**
   * Set the current lease and its TEP (on `configure` and `reconfigure-tep`), or clear it with
   * `undefined` (on `deconfigure`). The TEP's IPv6 is copied, added to the filter's TEP set,
   * and the filter's lease is set too, so the filter agrees with the data plane.
   *
   * @throws {RangeError} on an address that is not an unsigned 32-bit integer or 16 bytes.
   */
  setLease(lease: DataplaneLease | undefined): void {
    if (lease === undefined) {
      this.#lease = -1;
      this.#filter.setLease(undefined);
      return;
    }
    checkU32("lease", lease.ipv4);
    checkU32("TEP IPv4", lease.tep.ipv4);
    if (!(lease.tep.ipv6 instanceof Uint8Array) || lease.tep.ipv6.length !== 16) {
      throw new RangeError("Cannot set lease: TEP IPv6 must be 16 bytes");
    }
    this.#filter.addTep(lease.tep.ipv6, 0);
    this.#filter.setLease(lease.ipv4);
    this.#tepIpv6.set(lease.tep.ipv6);
    this.#tepIpv4 = lease.tep.ipv4;
    this.#lease = lease.ipv4;
  }

  /** The current lease IPv4 (unsigned 32-bit), or `undefined`. */
  get lease(): number | undefined {
    return this.#lease < 0 ? undefined : this.#lease;
  }

  /** A copy of the current TEP's addresses, or `undefined` without a lease (allocates). */
  get tep(): TepAddresses | undefined {
    return this.#lease < 0 ? undefined : { ipv6: this.#tepIpv6.slice(), ipv4: this.#tepIpv4 };
  }

  /** The tunnel MTU in force (IPv4 bytes). */
  get tunnelMtu(): number {
    return this.#mtu;
  }

  /**
   * Set the tunnel MTU (configuration, reload, or raising it again after a path MTU timeout,
   * RFC 8201 §4).
   *
   * @throws {RangeError} if `mtu` is not an integer in {@link IPV4_MIN_MTU}..{@link MAX_TUNNEL_MTU}.
   */
  setTunnelMtu(mtu: number): void {
    checkMtu(mtu);
    this.#mtu = mtu;
  }

  /**
   * Change the registered IPv6 address (16 bytes at `ipv6[off]`), when the shell rebinds its
   * raw socket.
   *
   * @throws {RangeError} if fewer than 16 bytes are available at `off`.
   */
  setLocalIpv6(ipv6: Uint8Array, off = 0): void {
    checkRange("local IPv6", ipv6, off, 16);
    for (let i = 0; i < 16; i++) this.#local[i] = ipv6[off + i];
  }

  /** Tokens left in the ICMPv4 rate limiter at `now` (fractional; for tests and status). */
  icmpTokens(now: number): number {
    return this.#icmpBucket.available(now);
  }

  // -------------------------------------------------------------------------------------------
  // Helpers (no allocation).

  /** Take one ICMPv4 token at `now`; counts `icmp-rate-limited` when there is none. */
  #takeToken(now: number): boolean {
    if (this.#icmpBucket.take(now)) return true;
    this.#drops[D["icmp-rate-limited"]]++;
    return false;
  }

  /**
   * Whether RFC 1812 §4.3.2.7 allows an ICMPv4 error about the IPv4 packet quoted at
   * `msg[i..end]` (its header is known to fit). No allocation while the offset repeats.
   */
  #quoteAllowsError(msg: Uint8Array, i: number, end: number): boolean {
    // icmpv4ErrorAllowed reads the ICMP type after the header; make sure it is in the quote.
    if (msg[i + 9] === IP_PROTO.ICMP && end - i <= ((msg[i] & 0x0f) << 2)) return false;
    return icmpv4ErrorAllowed(this.#icmpViews.from(msg, i));
  }

  // fromTun counts its drops where they happen (a rate-limited 3/4 counts two reasons).
  #tunDrop(reason: TunDropReason): TunResult {
    const r = this.#tun;
    r.kind = "drop";
    r.reason = reason;
    return r as TunResult;
  }

  #tunnelDrop(reason: TunnelDropReason): TunnelResult {
    this.#drops[D[reason]]++;
    const r = this.#tunnel;
    r.kind = "drop";
    r.reason = reason;
    return r as TunnelResult;
  }

  #icmpDrop(reason: Icmpv6DropReason): Icmpv6Result {
    this.#drops[D[reason]]++;
    const r = this.#icmp;
    r.kind = "drop";
    r.reason = reason;
    return r as Icmpv6Result;
  }

  // -------------------------------------------------------------------------------------------
  // TUN → tunnel.

  /**
   * Decide about the IPv4 packet of `len` bytes at `buf[off]` that the local stack routed into
   * the tunnel, at time `now` (ms, for the ICMP rate limit). Never throws on packet contents;
   * allocates nothing (a DF packet over the MTU needs a view of it, kept while the buffer and
   * offset repeat).
   *
   * @throws {RangeError} if `off`/`len` lie outside `buf` (a programmer error).
   */
  fromTun(buf: Uint8Array, off: number, len: number, now: number): TunResult {
    checkRange("TUN packet", buf, off, len);
    const drops = this.#drops;
    if (this.#lease < 0) {
      drops[D["no-lease"]]++;
      return this.#tunDrop("no-lease");
    }
    if (checkIpv4(buf, off, len, false) !== null) {
      drops[D["malformed-ipv4"]]++;
      return this.#tunDrop("malformed-ipv4");
    }
    if (ipv4Src(buf, off) !== this.#lease) {
      drops[D["not-lease-source"]]++;
      return this.#tunDrop("not-lease-source");
    }
    const total = ipv4TotalLength(buf, off);
    const r = this.#tun;
    if (total > this.#mtu && ipv4DontFragment(buf, off)) {
      // RFC 2473 §7.2, protocol.md §4.3: drop, and tell the local stack the tunnel MTU.
      drops[D["too-big-df"]]++;
      // A view to the end of the buffer: the builder quotes at most Total Length bytes.
      const original = this.#tunViews.from(buf, off);
      if (!icmpv4ErrorAllowed(original)) return this.#tunDrop("too-big-df");
      if (!this.#takeToken(now)) return this.#tunDrop("icmp-rate-limited");
      const n = writeIcmpv4FragmentationNeeded(
        this.#tepIpv4,
        this.#mtu,
        original,
        this.replyBuffer,
        0,
      );
      if (n === 0) return this.#tunDrop("too-big-df");
      this.#traffic[T["icmpv4-errors-sent"]]++;
      r.kind = "reply-tun";
      r.buffer = this.replyBuffer;
      r.offset = 0;
      r.length = n;
      return r as TunResult;
    }
    // DF=0 and too big: sent whole; the kernel fragments the IPv6 packet (RFC 2473 §7.2).
    this.#traffic[T["tunnel-tx-packets"]]++;
    this.#traffic[T["tunnel-tx-bytes"]] += total;
    r.kind = "send-tunnel";
    r.buffer = buf;
    r.offset = off;
    r.length = total;
    return r as TunResult;
  }

  // -------------------------------------------------------------------------------------------
  // Tunnel → TUN.

  /**
   * Decide about the inner IPv4 packet of `len` bytes at `inner[off]` that the raw tunnel socket
   * delivered, from the IPv6 source at `srcIpv6[srcOff..srcOff + 16]`. Never throws on packet
   * contents; allocates nothing.
   *
   * @throws {RangeError} if a range lies outside its buffer (a programmer error).
   */
  fromTunnel(
    inner: Uint8Array,
    off: number,
    len: number,
    srcIpv6: Uint8Array,
    srcOff: number,
  ): TunnelResult {
    checkRange("tunnel packet", inner, off, len);
    checkRange("tunnel source", srcIpv6, srcOff, 16);
    if (!this.#filter.accepts(srcIpv6, srcOff)) return this.#tunnelDrop("source-not-tep");
    const lease = this.#lease;
    if (lease < 0) return this.#tunnelDrop("no-lease");
    if (checkIpv4(inner, off, len, true) !== null) return this.#tunnelDrop("malformed-ipv4");
    if (ipv4Dst(inner, off) !== lease) return this.#tunnelDrop("inner-not-lease");
    const total = ipv4TotalLength(inner, off);
    const r = this.#tunnel;
    if (
      ipv4Protocol(inner, off) === IP_PROTO.ICMP && ipv4Src(inner, off) === this.#tepIpv4 &&
      !ipv4IsFragment(inner, off)
    ) {
      const hl = ipv4HeaderLength(inner, off);
      const m = off + hl;
      if (
        total - hl >= 8 && inner[m] === 0 && inner[m + 1] === 0 &&
        ((inner[m + 4] << 8) | inner[m + 5]) === this.probeId &&
        internetChecksum(inner, m, total - hl) === 0
      ) {
        this.#traffic[T["keepalive-replies"]]++;
        r.kind = "keepalive-reply";
        r.seq = (inner[m + 6] << 8) | inner[m + 7];
        return r as TunnelResult;
      }
    }
    this.#traffic[T["tunnel-rx-packets"]]++;
    this.#traffic[T["tunnel-rx-bytes"]] += total;
    r.kind = "write-tun";
    r.buffer = inner;
    r.offset = off;
    r.length = total;
    return r as TunnelResult;
  }

  // -------------------------------------------------------------------------------------------
  // ICMPv6 errors.

  /**
   * Decide about the ICMPv6 message of `len` bytes at `msg[off]` (starting at its type byte)
   * from the IPv6 source at `srcIpv6[srcOff..srcOff + 16]`, at time `now` (ms, for the ICMP
   * rate limit). Never throws on message contents; allocates nothing except, when the rate limit
   * lets an ICMPv4 relay through, a view of the quote (kept while the geometry repeats).
   *
   * @throws {RangeError} if a range lies outside its buffer (a programmer error).
   */
  fromIcmpv6(
    msg: Uint8Array,
    off: number,
    len: number,
    srcIpv6: Uint8Array,
    srcOff: number,
    now: number,
  ): Icmpv6Result {
    checkRange("ICMPv6 message", msg, off, len);
    checkRange("ICMPv6 source", srcIpv6, srcOff, 16);
    if (len < 8) return this.#icmpDrop("malformed-icmpv6");
    const type = msg[off];
    const code = msg[off + 1];
    const what = classifyIcmpv6(type, code);
    if (what === ICMP_IGNORED) return this.#icmpDrop("icmpv6-ignored");
    if (this.#verifyIcmpv6) {
      const sum = ipv6PseudoHeaderSum(srcIpv6, srcOff, this.#local, 0, len, IP_PROTO.ICMPV6);
      if (internetChecksum(msg, off, len, sum) !== 0) return this.#icmpDrop("malformed-icmpv6");
    }
    // §4.4: a 1/5 counts only from a domain TEP (§6 row 7: forged ones would force renewals).
    if (what === ICMP_BINDING && !this.#filter.accepts(srcIpv6, srcOff)) {
      return this.#icmpDrop("icmp-source-not-tep");
    }
    // The quote: our tunnel packet, registered address → current TEP, next header 4.
    const q = off + 8;
    const qlen = len - 8;
    if (qlen < IPV6_HEADER_LENGTH || msg[q] >> 4 !== 6) return this.#icmpDrop("malformed-icmpv6");
    if (
      this.#lease < 0 || !equals16(msg, q + 8, this.#local, 0) ||
      !equals16(msg, q + 24, this.#tepIpv6, 0)
    ) {
      return this.#icmpDrop("icmp-not-ours");
    }
    const walk = this.#walk;
    const why = decapsulateIpv4(msg, q, qlen, walk, QUOTED);
    // A non-first fragment of our packet quotes no inner header but is still ours.
    let hasInner = why === null;
    if (why === "fragment") {
      if (walk.protocol !== IP_PROTO.IPV4) return this.#icmpDrop("icmp-not-ours");
      hasInner = false;
    } else if (why === "not-ipip") {
      return this.#icmpDrop("icmp-not-ours");
    } else if (why !== null) {
      return this.#icmpDrop("malformed-icmpv6");
    }
    const r = this.#icmp;
    if (what === ICMP_BINDING) {
      this.#traffic[T["binding-unknown"]]++;
      r.kind = "binding-unknown";
      return r as Icmpv6Result;
    }
    const i = walk.offset;
    const iend = walk.end;
    // The quoted IPv4 packet, if it is one the local stack sent from the lease.
    const inner = hasInner && iend - i >= 20 && msg[i] >> 4 === 4 &&
      ((msg[i] & 0x0f) << 2) >= 20 && ((msg[i] & 0x0f) << 2) <= iend - i &&
      ipv4Src(msg, i) === this.#lease;
    r.buffer = this.replyBuffer;
    r.offset = 0;
    r.length = 0;
    if (what === ICMP_UNREACHABLE) {
      this.#traffic[T["tep-unreachable"]]++;
      r.kind = "tep-unreachable";
      r.type = type;
      r.code = code;
      // RFC 2473 §8, protocol.md §4.4: relay as ICMPv4 3/1 to the local stack.
      if (inner && this.#quoteAllowsError(msg, i, iend) && this.#takeToken(now)) {
        const original = this.#icmpViews.range(msg, i, iend); // the quote may be cut short
        r.length = writeIcmpv4HostUnreachable(this.#tepIpv4, original, this.replyBuffer, 0);
        if (r.length !== 0) this.#traffic[T["icmpv4-errors-sent"]]++;
      }
      return r as Icmpv6Result;
    }
    // Packet Too Big (RFC 8201 §4: never raise the estimate on a PTB).
    this.#traffic[T["packet-too-big"]]++;
    const reported = ((msg[off + 4] << 24) | (msg[off + 5] << 16) | (msg[off + 6] << 8) |
      msg[off + 7]) >>> 0;
    let mtu = reported - TUNNEL_OVERHEAD;
    if (mtu < MIN_TUNNEL_MTU) mtu = MIN_TUNNEL_MTU;
    r.kind = "mtu";
    r.changed = mtu < this.#mtu;
    if (r.changed) {
      this.#mtu = mtu;
      this.#traffic[T["mtu-lowered"]]++;
    }
    r.mtu = this.#mtu;
    if (
      inner && (msg[i + 6] & 0x40) !== 0 && ((msg[i + 2] << 8) | msg[i + 3]) > this.#mtu &&
      this.#quoteAllowsError(msg, i, iend) && this.#takeToken(now)
    ) {
      const original = this.#icmpViews.range(msg, i, iend); // the quote may be cut short
      r.length = writeIcmpv4FragmentationNeeded(
        this.#tepIpv4,
        this.#mtu,
        original,
        this.replyBuffer,
        0,
      );
      if (r.length !== 0) this.#traffic[T["icmpv4-errors-sent"]]++;
    }
    return r as Icmpv6Result;
  }

  // -------------------------------------------------------------------------------------------
  // Keepalive.

  /**
   * Write at `out[off]` the keepalive probe: an ICMPv4 echo request (no data, DF set, TTL 64)
   * from the lease to the TEP's IPv4 with {@link ClientDataplane.probeId} and `seq`
   * (protocol.md §2.8). The shell sends it into the tunnel like a `send-tunnel` packet. Returns
   * the length ({@link KEEPALIVE_LENGTH}), or 0 without a lease, with `seq` not 16 bits, or when
   * `out` is too small. Allocates nothing.
   */
  buildKeepalive(seq: number, out: Uint8Array, off = 0): number {
    if (this.#lease < 0) return 0;
    const e = this.#echo;
    e.identifier = this.probeId;
    e.sequence = seq;
    e.src = this.#lease;
    e.dst = this.#tepIpv4;
    return writeIcmpv4Echo(e, out, off);
  }
}
