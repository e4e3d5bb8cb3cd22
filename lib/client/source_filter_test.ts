import { test } from "node:test";
import assert from "node:assert/strict";
import { SOURCE_FILTER_REASONS, TepSourceFilter } from "./source_filter.ts";
import { type Cidr6, ipv4ToBytes, parseCidr6, parseIpv4, parseIpv6 } from "../addr/mod.ts";
import { Prng } from "../testing/prng.ts";

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

function c6(text: string): Cidr6 {
  const r = parseCidr6(text);
  if (!r.ok) assert.fail(`${text}: ${r.reason}`);
  return r.value;
}

const LEASE = v4("198.51.100.7");

/**
 * A tunnel packet as received: an IPv6 header (next header 4) from `src` to the client, then a
 * minimal IPv4 header from 203.0.113.5 to `dst`. `pad` bytes come before it (a packet inside a
 * bigger read buffer).
 */
function tunnelPacket(src: string, dst: string, pad = 0): Uint8Array {
  const p = new Uint8Array(pad + 40 + 20);
  const o = pad;
  p[o] = 0x60;
  p[o + 5] = 20; // payload length
  p[o + 6] = 4; // next header: IPv4
  p[o + 7] = 64;
  p.set(v6(src), o + 8);
  p.set(v6("2001:db8:100::10"), o + 24);
  const i = o + 40;
  p[i] = 0x45;
  p[i + 3] = 20;
  p[i + 8] = 64;
  p[i + 9] = 17;
  ipv4ToBytes(v4("203.0.113.5"), p, i + 12);
  ipv4ToBytes(v4(dst), p, i + 16);
  return p;
}

test("source filter: with no prefix, only the TEPs the server named are accepted", () => {
  const f = new TepSourceFilter();
  f.setLease(LEASE);
  const tep1 = tunnelPacket("2001:db8:ffff::1", "198.51.100.7");
  const tep2 = tunnelPacket("2001:db8:ffff::2", "198.51.100.7");
  assert.equal(f.check(tep1, 0, 40), "source-not-tep");
  assert.equal(f.addTep(v6("2001:db8:ffff::1")), true);
  assert.equal(f.addTep(v6("2001:db8:ffff::1")), false);
  assert.equal(f.check(tep1, 0, 40), "ok");
  assert.equal(f.check(tep2, 0, 40), "source-not-tep");
  // After a failover the new TEP is learned and the old one is still accepted.
  f.addTep(v6("2001:db8:ffff::2"));
  assert.equal(f.check(tep2, 0, 40), "ok");
  assert.equal(f.check(tep1, 0, 40), "ok");
  assert.equal(f.learnedTeps().length, 2);
});

test("source filter: configured prefixes accept any TEP inside them, plus the named ones", () => {
  const f = new TepSourceFilter({ prefixes: [c6("2001:db8:ffff::/48"), c6("2001:db8:eeee::/64")] });
  f.setLease(LEASE);
  const golden: [string, string][] = [
    ["2001:db8:ffff::1", "ok"],
    ["2001:db8:ffff::2", "ok"], // BR2: never named to this client, still a domain TEP
    ["2001:db8:ffff:1234::99", "ok"],
    ["2001:db8:eeee::7", "ok"],
    ["2001:db8:eeee:1::7", "source-not-tep"],
    ["2001:db8:fffe::1", "source-not-tep"],
    ["2001:db8:100::20", "source-not-tep"], // another client
    ["::", "source-not-tep"],
    ["fe80::1", "source-not-tep"],
  ];
  for (const [src, want] of golden) {
    assert.equal(f.check(tunnelPacket(src, "198.51.100.7"), 0, 40), want, src);
  }
  f.addTep(v6("2001:db8:1::99"));
  assert.equal(f.check(tunnelPacket("2001:db8:1::99", "198.51.100.7"), 0, 40), "ok");
  assert.equal(f.prefixes().length, 2);
});

test("source filter: the inner IPv4 destination must be the current lease", () => {
  const f = new TepSourceFilter({ prefixes: [c6("2001:db8:ffff::/48")] });
  const good = tunnelPacket("2001:db8:ffff::2", "198.51.100.7");
  const other = tunnelPacket("2001:db8:ffff::2", "198.51.100.8");
  assert.equal(f.check(good, 0, 40), "no-lease");
  f.setLease(LEASE);
  assert.equal(f.check(good, 0, 40), "ok");
  assert.equal(f.check(other, 0, 40), "inner-not-lease");
  assert.equal(f.acceptsInner(good, 56), true);
  assert.equal(f.acceptsInner(other, 56), false);
  // The lease moves to another address.
  f.setLease(v4("198.51.100.8"));
  assert.equal(f.check(good, 0, 40), "inner-not-lease");
  assert.equal(f.check(other, 0, 40), "ok");
  f.setLease(undefined);
  assert.equal(f.check(other, 0, 40), "no-lease");
  // Edge addresses of the 32-bit range.
  for (const a of ["0.0.0.0", "255.255.255.255", "128.0.0.1"]) {
    f.setLease(v4(a));
    assert.equal(f.check(tunnelPacket("2001:db8:ffff::2", a), 0, 40), "ok", a);
  }
  assert.throws(() => f.setLease(-1), RangeError);
  assert.throws(() => f.setLease(2 ** 32), RangeError);
});

test("source filter: works at offsets inside a larger buffer and reports truncation", () => {
  const f = new TepSourceFilter();
  f.addTep(v6("2001:db8:ffff::1"));
  f.setLease(LEASE);
  const p = tunnelPacket("2001:db8:ffff::1", "198.51.100.7", 7);
  assert.equal(f.check(p, 7, 47), "ok");
  assert.equal(f.accepts(p, 15), true);
  assert.equal(f.check(p.subarray(7), 0, 40), "ok");
  assert.equal(f.check(p, 7, 48), "truncated");
  assert.equal(f.check(p.subarray(0, 40), 7, 47), "truncated");
  assert.equal(f.check(p, -1, 47), "truncated");
  assert.equal(f.check(p, 1.5, 47), "truncated");
  assert.throws(() => f.accepts(p, p.length - 15), RangeError);
  assert.throws(() => f.acceptsInner(p, p.length - 3), RangeError);
  assert.throws(() => f.addTep(new Uint8Array(15)), RangeError);
  assert.deepEqual([...SOURCE_FILTER_REASONS], [
    "truncated",
    "source-not-tep",
    "no-lease",
    "inner-not-lease",
  ]);
});

test("source filter: the learned set is capped, forgetting the oldest first", () => {
  const f = new TepSourceFilter({ maxLearnedTeps: 3 });
  const a = (n: number) => v6(`2001:db8:ffff::${n}`);
  for (let n = 1; n <= 3; n++) f.addTep(a(n));
  assert.equal(f.accepts(a(1), 0), true);
  f.addTep(a(4));
  assert.equal(f.accepts(a(1), 0), false);
  assert.equal(f.accepts(a(2), 0), true);
  assert.equal(f.accepts(a(4), 0), true);
  f.addTep(a(5));
  assert.equal(f.accepts(a(2), 0), false);
  assert.equal(f.learnedTeps().length, 3);
  assert.throws(() => new TepSourceFilter({ maxLearnedTeps: 0 }), RangeError);
});

test("source filter: random sources match a reference model", () => {
  const prng = new Prng(9);
  const prefixes = [c6("2001:db8:ffff::/48"), c6("2001:db8:80::/41"), c6("2001:db8:1:2::/63")];
  const f = new TepSourceFilter({ prefixes });
  const named: Uint8Array[] = [];
  for (let i = 0; i < 5; i++) {
    const t = prng.bytes(16);
    named.push(t);
    f.addTep(t);
  }
  const inPrefix = (b: Uint8Array, c: Cidr6): boolean => {
    for (let bit = 0; bit < c.prefix; bit++) {
      const m = 0x80 >> (bit & 7);
      if ((b[bit >> 3] & m) !== (c.network[bit >> 3] & m)) return false;
    }
    return true;
  };
  const buf = new Uint8Array(16);
  let hits = 0;
  for (let i = 0; i < 5_000; i++) {
    const k = prng.int(4);
    if (k === 0) buf.set(named[prng.int(named.length)]);
    else prng.fill(buf);
    if (k === 1) buf.set(prefixes[prng.int(3)].network.subarray(0, 5 + prng.int(3)));
    const want = prefixes.some((c) => inPrefix(buf, c)) ||
      named.some((t) => t.every((x, j) => x === buf[j]));
    assert.equal(f.accepts(buf, 0), want);
    if (want) hits++;
  }
  assert.ok(hits > 1_500 && hits < 4_000, `${hits} hits`);
});
