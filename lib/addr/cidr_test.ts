import { test } from "node:test";
import assert from "node:assert/strict";
import {
  cidr4Broadcast,
  cidr4FirstHost,
  cidr4LastHost,
  cidr4Size,
  cidr6Last,
  cidr6Size,
  contains4,
  contains6,
  formatCidr4,
  formatCidr6,
  makeCidr4,
  makeCidr6,
  parseCidr4,
  parseCidr6,
} from "./cidr.ts";
import type { Cidr4, Cidr6 } from "./cidr.ts";
import { formatIpv4, parseIpv4 } from "./ipv4.ts";
import { formatIpv6, parseIpv6 } from "./ipv6.ts";
import { Prng } from "../testing/prng.ts";
import { mutate, randomAddressText } from "./_fuzz.ts";

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

function c4(text: string): Cidr4 {
  const r = parseCidr4(text);
  if (!r.ok) assert.fail(`${text}: ${r.reason}`);
  return r.value;
}

function c6(text: string): Cidr6 {
  const r = parseCidr6(text);
  if (!r.ok) assert.fail(`${text}: ${r.reason}`);
  return r.value;
}

test("addr: parseCidr4 parses blocks and computes mask, size and bounds", () => {
  const c = c4(" 198.51.100.0/24\n");
  assert.deepEqual(c, { network: 0xc6336400, prefix: 24, mask: 0xffffff00 });
  assert.equal(formatCidr4(c), "198.51.100.0/24");
  assert.equal(cidr4Size(c), 256);
  assert.equal(formatIpv4(cidr4Broadcast(c)), "198.51.100.255");
  assert.equal(formatIpv4(cidr4FirstHost(c)), "198.51.100.1");
  assert.equal(formatIpv4(cidr4LastHost(c)), "198.51.100.254");

  const all = c4("0.0.0.0/0");
  assert.deepEqual(all, { network: 0, prefix: 0, mask: 0 });
  assert.equal(cidr4Size(all), 2 ** 32);
  assert.equal(cidr4Broadcast(all), 0xffffffff);

  const p2p = c4("192.0.2.6/31"); // RFC 3021: both addresses usable
  assert.equal(cidr4Size(p2p), 2);
  assert.equal(formatIpv4(cidr4FirstHost(p2p)), "192.0.2.6");
  assert.equal(formatIpv4(cidr4LastHost(p2p)), "192.0.2.7");

  const host = c4("255.255.255.255/32");
  assert.deepEqual(host, { network: 0xffffffff, prefix: 32, mask: 0xffffffff });
  assert.equal(cidr4Size(host), 1);
  assert.equal(cidr4FirstHost(host), 0xffffffff);
  assert.equal(cidr4LastHost(host), 0xffffffff);

  const ten = c4("10.0.0.0/8");
  assert.equal(cidr4Size(ten), 1 << 24);
  assert.equal(formatIpv4(cidr4LastHost(ten)), "10.255.255.254");
});

test("addr: parseCidr4 refuses host bits unless loose, and malformed text", () => {
  assert.deepEqual(parseCidr4("198.51.100.1/24"), { ok: false, reason: "host-bits-set" });
  assert.deepEqual(parseCidr4("198.51.100.1/24", { loose: true }), {
    ok: true,
    value: { network: 0xc6336400, prefix: 24, mask: 0xffffff00 },
  });
  assert.deepEqual(parseCidr4("10.0.0.1/0", { loose: true }), {
    ok: true,
    value: { network: 0, prefix: 0, mask: 0 },
  });
  const cases: [string, string][] = [
    ["198.51.100.0", "missing-prefix"],
    ["198.51.100.0/", "bad-prefix"],
    ["198.51.100.0/33", "bad-prefix"],
    ["198.51.100.0/024", "bad-prefix"],
    ["198.51.100.0/00", "bad-prefix"],
    ["198.51.100.0/2x", "bad-prefix"],
    ["198.51.100.0/1000", "bad-prefix"],
    ["198.51.100.0/ 24", "bad-prefix"],
    ["198.51.100.0/24/24", "bad-prefix"],
    ["198.51.100.0/-1", "bad-prefix"],
    ["198.51.100.0 /24", "invalid-char"],
    ["198.51.100.0\n/24", "invalid-char"],
    ["/24", "empty"],
    ["198.51.100/24", "part-count"],
    ["010.0.0.0/8", "leading-zero"],
    ["0x0a.0.0.0/8", "invalid-char"],
    ["2001:db8::/32", "invalid-char"],
  ];
  for (const [text, reason] of cases) {
    assert.deepEqual(parseCidr4(text), { ok: false, reason }, JSON.stringify(text));
  }
  assert.deepEqual(parseCidr4(undefined as unknown as string), {
    ok: false,
    reason: "not-a-string",
  });
});

test("addr: contains4 checks membership at the block edges", () => {
  const c = c4("198.51.100.0/24");
  assert.ok(contains4(c, v4("198.51.100.0")));
  assert.ok(contains4(c, v4("198.51.100.255")));
  assert.ok(!contains4(c, v4("198.51.99.255")));
  assert.ok(!contains4(c, v4("198.51.101.0")));
  const top = c4("128.0.0.0/1");
  assert.ok(contains4(top, 0xffffffff));
  assert.ok(contains4(top, 0x80000000));
  assert.ok(!contains4(top, 0x7fffffff));
  assert.ok(contains4(c4("0.0.0.0/0"), 0xffffffff));
  assert.ok(contains4(c4("0.0.0.0/0"), 0));
  assert.ok(contains4(c4("192.0.2.1/32"), v4("192.0.2.1")));
  assert.ok(!contains4(c4("192.0.2.1/32"), v4("192.0.2.0")));
});

test("addr: makeCidr4 builds blocks and throws RangeError on programmer errors", () => {
  assert.deepEqual(makeCidr4(v4("10.0.0.0"), 8), c4("10.0.0.0/8"));
  assert.deepEqual(makeCidr4(v4("10.1.2.3"), 8, { loose: true }), c4("10.0.0.0/8"));
  assert.throws(() => makeCidr4(v4("10.1.2.3"), 8), RangeError);
  assert.throws(() => makeCidr4(0, 33), RangeError);
  assert.throws(() => makeCidr4(0, -1), RangeError);
  assert.throws(() => makeCidr4(0, 1.5), RangeError);
  assert.throws(() => makeCidr4(-1, 0), RangeError);
  assert.throws(() => makeCidr4(2 ** 32, 0), RangeError);
});

test("addr: parseCidr6 parses blocks, refuses host bits unless loose", () => {
  const c = c6("2001:db8::/32");
  assert.equal(c.prefix, 32);
  assert.equal(formatCidr6(c), "2001:db8::/32");
  assert.equal(cidr6Size(c), 1n << 96n);
  assert.equal(formatCidr6(c6("\n::/0 ")), "::/0");
  assert.equal(cidr6Size(c6("::/0")), 1n << 128n);
  assert.equal(cidr6Size(c6("2001:db8::1/128")), 1n);
  assert.equal(
    formatCidr6(c6("2001:db8:c18:ffff::0000:0000:0000:0000/64")),
    "2001:db8:c18:ffff::/64",
  );
  assert.deepEqual(parseCidr6("2001:db8::1/64"), { ok: false, reason: "host-bits-set" });
  assert.ok(parseCidr6("2001:db8:8000::/33").ok);
  assert.deepEqual(parseCidr6("2001:db8:4000::/33"), { ok: false, reason: "host-bits-set" });
  assert.deepEqual(parseCidr6("2001:db8:0:0:0:0:0:1/127"), { ok: false, reason: "host-bits-set" });
  assert.ok(parseCidr6("2001:db8:0:0:0:0:0:1/128").ok);
  const loose = parseCidr6("2001:db8:ffff:ffff::1/36", { loose: true });
  assert.ok(loose.ok);
  assert.equal(formatCidr6(loose.value), "2001:db8:f000::/36");
  assert.deepEqual(parseCidr6("::ffff:192.0.2.0/120"), { ok: false, reason: "embedded-ipv4" });
  assert.equal(
    formatCidr6(
      (parseCidr6("::ffff:192.0.2.0/120", { embeddedIpv4: true }) as { value: Cidr6 }).value,
    ),
    "::ffff:c000:200/120",
  );
  const cases: [string, string][] = [
    ["2001:db8::", "missing-prefix"],
    ["2001:db8::/129", "bad-prefix"],
    ["2001:db8::/064", "bad-prefix"],
    ["2001:db8::/", "bad-prefix"],
    ["2001:db8:: /32", "invalid-char"],
    ["fe80::%eth0/64", "zone-id"],
    ["2001:db8:::/32", "multiple-double-colon"],
    ["/32", "empty"],
  ];
  for (const [text, reason] of cases) {
    assert.deepEqual(parseCidr6(text), { ok: false, reason }, JSON.stringify(text));
  }
});

test("addr: contains6 and cidr6Last work on every prefix boundary and on subarray views", () => {
  const c = c6("2001:db8:f000::/36");
  const last = new Uint8Array(16);
  assert.equal(cidr6Last(c, last), 16);
  assert.equal(formatIpv6(last), "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
  assert.ok(contains6(c, last));
  assert.ok(contains6(c, c.network));
  assert.ok(!contains6(c, v6("2001:db8:efff::")));
  assert.ok(!contains6(c, v6("2001:db9::")));
  // A view into a "packet": the address sits at byte 8 of a subarray at byte 3.
  const backing = new Uint8Array(40);
  const view = backing.subarray(3, 35);
  view.set(v6("2001:db8:f123::9"), 8);
  assert.ok(contains6(c, view, 8));
  assert.ok(contains6(c, backing, 11));
  assert.ok(!contains6(c, view, 7));
  assert.throws(() => contains6(c, view, 17), RangeError);
  assert.equal(cidr6Last(c, view, 17), 0);
  assert.equal(cidr6Last(c, view, 16), 16);
  assert.equal(formatIpv6(backing, 19), "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
  // Every prefix length: the network and last address are inside, their neighbours outside.
  const rng = new Prng(0xc1d6);
  const probe = new Uint8Array(16);
  for (let p = 0; p <= 128; p++) {
    const block = makeCidr6(rng.bytes(16), p, { loose: true });
    assert.equal(cidr6Last(block, probe), 16);
    assert.ok(contains6(block, block.network), `/${p}`);
    assert.ok(contains6(block, probe), `/${p}`);
    if (p > 0) {
      // Flip the last prefix bit: just outside.
      const q = block.network.slice();
      q[(p - 1) >>> 3] ^= 0x80 >>> ((p - 1) & 7);
      assert.ok(!contains6(block, q), `/${p}`);
    }
  }
});

test("addr: makeCidr6 copies its input and throws RangeError on programmer errors", () => {
  const bytes = v6("2001:db8::");
  const c = makeCidr6(bytes, 32);
  bytes[0] = 0xff;
  assert.equal(formatCidr6(c), "2001:db8::/32");
  const buf = new Uint8Array(20);
  buf.set(v6("2001:db8::1"), 4);
  assert.equal(formatCidr6(makeCidr6(buf, 64, { loose: true }, 4)), "2001:db8::/64");
  assert.throws(() => makeCidr6(buf, 64, undefined, 4), RangeError);
  assert.throws(() => makeCidr6(buf, 64, { loose: true }, 5), RangeError);
  assert.throws(() => makeCidr6(v6("::"), 129), RangeError);
});

test("addr: seeded random CIDR blocks round trip and agree on membership", () => {
  const rng = new Prng(0xc1d4);
  for (let i = 0; i < 20_000; i++) {
    const p = rng.int(33);
    const c = makeCidr4(rng.u32(), p, { loose: true });
    assert.deepEqual(parseCidr4(formatCidr4(c)), { ok: true, value: c });
    const a = rng.u32();
    // Reference membership: compare the top p bits as numbers.
    const want = p === 0 || Math.floor(a / 2 ** (32 - p)) === Math.floor(c.network / 2 ** (32 - p));
    assert.equal(contains4(c, a), want);
    assert.ok(contains4(c, cidr4Broadcast(c)));
    assert.equal(cidr4Broadcast(c) - c.network + 1, cidr4Size(c));

    const p6 = rng.int(129);
    const c6r = makeCidr6(rng.bytes(16), p6, { loose: true });
    const back = parseCidr6(formatCidr6(c6r));
    assert.ok(back.ok);
    assert.deepEqual([...back.value.network], [...c6r.network]);
    assert.equal(back.value.prefix, p6);
  }
});

test("addr: parseCidr4 and parseCidr6 never throw on 200k random inputs each", () => {
  const rng = new Prng(0xc1d);
  let ok4 = 0;
  let ok6 = 0;
  for (let i = 0; i < 100_000; i++) {
    const loose = (i & 1) === 1;
    const r4 = parseCidr4(
      i < 50_000
        ? randomAddressText(rng, 24)
        : mutate(rng, `${formatIpv4(rng.u32())}/${rng.int(33)}`),
      { loose },
    );
    if (r4.ok) {
      ok4++;
      assert.ok(contains4(r4.value, r4.value.network));
    }
    const r6 = parseCidr6(
      i < 50_000
        ? randomAddressText(rng, 50)
        : mutate(rng, `${formatIpv6(rng.bytes(16))}/${rng.int(129)}`),
      { loose, embeddedIpv4: loose },
    );
    if (r6.ok) {
      ok6++;
      assert.ok(contains6(r6.value, r6.value.network));
    }
  }
  for (let i = 0; i < 100_000; i++) {
    assert.equal(typeof parseCidr4(randomAddressText(rng, 20)).ok, "boolean");
    assert.equal(typeof parseCidr6(randomAddressText(rng, 50)).ok, "boolean");
  }
  assert.ok(ok4 > 500 && ok6 > 500, `${ok4} IPv4 and ${ok6} IPv6 accepted`);
});
