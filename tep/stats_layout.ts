/**
 * The TEP's counters in one `SharedArrayBuffer`: the data-plane Worker writes them (one writer,
 * plain `+=`, no allocation), the main thread reads them for `ctl stats` and `/metrics`.
 *
 * Layout (`Float64Array` elements, in this order; append, never reorder):
 *
 * 1. the drop counters of `lib/tep/drop_reasons.ts` ({@link DROP_REASONS}, one per reason) — the
 *    forwarding core counts into them directly;
 * 2. {@link TEP_EXTRA_DROPS}: the TEP shell's own drop reasons (`server-unavailable`, `not-ip`,
 *    `tun-write-failed`);
 * 3. the forwarding counters (`FORWARD_STATS` of `lib/tep/forward.ts`);
 * 4. the query scheduler's counters ({@link SCHEDULER_FIELDS});
 * 5. the binding table's counters ({@link BINDING_FIELDS});
 * 6. the Worker's own counters ({@link WORKER_FIELDS}).
 *
 * Sections 3-5 are copied from the core's objects by the Worker at most every few hundred ms;
 * sections 1, 2 and 6 are live.
 *
 * @module
 */
import { DROP_REASON_COUNT, DROP_REASONS } from "../lib/tep/drop_reasons.ts";
import { FORWARD_STATS } from "../lib/tep/forward.ts";

/** One named counter with its explanation. */
export interface CounterInfo {
  /** Stable kebab-case or camelCase name. */
  readonly name: string;
  /** One-line explanation for operators. */
  readonly help: string;
}

/** Drop reasons of the TEP shell itself, besides the forwarding core's `DROP_REASONS`. */
export const TEP_EXTRA_DROPS: readonly CounterInfo[] = [
  {
    name: "server-unavailable",
    help:
      "packet that needed the DSTM server to confirm a binding while the TSP session was down " +
      "(the query failed fast; a short negative entry was installed)",
  },
  { name: "not-ip", help: "packet read from the TUN that is neither IPv4 nor IPv6" },
  { name: "tun-write-failed", help: "packet the TUN device refused to take (write error)" },
];

/** The query scheduler's counters (`QuerySchedulerStats`, in this order). */
export const SCHEDULER_FIELDS: readonly CounterInfo[] = [
  { name: "pending", help: "queries in flight" },
  { name: "queuedPackets", help: "packets waiting for a query answer" },
  { name: "queuedBytes", help: "bytes of packets waiting for a query answer" },
  { name: "queueSlots", help: "query queue buffers in all" },
  { name: "queriesStarted", help: "queries started (both directions, including refreshes)" },
  { name: "answersFound", help: "query answers with a binding" },
  { name: "answersRefused", help: "query answers 308/501 (not leased or invalid)" },
  { name: "answersFailed", help: "queries that failed (server away, 300, 310, ...)" },
  { name: "queriesTimedOut", help: "queries given up without an answer" },
  { name: "answersUnsolicited", help: "answers for addresses with no query in flight" },
];

/** The binding table's counters (`BindingTableStats`, in this order). */
export const BINDING_FIELDS: readonly CounterInfo[] = [
  { name: "size", help: "bindings held" },
  { name: "capacity", help: "most bindings" },
  { name: "hits", help: "lookups that found an unexpired binding" },
  { name: "misses", help: "lookups that found nothing" },
  { name: "expiredHits", help: "lookups that found an expired binding" },
  { name: "inserted", help: "bindings installed" },
  { name: "replaced", help: "bindings replaced by another IPv6 address or source" },
  { name: "refreshed", help: "bindings refreshed (same IPv6 address, new expiry)" },
  { name: "keptPush", help: "query answers ignored because a pushed binding was live" },
  { name: "notCached", help: "bindings with lifetime 0 (not cached)" },
  { name: "refusedFull", help: "bindings refused because the table was full" },
  { name: "removed", help: "bindings removed by the server (delete push or 308 on refresh)" },
  { name: "swept", help: "expired bindings reclaimed" },
];

/** The Worker's own counters. */
export const WORKER_FIELDS: readonly CounterInfo[] = [
  { name: "rxPackets", help: "packets read from the TUN" },
  { name: "rxBytes", help: "bytes read from the TUN" },
  { name: "txPackets", help: "packets written to the TUN" },
  { name: "txBytes", help: "bytes written to the TUN" },
  { name: "queriesRequested", help: "queries the Worker asked the main thread to send" },
  { name: "refreshesRequested", help: "of which refreshes of bindings in use about to expire" },
  { name: "queriesFailedFast", help: "queries failed at once because the server session was down" },
  { name: "pushesAdded", help: "binding-add pushes applied" },
  { name: "pushesRemoved", help: "binding-remove pushes applied" },
  { name: "removalsIgnored", help: "binding-remove pushes for another IPv6 address or none" },
  { name: "answersApplied", help: "query answers applied" },
  { name: "ringMessages", help: "control messages received from the main thread" },
  { name: "ringErrors", help: "control messages that did not parse" },
  { name: "loopWakes", help: "poll loop wake-ups" },
  { name: "lastTickAt", help: "monotonic time of the Worker's last timer run, ms" },
  { name: "sessionUp", help: "1 while the Worker believes the server session is up" },
  {
    name: "ioUring",
    help: "TUN I/O: 2 bursts through io_uring with registered buffers, 1 io_uring, " +
      "0 a read and a write syscall per packet",
  },
  {
    name: "ioCalls",
    help: "system calls reading the TUN (io_uring_enter per burst, or read per packet)",
  },
  {
    name: "tunQueueLength",
    help:
      "packets the kernel queues for the TUN reader (txqueuelen set at start; 0: left as it was)",
  },
];

/** Element offsets of the sections. */
export const STATS_OFFSET = Object.freeze({
  drops: 0,
  extras: DROP_REASON_COUNT,
  forward: DROP_REASON_COUNT + TEP_EXTRA_DROPS.length,
  scheduler: DROP_REASON_COUNT + TEP_EXTRA_DROPS.length + FORWARD_STATS.length,
  bindings: DROP_REASON_COUNT + TEP_EXTRA_DROPS.length + FORWARD_STATS.length +
    SCHEDULER_FIELDS.length,
  worker: DROP_REASON_COUNT + TEP_EXTRA_DROPS.length + FORWARD_STATS.length +
    SCHEDULER_FIELDS.length + BINDING_FIELDS.length,
});

/** Number of elements. */
export const STATS_LENGTH = STATS_OFFSET.worker + WORKER_FIELDS.length;

/** Index of a Worker counter by name. */
export const WORKER = Object.freeze(
  Object.fromEntries(WORKER_FIELDS.map((f, i) => [f.name, STATS_OFFSET.worker + i])),
) as Readonly<Record<string, number>>;

/** Index of an extra drop reason by name. */
export const EXTRA = Object.freeze(
  Object.fromEntries(TEP_EXTRA_DROPS.map((f, i) => [f.name, STATS_OFFSET.extras + i])),
) as Readonly<Record<string, number>>;

/** A snapshot of every counter, by section (allocates; for `ctl stats` and `/metrics`). */
export interface StatsSnapshot {
  /** Every drop reason (table and extras) with its count and explanation, table order first. */
  readonly drops: { name: string; help: string; count: number }[];
  /** Forwarding counters. */
  readonly forward: Record<string, number>;
  /** Query scheduler counters. */
  readonly scheduler: Record<string, number>;
  /** Binding table counters. */
  readonly bindings: Record<string, number>;
  /** Worker counters. */
  readonly worker: Record<string, number>;
}

/** The counters over a `SharedArrayBuffer` (or a plain buffer in tests). */
export class TepStats {
  /** Bytes of one set of counters. */
  static readonly BYTES: number = STATS_LENGTH * 8;
  /** The memory (post it to the Worker). */
  readonly buffer: ArrayBufferLike;
  /** Every counter. */
  readonly values: Float64Array;

  /** Counters over `buffer` (default: a new `SharedArrayBuffer`). */
  constructor(buffer: ArrayBufferLike = new SharedArrayBuffer(TepStats.BYTES)) {
    if (buffer.byteLength < TepStats.BYTES) {
      throw new RangeError(
        `Cannot make TEP stats: ${buffer.byteLength} bytes, need ${TepStats.BYTES}`,
      );
    }
    this.buffer = buffer;
    this.values = new Float64Array(buffer, 0, STATS_LENGTH);
  }

  /** Sum of every drop counter. */
  totalDrops(): number {
    let t = 0;
    for (let i = 0; i < STATS_OFFSET.forward; i++) t += this.values[i];
    return t;
  }

  /** The count of one drop reason (table or extra), 0 if unknown. */
  drop(name: string): number {
    const i = DROP_REASONS.findIndex((r) => r.name === name);
    if (i >= 0) return this.values[i];
    const x = EXTRA[name];
    return x === undefined ? 0 : this.values[x];
  }

  /** A Worker counter by name. */
  worker(name: string): number {
    const i = WORKER[name];
    return i === undefined ? 0 : this.values[i];
  }

  /** Everything, by section. */
  snapshot(): StatsSnapshot {
    const v = this.values;
    const section = (fields: readonly { name: string }[], at: number) =>
      Object.fromEntries(fields.map((f, i) => [f.name, v[at + i]]));
    return {
      drops: [
        ...DROP_REASONS.map((r, i) => ({ name: r.name, help: r.help, count: v[i] })),
        ...TEP_EXTRA_DROPS.map((r, i) => ({
          name: r.name,
          help: r.help,
          count: v[STATS_OFFSET.extras + i],
        })),
      ],
      forward: section(FORWARD_STATS.map((name) => ({ name })), STATS_OFFSET.forward),
      scheduler: section(SCHEDULER_FIELDS, STATS_OFFSET.scheduler),
      bindings: section(BINDING_FIELDS, STATS_OFFSET.bindings),
      worker: section(WORKER_FIELDS, STATS_OFFSET.worker),
    };
  }
}
