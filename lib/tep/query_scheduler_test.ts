import { test } from "node:test";
import assert from "node:assert/strict";
import {
  type MissDecision,
  QueryScheduler,
  type QuerySchedulerOptions,
} from "./query_scheduler.ts";
import { NegativeCache } from "./negative_cache.ts";
import { Ipv4Pool, parseCidr4, parseIpv4, parseIpv6 } from "../addr/mod.ts";

function v4(text: string): number {
  const r = parseIpv4(text);
  if (!r.ok) assert.fail(`${text}: ${r.reason}`);
  return r.value;
}

function v6(text: string): Uint8Array {
  const r = parseIpv6(text);
  if (!r.ok) assert.fail(`${text}: ${r.reason}`);
  return r.value;
}

function pool(text: string): Ipv4Pool {
  const r = parseCidr4(text);
  if (!r.ok) assert.fail(`${text}: ${r.reason}`);
  return new Ipv4Pool(r.value);
}

const POOL = pool("198.51.100.0/24");
const X = v4("198.51.100.7");
const Y = v4("198.51.100.8");
const SRC = v4("203.0.113.5");
const X6 = v6("2001:db8:100::10");
const EVIL6 = v6("2001:db8:100::bad");

function sched(o: Partial<QuerySchedulerOptions> = {}): QueryScheduler {
  return new QueryScheduler({ pool: POOL, ...o });
}

/** A packet whose bytes say which one it is. */
function pkt(id: number, len = 60): Uint8Array {
  const b = new Uint8Array(len).fill(id & 0xff);
  b[0] = 0x45;
  return b;
}

const ids = (list: readonly { data: Uint8Array; length: number }[]) => list.map((p) => p.data[1]);

test("tep query scheduler: one query in flight per address while packets queue", () => {
  const q = sched();
  assert.deepEqual(q.onMiss(X, SRC, pkt(1), 0), { kind: "query", queued: true, reason: null });
  assert.ok(q.isPending(X));
  assert.deepEqual(q.onMiss(X, SRC, pkt(2), 1), { kind: "queued" });
  assert.deepEqual(q.onMiss(X, SRC + 1, pkt(3), 2), { kind: "queued" });
  // The default queue holds 3 packets per destination.
  assert.deepEqual(q.onMiss(X, SRC, pkt(4), 3), { kind: "drop", reason: "queue-full" });
  // Another address gets its own query.
  assert.equal(q.onMiss(Y, SRC, pkt(5), 4).kind, "query");
  const s = q.stats();
  assert.equal(s.queriesStarted, 2);
  assert.equal(s.pending, 2);
  assert.equal(s.queuedPackets, 4);
  assert.equal(s.queuedBytes, 4 * 60);
});

test("tep query scheduler: decisions are preallocated and frozen", () => {
  const q = sched();
  const a = q.onMiss(v4("192.0.2.1"), SRC, pkt(1), 0);
  const b = q.onMiss(v4("192.0.2.2"), SRC, pkt(1), 0);
  assert.equal(a, b);
  assert.ok(Object.isFrozen(a));
  q.onMiss(X, SRC, pkt(1), 0);
  assert.equal(q.onMiss(X, SRC, pkt(1), 0), q.onMiss(X, SRC, pkt(1), 0));
});

test("tep query scheduler: the answer flushes queued packets in order, as copies", () => {
  const q = sched();
  const buf = pkt(1, 100);
  q.onMiss(X, SRC, buf, 0, 70); // only the first 70 bytes
  buf.fill(2, 1); // the caller reuses its buffer
  q.onMiss(X, SRC, buf, 1, 80);
  buf.fill(3, 1);
  q.onMiss(X, SRC, buf, 2);
  const out = q.onAnswer(X, { kind: "found", ipv6: X6 }, 10);
  assert.deepEqual(ids(out.forward), [1, 2, 3]);
  assert.deepEqual(out.forward.map((p) => p.length), [70, 80, 100]);
  assert.deepEqual(out.forward.map((p) => p.direction), ["encap", "encap", "encap"]);
  assert.deepEqual(out.forward.map((p) => p.queuedAt), [0, 1, 2]);
  assert.ok(out.forward.every((p) => p.ipv4 === X && p.reason === null));
  assert.equal(out.forward[0].data[69], 1);
  assert.equal(out.dropped.length, 0);
  assert.ok(!q.isPending(X));
  assert.equal(q.stats().queuedPackets, 0);
  assert.equal(q.stats().queuedBytes, 0);
  assert.equal(q.stats().answersFound, 1);
  assert.equal(q.pollAt(), Infinity);
  // Next miss for X (e.g. lifetime 0, not cached) starts a new query.
  assert.equal(q.onMiss(X, SRC, pkt(4), 11).kind, "query");
});

test("tep query scheduler: bounded total queue memory and packet size", () => {
  // Four 128-byte buffers shared by all addresses.
  const q = sched({ queueMemoryBytes: 4 * 128 + 100, queueSlotBytes: 128 });
  assert.equal(q.queueSlots, 4);
  assert.deepEqual(q.onMiss(X, SRC, pkt(1, 129), 0), {
    kind: "query",
    queued: false,
    reason: "queue-packet-too-big",
  });
  q.onMiss(X, SRC, pkt(2, 128), 0);
  q.onMiss(X, SRC, pkt(3, 128), 0);
  q.onMiss(Y, SRC, pkt(4, 128), 0);
  q.onMiss(Y, SRC, pkt(5, 128), 0);
  assert.deepEqual(q.onMiss(Y, SRC, pkt(6, 10), 0), { kind: "drop", reason: "queue-memory" });
  const Z = v4("198.51.100.9");
  assert.deepEqual(q.onMiss(Z, SRC, pkt(7), 0), {
    kind: "query",
    queued: false,
    reason: "queue-memory",
  });
  assert.equal(q.stats().queuedBytes, 4 * 128);
  // An answer frees buffers for others.
  assert.deepEqual(ids(q.onAnswer(X, { kind: "found", ipv6: X6 }, 1).forward), [2, 3]);
  assert.deepEqual(q.onMiss(Z, SRC, pkt(8), 2), { kind: "queued" });
  assert.deepEqual(ids(q.onAnswer(Z, { kind: "found", ipv6: X6 }, 3).forward), [8]);
  assert.throws(() => q.onMiss(Y, SRC, pkt(9, 10), 4, 11), RangeError);
});

test("tep query scheduler: 308 installs a negative entry and drops the queue with a reason", () => {
  const neg = new NegativeCache({ ttlMs: 30_000 });
  const q = sched({ negativeCache: neg });
  assert.equal(q.negativeCache, neg);
  q.onMiss(X, SRC, pkt(1), 0);
  q.onMiss(X, SRC, pkt(2), 0);
  const out = q.onAnswer(X, { kind: "refused" }, 100);
  assert.equal(out.forward.length, 0);
  assert.deepEqual(ids(out.dropped), [1, 2]);
  assert.ok(out.dropped.every((p) => p.reason === "query-refused"));
  assert.ok(neg.has(X, 100));
  assert.deepEqual(q.onMiss(X, SRC, pkt(3), 200), { kind: "drop", reason: "negative-cached" });
  assert.deepEqual(q.onMiss(X, SRC, pkt(3), 30_099), { kind: "drop", reason: "negative-cached" });
  // After the TTL the address is queried again.
  assert.equal(q.onMiss(X, SRC, pkt(4), 30_100).kind, "query");
  assert.equal(q.stats().answersRefused, 1);
});

test("tep query scheduler: an unreachable server gives a short negative entry", () => {
  const q = sched({ negativeCache: { ttlMs: 60_000, unreachableTtlMs: 2_000 } });
  q.onMiss(X, SRC, pkt(1), 0);
  const out = q.onAnswer(X, { kind: "failed" }, 10);
  assert.deepEqual(out.dropped.map((p) => p.reason), ["query-failed"]);
  assert.equal(q.onMiss(X, SRC, pkt(2), 2_009).kind, "drop");
  assert.equal(q.onMiss(X, SRC, pkt(3), 2_010).kind, "query");
});

test("tep query scheduler: a found answer or push clears the negative entry", () => {
  const q = sched();
  q.onAnswer(X, { kind: "refused" }, 0); // unsolicited: still remembered
  assert.equal(q.onMiss(X, SRC, pkt(1), 1).kind, "drop");
  const out = q.onAnswer(X, { kind: "found", ipv6: X6 }, 2); // e.g. a server push
  assert.equal(out.forward.length + out.dropped.length, 0);
  assert.equal(q.onMiss(X, SRC, pkt(2), 3).kind, "query");
  assert.equal(q.stats().answersUnsolicited, 2);
  assert.throws(
    () => q.onAnswer(X, { kind: "found", ipv6: new Uint8Array(8) }, 4),
    RangeError,
  );
});

test("tep query scheduler: queued packets time out; the query times out later", () => {
  const q = sched({ queueTimeoutMs: 2000, queryTimeoutMs: 5000 });
  q.onMiss(X, SRC, pkt(1), 0);
  q.onMiss(Y, SRC, pkt(3), 1000);
  q.onMiss(X, SRC, pkt(2), 1500);
  assert.equal(q.pollAt(), 2000);
  let out = q.onTimeout(1999);
  assert.equal(out.dropped.length, 0);
  out = q.onTimeout(2000);
  assert.deepEqual(ids(out.dropped), [1]);
  assert.equal(out.dropped[0].reason, "queue-timeout");
  assert.equal(q.pollAt(), 3000);
  out = q.onTimeout(3500);
  assert.deepEqual(ids(out.dropped), [3, 2]);
  assert.equal(q.stats().queuedPackets, 0);
  // X's query is still in flight: a new packet waits for it.
  assert.deepEqual(q.onMiss(X, SRC, pkt(4), 3600), { kind: "queued" });
  assert.equal(q.pollAt(), 5000);
  out = q.onTimeout(5000);
  assert.deepEqual(out.expiredQueries, [X]);
  assert.deepEqual(out.dropped.map((p) => p.reason), ["query-timeout"]);
  assert.ok(!q.isPending(X));
  assert.ok(q.isPending(Y));
  assert.equal(q.pollAt(), 6000);
  out = q.onTimeout(6000);
  assert.deepEqual(out.expiredQueries, [Y]);
  assert.equal(q.pollAt(), Infinity);
  assert.equal(q.stats().queriesTimedOut, 2);
  // A timed-out address is briefly negative-cached (server presumed unreachable).
  assert.deepEqual(q.onMiss(X, SRC, pkt(5), 6001), { kind: "drop", reason: "negative-cached" });
  // A late answer is still applied.
  q.onAnswer(X, { kind: "found", ipv6: X6 }, 6002);
  assert.equal(q.onMiss(X, SRC, pkt(6), 6003).kind, "query");
});

test("tep query scheduler: addresses outside the pool are never queried", () => {
  const q = sched();
  for (const a of ["203.0.113.9", "198.51.100.0", "198.51.100.255", "198.51.101.1", "0.0.0.0"]) {
    assert.deepEqual(q.onMiss(v4(a), SRC, pkt(1), 0), { kind: "drop", reason: "outside-pool" });
    assert.deepEqual(q.onDecapMiss(v4(a), X6, 0, pkt(1), 0), {
      kind: "drop",
      reason: "outside-pool",
    });
  }
  assert.equal(q.stats().queriesStarted, 0);
});

test("tep query scheduler: per-source and global rate limits before a query starts", () => {
  const q = sched({
    sourceRate: { ratePerSec: 1, burst: 2 },
    globalRate: { ratePerSec: 10, burst: 3 },
  });
  const a = (i: number) => v4(`198.51.100.${10 + i}`);
  assert.equal(q.onMiss(a(0), SRC, pkt(1), 0).kind, "query");
  assert.equal(q.onMiss(a(1), SRC, pkt(1), 0).kind, "query");
  assert.deepEqual(q.onMiss(a(2), SRC, pkt(1), 0), { kind: "drop", reason: "rate-limited-source" });
  // Packets to an address already being queried are not rate-limited.
  assert.deepEqual(q.onMiss(a(0), SRC, pkt(1), 0), { kind: "queued" });
  assert.equal(q.onMiss(a(3), SRC + 1, pkt(1), 0).kind, "query");
  assert.deepEqual(q.onMiss(a(4), SRC + 2, pkt(1), 0), {
    kind: "drop",
    reason: "rate-limited-global",
  });
  // The global refusal did not spend SRC+2's tokens.
  assert.equal(q.onMiss(a(4), SRC + 2, pkt(1), 100).kind, "query");
  assert.equal(q.onMiss(a(5), SRC + 2, pkt(1), 100).kind, "drop");
  assert.equal(q.onMiss(a(5), SRC, pkt(1), 1000).kind, "query"); // one token back after 1 s
});

test("tep query scheduler: per-/24 source limits and the in-flight limit", () => {
  const q = sched({ sourceRate: { ratePerSec: 1, burst: 1, prefixLength: 24 }, maxPending: 2 });
  assert.equal(q.onMiss(X, v4("203.0.113.1"), pkt(1), 0).kind, "query");
  assert.deepEqual(q.onMiss(Y, v4("203.0.113.200"), pkt(1), 0), {
    kind: "drop",
    reason: "rate-limited-source",
  });
  assert.equal(q.onMiss(Y, v4("203.0.114.1"), pkt(1), 0).kind, "query");
  assert.deepEqual(q.onMiss(v4("198.51.100.9"), v4("192.0.2.1"), pkt(1), 0), {
    kind: "drop",
    reason: "query-table-full",
  });
});

test("tep query scheduler: a flood to distinct pool addresses is held to the query rate", () => {
  const big = pool("10.0.0.0/12");
  const q = new QueryScheduler({
    pool: big,
    sourceRate: { ratePerSec: 5, burst: 10 },
    globalRate: { ratePerSec: 100, burst: 200 },
  });
  const packet = pkt(1, 40);
  const flood = v4("203.0.113.66");
  const base = v4("10.0.0.1");
  let queries = 0;
  const reasons = new Map<string, number>();
  // 100k packets to distinct unleased pool addresses over 10 s of scripted time.
  for (let i = 0; i < 100_000; i++) {
    const now = i / 10;
    const d: MissDecision = q.onMiss(base + i, flood, packet, now);
    if (d.kind === "query") {
      queries++;
      q.onAnswer(base + i, { kind: "refused" }, now); // the server: not leased
    } else if (d.kind === "drop") {
      reasons.set(d.reason, (reasons.get(d.reason) ?? 0) + 1);
    }
    if (i % 1000 === 0) q.onTimeout(now);
  }
  // burst 10 + 5/s over 10 s
  assert.ok(queries <= 10 + 5 * 10, `${queries} queries`);
  assert.ok(queries >= 10 + 5 * 10 - 1, `${queries} queries`);
  assert.equal(reasons.get("rate-limited-source"), 100_000 - queries);
  // Many sources: the global limit holds.
  const q2 = new QueryScheduler({
    pool: big,
    sourceRate: { ratePerSec: 5, burst: 10, maxKeys: 64 },
    globalRate: { ratePerSec: 100, burst: 200 },
  });
  let q2n = 0;
  for (let i = 0; i < 100_000; i++) {
    const now = i / 10;
    if (q2.onMiss(base + i, 0xcb007100 + (i & 0xff), packet, now).kind === "query") {
      q2n++;
      q2.onAnswer(base + i, { kind: "refused" }, now);
    }
  }
  assert.ok(q2n <= 200 + 100 * 10 && q2n >= 200 + 100 * 10 - 1, `${q2n} queries`);
});

test("tep query scheduler: decapsulation misses are confirmed by the same query", () => {
  const q = sched();
  const outer = new Uint8Array(40);
  outer.set(X6, 8);
  // Inner source X from the right IPv6 source: starts the query.
  assert.deepEqual(q.onDecapMiss(X, outer, 8, pkt(1), 0), {
    kind: "query",
    queued: true,
    reason: null,
  });
  // The same IPv4 claimed by another IPv6 source waits on the same query.
  outer.set(EVIL6, 8);
  assert.deepEqual(q.onDecapMiss(X, outer, 8, pkt(2), 1), { kind: "queued" });
  // A reply from the IPv4 side to X, too.
  assert.deepEqual(q.onMiss(X, SRC, pkt(3), 2), { kind: "queued" });
  assert.equal(q.stats().queriesStarted, 1);
  const out = q.onAnswer(X, { kind: "found", ipv6: X6 }, 5);
  assert.deepEqual(ids(out.forward), [1, 3]);
  assert.deepEqual(out.forward.map((p) => p.direction), ["decap", "encap"]);
  assert.deepEqual(out.forward[0].outerIpv6, X6);
  assert.deepEqual(ids(out.dropped), [2]);
  assert.equal(out.dropped[0].reason, "spoofed-source");
  assert.deepEqual(out.dropped[0].outerIpv6, EVIL6);
});

test("tep query scheduler: decapsulation misses are rate-limited per IPv6 /64", () => {
  const q = sched({ sourceRate: { ratePerSec: 1, burst: 1 } });
  const a = v6("2001:db8:100::1");
  const b = v6("2001:db8:100::2"); // same /64
  const c = v6("2001:db8:200::1");
  assert.equal(q.onDecapMiss(X, a, 0, pkt(1), 0).kind, "query");
  assert.deepEqual(q.onDecapMiss(Y, b, 0, pkt(1), 0), {
    kind: "drop",
    reason: "rate-limited-source",
  });
  assert.equal(q.onDecapMiss(Y, c, 0, pkt(1), 0).kind, "query");
});

test("tep query scheduler: refresh starts a query without a packet", () => {
  const q = sched({ globalRate: { ratePerSec: 1, burst: 1 } });
  assert.ok(q.onRefresh(X, 0));
  assert.ok(!q.onRefresh(X, 0)); // already in flight
  assert.ok(!q.onRefresh(Y, 0)); // global limit
  assert.ok(!q.onRefresh(v4("192.0.2.1"), 5000)); // outside the pool
  assert.deepEqual(q.onMiss(X, SRC, pkt(1), 1), { kind: "queued" });
  assert.deepEqual(ids(q.onAnswer(X, { kind: "found", ipv6: X6 }, 2).forward), [1]);
});

test("tep query scheduler: bad options are programmer errors", () => {
  assert.throws(() => new QueryScheduler({} as QuerySchedulerOptions), TypeError);
  assert.throws(() => sched({ maxPending: 0 }), RangeError);
  assert.throws(() => sched({ queueSlotBytes: 10 }), RangeError);
  assert.throws(() => sched({ queueTimeoutMs: 0 }), RangeError);
  assert.throws(
    () => sched({ sourceRate: { ratePerSec: 1, burst: 1, prefixLength: 33 } }),
    RangeError,
  );
  const q = sched({ queuePerAddress: 0 });
  assert.deepEqual(q.onMiss(X, SRC, pkt(1), 0), {
    kind: "query",
    queued: false,
    reason: "queue-full",
  });
});

test("tep query scheduler: addresses may be passed in signed 32-bit form", () => {
  const q = sched();
  assert.ok((X | 0) < 0 && (SRC | 0) < 0);
  assert.equal(q.onMiss(X | 0, SRC | 0, pkt(1), 0).kind, "query");
  assert.ok(q.isPending(X));
  assert.deepEqual(q.onMiss(X, SRC, pkt(2), 0), { kind: "queued" });
  const out = q.onAnswer(X | 0, { kind: "found", ipv6: X6 }, 1);
  assert.deepEqual(ids(out.forward), [1, 2]);
  assert.equal(out.forward[0].ipv4, X); // reported unsigned
  assert.ok(q.onRefresh(X | 0, 2));
  assert.ok(q.isPending(X));
});
