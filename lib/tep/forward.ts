/**
 * The TEP's forwarding core, sans-I/O in the boringtun style (protocol brief §4, §5.4, §6 rows 1,
 * 2, 5, 6, 11, 12): pure functions that decide what to do with one packet, write any output
 * into the caller's buffer, and return an action. The shell owns the TUN device, the raw IPv6
 * socket, the query scheduler's TSP session and the clock.
 *
 * - {@link decapsulate}: an IPv6 packet from the domain (client → IPv4 world).
 * - {@link encapsulate}: an IPv4 packet from the TUN (IPv4 world → client).
 * - {@link forwardQueued} / {@link dropQueued}: packets the query scheduler held for a binding.
 * - `icmp_relay.ts`: ICMPv6 errors about tunnel packets (RFC 2473 §8).
 *
 * Each call returns a {@link FORWARD_ACTION} code and leaves the details on the reused
 * {@link ForwardContext}: the output packets as (`ctx.buffer`, `ctx.offsets[i]`,
 * `ctx.lengths[i]`) for `i < ctx.count`, where to write them (`ctx.family`: 4 → TUN, 6 → raw
 * IPv6 socket), and `ctx.reason` when the input packet was not forwarded. Outputs stay valid until
 * the next call with the same context or buffers.
 *
 * ```ts
 * const ctx = new ForwardContext(config, { bindings, counters });
 * const out = new Uint8Array(FORWARD_OUT_BYTES);
 * switch (decapsulate(buf, 0, n, now, ctx, out)) {
 *   case FORWARD_ACTION.WRITE_IPV4: case FORWARD_ACTION.WRITE_IPV6:
 *   case FORWARD_ACTION.HAIRPIN: case FORWARD_ACTION.SEND_ICMP:
 *     for (let i = 0; i < ctx.count; i++) {
 *       (ctx.family === 4 ? tun : raw6).write(ctx.buffer, ctx.offsets[i], ctx.lengths[i]);
 *     }
 *     break;
 *   case FORWARD_ACTION.QUEUE_AND_QUERY: submitMiss(ctx, scheduler, now); break;
 * }
 * ```
 *
 * In-place work: the core decrements the TTL inside the caller's packet and writes the outer IPv6
 * header into the bytes just before an IPv4 packet (the headroom: give `encapsulate` an offset of
 * at least {@link encapHeaderLength} bytes and nothing is copied). Packets whose decision is a
 * hit (decapsulate to IPv4, hairpin, encapsulate to a bound client) allocate nothing, and neither
 * do the drops and misses an attacker can cause in bulk; only the rate-limited ICMP paths
 * allocate (a view of the quoted packet). `out` must be a buffer of its own, not the input.
 *
 * Drops: every packet not forwarded is counted once by name in `ctx.counters` (the table of
 * `drop_reasons.ts`), and forwarded
 * packets and bytes per direction in `ctx.stats`.
 *
 * @module
 */
import {
  checkIpv4,
  copy16,
  decrementTtl,
  encapHeaderLength,
  type EncapOptions,
  encapsulateIpv4,
  equals16,
  icmpv4ErrorAllowed,
  type Icmpv4ErrorSpec,
  icmpv6ErrorAllowed,
  IP_PROTO,
  ipv4DontFragment,
  ipv4Dst,
  ipv4Src,
  ipv4TotalLength,
  Ipv6FragmentPlan,
  Ipv6Walk,
  planIpv6Fragments,
  walkIpv6,
  writeIcmpv4Error,
  writeIcmpv6DestUnreachable,
  writeIpv6Fragment,
} from "../inet/mod.ts";
import { contains4, contains6 } from "../addr/mod.ts";
import type { BindingTable } from "./binding_table.ts";
import { DROP_REASON_ID, DropCounters, type DropReason } from "./drop_reasons.ts";
import { TokenBucket } from "../ratelimit/token_bucket.ts";
import type { MissDecision, QueryScheduler, QueuedPacket } from "./query_scheduler.ts";
import { Reassembler, REASSEMBLY, type ReassemblyReason } from "./reassembly.ts";
import { type ForwardConfig, IPV6_MIN_MTU } from "./forward_config.ts";

/** What to do after a call; details on the {@link ForwardContext}. */
export const FORWARD_ACTION = {
  /** Nothing to send and nothing dropped (a fragment held for reassembly; a PTB absorbed). */
  DONE: 0,
  /** The packet was dropped and counted; `ctx.reason` says why. */
  DROP: 1,
  /** Write `ctx.count` (1) IPv4 packet to the TUN; the kernel forwards it. */
  WRITE_IPV4: 2,
  /** Write `ctx.count` IPv6 packets (more than one: fragments) to the raw IPv6 socket. */
  WRITE_IPV6: 3,
  /** Like {@link FORWARD_ACTION.WRITE_IPV6}, for a pool-to-pool packet re-encapsulated to the other client. */
  HAIRPIN: 4,
  /**
   * The packet was dropped (`ctx.reason`) and an ICMP error was built: write it to the TUN
   * (`ctx.family` 4: ICMPv4 to the IPv4 world) or the raw IPv6 socket (`ctx.family` 6: an ICMPv6
   * error, or an ICMPv4 error tunnelled to a pool client).
   */
  SEND_ICMP: 5,
  /**
   * No binding (yet) for the pool address `ctx.queryIpv4`: hand the packet
   * (`ctx.buffer`, `ctx.offsets[0]`, `ctx.lengths[0]`; the IPv4 packet) to the query scheduler,
   * e.g. with {@link submitMiss}. Direction in `ctx.queryDirection`; for `decap`, the outer
   * source the packet claimed is `ctx.peer`. Never creates a binding.
   */
  QUEUE_AND_QUERY: 6,
} as const;

/** One of the {@link FORWARD_ACTION} codes. */
export type ForwardAction = (typeof FORWARD_ACTION)[keyof typeof FORWARD_ACTION];

/** Every reason the forwarding core may report in `ctx.reason`. */
export type ForwardDropReason = DropReason | ReassemblyReason;

/**
 * Size `out` must have: room for the fragments of the largest encapsulated packet at the
 * smallest path MTU (65 535 bytes of payload in 54 fragments of 1280 bytes: 68 127 bytes).
 */
export const FORWARD_OUT_BYTES = 69632;

/** Headroom the core keeps in front of packets it copies, enough for any encapsulation header. */
const HEADROOM = 48;

/** Names of the {@link ForwardStats} counters, in array order. */
export const FORWARD_STATS = [
  "decapPackets",
  "decapBytes",
  "encapPackets",
  "encapBytes",
  "hairpinPackets",
  "hairpinBytes",
  "fragmentsSent",
  "reassembled",
  "icmpv4Sent",
  "icmpv6Sent",
  "queued",
  "ptbReceived",
  "mtuLowered",
  "icmpRelayed",
  "icmpIgnored",
] as const;

/** A {@link ForwardStats} counter name. */
export type ForwardStatName = (typeof FORWARD_STATS)[number];

const S_DECAP_P = 0;
const S_DECAP_B = 1;
const S_ENCAP_P = 2;
const S_ENCAP_B = 3;
const S_HAIR_P = 4;
const S_HAIR_B = 5;
const S_FRAGS = 6;
const S_REASM = 7;
const S_ICMP4 = 8;
const S_ICMP6 = 9;
const S_QUEUED = 10;
/** Index of `ptbReceived` in {@link ForwardStats.values}. */
export const STAT_PTB = 11;
/** Index of `mtuLowered` in {@link ForwardStats.values}. */
export const STAT_MTU_LOWERED = 12;
/** Index of `icmpRelayed` in {@link ForwardStats.values}. */
export const STAT_ICMP_RELAYED = 13;
/** Index of `icmpIgnored` in {@link ForwardStats.values}. */
export const STAT_ICMP_IGNORED = 14;

/**
 * Forwarding counters (packets and bytes of the inner IPv4 packets per direction, fragments,
 * ICMP), as `Float64Array` elements in {@link FORWARD_STATS} order.
 */
export class ForwardStats {
  /** The counters, indexed like {@link FORWARD_STATS}. */
  readonly values: Float64Array = new Float64Array(FORWARD_STATS.length);

  /** The value of one counter. */
  get(name: ForwardStatName): number {
    return this.values[FORWARD_STATS.indexOf(name)];
  }

  /** All counters by name (allocates; for `ctl stats` and `/metrics`). */
  snapshot(): Record<ForwardStatName, number> {
    const out = {} as Record<ForwardStatName, number>;
    FORWARD_STATS.forEach((n, i) => out[n] = this.values[i]);
    return out;
  }
}

/** Options of a {@link PeerMtuTable}. */
export interface PeerMtuTableOptions {
  /** Path MTU of a peer nothing is known about (1280..65575). */
  readonly defaultMtu: number;
  /** Most peers remembered (>= 1); the oldest entry is replaced beyond that. */
  readonly maxPeers: number;
  /** How long a learned MTU holds, ms (> 0); then the default is tried again (RFC 8201 §4). */
  readonly ageMs: number;
}

function hash16(b: Uint8Array, o: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 16; i += 4) {
    const w = (b[o + i] << 24) | (b[o + i + 1] << 16) | (b[o + i + 2] << 8) | b[o + i + 3];
    h = Math.imul(h ^ w, 0x01000193);
    h ^= h >>> 15;
  }
  return h | 0;
}

/**
 * IPv6 path MTU per tunnel peer (brief §4.3: "with one shared tunnel interface and many peers,
 * keep the MTU per peer"), lowered by Packet Too Big messages (RFC 8201) and aged back to the
 * default. Bounded; lookups allocate nothing. Two peers whose addresses hash alike share a slot:
 * the newer replaces the older, which then gets the default again (a cache, not a table).
 */
export class PeerMtuTable {
  /** Path MTU of unknown peers. */
  readonly defaultMtu: number;
  /** Most peers. */
  readonly maxPeers: number;
  /** Age of an entry, ms. */
  readonly ageMs: number;
  #index = new Map<number, number>();
  #hash: Int32Array;
  #addr: Uint8Array;
  #mtu: Int32Array;
  #expires: Float64Array;
  #next = 0; // ring: the slot to reuse when full
  #used = 0;

  /**
   * An empty table.
   *
   * @throws {RangeError} if an option is not valid (a programmer error).
   */
  constructor(options: PeerMtuTableOptions) {
    const { defaultMtu, maxPeers, ageMs } = options;
    if (!Number.isInteger(defaultMtu) || defaultMtu < IPV6_MIN_MTU || defaultMtu > 65575) {
      throw new RangeError(
        `Cannot make peer MTU table: defaultMtu ${defaultMtu} not in 1280..65575`,
      );
    }
    if (!Number.isInteger(maxPeers) || maxPeers < 1) {
      throw new RangeError(`Cannot make peer MTU table: maxPeers ${maxPeers} is not >= 1`);
    }
    if (typeof ageMs !== "number" || !(ageMs > 0)) {
      throw new RangeError(`Cannot make peer MTU table: ageMs ${ageMs} is not > 0`);
    }
    this.defaultMtu = defaultMtu;
    this.maxPeers = maxPeers;
    this.ageMs = ageMs;
    this.#hash = new Int32Array(maxPeers);
    this.#addr = new Uint8Array(maxPeers * 16);
    this.#mtu = new Int32Array(maxPeers);
    this.#expires = new Float64Array(maxPeers);
  }

  /** Peers remembered (including aged entries not reclaimed yet). */
  get size(): number {
    return this.#index.size;
  }

  #slot(buf: Uint8Array, off: number, h: number): number {
    const s = this.#index.get(h);
    if (s === undefined) return -1;
    return equals16(this.#addr, s * 16, buf, off) ? s : -1;
  }

  /** The path MTU to the peer whose IPv6 address is at `buf[off..off+16)`, at `now`. No allocation. */
  get(buf: Uint8Array, off: number, now: number): number {
    const h = hash16(buf, off);
    const s = this.#slot(buf, off, h);
    if (s < 0) return this.defaultMtu;
    if (this.#expires[s] <= now) {
      this.#index.delete(h);
      return this.defaultMtu;
    }
    return this.#mtu[s];
  }

  /**
   * A Packet Too Big for the peer at `buf[off..]` reported `mtu` at `now`: lower its path MTU to
   * `max(mtu, 1280)` (RFC 8201 §4: never below the IPv6 minimum, never raised by a PTB). Returns
   * the peer's path MTU afterwards.
   */
  lower(buf: Uint8Array, off: number, mtu: number, now: number): number {
    const cur = this.get(buf, off, now);
    const m = mtu < IPV6_MIN_MTU ? IPV6_MIN_MTU : mtu;
    if (!(m < cur)) return cur;
    const h = hash16(buf, off);
    let s = this.#index.get(h);
    if (s === undefined) {
      if (this.#used < this.maxPeers) s = this.#used++;
      else {
        s = this.#next;
        this.#next = (this.#next + 1) % this.maxPeers;
        if (this.#index.get(this.#hash[s]) === s) this.#index.delete(this.#hash[s]);
      }
      this.#index.set(h, s);
      this.#hash[s] = h;
    }
    copy16(buf, off, this.#addr, s * 16);
    this.#mtu[s] = m;
    this.#expires[s] = now + this.ageMs;
    return m;
  }

  /** Forget every peer. */
  clear(): void {
    this.#index.clear();
    this.#used = 0;
    this.#next = 0;
  }
}

/** What the {@link ForwardContext} is built from besides the configuration. */
export interface ForwardDeps {
  /** The binding table (filled by the control plane only). */
  readonly bindings: BindingTable;
  /** Drop counters to count into (default: fresh ones). */
  readonly counters?: DropCounters;
  /** Reassembler (default: one built from `config.reassembly`). */
  readonly reassembler?: Reassembler;
  /** Rate limit of generated ICMP (default: from `config.icmp`). */
  readonly icmpLimiter?: TokenBucket;
  /** Peer MTU cache (default: from `config`). */
  readonly peerMtu?: PeerMtuTable;
  /**
   * Source of IPv6 fragment Identifications (RFC 7739: unpredictable). Default: batches from
   * `crypto.getRandomValues`.
   */
  readonly fragmentId?: () => number;
}

const EMPTY = new Uint8Array(0);

/**
 * The state the forwarding functions share (configuration, binding table, reassembler, rate
 * limiter, peer MTUs, counters, scratch memory) and the result of the last call. One per data
 * plane; not for concurrent use.
 */
export class ForwardContext {
  /** The configuration. */
  readonly config: ForwardConfig;
  /** The binding table. */
  readonly bindings: BindingTable;
  /** Drop counters (by reason). */
  readonly counters: DropCounters;
  /** Forwarding counters. */
  readonly stats: ForwardStats = new ForwardStats();
  /** IPv6 reassembly. */
  readonly reassembler: Reassembler;
  /** ICMP rate limiter. */
  readonly icmpLimiter: TokenBucket;
  /** Path MTU per peer. */
  readonly peerMtu: PeerMtuTable;
  /** Outer header options (derived from the configuration). */
  readonly encapOptions: EncapOptions;
  /** Bytes of outer header per packet: 40, or 48 with an encapsulation limit. */
  readonly encapHeaderLength: number;

  // ---- result of the last call ----
  /** The action returned. */
  action: ForwardAction = FORWARD_ACTION.DONE;
  /** Why the input packet was not forwarded, or null. */
  reason: ForwardDropReason | null = null;
  /** Where to write the output: 4 → TUN (IPv4), 6 → raw IPv6 socket. */
  family: 4 | 6 = 4;
  /** The buffer holding the output packets (the input buffer, `out`, or internal scratch). */
  buffer: Uint8Array = EMPTY;
  /** Number of output packets (fragments when more than one). */
  count = 0;
  /** Offsets of the output packets in {@link buffer}. */
  readonly offsets: Int32Array = new Int32Array(64);
  /** Lengths of the output packets. */
  readonly lengths: Int32Array = new Int32Array(64);
  /** `QUEUE_AND_QUERY`: the pool address to query. */
  queryIpv4 = 0;
  /** `QUEUE_AND_QUERY`: `encap` (destination missed) or `decap` (inner source not confirmed). */
  queryDirection: "encap" | "decap" = "encap";
  /** The tunnel peer of the last packet: decapsulation, the outer source; encapsulation, the client. */
  readonly peer: Uint8Array = new Uint8Array(16);

  /** Scratch: reassembled packets, copies, and fragments when `out` is the source. @internal */
  readonly scratch: Uint8Array = new Uint8Array(FORWARD_OUT_BYTES + HEADROOM);
  /** @internal */
  readonly walk: Ipv6Walk = new Ipv6Walk();
  /** @internal */
  readonly quoteWalk: Ipv6Walk = new Ipv6Walk();
  /** @internal */
  readonly plan: Ipv6FragmentPlan = new Ipv6FragmentPlan();
  /** @internal ICMPv4 error spec, reused. */
  readonly icmpSpec: Required<Icmpv4ErrorSpec>;
  #fragmentId: () => number;
  #ids = new Uint32Array(256);
  #idNext = 256;

  /**
   * A context for `config`.
   *
   * @throws {RangeError} if a dependency option is not valid (a programmer error).
   */
  constructor(config: ForwardConfig, deps: ForwardDeps) {
    this.config = config;
    this.bindings = deps.bindings;
    this.counters = deps.counters ?? new DropCounters();
    this.reassembler = deps.reassembler ?? new Reassembler(config.reassembly);
    this.icmpLimiter = deps.icmpLimiter ??
      new TokenBucket({ ratePerSec: config.icmp.ratePerSec, burst: config.icmp.burst });
    this.peerMtu = deps.peerMtu ?? new PeerMtuTable({
      defaultMtu: config.ipv6Mtu,
      maxPeers: config.maxMtuPeers,
      ageMs: config.mtuAgeMs,
    });
    this.encapOptions = Object.freeze({
      src: config.tunnelIpv6,
      hopLimit: config.hopLimit,
      trafficClass: config.trafficClass,
      copyTos: config.copyTos,
      flowLabel: config.flowLabel,
      ...(config.encapLimit === undefined ? {} : { encapLimit: config.encapLimit }),
    });
    this.encapHeaderLength = encapHeaderLength(this.encapOptions);
    if (this.reassembler.maxPacketBytes + HEADROOM > this.scratch.length) {
      throw new RangeError("Cannot make forward context: reassembler packets exceed scratch");
    }
    this.icmpSpec = {
      src: config.tepIpv4,
      type: 0,
      code: 0,
      rest: 0,
      ttl: 64,
      tos: 0xc0,
      identification: 0,
      maxLength: 576,
    };
    this.#fragmentId = deps.fragmentId ?? (() => {
      if (this.#idNext >= this.#ids.length) {
        crypto.getRandomValues(this.#ids);
        this.#idNext = 0;
      }
      return this.#ids[this.#idNext++];
    });
  }

  /** Offset of the first output packet. */
  get offset(): number {
    return this.offsets[0];
  }

  /** Length of the first output packet. */
  get length(): number {
    return this.lengths[0];
  }

  /** The number of packets dropped so far for `reason` (table or extra counters). */
  dropCount(reason: ForwardDropReason): number {
    const id = (DROP_REASON_ID as Record<string, number>)[reason];
    return id === undefined ? 0 : this.counters.values[id];
  }

  /** Count `n` dropped packets under `reason`. No allocation. */
  countDrop(reason: ForwardDropReason, n = 1): void {
    const id = (DROP_REASON_ID as Record<string, number>)[reason];
    if (id !== undefined) this.counters.values[id] += n;
  }

  /** A fresh 32-bit fragment Identification. @internal */
  nextFragmentId(): number {
    return this.#fragmentId() >>> 0;
  }

  /** Reset the result fields before a call. @internal */
  reset(out: Uint8Array): void {
    if (out.length < FORWARD_OUT_BYTES) {
      throw new RangeError(
        `Cannot forward: out has ${out.length} bytes, needs FORWARD_OUT_BYTES (${FORWARD_OUT_BYTES})`,
      );
    }
    this.action = FORWARD_ACTION.DONE;
    this.reason = null;
    this.family = 4;
    this.buffer = EMPTY;
    this.count = 0;
  }

  /** Record one output packet and the action. @internal */
  emit(action: ForwardAction, family: 4 | 6, buffer: Uint8Array, off: number, len: number) {
    this.action = action;
    this.family = family;
    this.buffer = buffer;
    this.offsets[0] = off;
    this.lengths[0] = len;
    this.count = 1;
    return action;
  }

  /** Drop: count it and record the reason. @internal */
  drop(reason: ForwardDropReason, counted = false): ForwardAction {
    if (!counted) this.countDrop(reason);
    this.reason = reason;
    this.action = FORWARD_ACTION.DROP;
    this.count = 0;
    return FORWARD_ACTION.DROP;
  }
}

function inClientPrefixes(ctx: ForwardContext, buf: Uint8Array, off: number): boolean {
  const p = ctx.config.clientPrefixes;
  for (let i = 0; i < p.length; i++) if (contains6(p[i], buf, off)) return true;
  return false;
}

/** No ICMP after all: the original was dropped (`reason`) or, for a relay, nothing to do. */
function noIcmp(ctx: ForwardContext, reason: ForwardDropReason | null): ForwardAction {
  ctx.reason = reason;
  ctx.count = 0;
  ctx.action = reason === null ? FORWARD_ACTION.DONE : FORWARD_ACTION.DROP;
  return ctx.action;
}

/**
 * Build an ICMPv4 error of `type`/`code`/`rest` from the TEP's IPv4 address about `original`
 * (an IPv4 packet, possibly a truncated quote) into `out`, after the ICMP policy (`enabled`), RFC
 * 1812 §4.3.2.7 and the rate limit. An error for a pool address with a binding is tunnelled to
 * that client (`family` 6); any other goes to the TUN (`family` 4). `reason` is why the original
 * was dropped; it is counted. Used by this module and `icmp_relay.ts`.
 */
export function emitIcmpv4Error(
  ctx: ForwardContext,
  enabled: boolean,
  type: number,
  code: number,
  rest: number,
  original: Uint8Array,
  now: number,
  out: Uint8Array,
  reason: ForwardDropReason | null,
): ForwardAction {
  if (reason !== null) ctx.countDrop(reason);
  if (!enabled || !icmpv4ErrorAllowed(original)) return noIcmp(ctx, reason);
  if (!ctx.icmpLimiter.take(now)) {
    ctx.countDrop("icmp-rate-limited");
    return noIcmp(ctx, reason);
  }
  const spec = ctx.icmpSpec;
  spec.type = type;
  spec.code = code;
  spec.rest = rest;
  const to = ((original[12] << 24) | (original[13] << 16) | (original[14] << 8) | original[15]) >>>
    0;
  ctx.reason = reason;
  ctx.stats.values[S_ICMP4]++;
  if (contains4(ctx.config.pool, to)) {
    const slot = ctx.bindings.lookup(to, now);
    if (slot >= 0) {
      ctx.bindings.copyIpv6(slot, ctx.peer, 0);
      const hdr = ctx.encapHeaderLength;
      const n = writeIcmpv4Error(spec, original, out, hdr);
      const t = n === 0 ? 0 : encapsulateIpv4(ctx.encapOptions, ctx.peer, out, hdr, n);
      if (t === 0) {
        ctx.stats.values[S_ICMP4]--;
        return noIcmp(ctx, reason);
      }
      return ctx.emit(FORWARD_ACTION.SEND_ICMP, 6, out, 0, t);
    }
  }
  const n = writeIcmpv4Error(spec, original, out, 0);
  if (n === 0) {
    ctx.stats.values[S_ICMP4]--;
    return noIcmp(ctx, reason);
  }
  return ctx.emit(FORWARD_ACTION.SEND_ICMP, 4, out, 0, n);
}

function queueAndQuery(
  ctx: ForwardContext,
  direction: "encap" | "decap",
  ipv4: number,
  buf: Uint8Array,
  off: number,
  len: number,
): ForwardAction {
  ctx.queryIpv4 = ipv4;
  ctx.queryDirection = direction;
  ctx.stats.values[S_QUEUED]++;
  return ctx.emit(FORWARD_ACTION.QUEUE_AND_QUERY, 4, buf, off, len);
}

/**
 * The encapsulation path for the checked IPv4 packet of `len` bytes at `buf[off]` (from the TUN,
 * a hairpin, or the query queue): TTL, binding, loop, MTU, encapsulation and fragmentation.
 */
function encapChecked(
  ctx: ForwardContext,
  buf: Uint8Array,
  off: number,
  len: number,
  now: number,
  out: Uint8Array,
  hairpin: boolean,
): ForwardAction {
  const cfg = ctx.config;
  const dst = ipv4Dst(buf, off);
  // Brief §4.2: forwarding decrements the TTL; at 1 or 0 the packet dies here (RFC 1812 §5.3.1).
  if (buf[off + 8] <= 1) {
    return emitIcmpv4Error(
      ctx,
      cfg.icmp.timeExceeded,
      11,
      0,
      0,
      buf.subarray(off, off + len),
      now,
      out,
      "ttl-exceeded",
    );
  }
  const slot = ctx.bindings.lookup(dst, now);
  if (slot < 0) {
    ctx.peer.fill(0);
    return queueAndQuery(ctx, "encap", dst, buf, off, len);
  }
  const peer = ctx.peer;
  ctx.bindings.copyIpv6(slot, peer, 0);
  // RFC 2473 §4.1.2: never tunnel to ourselves.
  if (equals16(peer, 0, cfg.tunnelIpv6, 0)) return ctx.drop("loop");
  const hdr = ctx.encapHeaderLength;
  const pmtu = ctx.peerMtu.get(peer, 0, now);
  const tunnelMtu = pmtu - hdr;
  if (len > tunnelMtu && ipv4DontFragment(buf, off)) {
    // RFC 2473 §7.2, DF = 1: ICMPv4 3/4 with the tunnel MTU (RFC 1191).
    return emitIcmpv4Error(
      ctx,
      cfg.icmp.fragmentationNeeded,
      3,
      4,
      tunnelMtu,
      buf.subarray(off, off + len),
      now,
      out,
      "too-big-df",
    );
  }
  if (len + hdr - 40 > 0xffff) return ctx.drop("encap-too-big");
  decrementTtl(buf, off);
  let src = buf;
  let at = off;
  if (off < hdr) {
    // No headroom: copy (slow path, only when the caller gave none).
    const dstBuf = buf === out ? ctx.scratch : out;
    for (let i = len - 1; i >= 0; i--) dstBuf[HEADROOM + i] = buf[off + i];
    src = dstBuf;
    at = HEADROOM;
  }
  const n = encapsulateIpv4(ctx.encapOptions, peer, src, at, len);
  if (n === 0) return ctx.drop("malformed-ipv4");
  const start = at - hdr;
  const v = ctx.stats.values;
  v[hairpin ? S_HAIR_P : S_ENCAP_P]++;
  v[hairpin ? S_HAIR_B : S_ENCAP_B] += len;
  const action = hairpin ? FORWARD_ACTION.HAIRPIN : FORWARD_ACTION.WRITE_IPV6;
  if (n <= pmtu) return ctx.emit(action, 6, src, start, n);
  // RFC 2473 §7.2, DF = 0: fragment the IPv6 packet (never the inner IPv4 packet).
  const plan = ctx.plan;
  if (planIpv6Fragments(src, start, n, pmtu, plan) !== null || plan.count > ctx.offsets.length) {
    return ctx.drop("encap-too-big");
  }
  const dest = src === out ? ctx.scratch : out;
  const id = ctx.nextFragmentId();
  let pos = 0;
  for (let i = 0; i < plan.count; i++) {
    const fl = writeIpv6Fragment(src, start, plan, i, id, dest, pos);
    ctx.offsets[i] = pos;
    ctx.lengths[i] = fl;
    pos += fl;
  }
  v[S_FRAGS] += plan.count;
  ctx.action = action;
  ctx.family = 6;
  ctx.buffer = dest;
  ctx.count = plan.count;
  return action;
}

/**
 * Encapsulate the IPv4 packet in `len` bytes of `buf` from `off` (read from the TUN: the IPv4
 * world → a client) at `now`. Rules (brief §4.5 "Encapsulation", §4.2, §4.3): a malformed packet
 * or one whose destination is outside the pool is dropped (`malformed-ipv4`, `outside-pool`);
 * TTL 1 or 0 → ICMPv4 11/0; no binding → `QUEUE_AND_QUERY`; a packet bigger than the peer's
 * tunnel MTU → with DF, ICMPv4 3/4 carrying the tunnel MTU, without DF, encapsulated and sent as
 * IPv6 fragments; otherwise one IPv6 packet (hop limit and source from the configuration,
 * destination the client's IPv6 address). With `off >= ctx.encapHeaderLength` the outer header
 * is written into `buf` in front of the packet (no copy). Modifies the packet's TTL in place.
 * Never throws on content.
 *
 * @throws {RangeError} if `out` is shorter than {@link FORWARD_OUT_BYTES} or the range is
 * outside `buf` (programmer errors).
 */
export function encapsulate(
  buf: Uint8Array,
  off: number,
  len: number,
  now: number,
  ctx: ForwardContext,
  out: Uint8Array,
): ForwardAction {
  ctx.reset(out);
  if (checkIpv4(buf, off, len, true) !== null) return ctx.drop("malformed-ipv4");
  const dst = ipv4Dst(buf, off);
  if (!contains4(ctx.config.pool, dst)) return ctx.drop("outside-pool");
  return encapChecked(ctx, buf, off, ipv4TotalLength(buf, off), now, out, false);
}

/**
 * The decapsulation steps after the binding check, for the checked inner IPv4 packet of `len`
 * bytes at `buf[off]`: hairpin or TTL and write to the TUN.
 */
function decapBound(
  ctx: ForwardContext,
  buf: Uint8Array,
  off: number,
  len: number,
  now: number,
  out: Uint8Array,
): ForwardAction {
  const cfg = ctx.config;
  if (contains4(cfg.pool, ipv4Dst(buf, off))) {
    // Brief §4.5 step 4, RFC 7596 §6.2: hairpin, as a configurable policy.
    if (!cfg.hairpin) return ctx.drop("hairpin-disabled");
    return encapChecked(ctx, buf, off, len, now, out, true);
  }
  if (decrementTtl(buf, off) === 0) {
    return emitIcmpv4Error(
      ctx,
      cfg.icmp.timeExceeded,
      11,
      0,
      0,
      buf.subarray(off, off + len),
      now,
      out,
      "ttl-exceeded",
    );
  }
  const v = ctx.stats.values;
  v[S_DECAP_P]++;
  v[S_DECAP_B] += len;
  return ctx.emit(FORWARD_ACTION.WRITE_IPV4, 4, buf, off, len);
}

/**
 * Decapsulate the IPv6 packet in `len` bytes of `buf` from `off` (from the domain: a client →
 * the IPv4 world) at `now`. Rules (brief §4.5 "Decapsulation", §6 rows 1, 5, 6, 11):
 *
 * 1. the packet must parse (`malformed-ipv6`), be addressed to the tunnel address
 *    (`not-to-tunnel-address`; multicast, such as the kernel's own MLD reports on the TUN, counts
 *    as `ipv6-multicast`), not come from it (`loop`), and come from a client prefix
 *    (`outside-client-prefix`);
 * 2. fragments go to the reassembler first (RFC 2473 §7): `DONE` while held;
 * 3. the final Next Header must be 4 (`not-ipip`) and the inner IPv4 header valid
 *    (`malformed-ipv4`), with a source inside the pool (`outside-pool`);
 * 4. the inner source must have an unexpired binding to the outer source: another IPv6 address
 *    → `spoofed-source` (optionally ICMPv6 1/5, rate-limited); none or expired →
 *    `QUEUE_AND_QUERY` (confirm with the server; a binding is never created from the packet);
 * 5. a pool destination is hairpinned (re-encapsulated to that client; `hairpin-disabled` if
 *    off); otherwise the TTL is decremented (1 or 0 → ICMPv4 11/0 back to the client) and the
 *    inner packet is written to the TUN.
 *
 * The inner packet is forwarded from where it lies (in `buf`, or in `ctx.scratch` after
 * reassembly); the TTL is modified in place. Never throws on content.
 *
 * @throws {RangeError} if `out` is shorter than {@link FORWARD_OUT_BYTES} or the range is
 * outside `buf` (programmer errors).
 */
export function decapsulate(
  buf: Uint8Array,
  off: number,
  len: number,
  now: number,
  ctx: ForwardContext,
  out: Uint8Array,
): ForwardAction {
  ctx.reset(out);
  const cfg = ctx.config;
  const w = ctx.walk;
  if (walkIpv6(buf, off, len, w) !== null) return ctx.drop("malformed-ipv6");
  if (!equals16(buf, off + 24, cfg.tunnelIpv6, 0)) {
    return ctx.drop(buf[off + 24] === 0xff ? "ipv6-multicast" : "not-to-tunnel-address");
  }
  if (equals16(buf, off + 8, cfg.tunnelIpv6, 0)) return ctx.drop("loop");
  if (!inClientPrefixes(ctx, buf, off + 8)) return ctx.drop("outside-client-prefix");
  let b = buf;
  let base = off;
  if (w.isFragment()) {
    const r = ctx.reassembler;
    const st = r.add(buf, off, len, now, ctx.scratch, HEADROOM);
    if (r.timedOut > 0) ctx.countDrop("fragment-reassembly-timeout", r.timedOut);
    if (r.evicted > 0) ctx.countDrop("fragment-memory", r.evicted);
    if (st === REASSEMBLY.HELD) return FORWARD_ACTION.DONE;
    if (st === REASSEMBLY.DROPPED) {
      ctx.countDrop(r.reason!, r.dropped);
      return ctx.drop(r.reason!, true);
    }
    ctx.stats.values[S_REASM]++;
    b = ctx.scratch;
    base = HEADROOM;
    if (walkIpv6(b, base, r.length, w) !== null || w.isFragment()) {
      return ctx.drop("malformed-ipv6");
    }
  }
  if (w.protocol !== IP_PROTO.IPV4) return ctx.drop("not-ipip");
  const inner = w.offset;
  if (checkIpv4(b, inner, w.end - inner, true) !== null) return ctx.drop("malformed-ipv4");
  const innerLen = ipv4TotalLength(b, inner);
  const src4 = ipv4Src(b, inner);
  copy16(b, base + 8, ctx.peer, 0);
  if (!contains4(cfg.pool, src4)) return ctx.drop("outside-pool");
  const check = ctx.bindings.check(src4, b, base + 8, now);
  if (check === "spoofed-source") {
    // Brief §4.4: silent by default; ICMPv6 1/5 to the encapsulator if configured.
    ctx.countDrop("spoofed-source");
    ctx.reason = "spoofed-source";
    if (cfg.icmp.bindingFailure) {
      const original = b.subarray(base, w.end);
      if (!icmpv6ErrorAllowed(original, 1, 5)) return ctx.drop("spoofed-source", true);
      if (!ctx.icmpLimiter.take(now)) ctx.countDrop("icmp-rate-limited");
      else {
        const n = writeIcmpv6DestUnreachable(cfg.tunnelIpv6, 5, original, out, 0);
        if (n > 0) {
          ctx.stats.values[S_ICMP6]++;
          return ctx.emit(FORWARD_ACTION.SEND_ICMP, 6, out, 0, n);
        }
      }
    }
    return ctx.drop("spoofed-source", true);
  }
  if (check !== "ok") return queueAndQuery(ctx, "decap", src4, b, inner, innerLen);
  return decapBound(ctx, b, inner, innerLen, now, out);
}

/**
 * Hand the packet of a `QUEUE_AND_QUERY` result to `scheduler` (`onMiss` for `encap`,
 * `onDecapMiss` for `decap`) and count a drop it decides. Returns its decision: on
 * `kind: "query"` the caller starts the TSP `query` for `ctx.queryIpv4`.
 */
export function submitMiss(
  ctx: ForwardContext,
  scheduler: QueryScheduler,
  now: number,
): MissDecision {
  const off = ctx.offsets[0];
  const len = ctx.lengths[0];
  // The scheduler takes a packet that starts at index 0: move it there rather than allocate a view.
  let pkt = ctx.buffer;
  if (off !== 0) {
    pkt = ctx.scratch;
    if (ctx.buffer === pkt) pkt.copyWithin(0, off, off + len);
    else for (let i = 0; i < len; i++) pkt[i] = ctx.buffer[off + i];
  }
  const d = ctx.queryDirection === "encap"
    ? scheduler.onMiss(ctx.queryIpv4, ipv4Src(pkt, 0), pkt, now, len)
    : scheduler.onDecapMiss(ctx.queryIpv4, ctx.peer, 0, pkt, now, len);
  if (d.kind === "drop" || (d.kind === "query" && !d.queued)) {
    ctx.countDrop(d.reason);
    ctx.reason = d.reason;
  }
  return d;
}

/**
 * Forward a packet the query scheduler released (`outcome.forward`) at `now`, after the caller
 * installed the answered binding. `encap` packets take the whole encapsulation path again;
 * `decap` packets are checked against the binding once more and then forwarded or hairpinned.
 * The packet is copied out of the scheduler's buffer first.
 */
export function forwardQueued(
  pkt: QueuedPacket,
  now: number,
  ctx: ForwardContext,
  out: Uint8Array,
): ForwardAction {
  ctx.reset(out);
  const len = pkt.length;
  const s = ctx.scratch;
  if (len > s.length - HEADROOM) return ctx.drop("malformed-ipv4");
  for (let i = 0; i < len; i++) s[HEADROOM + i] = pkt.data[i];
  if (checkIpv4(s, HEADROOM, len, true) !== null) return ctx.drop("malformed-ipv4");
  const total = ipv4TotalLength(s, HEADROOM);
  if (pkt.direction === "encap") {
    if (!contains4(ctx.config.pool, ipv4Dst(s, HEADROOM))) return ctx.drop("outside-pool");
    const a = encapChecked(ctx, s, HEADROOM, total, now, out, false);
    if (a === FORWARD_ACTION.QUEUE_AND_QUERY) {
      // The caller did not install the binding: do not loop through the scheduler.
      ctx.stats.values[S_QUEUED]--;
      return ctx.drop("no-binding");
    }
    return a;
  }
  copy16(pkt.outerIpv6, 0, ctx.peer, 0);
  const check = ctx.bindings.check(ipv4Src(s, HEADROOM), pkt.outerIpv6, 0, now);
  if (check !== "ok") return ctx.drop(check);
  return decapBound(ctx, s, HEADROOM, total, now, out);
}

/**
 * Count a packet the query scheduler dropped (`outcome.dropped`, with its reason) and, for an
 * `encap` packet dropped because the query failed, was refused or timed out, build an ICMPv4 3/1
 * if the policy asks for it (RFC 7596 §6.2; rate-limited). Returns `SEND_ICMP` or `DROP`.
 */
export function dropQueued(
  pkt: QueuedPacket,
  now: number,
  ctx: ForwardContext,
  out: Uint8Array,
): ForwardAction {
  ctx.reset(out);
  const reason = (pkt.reason ?? "no-binding") as ForwardDropReason;
  const failed = reason === "query-failed" || reason === "query-refused" ||
    reason === "query-timeout";
  if (pkt.direction === "encap" && failed && ctx.config.icmp.unreachableOnQueryFailure) {
    return emitIcmpv4Error(ctx, true, 3, 1, 0, pkt.data.subarray(0, pkt.length), now, out, reason);
  }
  return ctx.drop(reason);
}

/**
 * Apply the reassembly deadlines at `now` (call it at `ctx.reassembler.pollAt()`): incomplete
 * datagrams are dropped and counted as `fragment-reassembly-timeout`. Returns the number of
 * fragments dropped.
 */
export function expireReassembly(ctx: ForwardContext, now: number): number {
  const n = ctx.reassembler.expire(now);
  if (n > 0) ctx.countDrop("fragment-reassembly-timeout", n);
  return n;
}
