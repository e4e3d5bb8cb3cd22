import { test } from "node:test";
import assert from "node:assert/strict";
import {
  checkIpv6,
  compare16,
  copy16,
  equals16,
  IPV6_REASONS,
  type Ipv6Fields,
  ipv6FlowLabel,
  ipv6HopLimit,
  ipv6NextHeader,
  ipv6PayloadLength,
  ipv6TrafficClass,
  Ipv6Walk,
  parseIpv6,
  walkIpv6,
  writeIpv6FragmentHeader,
  writeIpv6Header,
} from "./ipv6.ts";
import { IP_PROTO } from "./proto.ts";
import { Prng } from "../testing/prng.ts";
import { forEachHostileInput, hex, shifted, toHex } from "./_testing.ts";
import {
  BIG6_UDP,
  EXT6_UDP,
  EXT6_UNREACH,
  PING6_REPLY,
  PING6_REQUEST,
  PORT_UNREACH6,
  UDP6,
} from "./_captures.ts";

const LOOPBACK = hex("0000 0000 0000 0000 0000 0000 0000 0001");

/** A 40-byte IPv6 header (2001:db8::1 -> 2001:db8::2) followed by `rest`; Payload Length fits. */
function packet(nextHeader: number, rest: string, payloadLength?: number): Uint8Array {
  const body = hex(rest);
  const b = new Uint8Array(40 + body.length);
  const len = payloadLength ?? body.length;
  b.set(hex("6000 0000"));
  b[4] = len >> 8;
  b[5] = len & 0xff;
  b[6] = nextHeader;
  b[7] = 64;
  b.set(hex("2001 0db8 0000 0000 0000 0000 0000 0001 2001 0db8 0000 0000 0000 0000 0000 0002"), 8);
  b.set(body, 40);
  return b;
}

test("inet: parseIpv6 reads a captured ICMPv6 echo request", () => {
  const r = parseIpv6(PING6_REQUEST);
  assert.ok(r.ok);
  assert.equal(r.header.trafficClass, 0);
  assert.equal(r.header.flowLabel, 0x75aea);
  assert.equal(r.header.payloadLength, 64);
  assert.equal(r.header.nextHeader, 58);
  assert.equal(r.header.hopLimit, 64);
  assert.ok(equals16(r.header.src, 0, LOOPBACK, 0));
  assert.ok(equals16(r.header.dst, 0, LOOPBACK, 0));
  assert.equal(r.protocol, IP_PROTO.ICMPV6);
  assert.equal(r.payloadOffset, 40);
  assert.equal(r.fragment, null);
  assert.equal(r.payload.length, 64);
  assert.equal(r.payload[0], 128);
});

test("inet: walkIpv6 crosses captured Hop-by-Hop and Destination Options headers", () => {
  const w = new Ipv6Walk();
  assert.equal(walkIpv6(EXT6_UDP, 0, EXT6_UDP.length, w), null);
  assert.equal(w.protocol, IP_PROTO.UDP);
  assert.equal(w.offset, 56);
  assert.equal(w.end, 80);
  assert.equal(w.headerCount, 2);
  assert.equal(w.protocolFieldOffset, 48);
  assert.equal(w.fragmentHeaderOffset, -1);
  assert.equal(w.isFragment(), false);
  assert.equal(ipv6NextHeader(EXT6_UDP, 0), IP_PROTO.HOP_BY_HOP);
  // The Tunnel Encapsulation Limit option sits in the Destination Options header.
  assert.deepEqual([...EXT6_UDP.subarray(50, 53)], [4, 1, 4]);
  // A packet quoted in an ICMPv6 error walks the same way.
  const q = walkIpv6(EXT6_UNREACH, 48, EXT6_UNREACH.length - 48, w, { quoted: true });
  assert.equal(q, null);
  assert.equal(w.protocol, IP_PROTO.UDP);
  assert.equal(w.offset, 48 + 56);
});

test("inet: writeIpv6Header reproduces captured headers byte for byte", () => {
  for (const pkt of [PING6_REQUEST, PING6_REPLY, UDP6, PORT_UNREACH6, EXT6_UDP, BIG6_UDP]) {
    const r = parseIpv6(pkt);
    assert.ok(r.ok);
    const out = new Uint8Array(48);
    assert.equal(writeIpv6Header(r.header, out, 8), 40);
    assert.equal(toHex(out.subarray(8)), toHex(pkt.subarray(0, 40)));
  }
});

test("inet: walkIpv6 reads Fragment headers and stops at non-first fragments", () => {
  const w = new Ipv6Walk();
  // First fragment: offset 0, M=1, id 0xdeadbeef; the walk continues to UDP.
  const first = packet(44, "1100 0001 dead beef  e828 0009 0012 0000");
  assert.equal(walkIpv6(first, 0, first.length, w), null);
  assert.equal(w.protocol, IP_PROTO.UDP);
  assert.equal(w.offset, 48);
  assert.equal(w.fragmentHeaderOffset, 40);
  assert.equal(w.fragmentOffset, 0);
  assert.equal(w.moreFragments, true);
  assert.equal(w.identification, 0xdeadbeef);
  assert.equal(w.isFragment(), true);
  // Later fragment: offset 1448 (0x5a8), M=0: what follows is data, not a header.
  const later = packet(44, "3c00 05a8 0102 0304  0000 0000 0000 0000");
  assert.equal(walkIpv6(later, 0, later.length, w), null);
  assert.equal(w.protocol, 60); // the Fragment header's Next Header, not walked
  assert.equal(w.offset, 48);
  assert.equal(w.protocolFieldOffset, 40);
  assert.equal(w.fragmentOffset, 1448);
  assert.equal(w.moreFragments, false);
  assert.equal(w.identification, 0x01020304);
  // An atomic fragment (offset 0, M=0; RFC 6946) is not a real fragment.
  const atomic = packet(44, "0400 0000 0000 0001  4500 0014");
  assert.equal(walkIpv6(atomic, 0, atomic.length, w), null);
  assert.equal(w.protocol, IP_PROTO.IPV4);
  assert.equal(w.isFragment(), false);
  const p = parseIpv6(later);
  assert.ok(p.ok);
  assert.deepEqual(p.fragment, { offset: 1448, more: false, identification: 0x01020304 });
  // writeIpv6FragmentHeader writes the same bytes.
  const f = new Uint8Array(8);
  assert.equal(writeIpv6FragmentHeader(60, 1448, false, 0x01020304, f), 8);
  assert.equal(toHex(f), "3c0005a801020304");
  assert.equal(writeIpv6FragmentHeader(60, 1447, false, 0, f), 0);
  assert.equal(writeIpv6FragmentHeader(60, 8, true, 2 ** 32, f), 0);
  assert.equal(writeIpv6FragmentHeader(60, 8, true, 1, f, 1), 0);
});

test("inet: walkIpv6 sizes AH in 4-byte units and stops at ESP and No Next Header", () => {
  const w = new Ipv6Walk();
  // AH with Payload Len 4: (4 + 2) * 4 = 24 bytes, then ESP.
  const ah = packet(
    51,
    "3204 0000 0000 0100 0000 0001 " + "00".repeat(12) + " 0000 0100 0000 0001",
  );
  assert.equal(walkIpv6(ah, 0, ah.length, w), null);
  assert.equal(w.protocol, IP_PROTO.ESP);
  assert.equal(w.offset, 64);
  assert.equal(w.headerCount, 1);
  const none = packet(60, "3b00 0100 0000 0000 ffff");
  assert.equal(walkIpv6(none, 0, none.length, w), null);
  assert.equal(w.protocol, IP_PROTO.NO_NEXT_HEADER);
  assert.equal(w.offset, 48);
  assert.equal(w.end, 50);
});

test("inet: walkIpv6 names each malformation", () => {
  const w = new Ipv6Walk();
  const dst8 = "3c00 0100 0000 0000 ";
  const cases: [Uint8Array, string | null][] = [
    [PING6_REQUEST, null],
    [PING6_REQUEST.subarray(0, 39), "truncated"],
    [new Uint8Array(0), "truncated"],
    [packet(59, "", 0).map((b, i) => (i === 0 ? 0x40 : b)), "bad-version"],
    [PING6_REQUEST.subarray(0, 103), "bad-payload-length"],
    [packet(60, "1101"), "truncated-extension"], // header length byte runs past the end
    [packet(60, "11"), "truncated-extension"],
    [packet(44, "1100 0000"), "truncated-extension"],
    [packet(51, "1100"), "truncated-extension"],
    [packet(60, dst8.repeat(8) + "3b00 0100 0000 0000"), "too-many-headers"],
    [packet(60, dst8.repeat(7) + "3b00 0100 0000 0000"), null],
    [packet(60, "0000 0100 0000 0000 3b00 0100 0000 0000"), "misplaced-hop-by-hop"],
  ];
  for (const [b, want] of cases) {
    assert.equal(walkIpv6(b, 0, b.length, w), want, toHex(b.subarray(40, 48)));
  }
  const nine = packet(60, dst8.repeat(8) + "3b00 0100 0000 0000");
  assert.equal(walkIpv6(nine, 0, nine.length, w, { maxHeaders: 9 }), null);
  assert.equal(walkIpv6(nine, 0, nine.length, w, { maxHeaders: 0 }), "too-many-headers");
  assert.equal(checkIpv6(PING6_REQUEST, 0, 60), "bad-payload-length");
  assert.equal(checkIpv6(PING6_REQUEST, 0, 104), null);
  assert.deepEqual(parseIpv6(PING6_REQUEST.subarray(0, 50)), {
    ok: false,
    reason: "bad-payload-length",
  });
  // Quoted packets may be cut short; `end` is clamped to the bytes available.
  assert.equal(walkIpv6(BIG6_UDP, 0, 1232, w, { quoted: true }), null);
  assert.equal(w.end, 1232);
  assert.equal(w.protocol, IP_PROTO.UDP);
  assert.equal(walkIpv6(BIG6_UDP, 0, 1232, w), "bad-payload-length");
  assert.throws(() => walkIpv6(PING6_REQUEST, 1, PING6_REQUEST.length, w), RangeError);
});

test("inet: IPv6 getters and walk work at an offset inside a subarray view", () => {
  const v = shifted(EXT6_UDP, 9);
  assert.notEqual(v.byteOffset, 0);
  const r = parseIpv6(v);
  assert.ok(r.ok);
  assert.equal(r.protocol, IP_PROTO.UDP);
  assert.equal(toHex(r.payload), toHex(EXT6_UDP.subarray(56)));
  const big = new Uint8Array(300);
  big.set(PING6_REQUEST, 40);
  const view = big.subarray(17);
  const off = 23;
  const w = new Ipv6Walk();
  assert.equal(walkIpv6(view, off, PING6_REQUEST.length, w), null);
  assert.equal(w.offset, off + 40);
  assert.equal(w.end, off + 104);
  assert.equal(ipv6TrafficClass(view, off), 0);
  assert.equal(ipv6FlowLabel(view, off), 0x75aea);
  assert.equal(ipv6PayloadLength(view, off), 64);
  assert.equal(ipv6NextHeader(view, off), 58);
  assert.equal(ipv6HopLimit(view, off), 64);
  assert.ok(equals16(view, off + 8, LOOPBACK, 0));
});

test("inet: 16-byte address helpers compare and copy without allocating", () => {
  const a = hex("2001 0db8 0000 0000 0000 0000 0000 0001");
  const b = hex("2001 0db8 0000 0000 0000 0000 0000 0002");
  const buf = new Uint8Array(40);
  copy16(a, 0, buf, 3);
  assert.ok(equals16(buf, 3, a, 0));
  assert.ok(!equals16(buf, 3, b, 0));
  assert.ok(compare16(a, 0, b, 0) < 0);
  assert.ok(compare16(b, 0, a, 0) > 0);
  assert.equal(compare16(buf, 3, a, 0), 0);
  const c = hex("2001 0db9 0000 0000 0000 0000 0000 0000");
  assert.ok(compare16(b, 0, c, 0) < 0);
  copy16(b, 0, buf.subarray(20), 4);
  assert.ok(equals16(buf, 24, b, 0));
});

test("inet: writeIpv6Header refuses values it cannot encode", () => {
  const good: Ipv6Fields = {
    trafficClass: 0,
    flowLabel: 0,
    payloadLength: 0,
    nextHeader: 59,
    hopLimit: 64,
    src: LOOPBACK,
    dst: LOOPBACK,
  };
  assert.equal(writeIpv6Header(good, new Uint8Array(40)), 40);
  assert.equal(writeIpv6Header(good, new Uint8Array(39)), 0);
  assert.equal(writeIpv6Header(good, new Uint8Array(50), 11), 0);
  const bad: Partial<Ipv6Fields>[] = [
    { trafficClass: 256 },
    { flowLabel: 0x100000 },
    { payloadLength: 65536 },
    { nextHeader: -1 },
    { hopLimit: 0.5 },
    { src: new Uint8Array(4) },
    { dst: new Uint8Array(17) },
  ];
  for (const patch of bad) {
    assert.equal(writeIpv6Header({ ...good, ...patch }, new Uint8Array(40)), 0);
  }
});

/** Append a random extension header of kind `nh` whose own Next Header is `next`. */
function randomExtension(
  rng: Prng,
  nh: number,
  next: number,
  frag: { off: number; m: boolean; id: number },
): Uint8Array {
  if (nh === 44) {
    const f = new Uint8Array(8);
    writeIpv6FragmentHeader(next, frag.off, frag.m, frag.id, f);
    return f;
  }
  const len = nh === 51 ? 4 * (2 + rng.int(6)) : 8 * (1 + rng.int(4));
  const h = rng.bytes(len);
  h[0] = next;
  h[1] = nh === 51 ? len / 4 - 2 : len / 8 - 1;
  return h;
}

test("inet: IPv6 seeded random round trip (write header and chain, walk, parse)", () => {
  const rng = new Prng(8200);
  const w = new Ipv6Walk();
  const out = new Uint8Array(600);
  const kinds = [43, 60, 51, 44];
  const uppers = [6, 17, 58, 4, 41, 50, 59, 132];
  for (let n = 0; n < 3000; n++) {
    const chain: number[] = [];
    if (rng.int(3) === 0) chain.push(0);
    const k = rng.int(5);
    for (let i = 0; i < k; i++) chain.push(kinds[rng.int(kinds.length)]);
    const upper = uppers[rng.int(uppers.length)];
    const frag = { off: 0, m: rng.int(2) === 0, id: rng.u32() };
    const firstFrag = chain.indexOf(44);
    if (firstFrag >= 0 && rng.int(2) === 0) frag.off = 8 * (1 + rng.int(8000));
    const parts: Uint8Array[] = [];
    for (let i = 0; i < chain.length; i++) {
      parts.push(randomExtension(rng, chain[i], i + 1 < chain.length ? chain[i + 1] : upper, frag));
    }
    const data = rng.bytes(rng.int(64));
    let payloadLength = data.length;
    for (const p of parts) payloadLength += p.length;
    const fields: Ipv6Fields = {
      trafficClass: rng.int(256),
      flowLabel: rng.int(0x100000),
      payloadLength,
      nextHeader: chain.length > 0 ? chain[0] : upper,
      hopLimit: rng.int(256),
      src: rng.bytes(16),
      dst: rng.bytes(16),
    };
    const off = rng.int(16);
    assert.equal(writeIpv6Header(fields, out, off), 40);
    let pos = off + 40;
    const starts: number[] = [];
    for (const p of parts) {
      starts.push(pos);
      out.set(p, pos);
      pos += p.length;
    }
    out.set(data, pos);
    assert.equal(walkIpv6(out, off, 40 + payloadLength, w), null);
    if (firstFrag >= 0 && frag.off !== 0) {
      // The walk stops right after the first Fragment header.
      assert.equal(w.offset, starts[firstFrag] + 8);
      assert.equal(w.protocol, firstFrag + 1 < chain.length ? chain[firstFrag + 1] : upper);
    } else {
      assert.equal(w.offset, pos);
      assert.equal(w.protocol, upper);
      assert.equal(w.headerCount, chain.length);
    }
    assert.equal(w.fragmentHeaderOffset, firstFrag >= 0 ? starts[firstFrag] : -1);
    if (firstFrag >= 0) {
      assert.equal(w.fragmentOffset, frag.off);
      assert.equal(w.moreFragments, frag.m);
      assert.equal(w.identification, frag.id);
    }
    assert.equal(out[w.protocolFieldOffset], w.protocol);
    const r = parseIpv6(out.subarray(off, off + 40 + payloadLength));
    assert.ok(r.ok);
    assert.deepEqual(
      { ...r.header, src: toHex(r.header.src), dst: toHex(r.header.dst) },
      { ...fields, src: toHex(fields.src), dst: toHex(fields.dst) },
    );
  }
});

test("inet: IPv6 parsers never throw on 100k random or mutated inputs", () => {
  const rng = new Prng(0xbad6);
  const known = new Set<string>(IPV6_REASONS);
  const w = new Ipv6Walk();
  const seeds = [
    PING6_REQUEST,
    EXT6_UDP,
    EXT6_UNREACH.subarray(48),
    packet(44, "3a00 0001 dead beef  8000 0000 0000 0000"),
    packet(51, "3c02 0000 0000 0100 0000 0001 0000 0000  3b00 0100 0000 0000"),
  ];
  const quoted = { quoted: true };
  let ok = 0;
  forEachHostileInput(rng, seeds, 100_000, 100, (b) => {
    for (const opts of [undefined, quoted]) {
      const why = walkIpv6(b, 0, b.length, w, opts);
      if (why === null) {
        ok++;
        assert.ok(w.offset >= 40 && w.offset <= w.end && w.end <= b.length);
        assert.ok(w.protocolFieldOffset < w.offset);
      } else {
        assert.ok(known.has(why), why);
      }
    }
    const r = parseIpv6(b);
    if (!r.ok) assert.ok(known.has(r.reason), r.reason);
  });
  assert.ok(ok > 1000, `only ${ok} valid inputs`);
});
