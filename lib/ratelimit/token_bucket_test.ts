import { test } from "node:test";
import assert from "node:assert/strict";
import { ipv4PrefixKey, ipv6PrefixKey, KeyedTokenBucket, TokenBucket } from "./token_bucket.ts";

test("tep token bucket: a full burst, then the rate", () => {
  const b = new TokenBucket({ ratePerSec: 10, burst: 3 });
  assert.ok(b.take(1000));
  assert.ok(b.take(1000));
  assert.ok(b.take(1000));
  assert.ok(!b.take(1000));
  assert.ok(!b.take(1099)); // 0.99 token
  assert.ok(b.take(1100)); // one token per 100 ms
  assert.ok(!b.take(1100));
  let n = 0;
  for (let t = 1100; t <= 11_100; t += 10) if (b.take(t)) n++;
  assert.equal(n, 100); // 10 s at 10/s
});

test("tep token bucket: refill stops at burst; time going back refills nothing", () => {
  const b = new TokenBucket({ ratePerSec: 1, burst: 2 });
  assert.equal(b.available(0), 2);
  assert.ok(b.take(0, 2));
  assert.equal(b.available(500), 0.5);
  assert.equal(b.available(100), 0.5); // earlier now: no change
  assert.equal(b.available(1_000_000), 2);
  assert.ok(b.canTake(1_000_000, 2));
  assert.equal(b.available(1_000_000), 2); // canTake spends nothing
  assert.ok(!b.take(1_000_000, 3));
});

test("tep token bucket: bad options are programmer errors", () => {
  assert.throws(() => new TokenBucket({ ratePerSec: 0, burst: 1 }), RangeError);
  assert.throws(() => new TokenBucket({ ratePerSec: NaN, burst: 1 }), RangeError);
  assert.throws(() => new TokenBucket({ ratePerSec: 1, burst: 0.5 }), RangeError);
  assert.throws(() => new TokenBucket({ ratePerSec: 1, burst: Infinity }), RangeError);
  assert.throws(
    () => new KeyedTokenBucket({ ratePerSec: 1, burst: 1, maxKeys: 0 }),
    RangeError,
  );
});

test("tep token bucket: keyed buckets are independent and refill per key", () => {
  const k = new KeyedTokenBucket({ ratePerSec: 2, burst: 2, maxKeys: 8 });
  const a = 0xc0000201;
  const b = 0xc0000202;
  assert.ok(k.take(a, 0));
  assert.ok(k.take(a, 0));
  assert.ok(!k.take(a, 0));
  assert.ok(k.take(b, 0)); // b untouched by a
  assert.ok(!k.take(a, 499));
  assert.ok(k.take(a, 500));
  assert.equal(k.available(b, 500), 2); // 1 + 0.5 s * 2/s
  assert.equal(k.available(0x01020304, 500), 2); // untracked: full, not added
  assert.ok(!k.has(0x01020304));
  assert.equal(k.size, 2);
  // k and k >>> 0 are one key.
  assert.ok(k.has(a | 0));
});

test("tep token bucket: keyed buckets evict the least recently used key", () => {
  const k = new KeyedTokenBucket({ ratePerSec: 1, burst: 1, maxKeys: 3 });
  assert.ok(k.take(1, 0));
  assert.ok(k.take(2, 0));
  assert.ok(k.take(3, 0));
  assert.ok(!k.take(1, 0)); // 1 becomes most recent
  assert.ok(k.take(4, 0)); // evicts 2
  assert.equal(k.size, 3);
  assert.equal(k.evictions, 1);
  assert.ok(!k.has(2));
  assert.ok(k.has(1) && k.has(3) && k.has(4));
  assert.ok(k.take(2, 0)); // back with a full bucket, evicting 3
  assert.ok(!k.has(3));
  for (let i = 0; i < 1000; i++) k.take(0x80000000 + i, 1);
  assert.equal(k.size, 3);
  k.clear();
  assert.equal(k.size, 0);
  assert.ok(k.take(1, 2));
});

test("tep token bucket: prefix keys group IPv4 /24s and IPv6 /64s", () => {
  assert.equal(ipv4PrefixKey(0xc6336407, 32), 0xc6336407);
  assert.equal(ipv4PrefixKey(0xc6336407, 24), 0xc6336400);
  assert.equal(ipv4PrefixKey(0xffffffff, 1), 0x80000000);
  assert.equal(ipv4PrefixKey(0xc6336407, 0), 0);
  assert.throws(() => ipv4PrefixKey(1, 33), RangeError);
  const a = new Uint8Array(20);
  a.set([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 9, 9, 9, 9, 9, 9, 9, 9], 2);
  const b = a.slice();
  b[17] = 1; // same /64, other interface id
  assert.equal(ipv6PrefixKey(a, 2), ipv6PrefixKey(b, 2));
  const keys = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    const c = a.slice();
    c[8] = i & 0xff;
    c[9] = i >> 8;
    keys.add(ipv6PrefixKey(c, 2));
  }
  assert.equal(keys.size, 1000); // distinct /64s, distinct keys
  const k = ipv6PrefixKey(a, 2);
  assert.ok(Number.isInteger(k) && k >= 0 && k <= 0xffffffff);
});
