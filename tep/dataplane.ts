/**
 * The TEP's data plane without its I/O: one object that takes packets read from the TUN,
 * control messages from the main thread and timer ticks, runs them through the sans-I/O
 * forwarding core of `lib/tep` and hands its outputs to a small {@link DataPlaneIo}. The Worker
 * (`dataplane_worker.ts`) wires it to the TUN fd and the message ring; tests drive it directly.
 *
 * Per packet (zero allocation on the forwarding paths):
 * - the version nibble picks the path: IPv4 → `encapsulate` (IPv4 world → a client); IPv6 with
 *   Next Header 58 → `relayIcmpv6` (errors about our tunnel packets); other IPv6 →
 *   `decapsulate` (a client → the IPv4 world);
 * - outputs (IPv4 or IPv6, both go back into the one TUN; the kernel routes them) are written
 *   with {@link DataPlaneIo.writePacket};
 * - a miss goes to the {@link QueryScheduler} (`submitMiss`); when it decides to query, the main
 *   thread is asked ({@link DataPlaneIo.requestQuery}), unless the server session is down: then
 *   the query fails at once (a short negative entry) and the held packets are counted as
 *   `server-unavailable`;
 * - a binding in use that expires within `refreshAheadMs` is queried again (rate-limited by the
 *   scheduler's global bucket) so long leases keep working past the local TTL cap (brief §5.4).
 *
 * Bindings come only from the control plane (pushes and query answers, brief §6 row 1). A query
 * answer for an address with a live pushed binding to the same IPv6 address refreshes that
 * binding (keeping its source); one to another IPv6 address leaves the push in place. A `308`
 * on a refresh removes the binding.
 *
 * @module
 */
import { Ipv4Pool } from "../lib/addr/pool.ts";
import { formatIpv4 } from "../lib/addr/ipv4.ts";
import { formatIpv6 } from "../lib/addr/ipv6.ts";
import { ipv4Dst, ipv4Src } from "../lib/inet/ipv4.ts";
import { BindingTable } from "../lib/tep/binding_table.ts";
import { DROP_REASON_ID, DropCounters } from "../lib/tep/drop_reasons.ts";
import {
  decapsulate,
  dropQueued,
  emitIcmpv4Error,
  encapsulate,
  expireReassembly,
  FORWARD_ACTION,
  FORWARD_OUT_BYTES,
  type ForwardAction,
  ForwardContext,
  forwardQueued,
  submitMiss,
} from "../lib/tep/forward.ts";
import {
  type ForwardConfig,
  type ForwardConfigInput,
  resolveForwardConfig,
} from "../lib/tep/forward_config.ts";
import { relayIcmpv6 } from "../lib/tep/icmp_relay.ts";
import { NegativeCache } from "../lib/tep/negative_cache.ts";
import {
  type QueryResult,
  QueryScheduler,
  type SchedulerOutcome,
  type SourceRateOptions,
} from "../lib/tep/query_scheduler.ts";
import type { TokenBucketOptions } from "../lib/ratelimit/token_bucket.ts";
import { parseRingMessage } from "./ring_messages.ts";
import { EXTRA, STATS_OFFSET, TepStats, WORKER } from "./stats_layout.ts";

/** Bytes kept in front of every packet read, so encapsulation writes its header in place. */
export const HEADROOM = 48;
/** Largest packet read from the TUN. */
export const MAX_PACKET = 65535;

/** Query scheduling settings (plain data: they travel to the Worker by `postMessage`). */
export interface SchedulerSettings {
  /** Most queries in flight. */
  readonly maxPending: number;
  /** Packets held per pool address while its query runs. */
  readonly queuePerAddress: number;
  /** Bytes of all query queues together. */
  readonly queueMemoryBytes: number;
  /** Longest a packet waits for its query, ms. */
  readonly queueTimeoutMs: number;
  /** Longest a query may stay unanswered, ms. */
  readonly queryTimeoutMs: number;
  /** Per-source query rate (IPv4 source for encapsulation, IPv6 /64 for decapsulation). */
  readonly sourceRate: SourceRateOptions;
  /** Global query rate (also bounds refreshes). */
  readonly globalRate: TokenBucketOptions;
  /** Negative cache TTL after 308/501, ms. */
  readonly negativeTtlMs: number;
  /** Negative cache TTL after a failed query (server away), ms. */
  readonly unreachableTtlMs: number;
}

/** Everything the data plane needs (plain data). */
export interface DataPlaneSettings {
  /** The forwarding core's configuration, as text (resolved again in the Worker). */
  readonly forward: ForwardConfigInput;
  /** Most bindings. */
  readonly bindingCapacity: number;
  /** Local TTL cap of a binding, ms (`--binding-ttl-max`). */
  readonly bindingTtlMaxMs: number;
  /** Query a binding in use again this long before it expires, ms. */
  readonly refreshAheadMs: number;
  /** Query scheduling. */
  readonly scheduler: SchedulerSettings;
  /** At most one `tep.drop` sample per reason per this many ms. */
  readonly dropSampleIntervalMs: number;
  /** Read and write the TUN in bursts through io_uring when the kernel allows (default true). */
  readonly ioUring?: boolean;
  /**
   * Packets the kernel may queue for the TUN reader (its txqueuelen; default
   * {@link DEFAULT_TUN_QUEUE_LENGTH}; 0 leaves the device's own).
   */
  readonly tunQueueLength?: number;
}

/**
 * Default TUN queue: the kernel's 500 packets last under 2 ms at the rates the data plane moves,
 * less than one scheduling delay of a busy machine; 4096 rides out about 10 ms at 400 kpps.
 */
export const DEFAULT_TUN_QUEUE_LENGTH = 4096;

/** One binding as `ctl bindings` shows it. */
export interface BindingDumpEntry {
  /** Pool IPv4 address. */
  readonly ipv4: string;
  /** Client IPv6 address. */
  readonly ipv6: string;
  /** `push` or `query`. */
  readonly source: string;
  /** Milliseconds left. */
  readonly expiresInMs: number;
  /** Milliseconds since it was installed or refreshed. */
  readonly ageMs: number;
}

/** A sampled drop for the `tep.drop` log event. */
export interface DropSample {
  /** Drop reason. */
  readonly reason: string;
  /** Count of that reason so far. */
  readonly count: number;
  /** The tunnel peer involved (outer IPv6 source on decapsulation), if known. */
  readonly peer?: string;
  /** The pool IPv4 address involved, if known. */
  readonly ipv4?: string;
}

/** What the data plane needs from its shell. */
export interface DataPlaneIo {
  /** Write one packet (IPv4 or IPv6) to the TUN: the first `len` bytes of `buf` from `off`. */
  writePacket(buf: Uint8Array, off: number, len: number): boolean;
  /** Ask the server who holds `ipv4` (unsigned); answer with a `query-answer` message. */
  requestQuery(ipv4: number, refresh: boolean): void;
  /** The binding table, for `ctl bindings`. */
  bindingsDump(id: number, entries: BindingDumpEntry[]): void;
  /** A sampled drop. */
  dropSample(sample: DropSample): void;
  /** Every counter was copied to the shared stats for request `id`. */
  published(id: number): void;
}

const ENCAP = 1;
const DECAP = 2;
const PUBLISH_MS = 250;
const SWEEP_MS = 1000;
const FAILED: QueryResult = Object.freeze({ kind: "failed" });
const REFUSED: QueryResult = Object.freeze({ kind: "refused" });

const W_RX_P = WORKER.rxPackets;
const W_RX_B = WORKER.rxBytes;
const W_TX_P = WORKER.txPackets;
const W_TX_B = WORKER.txBytes;
const X_TUN_WRITE = EXTRA["tun-write-failed"];
const X_NOT_IP = EXTRA["not-ip"];
const X_SERVER = EXTRA["server-unavailable"];

/** The TEP data plane; see the module documentation. */
export class TepDataPlane {
  /** The resolved forwarding configuration. */
  readonly config: ForwardConfig;
  /** The binding table (control plane only). */
  readonly bindings: BindingTable;
  /** The miss path. */
  readonly scheduler: QueryScheduler;
  /** The forwarding core's state. */
  readonly ctx: ForwardContext;
  /** Counters (shared with the main thread when given a `SharedArrayBuffer`). */
  readonly stats: TepStats;
  /** Read buffer: read packets into {@link rxView} (it starts {@link HEADROOM} bytes in). */
  readonly rx: Uint8Array = new Uint8Array(HEADROOM + MAX_PACKET + 1);
  /** Where the shell reads each packet to. */
  readonly rxView: Uint8Array = this.rx.subarray(HEADROOM);

  readonly #settings: DataPlaneSettings;
  readonly #io: DataPlaneIo;
  readonly #out = new Uint8Array(FORWARD_OUT_BYTES);
  readonly #v: Float64Array;
  readonly #sampleAt: Float64Array;
  #sessionUp = false;
  #refreshCheckAt = Number.POSITIVE_INFINITY;
  #nextPublish = 0;
  #nextSweep = 0;

  /**
   * A data plane for `settings`.
   *
   * @throws {ConfigError} if the forwarding configuration is not valid.
   * @throws {RangeError} if a table or scheduler option is not valid.
   */
  constructor(settings: DataPlaneSettings, io: DataPlaneIo, stats?: TepStats) {
    this.#settings = settings;
    this.#io = io;
    this.stats = stats ?? new TepStats(new ArrayBuffer(TepStats.BYTES));
    this.#v = this.stats.values;
    this.config = resolveForwardConfig(settings.forward);
    this.bindings = new BindingTable({
      capacity: settings.bindingCapacity,
      maxTtlMs: settings.bindingTtlMaxMs,
    });
    const s = settings.scheduler;
    this.scheduler = new QueryScheduler({
      pool: new Ipv4Pool(this.config.pool),
      maxPending: s.maxPending,
      queuePerAddress: s.queuePerAddress,
      queueMemoryBytes: s.queueMemoryBytes,
      queueTimeoutMs: s.queueTimeoutMs,
      queryTimeoutMs: s.queryTimeoutMs,
      sourceRate: s.sourceRate,
      globalRate: s.globalRate,
      negativeCache: new NegativeCache({
        ttlMs: s.negativeTtlMs,
        unreachableTtlMs: s.unreachableTtlMs,
      }),
    });
    this.ctx = new ForwardContext(this.config, {
      bindings: this.bindings,
      counters: new DropCounters(this.stats.buffer, STATS_OFFSET.drops * 8),
    });
    this.#sampleAt = new Float64Array(STATS_OFFSET.forward).fill(Number.NEGATIVE_INFINITY);
  }

  /** Whether the data plane believes the server session is up. */
  get sessionUp(): boolean {
    return this.#sessionUp;
  }

  /** A packet of `len` bytes was read into {@link rxView}, at `now`. */
  packet(len: number, now: number): void {
    this.handlePacket(this.rx, HEADROOM, len, now);
  }

  /**
   * Handle the packet of `len` bytes at `buf[off]` (give `off >= HEADROOM` so encapsulation
   * works in place). Never throws on content.
   */
  handlePacket(buf: Uint8Array, off: number, len: number, now: number): void {
    const v = this.#v;
    v[W_RX_P]++;
    v[W_RX_B] += len;
    const ctx = this.ctx;
    const out = this.#out;
    const version = len > 0 ? buf[off] >> 4 : 0;
    let a: ForwardAction;
    let dir = 0;
    if (version === 4) {
      dir = ENCAP;
      a = encapsulate(buf, off, len, now, ctx, out);
    } else if (version === 6) {
      if (len > 40 && buf[off + 6] === 58) a = relayIcmpv6(buf, off, len, now, ctx, out);
      else {
        dir = DECAP;
        a = decapsulate(buf, off, len, now, ctx, out);
      }
    } else {
      v[X_NOT_IP]++;
      return;
    }
    switch (a) {
      case FORWARD_ACTION.WRITE_IPV4:
      case FORWARD_ACTION.WRITE_IPV6:
      case FORWARD_ACTION.HAIRPIN:
        this.#writeOutputs();
        // The destination of an encapsulated packet is still at off + 16 (the outer header went
        // in front of it).
        if (now >= this.#refreshCheckAt) {
          this.#refreshUsed(a, dir, dir === ENCAP ? ipv4Dst(buf, off) | 0 : 0, now);
        }
        break;
      case FORWARD_ACTION.SEND_ICMP:
        this.#writeOutputs();
        if (ctx.reason !== null) this.#sample(ctx.reason, now);
        break;
      case FORWARD_ACTION.QUEUE_AND_QUERY: {
        const d = submitMiss(ctx, this.scheduler, now);
        if (d.kind === "query") this.#query(ctx.queryIpv4, false, now);
        if (ctx.reason !== null) this.#sample(ctx.reason, now);
        break;
      }
      case FORWARD_ACTION.DROP:
        if (ctx.reason !== null) this.#sample(ctx.reason, now);
        break;
    }
  }

  /** A control message of `len` bytes from the main thread, at `now`. */
  message(bytes: Uint8Array, len: number, now: number): void {
    const v = this.#v;
    v[WORKER.ringMessages]++;
    const r = parseRingMessage(bytes, len);
    if (!r.ok) {
      v[WORKER.ringErrors]++;
      return;
    }
    const m = r.message;
    switch (m.kind) {
      case "session":
        this.#sessionUp = m.up;
        v[WORKER.sessionUp] = m.up ? 1 : 0;
        break;
      case "binding-add":
        this.#install(m.ipv4, m.ipv6, m.lifetimeMs, m.source, now);
        if (m.source === "push") v[WORKER.pushesAdded]++;
        // Packets waiting for this address go out now (and any negative entry is cleared).
        this.#applyOutcome(
          this.scheduler.onAnswer(m.ipv4, { kind: "found", ipv6: m.ipv6 }, now),
          now,
          false,
        );
        break;
      case "binding-remove": {
        const slot = this.bindings.lookup(m.ipv4, now);
        if (slot >= 0 && this.bindings.ipv6Equals(slot, m.ipv6, 0)) {
          this.bindings.remove(m.ipv4);
          v[WORKER.pushesRemoved]++;
        } else v[WORKER.removalsIgnored]++;
        break;
      }
      case "query-answer":
        v[WORKER.answersApplied]++;
        if (m.result === "found") {
          this.#install(m.ipv4, m.ipv6, m.lifetimeMs, "query", now);
          this.#applyOutcome(
            this.scheduler.onAnswer(m.ipv4, { kind: "found", ipv6: m.ipv6 }, now),
            now,
            false,
          );
        } else if (m.result === "refused") {
          // The server says the address is not leased: a binding we hold for it is stale.
          if (this.bindings.lookup(m.ipv4, now) >= 0) this.bindings.remove(m.ipv4);
          this.#applyOutcome(this.scheduler.onAnswer(m.ipv4, REFUSED, now), now, false);
        } else {
          this.#applyOutcome(
            this.scheduler.onAnswer(m.ipv4, FAILED, now),
            now,
            !this.#sessionUp,
          );
        }
        break;
      case "dump-bindings":
        this.#io.bindingsDump(m.id, this.dumpBindings(now));
        break;
      case "publish":
        this.publish(now);
        this.#io.published(m.id);
        break;
    }
  }

  /** The bindings held at `now`, for `ctl bindings` (allocates). */
  dumpBindings(now: number): BindingDumpEntry[] {
    return this.bindings.entries(now).map((e) => ({
      ipv4: formatIpv4(e.ipv4),
      ipv6: formatIpv6(e.ipv6),
      source: e.source,
      expiresInMs: Math.max(0, Math.round(e.expiresAt - now)),
      ageMs: Math.max(0, Math.round(now - e.updatedAt)),
    }));
  }

  /** Run the timers due at `now` (call at least every 200 ms). */
  tick(now: number): void {
    const s = this.scheduler;
    if (s.pollAt() <= now) this.#applyOutcome(s.onTimeout(now), now, false);
    if (this.ctx.reassembler.pollAt() <= now) expireReassembly(this.ctx, now);
    if (now >= this.#nextSweep) {
      this.bindings.sweep(now);
      this.#nextSweep = now + SWEEP_MS;
      this.#updateRefreshCheck();
    }
    if (now >= this.#nextPublish) this.publish(now);
  }

  /** Copy the core's counters into the shared stats now. */
  publish(now: number): void {
    const v = this.#v;
    const ctx = this.ctx;
    const f = ctx.stats.values;
    for (let i = 0; i < f.length; i++) v[STATS_OFFSET.forward + i] = f[i];
    const ss = this.scheduler.stats();
    let o = STATS_OFFSET.scheduler;
    v[o++] = ss.pending;
    v[o++] = ss.queuedPackets;
    v[o++] = ss.queuedBytes;
    v[o++] = ss.queueSlots;
    v[o++] = ss.queriesStarted;
    v[o++] = ss.answersFound;
    v[o++] = ss.answersRefused;
    v[o++] = ss.answersFailed;
    v[o++] = ss.queriesTimedOut;
    v[o++] = ss.answersUnsolicited;
    const bs = this.bindings.stats();
    o = STATS_OFFSET.bindings;
    v[o++] = bs.size;
    v[o++] = bs.capacity;
    v[o++] = bs.hits;
    v[o++] = bs.misses;
    v[o++] = bs.expiredHits;
    v[o++] = bs.inserted;
    v[o++] = bs.replaced;
    v[o++] = bs.refreshed;
    v[o++] = bs.keptPush;
    v[o++] = bs.notCached;
    v[o++] = bs.refusedFull;
    v[o++] = bs.removed;
    v[o++] = bs.swept;
    v[WORKER.lastTickAt] = now;
    this.#nextPublish = now + PUBLISH_MS;
  }

  #install(
    ipv4: number,
    ipv6: Uint8Array,
    lifetimeMs: number,
    source: "push" | "query",
    now: number,
  ): void {
    let src = source;
    if (source === "query") {
      const slot = this.bindings.lookup(ipv4, now);
      if (
        slot >= 0 && this.bindings.sourceAt(slot) === "push" &&
        this.bindings.ipv6Equals(slot, ipv6, 0)
      ) src = "push"; // the server confirmed the pushed binding: refresh it in place
    }
    this.bindings.upsert({ ipv4, ipv6, lifetimeMs, source: src }, now);
    this.#updateRefreshCheck();
  }

  #updateRefreshCheck(): void {
    this.#refreshCheckAt = this.bindings.pollAt() - this.#settings.refreshAheadMs;
  }

  /** A packet just went out on a binding that may expire soon: refresh it (rate-limited). */
  #refreshUsed(a: ForwardAction, dir: number, key: number, now: number): void {
    const ctx = this.ctx;
    if (dir === ENCAP && a === FORWARD_ACTION.WRITE_IPV6) this.#maybeRefresh(key, now);
    else if (dir === DECAP && a === FORWARD_ACTION.WRITE_IPV4) {
      this.#maybeRefresh(ipv4Src(ctx.buffer, ctx.offsets[0]), now);
    } else if (a === FORWARD_ACTION.HAIRPIN && ctx.count === 1) {
      const inner = ctx.offsets[0] + ctx.encapHeaderLength;
      this.#maybeRefresh(ipv4Src(ctx.buffer, inner), now);
      this.#maybeRefresh(ipv4Dst(ctx.buffer, inner), now);
    }
  }

  #maybeRefresh(ipv4: number, now: number): void {
    const b = this.bindings;
    const slot = b.lookup(ipv4, now);
    if (slot < 0 || b.expiresAt(slot) - now > this.#settings.refreshAheadMs) return;
    if (this.scheduler.onRefresh(ipv4, now)) this.#query(ipv4, true, now);
  }

  #query(ipv4: number, refresh: boolean, now: number): void {
    const v = this.#v;
    v[WORKER.queriesRequested]++;
    if (refresh) v[WORKER.refreshesRequested]++;
    if (!this.#sessionUp) {
      v[WORKER.queriesFailedFast]++;
      this.#applyOutcome(this.scheduler.onAnswer(ipv4, FAILED, now), now, true);
      return;
    }
    this.#io.requestQuery(ipv4 >>> 0, refresh);
  }

  /** Forward or drop what the scheduler released. `serverDown`: failures count as `server-unavailable`. */
  #applyOutcome(o: SchedulerOutcome, now: number, serverDown: boolean): void {
    const ctx = this.ctx;
    const out = this.#out;
    for (let i = 0; i < o.forward.length; i++) {
      const a = forwardQueued(o.forward[i], now, ctx, out);
      if (ctx.count > 0) this.#writeOutputs();
      if (a === FORWARD_ACTION.DROP && ctx.reason !== null) this.#sample(ctx.reason, now);
    }
    for (let i = 0; i < o.dropped.length; i++) {
      const pk = o.dropped[i];
      if (serverDown && pk.reason === "query-failed") {
        this.#v[X_SERVER]++;
        this.#sample("server-unavailable", now);
        if (pk.direction === "encap" && this.config.icmp.unreachableOnQueryFailure) {
          const a = emitIcmpv4Error(
            ctx,
            true,
            3,
            1,
            0,
            pk.data.subarray(0, pk.length),
            now,
            out,
            null,
          );
          if (a === FORWARD_ACTION.SEND_ICMP) this.#writeOutputs();
        }
        continue;
      }
      const a = dropQueued(pk, now, ctx, out);
      if (a === FORWARD_ACTION.SEND_ICMP) this.#writeOutputs();
      if (pk.reason !== null) this.#sample(pk.reason, now);
    }
  }

  #writeOutputs(): void {
    const ctx = this.ctx;
    const v = this.#v;
    for (let i = 0; i < ctx.count; i++) {
      const len = ctx.lengths[i];
      if (this.#io.writePacket(ctx.buffer, ctx.offsets[i], len)) {
        v[W_TX_P]++;
        v[W_TX_B] += len;
      } else v[X_TUN_WRITE]++;
    }
  }

  #sample(reason: string, now: number): void {
    let idx = (DROP_REASON_ID as Record<string, number>)[reason];
    if (idx === undefined) idx = EXTRA[reason];
    if (idx === undefined) return;
    if (now - this.#sampleAt[idx] < this.#settings.dropSampleIntervalMs) return;
    this.#sampleAt[idx] = now;
    const ctx = this.ctx;
    const peer = ctx.peer;
    let zero = true;
    for (let i = 0; i < 16; i++) if (peer[i] !== 0) zero = false;
    const sample: DropSample = {
      reason,
      count: this.#v[idx],
      ...(zero ? {} : { peer: formatIpv6(peer) }),
      ...(ctx.queryIpv4 === 0 ? {} : { ipv4: formatIpv4(ctx.queryIpv4 >>> 0) }),
    };
    this.#io.dropSample(sample);
  }
}
