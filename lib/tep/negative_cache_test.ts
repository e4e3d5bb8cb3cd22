import { test } from "node:test";
import assert from "node:assert/strict";
import { NegativeCache } from "./negative_cache.ts";

test("tep negative cache: an entry lasts its TTL, then is reclaimed", () => {
  const n = new NegativeCache({ ttlMs: 30_000, unreachableTtlMs: 2_000 });
  n.add(0xc6336407, 1000);
  assert.ok(n.has(0xc6336407, 1000));
  assert.ok(n.has(0xc6336407, 30_999));
  assert.equal(n.expiresAt(0xc6336407, 5000), 31_000);
  assert.ok(!n.has(0xc6336407, 31_000));
  assert.equal(n.size, 0); // reclaimed by the failed has()
  assert.equal(n.expiresAt(0xc6336407, 31_000), -1);
  assert.ok(!n.has(0x0a000001, 0));
});

test("tep negative cache: an unreachable server gives a short entry; renewal extends", () => {
  const n = new NegativeCache({ ttlMs: 60_000, unreachableTtlMs: 3_000 });
  n.addUnreachable(7, 0);
  assert.ok(n.has(7, 2_999));
  assert.ok(!n.has(7, 3_000));
  n.addUnreachable(8, 0);
  n.add(8, 1_000); // a 308 later: the long TTL
  assert.ok(n.has(8, 60_999));
  assert.ok(!n.has(8, 61_000));
  n.add(9, 0, 10); // explicit TTL
  assert.ok(!n.has(9, 10));
});

test("tep negative cache: bounded, evicts the oldest first", () => {
  const n = new NegativeCache({ capacity: 3, ttlMs: 1000 });
  n.add(1, 0);
  n.add(2, 1);
  n.add(3, 2);
  n.add(1, 3); // renewed: now the newest
  n.add(0xfffffffe, 4); // evicts 2, the oldest
  assert.equal(n.size, 3);
  assert.equal(n.evictions, 1);
  assert.ok(!n.has(2, 5));
  assert.ok(n.has(1, 5) && n.has(3, 5) && n.has(0xfffffffe, 5));
  assert.deepEqual(n.entries(5).map((e) => e.ipv4), [3, 1, 0xfffffffe]);
  // Replacing an expired oldest entry is not counted as an eviction.
  n.add(4, 2000);
  assert.equal(n.evictions, 1);
  for (let i = 0; i < 10_000; i++) n.add(0x80000000 + i, 3000 + i);
  assert.equal(n.size, 3);
});

test("tep negative cache: remove, sweep and clear", () => {
  const n = new NegativeCache({ ttlMs: 100 });
  n.add(1, 0);
  n.add(2, 50);
  n.add(3, 0, 1000);
  assert.ok(n.remove(1));
  assert.ok(!n.remove(1));
  assert.equal(n.sweep(150), 1); // 2 expired; 3 lives
  assert.equal(n.size, 1);
  assert.deepEqual(n.entries(150), [{ ipv4: 3, expiresAt: 1000 }]);
  n.clear();
  assert.equal(n.size, 0);
  n.add(5, 0);
  assert.ok(n.has(5, 1));
});

test("tep negative cache: bad options are programmer errors", () => {
  assert.throws(() => new NegativeCache({ capacity: 0 }), RangeError);
  assert.throws(() => new NegativeCache({ ttlMs: 0 }), RangeError);
  assert.throws(() => new NegativeCache({ unreachableTtlMs: -1 }), RangeError);
  const n = new NegativeCache();
  assert.equal(n.capacity, 4096);
  assert.equal(n.ttlMs, 30_000);
  assert.equal(n.unreachableTtlMs, 3_000);
});
