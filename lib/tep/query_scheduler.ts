/**
 * The TEP's miss path (protocol brief §4.5, §6 row 2): what to do with a packet whose pool IPv4
 * address has no binding, in both directions, as decisions for the forwarding core.
 *
 * - **Encapsulation miss** ({@link QueryScheduler.onMiss}): a packet from the IPv4 world to a
 *   pool address with no binding. Start a `query` for the address (at most one in flight per
 *   address), and hold the packet meanwhile.
 * - **Decapsulation miss** ({@link QueryScheduler.onDecapMiss}): an IPv4-in-IPv6 packet whose
 *   inner IPv4 source has no binding yet (e.g. the server has not pushed it to this TEP). The
 *   (IPv4, IPv6) pair is confirmed with the same `query` before the packet is forwarded; it
 *   **never** creates a binding by itself (§6 row 1).
 *
 * One scheduler serves both directions, keyed by the pool IPv4 address: a `query` answers
 * "which IPv6 address holds this IPv4 address?", whichever way the packet goes. Each queued
 * packet records its direction; a decapsulated packet also records the outer IPv6 source it
 * claimed, and when the answer comes it is forwarded only if that source equals the answered
 * IPv6 address (else dropped as `spoofed-source`).
 *
 * Before a query is started, in this order: the address must be in the pool (`outside-pool`
 * otherwise: never queried), have no negative entry (`negative-cached`), and, if no query is in
 * flight for it yet, there must be room for one more query (`query-table-full`), a global token
 * (`rate-limited-global`) and a token of the source's bucket (`rate-limited-source`; IPv4 source
 * /32 or /24 for encapsulation, the outer IPv6 source's /64 for decapsulation).
 *
 * Queued packets are copied into owned buffers from one bounded pool (`queueMemoryBytes` split
 * into `queueSlotBytes` slots), because the caller reuses its packet buffer. Each address holds
 * at most `queuePerAddress` packets; each packet waits at most `queueTimeoutMs`; each query at
 * most `queryTimeoutMs`. Time is injected: call {@link QueryScheduler.onTimeout} at
 * {@link QueryScheduler.pollAt}. `now` must come from a monotonic clock (never decreasing
 * between calls): deadlines are kept in arrival order, so a packet queued "in the past" would
 * only time out after the packets queued before it.
 *
 * Addresses are unsigned 32-bit integers; every method also accepts the signed form (`a | 0`),
 * which V8 passes between functions without boxing (a uint32 >= 2^31 may be boxed).
 *
 * Allocation: `onMiss`/`onDecapMiss` return preallocated frozen decisions and allocate nothing.
 * `onAnswer`/`onTimeout` return one reused {@link SchedulerOutcome}; its packets point into the
 * scheduler's buffers and are valid **until the next call on the scheduler**, so forward or copy
 * them first.
 *
 * @module
 */
import { DROP_REASONS, type DropReason } from "./drop_reasons.ts";
import { NegativeCache, type NegativeCacheOptions } from "./negative_cache.ts";
import {
  ipv6PrefixKey,
  KeyedTokenBucket,
  TokenBucket,
  type TokenBucketOptions,
} from "../ratelimit/token_bucket.ts";

/** The pool test the scheduler needs; `Ipv4Pool` from `lib/addr` fits. */
export interface PoolMembership {
  /** True if `ipv4` (unsigned 32-bit) is a usable pool address. */
  has(ipv4: number): boolean;
}

/** Per-source query rate limit. */
export interface SourceRateOptions extends TokenBucketOptions {
  /** Most sources tracked per direction (LRU beyond that). Default 4096. */
  readonly maxKeys?: number;
  /** IPv4 source prefix length a bucket covers (32 = per host, 24 = per /24). Default 32. */
  readonly prefixLength?: number;
}

/** Options of a {@link QueryScheduler}. All but `pool` have defaults. */
export interface QuerySchedulerOptions {
  /** The domain's IPv4 pool: only its addresses are ever queried. */
  readonly pool: PoolMembership;
  /** Most queries in flight (>= 1). Default 1024. */
  readonly maxPending?: number;
  /** Most packets held per pool address (>= 0). Default 3, like an ARP/ND queue. */
  readonly queuePerAddress?: number;
  /** Total bytes of queue buffers, shared by all addresses. Default 262 144 (256 KiB). */
  readonly queueMemoryBytes?: number;
  /** Size of one queue buffer = the largest packet that can wait (>= 64). Default 2048. */
  readonly queueSlotBytes?: number;
  /** Longest a packet waits for its query, ms (> 0). Default 2000. */
  readonly queueTimeoutMs?: number;
  /** Longest a query may stay unanswered, ms (> 0). Default 5000. */
  readonly queryTimeoutMs?: number;
  /** Per-source query rate. Default 5/s, burst 10, 4096 keys, per /32. */
  readonly sourceRate?: SourceRateOptions;
  /** Global query rate. Default 100/s, burst 200. */
  readonly globalRate?: TokenBucketOptions;
  /** A negative cache to share, or options for a new one (default options). */
  readonly negativeCache?: NegativeCache | NegativeCacheOptions;
}

/** Defaults of {@link QuerySchedulerOptions}. */
export const QUERY_SCHEDULER_DEFAULTS = Object.freeze({
  maxPending: 1024,
  queuePerAddress: 3,
  queueMemoryBytes: 262_144,
  queueSlotBytes: 2048,
  queueTimeoutMs: 2000,
  queryTimeoutMs: 5000,
  sourceRate: Object.freeze({ ratePerSec: 5, burst: 10, maxKeys: 4096, prefixLength: 32 }),
  globalRate: Object.freeze({ ratePerSec: 100, burst: 200 }),
});

/**
 * What to do with a missed packet:
 * - `query`: start a `query` for the address now (the encapsulation destination or the
 *   decapsulation inner source) and report its answer with `onAnswer`; `queued` says whether
 *   this packet waits for it, and if not, `reason` says why it was dropped;
 * - `queued`: a query is already in flight; the packet waits for it;
 * - `drop`: drop the packet for `reason` (count it).
 */
export type MissDecision =
  | { readonly kind: "query"; readonly queued: true; readonly reason: null }
  | { readonly kind: "query"; readonly queued: false; readonly reason: DropReason }
  | { readonly kind: "queued" }
  | { readonly kind: "drop"; readonly reason: DropReason };

/**
 * The answer to a query:
 * - `found`: `200` with a binding; the IPv6 address is 16 bytes at `ipv6Off` (default 0);
 * - `refused`: `308` (not leased) or `501` (invalid address): a negative entry is installed;
 * - `failed`: server unreachable, `300`, `310` or any other failure: a short negative entry.
 */
export type QueryResult =
  | { readonly kind: "found"; readonly ipv6: Uint8Array; readonly ipv6Off?: number }
  | { readonly kind: "refused" }
  | { readonly kind: "failed" };

/** A packet held by the scheduler (read-only view of scheduler-owned memory). */
export interface QueuedPacket {
  /** `encap`: to be encapsulated towards the client; `decap`: to be forwarded to IPv4. */
  readonly direction: "encap" | "decap";
  /** The pool address it waited for (encap: inner destination; decap: inner source). */
  readonly ipv4: number;
  /** The buffer holding it: the packet is `data[0 .. length)`. */
  readonly data: Uint8Array;
  /** Packet length in bytes. */
  readonly length: number;
  /** Decap: the outer IPv6 source it arrived with (16 bytes). Encap: 16 zero bytes. */
  readonly outerIpv6: Uint8Array;
  /** When it was queued, ms. */
  readonly queuedAt: number;
  /** In `dropped` lists: why it was dropped; `null` in `forward` lists. */
  readonly reason: DropReason | null;
}

/**
 * Result of `onAnswer` / `onTimeout`; one object reused by the scheduler, valid until the next
 * call on it.
 */
export interface SchedulerOutcome {
  /** Packets to send on, in the order they arrived. */
  readonly forward: readonly QueuedPacket[];
  /** Packets dropped, each with its reason (e.g. to count them or send a rate-limited ICMP). */
  readonly dropped: readonly QueuedPacket[];
  /** `onTimeout`: addresses whose query timed out (a late answer is still accepted). */
  readonly expiredQueries: readonly number[];
}

/** Counters of a {@link QueryScheduler} (a snapshot). */
export interface QuerySchedulerStats {
  /** Queries in flight. */
  readonly pending: number;
  /** Packets waiting. */
  readonly queuedPackets: number;
  /** Bytes of the packets waiting. */
  readonly queuedBytes: number;
  /** Queue buffers in all. */
  readonly queueSlots: number;
  /** Queries started (both directions, including refreshes). */
  readonly queriesStarted: number;
  /** Answers to pending queries, by kind, and queries that timed out. */
  readonly answersFound: number;
  readonly answersRefused: number;
  readonly answersFailed: number;
  readonly queriesTimedOut: number;
  /** Answers for addresses with no query in flight (late or unsolicited). */
  readonly answersUnsolicited: number;
}

class Packet implements QueuedPacket {
  direction: "encap" | "decap" = "encap";
  ipv4 = 0;
  length = 0;
  queuedAt = 0;
  reason: DropReason | null = null;
  constructor(readonly data: Uint8Array, readonly outerIpv6: Uint8Array) {}
}

const QUEUED: MissDecision = Object.freeze({ kind: "queued" });
const QUERY_QUEUED: MissDecision = Object.freeze({ kind: "query", queued: true, reason: null });
const DROP = {} as Record<DropReason, MissDecision>;
const QUERY_NOT_QUEUED = {} as Record<DropReason, MissDecision>;
for (const { name } of DROP_REASONS) {
  DROP[name] = Object.freeze({ kind: "drop", reason: name });
  QUERY_NOT_QUEUED[name] = Object.freeze({ kind: "query", queued: false, reason: name });
}
Object.freeze(DROP);
Object.freeze(QUERY_NOT_QUEUED);

const DIR_ENCAP = 0;
const DIR_DECAP = 1;

function intOption(name: string, v: number, min: number, max = 0x7fffffff): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(
      `Cannot make query scheduler: ${name} ${v} is not an integer in ${min}..${max}`,
    );
  }
  return v;
}

function msOption(name: string, v: number): number {
  if (typeof v !== "number" || !(v > 0) || !Number.isFinite(v)) {
    throw new RangeError(`Cannot make query scheduler: ${name} ${v} is not a positive number`);
  }
  return v;
}

/**
 * Decides, for packets that miss the binding table, whether to query the DSTM server, hold the
 * packet or drop it; holds packets in bounded memory until the answer or a timeout. See the
 * module documentation.
 *
 * @example
 * ```ts
 * const q = new QueryScheduler({ pool });
 * const d = q.onMiss(dst, src, packet, now);
 * if (d.kind === "query") tsp.query(dst); // then, later: q.onAnswer(dst, result, now)
 * else if (d.kind === "drop") counters.count(d.reason);
 * ```
 */
export class QueryScheduler {
  /** The negative cache consulted before any query (shared with the caller if given). */
  readonly negativeCache: NegativeCache;
  /** Most packets per address. */
  readonly queuePerAddress: number;
  /** Size of one queue buffer (the largest packet that can wait). */
  readonly queueSlotBytes: number;
  /** Number of queue buffers. */
  readonly queueSlots: number;
  /** Packet wait limit, ms. */
  readonly queueTimeoutMs: number;
  /** Query answer limit, ms. */
  readonly queryTimeoutMs: number;
  /** Most queries in flight. */
  readonly maxPending: number;

  #pool: PoolMembership;
  #global: TokenBucket;
  #src4: KeyedTokenBucket;
  #src6: KeyedTokenBucket;
  #src4Mask: number;

  // Pending queries ("entries"), in start order through ePrev/eNext.
  #entries = new Map<number, number>();
  #eIpv4: Uint32Array;
  #eStart: Float64Array;
  #eHead: Int32Array;
  #eTail: Int32Array;
  #eCount: Int32Array;
  #ePrev: Int32Array;
  #eNext: Int32Array;
  #eFree: Int32Array;
  #eFreeTop: number;
  #eFirst = -1;
  #eLast = -1;

  // Queue slots: per-entry FIFO through sNext; all slots in enqueue order through sPrev/sOrder.
  #packets: Packet[];
  #ipv6Slab: Uint8Array;
  #sEntry: Int32Array;
  #sNext: Int32Array;
  #gPrev: Int32Array;
  #gNext: Int32Array;
  #gFirst = -1;
  #gLast = -1;
  #sFree: Int32Array;
  #sFreeTop: number;
  #queuedBytes = 0;

  #forward: Packet[] = [];
  #dropped: Packet[] = [];
  #expired: number[] = [];
  #outcome: SchedulerOutcome;
  #c = new Float64Array(6);

  /**
   * A scheduler with all its memory allocated up front.
   *
   * @throws {RangeError} if an option is not valid (a programmer error).
   */
  constructor(options: QuerySchedulerOptions) {
    const d = QUERY_SCHEDULER_DEFAULTS;
    if (typeof options?.pool?.has !== "function") {
      throw new TypeError("Cannot make query scheduler: pool has no has(ipv4) method");
    }
    this.#pool = options.pool;
    this.maxPending = intOption("maxPending", options.maxPending ?? d.maxPending, 1, 1 << 24);
    this.queuePerAddress = intOption(
      "queuePerAddress",
      options.queuePerAddress ?? d.queuePerAddress,
      0,
      1 << 16,
    );
    this.queueSlotBytes = intOption(
      "queueSlotBytes",
      options.queueSlotBytes ?? d.queueSlotBytes,
      64,
      1 << 17,
    );
    const mem = intOption(
      "queueMemoryBytes",
      options.queueMemoryBytes ?? d.queueMemoryBytes,
      0,
      1 << 30,
    );
    this.queueSlots = Math.floor(mem / this.queueSlotBytes);
    this.queueTimeoutMs = msOption("queueTimeoutMs", options.queueTimeoutMs ?? d.queueTimeoutMs);
    this.queryTimeoutMs = msOption("queryTimeoutMs", options.queryTimeoutMs ?? d.queryTimeoutMs);
    const sr = options.sourceRate ?? d.sourceRate;
    const prefix = intOption("sourceRate.prefixLength", sr.prefixLength ?? 32, 0, 32);
    this.#src4Mask = prefix === 0 ? 0 : 0xffffffff << (32 - prefix); // int32, like the keys
    const keyed = {
      ratePerSec: sr.ratePerSec,
      burst: sr.burst,
      maxKeys: sr.maxKeys ?? d.sourceRate.maxKeys,
    };
    this.#src4 = new KeyedTokenBucket(keyed);
    this.#src6 = new KeyedTokenBucket(keyed);
    this.#global = new TokenBucket(options.globalRate ?? d.globalRate);
    const nc = options.negativeCache;
    this.negativeCache = nc instanceof NegativeCache ? nc : new NegativeCache(nc ?? {});

    const p = this.maxPending;
    this.#eIpv4 = new Uint32Array(p);
    this.#eStart = new Float64Array(p);
    this.#eHead = new Int32Array(p);
    this.#eTail = new Int32Array(p);
    this.#eCount = new Int32Array(p);
    this.#ePrev = new Int32Array(p);
    this.#eNext = new Int32Array(p);
    this.#eFree = new Int32Array(p);
    for (let i = 0; i < p; i++) this.#eFree[i] = p - 1 - i;
    this.#eFreeTop = p;

    const n = this.queueSlots;
    const arena = new Uint8Array(n * this.queueSlotBytes);
    this.#ipv6Slab = new Uint8Array(n * 16);
    this.#packets = new Array<Packet>(n);
    for (let s = 0; s < n; s++) {
      const b = s * this.queueSlotBytes;
      this.#packets[s] = new Packet(
        arena.subarray(b, b + this.queueSlotBytes),
        this.#ipv6Slab.subarray(s * 16, s * 16 + 16),
      );
    }
    this.#sEntry = new Int32Array(n);
    this.#sNext = new Int32Array(n);
    this.#gPrev = new Int32Array(n);
    this.#gNext = new Int32Array(n);
    this.#sFree = new Int32Array(n);
    for (let i = 0; i < n; i++) this.#sFree[i] = n - 1 - i;
    this.#sFreeTop = n;
    this.#outcome = {
      forward: this.#forward,
      dropped: this.#dropped,
      expiredQueries: this.#expired,
    };
  }

  /** Queries in flight. */
  get pending(): number {
    return this.#entries.size;
  }

  /** True if a query for `ipv4` is in flight. */
  isPending(ipv4: number): boolean {
    return this.#entries.has(ipv4 | 0);
  }

  /**
   * An encapsulation miss: `packet` (its first `length` bytes, default all) from `srcIpv4` to
   * the pool address `dstIpv4` found no binding at `now`. The packet is copied if it is queued;
   * the caller keeps its buffer. No allocation.
   */
  onMiss(
    dstIpv4: number,
    srcIpv4: number,
    packet: Uint8Array,
    now: number,
    length: number = packet.length,
  ): MissDecision {
    return this.#miss(DIR_ENCAP, dstIpv4, srcIpv4, packet, 0, packet, length, now);
  }

  /**
   * A decapsulation miss: `packet` (its first `length` bytes, default all; typically the inner
   * IPv4 packet, but any bytes the caller wants back) with inner IPv4 source `srcIpv4` arrived
   * from the outer IPv6 source at `outerIpv6[outerIpv6Off ..+16]` and found no binding at `now`.
   * If the query confirms that `srcIpv4` is bound to that IPv6 address, the packet comes back in
   * `forward`; otherwise in `dropped` as `spoofed-source`. No allocation.
   */
  onDecapMiss(
    srcIpv4: number,
    outerIpv6: Uint8Array,
    outerIpv6Off: number,
    packet: Uint8Array,
    now: number,
    length: number = packet.length,
  ): MissDecision {
    return this.#miss(DIR_DECAP, srcIpv4, 0, outerIpv6, outerIpv6Off, packet, length, now);
  }

  /**
   * A binding is still in use but expires soon (§5.4: refresh while traffic flows): true if a
   * query for `ipv4` should be started now. Only the global rate limit applies; no packet is
   * queued. False for an address outside the pool, negative-cached or already being queried.
   * Answer with `onAnswer` as usual.
   */
  onRefresh(ipv4: number, now: number): boolean {
    ipv4 = ipv4 >>> 0;
    if (!this.#pool.has(ipv4) || this.#entries.has(ipv4 | 0)) return false;
    if (this.negativeCache.has(ipv4, now)) return false;
    if (this.#entries.size >= this.maxPending || !this.#global.take(now)) return false;
    this.#newEntry(ipv4, now);
    return true;
  }

  #miss(
    dir: number,
    ipv4: number,
    src4: number,
    v6: Uint8Array,
    v6Off: number,
    packet: Uint8Array,
    length: number,
    now: number,
  ): MissDecision {
    ipv4 = ipv4 >>> 0; // callers may pass the int32 form
    if (!this.#pool.has(ipv4)) return DROP["outside-pool"];
    if (this.negativeCache.has(ipv4, now)) return DROP["negative-cached"];
    const e = this.#entries.get(ipv4 | 0);
    if (e !== undefined) {
      const why = this.#enqueue(e, dir, v6, v6Off, packet, length, now);
      return why === null ? QUEUED : DROP[why];
    }
    if (this.#entries.size >= this.maxPending) return DROP["query-table-full"];
    if (!this.#global.canTake(now)) return DROP["rate-limited-global"];
    const allowed = dir === DIR_ENCAP
      ? this.#src4.take(src4 & this.#src4Mask, now)
      : this.#src6.take(ipv6PrefixKey(v6, v6Off), now);
    if (!allowed) return DROP["rate-limited-source"];
    this.#global.take(now);
    const ne = this.#newEntry(ipv4, now);
    const why = this.#enqueue(ne, dir, v6, v6Off, packet, length, now);
    return why === null ? QUERY_QUEUED : QUERY_NOT_QUEUED[why];
  }

  #newEntry(ipv4: number, now: number): number {
    const e = this.#eFree[--this.#eFreeTop];
    this.#eIpv4[e] = ipv4 >>> 0;
    this.#eStart[e] = now;
    this.#eHead[e] = -1;
    this.#eTail[e] = -1;
    this.#eCount[e] = 0;
    this.#ePrev[e] = this.#eLast;
    this.#eNext[e] = -1;
    if (this.#eLast >= 0) this.#eNext[this.#eLast] = e;
    else this.#eFirst = e;
    this.#eLast = e;
    this.#entries.set(ipv4 | 0, e);
    this.#c[0]++;
    return e;
  }

  #freeEntry(e: number): void {
    const p = this.#ePrev[e];
    const n = this.#eNext[e];
    if (p >= 0) this.#eNext[p] = n;
    else this.#eFirst = n;
    if (n >= 0) this.#ePrev[n] = p;
    else this.#eLast = p;
    this.#entries.delete(this.#eIpv4[e] | 0);
    this.#eFree[this.#eFreeTop++] = e;
  }

  #enqueue(
    e: number,
    dir: number,
    v6: Uint8Array,
    v6Off: number,
    packet: Uint8Array,
    length: number,
    now: number,
  ): DropReason | null {
    if (this.#eCount[e] >= this.queuePerAddress) return "queue-full";
    if (!(length >= 0 && length <= packet.length)) {
      throw new RangeError(`Cannot queue packet: length ${length} not in 0..${packet.length}`);
    }
    if (length > this.queueSlotBytes) return "queue-packet-too-big";
    if (this.#sFreeTop === 0) return "queue-memory";
    const s = this.#sFree[--this.#sFreeTop];
    const pk = this.#packets[s];
    const data = pk.data;
    if (length === packet.length) data.set(packet);
    else for (let i = 0; i < length; i++) data[i] = packet[i];
    const o6 = pk.outerIpv6;
    if (dir === DIR_DECAP) { for (let i = 0; i < 16; i++) o6[i] = v6[v6Off + i]; }
    else o6.fill(0);
    pk.direction = dir === DIR_DECAP ? "decap" : "encap";
    pk.ipv4 = this.#eIpv4[e];
    pk.length = length;
    pk.queuedAt = now;
    pk.reason = null;
    this.#queuedBytes += length;
    // Per-entry FIFO.
    this.#sEntry[s] = e;
    this.#sNext[s] = -1;
    if (this.#eTail[e] >= 0) this.#sNext[this.#eTail[e]] = s;
    else this.#eHead[e] = s;
    this.#eTail[e] = s;
    this.#eCount[e]++;
    // Global enqueue order.
    this.#gPrev[s] = this.#gLast;
    this.#gNext[s] = -1;
    if (this.#gLast >= 0) this.#gNext[this.#gLast] = s;
    else this.#gFirst = s;
    this.#gLast = s;
    return null;
  }

  /** Unlink slot `s` from the global order and return it to the free stack. */
  #freeSlot(s: number): void {
    const p = this.#gPrev[s];
    const n = this.#gNext[s];
    if (p >= 0) this.#gNext[p] = n;
    else this.#gFirst = n;
    if (n >= 0) this.#gPrev[n] = p;
    else this.#gLast = p;
    this.#queuedBytes -= this.#packets[s].length;
    this.#sFree[this.#sFreeTop++] = s;
  }

  /** Drop every packet of entry `e` with `reason` (into `dropped`) and free the entry. */
  #dropEntry(e: number, reason: DropReason): void {
    for (let s = this.#eHead[e]; s >= 0;) {
      const next = this.#sNext[s];
      const pk = this.#packets[s];
      pk.reason = reason;
      this.#dropped.push(pk);
      this.#freeSlot(s);
      s = next;
    }
    this.#freeEntry(e);
  }

  #resetOutcome(): void {
    this.#forward.length = 0;
    this.#dropped.length = 0;
    this.#expired.length = 0;
  }

  /**
   * The answer to the query for `ipv4` arrived at `now` (or a server push for it: pass it as
   * `found` so queued packets go out and any negative entry is cleared). The caller installs
   * the binding in its table itself. `refused` installs a negative entry and `failed` a short
   * one, even if no query was in flight. Returns the queued packets to forward and to drop.
   *
   * @throws {RangeError} if a `found` result has no 16-byte IPv6 address (a programmer error).
   */
  onAnswer(ipv4: number, result: QueryResult, now: number): SchedulerOutcome {
    this.#resetOutcome();
    let v6: Uint8Array | null = null;
    let off = 0;
    if (result.kind === "found") {
      v6 = result.ipv6;
      off = result.ipv6Off ?? 0;
      if (!(v6 instanceof Uint8Array) || !(off >= 0 && off + 16 <= v6.length)) {
        throw new RangeError(`Cannot apply query answer: no 16-byte IPv6 address at offset ${off}`);
      }
      this.negativeCache.remove(ipv4);
    } else if (result.kind === "refused") {
      this.negativeCache.add(ipv4, now);
    } else {
      this.negativeCache.addUnreachable(ipv4, now);
    }
    const e = this.#entries.get(ipv4 | 0);
    if (e === undefined) {
      this.#c[5]++;
      return this.#outcome;
    }
    if (v6 === null) {
      this.#c[result.kind === "refused" ? 2 : 3]++;
      this.#dropEntry(e, result.kind === "refused" ? "query-refused" : "query-failed");
      return this.#outcome;
    }
    this.#c[1]++;
    for (let s = this.#eHead[e]; s >= 0;) {
      const next = this.#sNext[s];
      const pk = this.#packets[s];
      if (pk.direction === "decap" && !same16(pk.outerIpv6, v6, off)) {
        pk.reason = "spoofed-source";
        this.#dropped.push(pk);
      } else {
        this.#forward.push(pk);
      }
      this.#freeSlot(s);
      s = next;
    }
    this.#freeEntry(e);
    return this.#outcome;
  }

  /**
   * Apply the deadlines due at `now`: packets that waited `queueTimeoutMs` are dropped
   * (`queue-timeout`); queries unanswered after `queryTimeoutMs` are given up (`query-timeout`
   * for their packets, a short negative entry for the address, the address listed in
   * `expiredQueries`). Call it at {@link pollAt}.
   */
  onTimeout(now: number): SchedulerOutcome {
    this.#resetOutcome();
    const qt = this.queueTimeoutMs;
    while (this.#gFirst >= 0) {
      const s = this.#gFirst;
      const pk = this.#packets[s];
      if (pk.queuedAt + qt > now) break;
      // The oldest packet overall is the head of its address's FIFO.
      const e = this.#sEntry[s];
      this.#eHead[e] = this.#sNext[s];
      if (this.#eHead[e] < 0) this.#eTail[e] = -1;
      this.#eCount[e]--;
      pk.reason = "queue-timeout";
      this.#dropped.push(pk);
      this.#freeSlot(s);
    }
    const to = this.queryTimeoutMs;
    while (this.#eFirst >= 0) {
      const e = this.#eFirst;
      if (this.#eStart[e] + to > now) break;
      const ipv4 = this.#eIpv4[e];
      this.#expired.push(ipv4);
      this.negativeCache.addUnreachable(ipv4, now);
      this.#c[4]++;
      this.#dropEntry(e, "query-timeout");
    }
    return this.#outcome;
  }

  /** The next deadline (ms) for {@link onTimeout}, or `Infinity` if nothing is waiting. */
  pollAt(): number {
    let t = Number.POSITIVE_INFINITY;
    if (this.#gFirst >= 0) t = this.#packets[this.#gFirst].queuedAt + this.queueTimeoutMs;
    if (this.#eFirst >= 0) {
      const q = this.#eStart[this.#eFirst] + this.queryTimeoutMs;
      if (q < t) t = q;
    }
    return t;
  }

  /** Counters (a snapshot; allocates). */
  stats(): QuerySchedulerStats {
    const c = this.#c;
    return {
      pending: this.#entries.size,
      queuedPackets: this.queueSlots - this.#sFreeTop,
      queuedBytes: this.#queuedBytes,
      queueSlots: this.queueSlots,
      queriesStarted: c[0],
      answersFound: c[1],
      answersRefused: c[2],
      answersFailed: c[3],
      queriesTimedOut: c[4],
      answersUnsolicited: c[5],
    };
  }
}

function same16(a: Uint8Array, b: Uint8Array, off: number): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[off + i]) return false;
  return true;
}
