import { test } from "node:test";
import assert from "node:assert/strict";
import { Ipv4Pool, makeCidr4 } from "../addr/mod.ts";
import { LeaseAllocator } from "./allocator.ts";
import type { PoolSpace } from "./pool_space.ts";

const NET = 0xc6336400; // 198.51.100.0

function v6(lo: number): Uint8Array {
  const b = new Uint8Array(16);
  b.set([0x20, 0x01, 0x0d, 0xb8]);
  b[15] = lo;
  return b;
}

test("lease pool space: an Ipv4Pool with exclusions is handed out without its excluded addresses", () => {
  // 198.51.100.0/28 minus the network, broadcast, two TEP addresses and an operator exclusion
  const excluded = [NET + 1, NET + 2, NET + 9];
  const pool: PoolSpace = new Ipv4Pool(makeCidr4(NET, 28), excluded);
  assert.equal(pool.size, 11);
  const a = new LeaseAllocator({ pool, quarantineMinMs: 0 });
  const got = new Set<number>();
  for (let k = 1; k <= 11; k++) {
    const r = a.create({ clientIpv6: v6(k), identity: "", tep: "t" }, 0);
    assert.ok(r.ok);
    got.add(r.lease.ipv4);
  }
  assert.equal(got.size, 11);
  for (const x of [NET, NET + 15, ...excluded]) assert.ok(!got.has(x));
  for (const x of got) assert.ok(x > NET && x < NET + 15);
  assert.equal(a.create({ clientIpv6: v6(12), identity: "", tep: "t" }, 0).ok, false);
  assert.deepEqual(a.lookup(NET + 9, 0), { ok: false, code: 501, reason: "outside-pool" });
  assert.deepEqual(a.release(NET + 15, 0), { ok: false, code: 501, reason: "outside-pool" });
});

test("lease pool space: pools too large for pool indices are refused", () => {
  assert.throws(() => new LeaseAllocator({ pool: new Ipv4Pool(makeCidr4(0, 0)) }), RangeError);
  // a /1 still fits (2^31 - 2 addresses) and costs nothing up front
  const big = new LeaseAllocator({ pool: new Ipv4Pool(makeCidr4(0x80000000, 1)) });
  assert.equal(big.stats().size, 2 ** 31 - 2);
  assert.ok(big.stats().capacity <= 256);
});
