import { test } from "node:test";
import assert from "node:assert/strict";
import { Ipv4Pool } from "./pool.ts";
import { type Cidr4, cidr4Broadcast, cidr4Size, contains4, makeCidr4, parseCidr4 } from "./cidr.ts";
import { formatIpv4, parseIpv4 } from "./ipv4.ts";
import { Prng } from "../testing/prng.ts";

function v4(text: string): number {
  const r = parseIpv4(text);
  if (!r.ok) assert.fail(`${text}: ${r.reason}`);
  return r.value;
}

function c4(text: string): Cidr4 {
  const r = parseCidr4(text);
  if (!r.ok) assert.fail(`${text}: ${r.reason}`);
  return r.value;
}

test("addr: Ipv4Pool over a /24 skips network and broadcast by default", () => {
  const pool = new Ipv4Pool(c4("198.51.100.0/24"));
  assert.equal(pool.size, 254);
  assert.equal(pool.excludedCount, 2);
  assert.equal(formatIpv4(pool.addressAt(0)), "198.51.100.1");
  assert.equal(formatIpv4(pool.addressAt(253)), "198.51.100.254");
  assert.equal(pool.indexOf(v4("198.51.100.1")), 0);
  assert.equal(pool.indexOf(v4("198.51.100.254")), 253);
  assert.equal(pool.indexOf(v4("198.51.100.0")), -1);
  assert.equal(pool.indexOf(v4("198.51.100.255")), -1);
  assert.equal(pool.indexOf(v4("198.51.101.1")), -1);
  assert.ok(pool.has(v4("198.51.100.77")));
  assert.ok(!pool.has(v4("198.51.100.255")));
  assert.equal(String(pool), "198.51.100.0/24 (254 usable, 2 excluded)");
  assert.throws(() => pool.addressAt(254), RangeError);
  assert.throws(() => pool.addressAt(-1), RangeError);
  assert.throws(() => pool.addressAt(0.5), RangeError);
});

test("addr: Ipv4Pool applies, merges and ignores exclusions as documented", () => {
  const pool = new Ipv4Pool(c4("192.0.2.0/29"), [
    v4("192.0.2.1"), // gateway
    v4("192.0.2.1"), // duplicate
    v4("192.0.2.0"), // already excluded as network address
    v4("192.0.2.5"),
    v4("203.0.113.9"), // outside: ignored
  ]);
  assert.equal(pool.excludedCount, 4);
  assert.equal(pool.size, 4);
  const all = [0, 1, 2, 3].map((i) => formatIpv4(pool.addressAt(i)));
  assert.deepEqual(all, ["192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.6"]);
  assert.deepEqual(
    ["192.0.2.0", "192.0.2.1", "192.0.2.2", "192.0.2.5", "192.0.2.6", "192.0.2.7"].map((t) =>
      pool.indexOf(v4(t))
    ),
    [-1, -1, 0, -1, 3, -1],
  );
  // Without the default exclusions every address of the block counts.
  const raw = new Ipv4Pool(c4("192.0.2.0/29"), [], { excludeNetworkAndBroadcast: false });
  assert.equal(raw.size, 8);
  assert.equal(raw.addressAt(0), v4("192.0.2.0"));
  assert.equal(raw.indexOf(v4("192.0.2.7")), 7);
  // Everything excluded: an empty pool.
  const none = new Ipv4Pool(c4("192.0.2.0/30"), [v4("192.0.2.1"), v4("192.0.2.2")]);
  assert.equal(none.size, 0);
  assert.throws(() => none.addressAt(0), RangeError);
  assert.equal(none.indexOf(v4("192.0.2.1")), -1);
});

test("addr: Ipv4Pool keeps every address of a /31 and a /32", () => {
  const p31 = new Ipv4Pool(c4("192.0.2.6/31"));
  assert.equal(p31.size, 2);
  assert.equal(p31.addressAt(0), v4("192.0.2.6"));
  assert.equal(p31.addressAt(1), v4("192.0.2.7"));
  const p32 = new Ipv4Pool(c4("192.0.2.9/32"));
  assert.equal(p32.size, 1);
  assert.equal(p32.indexOf(v4("192.0.2.9")), 0);
  assert.equal(p32.indexOf(v4("192.0.2.8")), -1);
  const gone = new Ipv4Pool(c4("192.0.2.9/32"), [v4("192.0.2.9")]);
  assert.equal(gone.size, 0);
});

test("addr: Ipv4Pool handles a /8 and the /0 edges with unsigned addresses", () => {
  const ten = new Ipv4Pool(c4("10.0.0.0/8"), [
    v4("10.0.0.1"),
    v4("10.128.0.0"),
    v4("10.255.255.254"),
  ]);
  assert.equal(ten.size, 2 ** 24 - 5);
  assert.equal(formatIpv4(ten.addressAt(0)), "10.0.0.2");
  assert.equal(formatIpv4(ten.addressAt(ten.size - 1)), "10.255.255.253");
  assert.equal(ten.indexOf(v4("10.128.0.1")), v4("10.128.0.1") - v4("10.0.0.0") - 3);
  assert.equal(ten.addressAt(ten.indexOf(v4("10.128.0.1"))), v4("10.128.0.1"));
  assert.equal(ten.indexOf(v4("10.127.255.255")) + 1, ten.indexOf(v4("10.128.0.1")));

  const all = new Ipv4Pool(c4("0.0.0.0/0"));
  assert.equal(all.size, 2 ** 32 - 2);
  assert.equal(all.addressAt(0), 1);
  assert.equal(all.addressAt(all.size - 1), 0xfffffffe);
  assert.equal(all.indexOf(0xfffffffe), 2 ** 32 - 3);
  assert.equal(all.indexOf(0xffffffff), -1);
  const high = new Ipv4Pool(c4("240.0.0.0/4"));
  assert.ok(high.addressAt(high.size - 1) > 0);
  assert.equal(formatIpv4(high.addressAt(high.size - 1)), "255.255.255.254");
});

test("addr: Ipv4Pool.indexOf returns -1 for any non-address without throwing", () => {
  const pool = new Ipv4Pool(c4("0.0.0.0/0"), [], { excludeNetworkAndBroadcast: false });
  for (const bad of [-1, 2 ** 32, 1.5, NaN, Infinity, -0.5, "1" as unknown as number]) {
    assert.equal(pool.indexOf(bad), -1, String(bad));
    assert.equal(pool.has(bad), false);
  }
  assert.ok(Object.is(pool.indexOf(-0), 0));
});

test("addr: Ipv4Pool rejects inconsistent blocks and non-address exclusions", () => {
  const good = c4("10.0.0.0/8");
  assert.throws(() => new Ipv4Pool({ ...good, mask: 0xffff0000 }), RangeError);
  assert.throws(
    () => new Ipv4Pool({ network: v4("10.0.0.1"), prefix: 8, mask: 0xff000000 }),
    RangeError,
  );
  assert.throws(() => new Ipv4Pool({ network: 0, prefix: 33, mask: 0xffffffff }), RangeError);
  assert.throws(() => new Ipv4Pool({ network: -1, prefix: 32, mask: 0xffffffff }), RangeError);
  assert.throws(() => new Ipv4Pool(good, [-1]), RangeError);
  assert.throws(() => new Ipv4Pool(good, [2 ** 32]), RangeError);
  assert.throws(() => new Ipv4Pool(good, [NaN]), RangeError);
});

test("addr: Ipv4Pool agrees with a brute-force enumeration on seeded random pools", () => {
  const rng = new Prng(0x9001);
  for (let round = 0; round < 300; round++) {
    const prefix = 20 + rng.int(13); // /20 .. /32: small enough to enumerate
    const cidr = makeCidr4(rng.u32(), prefix, { loose: true });
    const size = cidr4Size(cidr);
    const excluded: number[] = [];
    const nEx = rng.int(4) === 0 ? rng.int(size + 1) : rng.int(8);
    for (let i = 0; i < nEx; i++) {
      // Mostly inside the block, sometimes anywhere.
      excluded.push(rng.int(5) === 0 ? rng.u32() : cidr.network + rng.int(size));
    }
    const keepEdges = rng.int(3) === 0;
    const pool = new Ipv4Pool(cidr, excluded, { excludeNetworkAndBroadcast: !keepEdges });
    const ex = new Set(excluded.filter((a) => contains4(cidr, a)));
    if (!keepEdges && prefix < 31) {
      ex.add(cidr.network);
      ex.add(cidr4Broadcast(cidr));
    }
    const usable: number[] = [];
    for (let o = 0; o < size; o++) {
      if (!ex.has(cidr.network + o)) usable.push(cidr.network + o);
    }
    assert.equal(pool.size, usable.length);
    assert.equal(pool.excludedCount, ex.size);
    for (let i = 0; i < usable.length; i++) {
      assert.equal(pool.addressAt(i), usable[i]);
      assert.equal(pool.indexOf(usable[i]), i);
    }
    for (const a of ex) assert.equal(pool.indexOf(a), -1);
    const after = cidr4Broadcast(cidr) + 1;
    if (after <= 0xffffffff) assert.equal(pool.indexOf(after), -1);
    if (cidr.network > 0) assert.equal(pool.indexOf(cidr.network - 1), -1);
  }
});

test("addr: Ipv4Pool round trips seeded random indices of a /8 with many exclusions", () => {
  const rng = new Prng(0x9008);
  const cidr = c4("10.0.0.0/8");
  const excluded: number[] = [];
  for (let i = 0; i < 50_000; i++) excluded.push(cidr.network + rng.int(1 << 24));
  const pool = new Ipv4Pool(cidr, excluded);
  const ex = new Set(excluded);
  ex.add(cidr.network);
  ex.add(cidr4Broadcast(cidr));
  assert.equal(pool.size, (1 << 24) - ex.size);
  for (let i = 0; i < 100_000; i++) {
    const idx = rng.int(pool.size);
    const a = pool.addressAt(idx);
    assert.ok(contains4(cidr, a) && !ex.has(a));
    assert.equal(pool.indexOf(a), idx);
    const b = cidr.network + rng.int(1 << 24);
    assert.equal(pool.indexOf(b) === -1, ex.has(b));
  }
  // Order: consecutive indices give ascending addresses.
  for (let i = 1; i < 2000; i++) assert.ok(pool.addressAt(i) > pool.addressAt(i - 1));
});
