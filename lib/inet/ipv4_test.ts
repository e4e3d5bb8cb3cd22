import { test } from "node:test";
import assert from "node:assert/strict";
import {
  checkIpv4,
  decrementTtl,
  fillIpv4Checksum,
  IPV4_REASONS,
  ipv4Checksum,
  ipv4DontFragment,
  ipv4Dst,
  type Ipv4Fields,
  ipv4FragmentOffset,
  ipv4HeaderLength,
  ipv4Identification,
  ipv4IsFragment,
  ipv4MoreFragments,
  ipv4Protocol,
  ipv4Src,
  ipv4Tos,
  ipv4TotalLength,
  ipv4Ttl,
  parseIpv4,
  writeIpv4Header,
} from "./ipv4.ts";
import { internetChecksum } from "./checksum.ts";
import { Prng } from "../testing/prng.ts";
import { forEachHostileInput, hex, shifted, toHex } from "./_testing.ts";
import {
  FRAG4_FIRST,
  FRAG4_LAST,
  PING4_REPLY,
  PING4_REQUEST,
  PORT_UNREACH4,
  REASSEMBLED4,
  UDP4,
} from "./_captures.ts";

test("inet: parseIpv4 reads a captured ping request", () => {
  const r = parseIpv4(PING4_REQUEST);
  assert.ok(r.ok);
  assert.deepEqual({ ...r.header, options: [...r.header.options] }, {
    tos: 0,
    totalLength: 84,
    identification: 0x0e4b,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: 64,
    protocol: 1,
    src: 0x7f000001,
    dst: 0x7f000001,
    headerLength: 20,
    checksum: 0x2e5c,
    options: [],
  });
  assert.equal(r.payload.length, 64);
  assert.equal(r.payload[0], 8); // ICMP echo request
  const t = parseIpv4(PORT_UNREACH4);
  assert.ok(t.ok);
  assert.equal(t.header.tos, 0xc0);
  assert.equal(t.header.dontFragment, false);
});

test("inet: IPv4 fragment fields of captured kernel fragments", () => {
  const a = parseIpv4(FRAG4_FIRST);
  assert.ok(a.ok);
  assert.equal(a.header.moreFragments, true);
  assert.equal(a.header.fragmentOffset, 0);
  assert.equal(a.header.identification, 0x1596);
  assert.equal(ipv4IsFragment(FRAG4_FIRST, 0), true);
  const b = parseIpv4(FRAG4_LAST);
  assert.ok(b.ok);
  assert.equal(b.header.moreFragments, false);
  assert.equal(b.header.fragmentOffset, 552);
  assert.equal(ipv4IsFragment(FRAG4_LAST, 0), true);
  // The two payloads put together are the reassembled datagram's payload.
  assert.equal(a.payload.length + b.payload.length, REASSEMBLED4.length - 20);
  assert.equal(toHex(b.payload), toHex(REASSEMBLED4.subarray(20 + 552)));
  assert.equal(checkIpv4(REASSEMBLED4, 0, REASSEMBLED4.length), null);
  assert.equal(ipv4IsFragment(REASSEMBLED4, 0), false);
});

test("inet: writeIpv4Header reproduces captured headers byte for byte", () => {
  for (const pkt of [PING4_REQUEST, PING4_REPLY, UDP4, PORT_UNREACH4, FRAG4_FIRST, FRAG4_LAST]) {
    const r = parseIpv4(pkt);
    assert.ok(r.ok);
    const out = new Uint8Array(20);
    assert.equal(writeIpv4Header(r.header, out), 20);
    assert.equal(toHex(out), toHex(pkt.subarray(0, 20)));
  }
});

test("inet: checkIpv4 names each malformation", () => {
  const ok = PING4_REQUEST;
  const edit = (f: (b: Uint8Array) => void, len = ok.length) => {
    const b = ok.slice(0, len);
    f(b);
    return b;
  };
  const cases: [Uint8Array, string | null][] = [
    [ok, null],
    [ok.subarray(0, 19), "truncated"],
    [new Uint8Array(0), "truncated"],
    [edit((b) => (b[0] = 0x65)), "bad-version"],
    [edit((b) => (b[0] = 0x44)), "bad-ihl"],
    [edit((b) => (b[0] = 0x4f), 59), "truncated"], // IHL 15 needs 60 bytes
    [edit((b) => (b[0] = 0x4f), 40), "truncated"],
    [edit(() => {}, 83), "bad-total-length"], // Total Length 84 > 83 bytes
    [edit((b) => (b[3] = 19)), "bad-total-length"], // Total Length below the header
    [edit((b) => (b[8] = 63)), "bad-checksum"],
  ];
  for (const [bytes, want] of cases) {
    assert.equal(checkIpv4(bytes, 0, bytes.length), want, toHex(bytes.subarray(0, 4)));
  }
  // Link padding after Total Length is fine.
  const padded = new Uint8Array(100);
  padded.set(ok);
  assert.equal(checkIpv4(padded, 0, 100), null);
  // Checksum verification can be turned off.
  const bad = edit((b) => (b[8] = 63));
  assert.equal(checkIpv4(bad, 0, bad.length, false), null);
  assert.deepEqual(parseIpv4(bad), { ok: false, reason: "bad-checksum" });
  assert.equal(parseIpv4(bad, { verifyChecksum: false }).ok, true);
  // A header with options (IHL 6, a 4-byte NOP/EOL option).
  const withOpt = hex("46000018000000004001 0000 c0000201 c0000202 01010100");
  fillIpv4Checksum(withOpt, 0);
  const p = parseIpv4(withOpt);
  assert.ok(p.ok);
  assert.deepEqual([...p.header.options], [1, 1, 1, 0]);
  assert.equal(p.payload.length, 0);
});

test("inet: IPv4 getters read at an offset inside a subarray view", () => {
  const v = shifted(PING4_REQUEST, 11);
  assert.notEqual(v.byteOffset, 0);
  assert.equal(checkIpv4(v, 0, v.length), null);
  assert.equal(parseIpv4(v).ok, true);
  // The same header at offset 5 of a view, reached through (buf, off).
  const big = new Uint8Array(200);
  big.set(UDP4, 30);
  const view = big.subarray(25, 150);
  const off = 5;
  assert.equal(checkIpv4(view, off, UDP4.length), null);
  assert.equal(ipv4HeaderLength(view, off), 20);
  assert.equal(ipv4Tos(view, off), 0);
  assert.equal(ipv4TotalLength(view, off), 38);
  assert.equal(ipv4Identification(view, off), 0xcb58);
  assert.equal(ipv4DontFragment(view, off), true);
  assert.equal(ipv4MoreFragments(view, off), false);
  assert.equal(ipv4FragmentOffset(view, off), 0);
  assert.equal(ipv4IsFragment(view, off), false);
  assert.equal(ipv4Ttl(view, off), 64);
  assert.equal(ipv4Protocol(view, off), 17);
  assert.equal(ipv4Checksum(view, off), 0x716c);
  assert.equal(ipv4Src(view, off), 0x7f000001);
  assert.equal(ipv4Dst(view, off), 0x7f000001);
  assert.equal(decrementTtl(view, off), 63);
  assert.equal(checkIpv4(view, off, UDP4.length), null);
  assert.equal(big[30 + 8], 63);
});

test("inet: decrementTtl updates the checksum incrementally and refuses TTL 0 and 1", () => {
  const b = PING4_REQUEST.slice();
  assert.equal(decrementTtl(b, 0), 63);
  assert.equal(ipv4Ttl(b, 0), 63);
  assert.equal(ipv4Checksum(b, 0), 0x2f5c);
  assert.equal(checkIpv4(b, 0, b.length), null);
  for (const ttl of [1, 0]) {
    const c = PING4_REQUEST.slice();
    c[8] = ttl;
    fillIpv4Checksum(c, 0);
    const before = toHex(c);
    assert.equal(decrementTtl(c, 0), 0);
    assert.equal(toHex(c), before);
  }
  const two = PING4_REQUEST.slice();
  two[8] = 2;
  fillIpv4Checksum(two, 0);
  assert.equal(decrementTtl(two, 0), 1);
  assert.equal(checkIpv4(two, 0, two.length), null);
});

test("inet: writeIpv4Header refuses values it cannot encode", () => {
  const good: Ipv4Fields = {
    tos: 0,
    totalLength: 20,
    identification: 1,
    dontFragment: false,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: 64,
    protocol: 6,
    src: 0xc0000201,
    dst: 0xc6336401,
  };
  const out = new Uint8Array(64);
  assert.equal(writeIpv4Header(good, out), 20);
  assert.equal(writeIpv4Header(good, out, 44), 20);
  assert.equal(writeIpv4Header(good, out, 45), 0); // does not fit
  assert.equal(writeIpv4Header(good, new Uint8Array(19)), 0);
  const bad: Partial<Ipv4Fields>[] = [
    { fragmentOffset: 12 },
    { fragmentOffset: 65536 },
    { ttl: 256 },
    { tos: -1 },
    { totalLength: 19 },
    { totalLength: 65536 },
    { identification: 1.5 },
    { src: 2 ** 32 },
    { protocol: 300 },
    { options: new Uint8Array(3), totalLength: 40 },
    { options: new Uint8Array(44), totalLength: 100 },
    { options: new Uint8Array(4), totalLength: 20 },
  ];
  for (const patch of bad) {
    assert.equal(writeIpv4Header({ ...good, ...patch }, out), 0, JSON.stringify(patch));
  }
  assert.equal(writeIpv4Header({ ...good, options: new Uint8Array(40), totalLength: 60 }, out), 60);
});

test("inet: checkIpv4 treats a range outside the buffer as a programmer error", () => {
  assert.throws(() => checkIpv4(PING4_REQUEST, 10, PING4_REQUEST.length), RangeError);
  assert.throws(() => checkIpv4(PING4_REQUEST, -1, 20), RangeError);
});

test("inet: IPv4 header seeded random round trip (write, check, parse, decrement)", () => {
  const rng = new Prng(791);
  const out = new Uint8Array(128);
  for (let n = 0; n < 5000; n++) {
    const optLen = rng.int(3) === 0 ? 4 * rng.int(11) : 0;
    const hl = 20 + optLen;
    const fields: Ipv4Fields = {
      tos: rng.int(256),
      totalLength: hl + rng.int(out.length - hl - 10),
      identification: rng.int(0x10000),
      dontFragment: rng.int(2) === 0,
      moreFragments: rng.int(2) === 0,
      fragmentOffset: 8 * rng.int(8192),
      ttl: rng.int(256),
      protocol: rng.int(256),
      src: rng.u32(),
      dst: rng.u32(),
      options: optLen === 0 ? undefined : rng.bytes(optLen),
    };
    const off = rng.int(10);
    assert.equal(writeIpv4Header(fields, out, off), hl);
    assert.equal(checkIpv4(out, off, fields.totalLength), null);
    const r = parseIpv4(out.subarray(off, off + fields.totalLength));
    assert.ok(r.ok);
    const { headerLength, checksum, options, ...rest } = r.header;
    const { options: wantOptions, ...want } = fields;
    assert.deepEqual(rest, want);
    assert.equal(headerLength, hl);
    assert.equal(toHex(options), toHex(wantOptions ?? new Uint8Array(0)));
    assert.equal(checksum, ipv4Checksum(out, off));
    assert.equal(
      ipv4IsFragment(out, off),
      fields.moreFragments || fields.fragmentOffset !== 0,
    );
    // Incremental TTL decrement agrees with a full recomputation.
    const t = decrementTtl(out, off);
    if (fields.ttl <= 1) {
      assert.equal(t, 0);
    } else {
      assert.equal(t, fields.ttl - 1);
      const inc = ipv4Checksum(out, off);
      fillIpv4Checksum(out, off);
      assert.equal(inc, ipv4Checksum(out, off));
    }
  }
});

test("inet: IPv4 parsers never throw on 100k random or mutated inputs", () => {
  const rng = new Prng(0xbad4);
  const known = new Set<string>(IPV4_REASONS);
  const seeds = [PING4_REQUEST, PING4_REPLY, UDP4, PORT_UNREACH4, FRAG4_LAST.subarray(0, 90)];
  let ok = 0;
  forEachHostileInput(rng, seeds, 100_000, 100, (b) => {
    const verify = (b.length & 1) === 0;
    const why = checkIpv4(b, 0, b.length, verify);
    if (why === null) {
      ok++;
      const hl = ipv4HeaderLength(b, 0);
      const total = ipv4TotalLength(b, 0);
      assert.ok(hl >= 20 && hl <= total && total <= b.length);
      if (verify) assert.equal(internetChecksum(b, 0, hl), 0);
    } else {
      assert.ok(known.has(why), why);
    }
    const r = parseIpv4(b, { verifyChecksum: verify });
    assert.equal(r.ok, why === null);
    if (!r.ok) assert.equal(r.reason, why);
  });
  assert.ok(ok > 1000, `only ${ok} valid inputs`);
});
