import { test } from "node:test";
import assert from "node:assert/strict";
import { LeaseAllocator } from "./allocator.ts";
import type { AllocatorOptions, CreateResult } from "./allocator.ts";
import { Ipv4Pool, makeCidr4 } from "../addr/mod.ts";
import type { PoolSpace } from "./pool_space.ts";
import type { Lease } from "./lease.ts";
import { isLeaseableIpv6 } from "./ipv6_policy.ts";

const NET = 0xc6336400; // 198.51.100.0/24
const MIN = 60_000;

/** 2001:db8:100:<hi>::<lo> */
function v6(lo: number, hi = 0): Uint8Array {
  const b = new Uint8Array(16);
  b.set([0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, hi >> 8, hi & 0xff]);
  b[14] = (lo >> 8) & 0xff;
  b[15] = lo & 0xff;
  return b;
}

function alloc(opts: Partial<AllocatorOptions> = {}, prefix = 24): LeaseAllocator {
  return new LeaseAllocator({
    pool: new Ipv4Pool(makeCidr4(NET, prefix)),
    leaseMs: 10 * MIN,
    quarantineMinMs: MIN,
    ...opts,
  });
}

function code(r: CreateResult): number {
  assert.ok(!r.ok, `expected a failure, got ${JSON.stringify(r)}`);
  return r.code;
}

function ok(r: CreateResult | { ok: boolean }): Lease {
  assert.ok(r.ok, `expected success, got ${JSON.stringify(r)}`);
  return (r as { lease: Lease }).lease;
}

test("lease allocator: allocates distinct pool addresses with absolute expiry", () => {
  const a = alloc();
  const seen = new Set<number>();
  for (let k = 1; k <= 10; k++) {
    const r = a.create({ clientIpv6: v6(k), identity: "", tep: "tep1" }, 1000);
    const l = ok(r);
    assert.equal((r as { renewed: boolean }).renewed, false);
    assert.ok(a.pool.indexOf(l.ipv4) >= 0);
    assert.ok(!seen.has(l.ipv4));
    seen.add(l.ipv4);
    assert.equal(l.expiresAt, 1000 + 10 * MIN);
    assert.equal(l.tep, "tep1");
    assert.deepEqual(l.clientIpv6, v6(k));
    const found = a.lookup(l.ipv4, 2000);
    assert.ok(found.ok);
    assert.deepEqual(found.lease, l);
  }
  assert.equal(a.stats().leased, 10);
  const evs = a.drainEvents();
  assert.equal(evs.length, 10);
  assert.ok(evs.every((e) => e.kind === "allocate"));
  assert.equal(a.drainEvents().length, 0);
});

test("lease allocator: create from the same IPv6 and identity renews the same IPv4", () => {
  const a = alloc();
  const first = ok(a.create({ clientIpv6: v6(1), identity: "alice", tep: "tep1" }, 0));
  a.drainEvents();
  const r = a.create({ clientIpv6: v6(1), identity: "alice", tep: "tep2" }, 5 * MIN);
  const l = ok(r);
  assert.equal((r as { renewed: boolean }).renewed, true);
  assert.equal(l.ipv4, first.ipv4);
  assert.equal(l.tep, "tep1", "a renewal keeps its TEP");
  assert.equal(l.expiresAt, 15 * MIN);
  assert.deepEqual(a.drainEvents().map((e) => e.kind), ["renew"]);
  assert.equal(a.stats().leased, 1);
  assert.equal(a.findLease(v6(1), "alice", 5 * MIN)?.ipv4, first.ipv4);
  assert.equal(a.findLease(v6(1), "bob", 5 * MIN), undefined);
});

test("lease allocator: renewal naming the current IPv4 renews, any other IPv4 gets 308", () => {
  const a = alloc();
  const l = ok(a.create({ clientIpv6: v6(1), identity: "alice", tep: "t" }, 0));
  const other = ok(a.create({ clientIpv6: v6(2), identity: "bob", tep: "t" }, 0));
  const r = a.create(
    { clientIpv6: v6(1), identity: "alice", tep: "t", requestedIpv4: l.ipv4, lifetimeMs: MIN },
    MIN,
  );
  assert.equal(ok(r).ipv4, l.ipv4);
  assert.equal(ok(r).expiresAt, 2 * MIN);
  const bad = [other.ipv4, l.ipv4 + 100, 0x01020304, NET];
  for (const ip of bad) {
    const x = a.create({ clientIpv6: v6(1), identity: "alice", tep: "t", requestedIpv4: ip }, MIN);
    assert.deepEqual(x, { ok: false, code: 308, reason: "address-mismatch" });
  }
  // right IPv4, wrong identity or wrong IPv6
  assert.equal(
    (a.create({ clientIpv6: v6(1), identity: "mallory", tep: "t", requestedIpv4: l.ipv4 }, MIN) as {
      code: number;
    }).code,
    308,
  );
  assert.equal(
    (a.create({ clientIpv6: v6(3), identity: "alice", tep: "t", requestedIpv4: l.ipv4 }, MIN) as {
      code: number;
    }).code,
    308,
  );
  // after expiry the old address can no longer be renewed
  const late = a.create(
    { clientIpv6: v6(1), identity: "alice", tep: "t", requestedIpv4: l.ipv4 },
    2 * MIN,
  );
  assert.deepEqual(late, { ok: false, code: 308, reason: "address-mismatch" });
});

test("lease allocator: release quarantines, checks the owner, and reports the TEPs", () => {
  const a = alloc();
  const l = ok(a.create({ clientIpv6: v6(1), identity: "alice", tep: "tep1" }, 0));
  ok(a.noteQuery(l.ipv4, "tep2", 5 * MIN, 0));
  assert.deepEqual(
    a.release(l.ipv4, MIN, { clientIpv6: v6(2), identity: "alice" }),
    { ok: false, code: 308, reason: "address-mismatch" },
  );
  assert.deepEqual(
    a.release(l.ipv4, MIN, { clientIpv6: v6(1), identity: "bob" }),
    { ok: false, code: 308, reason: "address-mismatch" },
  );
  assert.deepEqual(a.release(0x01020304, MIN), { ok: false, code: 501, reason: "outside-pool" });
  assert.deepEqual(a.release(NET + 200, MIN), { ok: false, code: 308, reason: "not-leased" });
  a.drainEvents();
  const r = a.release(l.ipv4, MIN, { clientIpv6: v6(1), identity: "alice" });
  const gone = ok(r);
  assert.equal(gone.tep, "tep1");
  assert.deepEqual([...gone.tepsThatQueried], ["tep2"]);
  assert.deepEqual(a.lookup(l.ipv4, MIN), { ok: false, code: 308, reason: "not-leased" });
  const [ev] = a.drainEvents();
  assert.equal(ev.kind, "release");
  // quarantine = max(now + 1 min, binding until 5 min)
  assert.equal(ev.kind === "release" && ev.quarantineUntil, 5 * MIN);
  assert.deepEqual([...a.quarantine()], [{ ipv4: l.ipv4, until: 5 * MIN }]);
  assert.equal(a.stats().quarantined, 1);
  assert.equal(a.release(l.ipv4, MIN).ok, false);
});

test("lease allocator: expiry with a scripted clock", () => {
  const a = alloc();
  assert.equal(a.pollAt(), Infinity);
  const l1 = ok(a.create({ clientIpv6: v6(1), identity: "", tep: "t", lifetimeMs: 2 * MIN }, 0));
  const l2 = ok(a.create({ clientIpv6: v6(2), identity: "", tep: "t", lifetimeMs: 3 * MIN }, 0));
  a.drainEvents();
  assert.equal(a.pollAt(), 2 * MIN);
  assert.deepEqual(a.expire(2 * MIN - 1), []);
  assert.ok(a.lookup(l1.ipv4, 2 * MIN - 1).ok);
  // lookup is exact even before the sweep runs
  assert.equal(a.lookup(l1.ipv4, 2 * MIN).ok, false);
  const gone = a.expire(2 * MIN);
  assert.deepEqual(gone.map((l) => l.ipv4), [l1.ipv4]);
  const evs = a.drainEvents();
  assert.deepEqual(evs.map((e) => e.kind), ["expire"]);
  assert.equal(evs[0].kind === "expire" && evs[0].quarantineUntil, 3 * MIN);
  // next deadline: l2's expiry and l1's quarantine end coincide
  assert.equal(a.pollAt(), 3 * MIN);
  assert.ok(a.lookup(l2.ipv4, 2 * MIN).ok);
  // a create expires what is due first (the expire event precedes the allocate)
  ok(a.create({ clientIpv6: v6(3), identity: "", tep: "t" }, 10 * MIN));
  assert.deepEqual(a.drainEvents().map((e) => e.kind), ["expire", "allocate"]);
  assert.equal(a.stats().leased, 1);
  // time going backwards expires nothing
  assert.deepEqual(a.expire(0), []);
});

test("lease allocator: quarantine on a /30-sized pool delays reuse", () => {
  // 198.51.100.0/30 has two usable addresses
  const a = alloc({ quarantineMinMs: 5 * MIN, leaseMs: 10 * MIN }, 30);
  assert.equal(a.pool.size, 2);
  const l1 = ok(a.create({ clientIpv6: v6(1), identity: "", tep: "t" }, 0));
  const l2 = ok(a.create({ clientIpv6: v6(2), identity: "", tep: "t" }, 0));
  assert.notEqual(l1.ipv4, l2.ipv4);
  assert.deepEqual(a.create({ clientIpv6: v6(3), identity: "", tep: "t" }, 0), {
    ok: false,
    code: 306,
    reason: "pool-exhausted",
  });
  // a TEP was handed a 12-minute binding for l1; l1 expires at 10 min, and the 5-minute minimum
  // (to 15 min) outlasts that binding.
  ok(a.noteQuery(l1.ipv4, "tep2", 12 * MIN, 0));
  // l2 is released early at 1 min, with a TEP binding lasting until 8 min
  ok(a.noteQuery(l2.ipv4, "tep2", 7 * MIN, MIN));
  ok(a.release(l2.ipv4, MIN));
  for (const t of [MIN, 5 * MIN, 8 * MIN - 1]) {
    assert.equal(a.create({ clientIpv6: v6(3), identity: "", tep: "t" }, t).ok, false, `t=${t}`);
  }
  const l3 = ok(a.create({ clientIpv6: v6(3), identity: "", tep: "t" }, 8 * MIN));
  assert.equal(l3.ipv4, l2.ipv4, "the released address comes back when its quarantine ends");
  assert.deepEqual(l3.tepsThatQueried, new Set(), "a new lease starts with no TEP bindings");
  assert.equal(l3.bindingUntil, 0);
  // l1 expires at 10 min and stays quarantined until 15 min
  for (const t of [10 * MIN, 12 * MIN, 15 * MIN - 1]) {
    assert.equal(a.create({ clientIpv6: v6(4), identity: "", tep: "t" }, t).ok, false, `t=${t}`);
  }
  assert.equal(ok(a.create({ clientIpv6: v6(4), identity: "", tep: "t" }, 15 * MIN)).ipv4, l1.ipv4);
});

test("lease allocator: the quarantine follows the longest binding handed to any TEP", () => {
  const a = alloc({ quarantineMinMs: 0, leaseMs: 100 * MIN }, 30);
  const l1 = ok(a.create({ clientIpv6: v6(1), identity: "", tep: "t" }, 0));
  ok(a.create({ clientIpv6: v6(2), identity: "", tep: "t" }, 0));
  ok(a.noteQuery(l1.ipv4, "tep2", 30 * MIN, 0));
  ok(a.noteQuery(l1.ipv4, "tep3", 2 * MIN, 0)); // shorter: the maximum stays
  ok(a.release(l1.ipv4, MIN));
  assert.equal(a.create({ clientIpv6: v6(3), identity: "", tep: "t" }, 29 * MIN).ok, false);
  assert.equal(ok(a.create({ clientIpv6: v6(3), identity: "", tep: "t" }, 30 * MIN)).ipv4, l1.ipv4);
  // with no bindings and no minimum, a released address is reusable at once
  const l4 = ok(a.create({ clientIpv6: v6(3), identity: "", tep: "t" }, 31 * MIN));
  ok(a.release(l4.ipv4, 31 * MIN));
  assert.equal(ok(a.create({ clientIpv6: v6(5), identity: "", tep: "t" }, 31 * MIN)).ipv4, l4.ipv4);
});

test("lease allocator: exhaustion gives 306 until something frees", () => {
  const a = alloc({ quarantineMinMs: 0 }, 28); // 14 usable
  const got: number[] = [];
  for (let k = 0; k < 14; k++) {
    got.push(ok(a.create({ clientIpv6: v6(k + 1), identity: "", tep: "t" }, 0)).ipv4);
  }
  assert.equal(new Set(got).size, 14);
  for (let k = 0; k < 3; k++) {
    assert.deepEqual(a.create({ clientIpv6: v6(100 + k), identity: "", tep: "t" }, 0), {
      ok: false,
      code: 306,
      reason: "pool-exhausted",
    });
  }
  // renewals still work on a full pool
  assert.equal(ok(a.create({ clientIpv6: v6(1), identity: "", tep: "t" }, 1)).ipv4, got[0]);
  ok(a.release(got[5], 2));
  assert.equal(ok(a.create({ clientIpv6: v6(100), identity: "", tep: "t" }, 2)).ipv4, got[5]);
  assert.equal(a.stats().available, 0);
});

test("lease allocator: per-IPv6, per-/64 and per-identity limits give 301", () => {
  const a = alloc({ maxPerIpv6: 2, maxPerPrefix64: 3, maxPerIdentity: 2 });
  ok(a.create({ clientIpv6: v6(1), identity: "a", tep: "t" }, 0));
  ok(a.create({ clientIpv6: v6(1), identity: "b", tep: "t" }, 0));
  assert.deepEqual(a.create({ clientIpv6: v6(1), identity: "c", tep: "t" }, 0), {
    ok: false,
    code: 301,
    reason: "limit-ipv6",
  });
  // a renewal is not a new lease
  assert.equal(a.create({ clientIpv6: v6(1), identity: "b", tep: "t" }, 0).ok, true);
  ok(a.create({ clientIpv6: v6(2), identity: "a", tep: "t" }, 0));
  assert.deepEqual(a.create({ clientIpv6: v6(3), identity: "c", tep: "t" }, 0), {
    ok: false,
    code: 301,
    reason: "limit-prefix64",
  });
  assert.deepEqual(a.create({ clientIpv6: v6(3, 1), identity: "a", tep: "t" }, 0), {
    ok: false,
    code: 301,
    reason: "limit-identity",
  });
  // anonymous is exempt from the identity limit but not from the address limits
  for (let k = 0; k < 5; k++) {
    ok(a.create({ clientIpv6: v6(10 + k, 2 + k), identity: "", tep: "t" }, 0));
  }
  // default: one lease per IPv6 address
  const d = alloc();
  ok(d.create({ clientIpv6: v6(1), identity: "a", tep: "t" }, 0));
  assert.equal(
    (d.create({ clientIpv6: v6(1), identity: "b", tep: "t" }, 0) as { code: number }).code,
    301,
  );
  // a released lease no longer counts
  const l = ok(d.create({ clientIpv6: v6(1), identity: "a", tep: "t" }, 0));
  ok(d.release(l.ipv4, 1));
  ok(d.create({ clientIpv6: v6(1), identity: "b", tep: "t" }, 1));
});

test("lease allocator: setLimits changes the limits for new leases; held leases stay and renew", () => {
  const a = alloc();
  assert.deepEqual(a.limits, { maxPerIpv6: 1, maxPerPrefix64: Infinity, maxPerIdentity: Infinity });
  const first = ok(a.create({ clientIpv6: v6(1), identity: "a", tep: "t" }, 0));
  assert.equal(code(a.create({ clientIpv6: v6(1), identity: "b", tep: "t" }, 0)), 301);
  // raise: the same address may now hold more leases
  a.setLimits({ maxPerIpv6: 3 });
  assert.deepEqual(a.limits, { maxPerIpv6: 3, maxPerPrefix64: Infinity, maxPerIdentity: Infinity });
  ok(a.create({ clientIpv6: v6(1), identity: "b", tep: "t" }, 1));
  ok(a.create({ clientIpv6: v6(1), identity: "c", tep: "t" }, 1));
  // lower below what is held: nothing is taken away, renewals work, new leases are refused
  a.setLimits({ maxPerIpv6: 1 });
  assert.equal(a.stats().leased, 3);
  const renewed = a.create({ clientIpv6: v6(1), identity: "b", tep: "t" }, 2);
  assert.ok(renewed.ok && renewed.renewed);
  assert.equal(
    a.create({ clientIpv6: v6(1), identity: "a", tep: "t", requestedIpv4: first.ipv4 }, 2).ok,
    true,
  );
  assert.deepEqual(a.create({ clientIpv6: v6(1), identity: "d", tep: "t" }, 2), {
    ok: false,
    code: 301,
    reason: "limit-ipv6",
  });
  // releasing one of three still leaves the address over the limit of 1
  ok(a.release(first.ipv4, 3));
  assert.equal(code(a.create({ clientIpv6: v6(1), identity: "a", tep: "t" }, 3)), 301);
  // identity: anonymous stays exempt; the limit counts leases already held
  a.setLimits({ maxPerIpv6: 5, maxPerIdentity: 1 });
  assert.deepEqual(a.create({ clientIpv6: v6(2), identity: "b", tep: "t" }, 4), {
    ok: false,
    code: 301,
    reason: "limit-identity",
  });
  ok(a.create({ clientIpv6: v6(2), identity: "", tep: "t" }, 4));
  ok(a.create({ clientIpv6: v6(3), identity: "", tep: "t" }, 4));
  a.drainEvents();
  a.setLimits({ maxPerIdentity: Infinity });
  assert.equal(a.drainEvents().length, 0, "limits are configuration: no lease event");
  ok(a.create({ clientIpv6: v6(2), identity: "b", tep: "t" }, 5));
});

test("lease allocator: turning the /64 limit on counts the leases already held, off forgets them", () => {
  const a = alloc({ maxPerIpv6: 4 });
  ok(a.create({ clientIpv6: v6(1), identity: "", tep: "t" }, 0));
  ok(a.create({ clientIpv6: v6(2), identity: "", tep: "t" }, 0));
  const third = ok(a.create({ clientIpv6: v6(3), identity: "", tep: "t" }, 0));
  ok(a.create({ clientIpv6: v6(1, 1), identity: "", tep: "t" }, 0)); // another /64
  a.setLimits({ maxPerPrefix64: 3 });
  assert.deepEqual(a.create({ clientIpv6: v6(4), identity: "", tep: "t" }, 1), {
    ok: false,
    code: 301,
    reason: "limit-prefix64",
  });
  ok(a.create({ clientIpv6: v6(2, 1), identity: "", tep: "t" }, 1));
  // the count follows releases and expiries made while the limit is on
  ok(a.release(third.ipv4, 2));
  ok(a.create({ clientIpv6: v6(4), identity: "", tep: "t" }, 2));
  assert.equal(code(a.create({ clientIpv6: v6(5), identity: "", tep: "t" }, 2)), 301);
  a.setLimits({ maxPerPrefix64: Infinity });
  ok(a.create({ clientIpv6: v6(5), identity: "", tep: "t" }, 3));
  // on again: recounted from the table, not from the stale counts
  a.setLimits({ maxPerPrefix64: 4 });
  assert.equal(code(a.create({ clientIpv6: v6(6), identity: "", tep: "t" }, 4)), 301);
  a.setLimits({ maxPerPrefix64: 5 });
  ok(a.create({ clientIpv6: v6(6), identity: "", tep: "t" }, 4));
  a.expire(4 + 10 * MIN); // everything expires
  ok(a.create({ clientIpv6: v6(7), identity: "", tep: "t" }, 4 + 10 * MIN));
});

test("lease allocator: setLimits refuses bad values and then changes nothing", () => {
  const a = alloc({ maxPerIpv6: 2, maxPerIdentity: 3 });
  for (const bad of [0, -1, 1.5, NaN, "2" as unknown as number]) {
    assert.throws(() => a.setLimits({ maxPerIpv6: 4, maxPerIdentity: bad }), RangeError);
    assert.throws(() => a.setLimits({ maxPerPrefix64: bad }), RangeError);
  }
  assert.deepEqual(a.limits, { maxPerIpv6: 2, maxPerPrefix64: Infinity, maxPerIdentity: 3 });
  a.setLimits({});
  assert.deepEqual(a.limits, { maxPerIpv6: 2, maxPerPrefix64: Infinity, maxPerIdentity: 3 });
});

test("lease allocator: unusable client IPv6 addresses get 309", () => {
  const a = alloc();
  const bad = [
    new Uint8Array(16), // ::
    Uint8Array.from([...new Uint8Array(15), 1]), // ::1
    Uint8Array.from([0xfe, 0x80, ...new Uint8Array(13), 1]), // fe80::1
    Uint8Array.from([0xff, 0x02, ...new Uint8Array(13), 1]), // ff02::1
    Uint8Array.from([...new Uint8Array(10), 0xff, 0xff, 192, 0, 2, 1]), // ::ffff:192.0.2.1
  ];
  for (const b of bad) {
    assert.equal(isLeaseableIpv6(b), false);
    assert.deepEqual(a.create({ clientIpv6: b, identity: "", tep: "t" }, 0), {
      ok: false,
      code: 309,
      reason: "invalid-ipv6",
    });
  }
  assert.equal(isLeaseableIpv6(v6(1)), true);
  assert.equal(isLeaseableIpv6(Uint8Array.from([...new Uint8Array(15), 2])), true);
  assert.throws(
    () => a.create({ clientIpv6: new Uint8Array(4), identity: "", tep: "t" }, 0),
    TypeError,
  );
  assert.throws(() => a.create({ clientIpv6: v6(1), identity: "", tep: "" }, 0), TypeError);
  assert.throws(() => a.create({ clientIpv6: v6(1), identity: "", tep: "t" }, NaN), TypeError);
  assert.throws(
    () => a.create({ clientIpv6: v6(1), identity: "", tep: "t", lifetimeMs: 0 }, 0),
    RangeError,
  );
});

test("lease allocator: a /8 pool allocates no per-address memory up front", () => {
  const a = new LeaseAllocator({
    pool: new Ipv4Pool(makeCidr4(0x0a000000, 8)),
    leaseMs: 10 * MIN,
    quarantineMinMs: 0,
  });
  const s0 = a.stats();
  assert.equal(s0.size, 2 ** 24 - 2);
  assert.equal(s0.highWater, 0);
  assert.ok(s0.capacity <= 256, `capacity ${s0.capacity}`);
  for (let k = 0; k < 1000; k++) ok(a.create({ clientIpv6: v6(k, k), identity: "", tep: "t" }, 0));
  const s1 = a.stats();
  assert.equal(s1.highWater, 1000);
  assert.ok(s1.capacity >= 1000 && s1.capacity <= 2048, `capacity ${s1.capacity}`);
  // freed addresses are reused before untouched ones: the high-water mark tracks the load
  const all = [...a.leases()];
  for (const l of all.slice(0, 500)) ok(a.release(l.ipv4, 1));
  for (let k = 0; k < 500; k++) {
    ok(a.create({ clientIpv6: v6(k, 5000 + k), identity: "", tep: "t" }, 1));
  }
  assert.equal(a.stats().highWater, 1000);
  assert.equal(a.stats().leased, 1000);
});

/** A pool wrapper that counts how often the allocator maps indices. */
function countingPool(inner: PoolSpace): PoolSpace & { calls: number } {
  const p = {
    calls: 0,
    size: inner.size,
    addressAt(i: number) {
      p.calls++;
      return inner.addressAt(i);
    },
    indexOf(a: number) {
      p.calls++;
      return inner.indexOf(a);
    },
  };
  return p;
}

test("lease allocator: a sweep touches only what is due, not the pool", () => {
  const pool = countingPool(new Ipv4Pool(makeCidr4(0x0a000000, 16)));
  const a = new LeaseAllocator({ pool, leaseMs: 10 * MIN, quarantineMinMs: MIN });
  for (let k = 0; k < 20_000; k++) {
    // 10 leases expire early, the rest late
    a.create(
      { clientIpv6: v6(k, k), identity: "", tep: "t", lifetimeMs: k < 10 ? MIN : 60 * MIN },
      0,
    );
  }
  a.drainEvents();
  assert.equal(a.pollAt(), MIN);
  pool.calls = 0;
  assert.equal(a.expire(MIN - 1).length, 0);
  assert.equal(pool.calls, 0, "nothing due: no work");
  const gone = a.expire(MIN);
  assert.equal(gone.length, 10);
  assert.ok(pool.calls <= 10 * 2, `pool calls ${pool.calls}`);
  assert.equal(a.pollAt(), 2 * MIN); // quarantine ends
  pool.calls = 0;
  assert.equal(a.expire(2 * MIN).length, 0);
  assert.equal(pool.calls, 0);
  assert.equal(a.stats().quarantined, 0);
  assert.equal(a.pollAt(), 60 * MIN);
});

test("lease allocator: noteQuery and reassign track TEPs for failover", () => {
  const a = alloc();
  const l1 = ok(a.create({ clientIpv6: v6(1), identity: "", tep: "tep1" }, 0));
  const l2 = ok(a.create({ clientIpv6: v6(2), identity: "", tep: "tep1" }, 0));
  ok(a.create({ clientIpv6: v6(3), identity: "", tep: "tep2" }, 0));
  assert.equal(a.tepLoad("tep1"), 2);
  assert.equal(a.tepLoad("tep2"), 1);
  assert.equal(a.tepLoad("nope"), 0);
  assert.deepEqual(new Set(a.leasesOfTep("tep1")), new Set([l1.ipv4, l2.ipv4]));
  a.drainEvents();
  // the query path
  const q = ok(a.noteQuery(l1.ipv4, "tep3", 4 * MIN, MIN));
  assert.deepEqual(q.tepsThatQueried, new Set(["tep3"]));
  assert.equal(q.bindingUntil, 5 * MIN);
  ok(a.noteQuery(l1.ipv4, "tep3", 2 * MIN, MIN)); // nothing new: no event
  assert.deepEqual(a.drainEvents().map((e) => e.kind), ["binding"]);
  assert.deepEqual(a.noteQuery(NET + 200, "tep3", MIN, MIN), {
    ok: false,
    code: 308,
    reason: "not-leased",
  });
  assert.deepEqual(a.noteQuery(0x08080808, "tep3", MIN, MIN), {
    ok: false,
    code: 501,
    reason: "outside-pool",
  });
  // failover: tep1 dies, its leases move to tep3
  for (const ip of a.leasesOfTep("tep1")) ok(a.reassign(ip, "tep3", 2 * MIN));
  assert.equal(a.tepLoad("tep1"), 0);
  assert.equal(a.tepLoad("tep3"), 2);
  const m = a.lookup(l1.ipv4, 2 * MIN);
  assert.ok(m.ok);
  assert.equal(m.lease.tep, "tep3");
  assert.deepEqual(m.lease.tepsThatQueried, new Set(["tep1"]), "old TEP may still hold a binding");
  const moved = a.drainEvents();
  assert.deepEqual(moved.map((e) => e.kind), ["reassign", "reassign"]);
  assert.ok(
    moved.every((e) => e.kind === "reassign" && e.previousTep === "tep1" && e.tep === "tep3"),
  );
  // reassigning to the current TEP is a no-op
  ok(a.reassign(l1.ipv4, "tep3", 2 * MIN));
  assert.equal(a.drainEvents().length, 0);
  ok(a.release(l2.ipv4, 3 * MIN));
  assert.deepEqual(a.leasesOfTep("tep3"), [l1.ipv4]);
});

test("lease allocator: replaying drained events rebuilds the same table", () => {
  const a = alloc({ maxPerIpv6: 2 });
  const b = alloc({ maxPerIpv6: 2 });
  let t = 0;
  for (let k = 0; k < 40; k++) {
    t += 7_000;
    const r = a.create({ clientIpv6: v6(k % 13), identity: `u${k % 3}`, tep: `tep${k % 2}` }, t);
    if (r.ok && k % 5 === 0) a.noteQuery(r.lease.ipv4, "tepX", 3 * MIN, t);
    if (r.ok && k % 7 === 0) a.release(r.lease.ipv4, t);
    if (r.ok && k % 11 === 0) a.reassign(r.lease.ipv4, "tep9", t);
  }
  a.expire(t + 30 * MIN);
  for (const e of a.drainEvents()) b.apply(e);
  // replaying twice changes nothing
  b.expire(t + 30 * MIN);
  b.drainEvents();
  assert.deepEqual([...b.leases()], [...a.leases()]);
  assert.deepEqual([...b.quarantine()], [...a.quarantine()]);
  assert.deepEqual(b.stats(), a.stats());
});
