import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ICMPV6_PACKET_REASONS,
  ICMPV6_REASONS,
  ICMPV6_TYPE,
  ICMPV6_UNREACH,
  icmpv6ErrorAllowed,
  parseIcmpv6,
  parseIcmpv6Packet,
  writeIcmpv6DestUnreachable,
  writeIcmpv6Echo,
  writeIcmpv6Error,
  writeIcmpv6PacketTooBig,
  writeIcmpv6ParameterProblem,
  writeIcmpv6TimeExceeded,
} from "./icmpv6.ts";
import { internetChecksum, ipv6PseudoHeaderSum } from "./checksum.ts";
import { equals16, parseIpv6 } from "./ipv6.ts";
import { Prng } from "../testing/prng.ts";
import { forEachHostileInput, hex, shifted, toHex } from "./_testing.ts";
import {
  BIG6_UDP,
  BIG6_UNREACH,
  EXT6_UDP,
  EXT6_UNREACH,
  PING6_REPLY,
  PING6_REQUEST,
  PORT_UNREACH6,
  UDP6,
} from "./_captures.ts";

const LOOPBACK = hex("0000 0000 0000 0000 0000 0000 0000 0001");
const TEP = hex("2001 0db8 0000 0000 0000 0000 0000 0001");

/** Recompute the ICMPv6 checksum of a whole packet without extension headers. */
function fixChecksum(p: Uint8Array): Uint8Array {
  p[42] = 0;
  p[43] = 0;
  const len = p.length - 40;
  const c = internetChecksum(p, 40, len, ipv6PseudoHeaderSum(p, 8, p, 24, len, 58));
  p[42] = c >> 8;
  p[43] = c & 0xff;
  return p;
}

test("inet: parseIcmpv6Packet reads captured echo and port unreachable messages", () => {
  const req = parseIcmpv6Packet(PING6_REQUEST);
  assert.ok(req.ok);
  assert.equal(req.type, ICMPV6_TYPE.ECHO_REQUEST);
  assert.equal(req.code, 0);
  assert.equal(req.checksum, 0xce67);
  assert.equal(req.identifier, 0x12bd);
  assert.equal(req.sequence, 1);
  assert.equal(req.original, null);
  assert.equal(req.hopLimit, 64);
  assert.ok(equals16(req.src, 0, LOOPBACK, 0));
  const rep = parseIcmpv6Packet(PING6_REPLY);
  assert.ok(rep.ok);
  assert.equal(rep.type, ICMPV6_TYPE.ECHO_REPLY);
  for (const [err, orig] of [[PORT_UNREACH6, UDP6], [EXT6_UNREACH, EXT6_UDP]]) {
    const m = parseIcmpv6Packet(err);
    assert.ok(m.ok);
    assert.deepEqual([m.type, m.code], [1, ICMPV6_UNREACH.PORT]);
    assert.equal(toHex(m.original!), toHex(orig));
  }
  const big = parseIcmpv6Packet(BIG6_UNREACH);
  assert.ok(big.ok);
  assert.equal(toHex(big.original!), toHex(BIG6_UDP.subarray(0, 1232)));
});

test("inet: writeIcmpv6Error reproduces the kernel's port unreachable messages byte for byte", () => {
  const out = new Uint8Array(1500);
  const spec = { src: LOOPBACK, type: 1, code: 4, flowLabel: 0x2209e };
  for (const [orig, want] of [[UDP6, PORT_UNREACH6], [EXT6_UDP, EXT6_UNREACH]]) {
    const n = writeIcmpv6Error(spec, orig, out);
    assert.equal(toHex(out.subarray(0, n)), toHex(want));
  }
  // Quote limited so that the whole error is 1280 bytes (RFC 4443 §2.4(c)).
  const n = writeIcmpv6Error(spec, BIG6_UDP, out);
  assert.equal(n, 1280);
  assert.equal(toHex(out.subarray(0, n)), toHex(BIG6_UNREACH));
});

test("inet: writeIcmpv6Echo reproduces captured ping request and reply", () => {
  const out = new Uint8Array(120);
  const data = PING6_REQUEST.subarray(48);
  const base = { identifier: 0x12bd, sequence: 1, data, src: LOOPBACK, dst: LOOPBACK };
  let n = writeIcmpv6Echo({ ...base, reply: false, flowLabel: 0x75aea }, out);
  assert.equal(toHex(out.subarray(0, n)), toHex(PING6_REQUEST));
  n = writeIcmpv6Echo({ ...base, reply: true, flowLabel: 0x96f46 }, out);
  assert.equal(toHex(out.subarray(0, n)), toHex(PING6_REPLY));
  // Answering in place (addresses taken from elsewhere).
  const buf = PING6_REQUEST.slice();
  n = writeIcmpv6Echo({ ...base, data: buf.subarray(48), reply: true, flowLabel: 0x96f46 }, buf);
  assert.equal(toHex(buf.subarray(0, n)), toHex(PING6_REPLY));
  assert.equal(writeIcmpv6Echo({ ...base, reply: true }, new Uint8Array(103)), 0);
  assert.equal(writeIcmpv6Echo({ ...base, reply: true, src: new Uint8Array(4) }, out), 0);
  assert.equal(writeIcmpv6Echo({ ...base, reply: true, flowLabel: 0x100000 }, out), 0);
});

test("inet: named ICMPv6 error builders (1/5, Packet Too Big, Time Exceeded, Parameter Problem)", () => {
  const out = new Uint8Array(1400);
  const builds: [number, number, number, number, (o: Uint8Array) => number][] = [
    [1, 5, 0, 0, (o) => writeIcmpv6DestUnreachable(TEP, 5, UDP6, o)],
    [2, 0, 1280, 0, (o) => writeIcmpv6PacketTooBig(TEP, 1280, UDP6, o)],
    [3, 0, 0, 0, (o) => writeIcmpv6TimeExceeded(TEP, 0, UDP6, o)],
    [4, 0, 0, 42, (o) => writeIcmpv6ParameterProblem(TEP, 0, 42, UDP6, o)],
  ];
  for (const [type, code, mtu, pointer, build] of builds) {
    const n = build(out);
    assert.equal(n, 48 + UDP6.length);
    const m = parseIcmpv6Packet(out.subarray(0, n));
    assert.ok(m.ok);
    assert.deepEqual([m.type, m.code, m.mtu, m.pointer], [type, code, mtu, pointer]);
    assert.ok(equals16(m.src, 0, TEP, 0));
    assert.ok(equals16(m.dst, 0, UDP6, 8)); // to the original source
    assert.equal(m.hopLimit, 64);
    assert.equal(toHex(m.original!), toHex(UDP6));
  }
  assert.equal(writeIcmpv6PacketTooBig(TEP, 2 ** 32, UDP6, out), 0);
  assert.equal(writeIcmpv6DestUnreachable(new Uint8Array(15), 5, UDP6, out), 0);
});

test("inet: ICMPv6 errors quote at least 48 bytes and at most 1280 in all", () => {
  const out = new Uint8Array(2000);
  assert.equal(writeIcmpv6DestUnreachable(TEP, 5, BIG6_UDP.subarray(0, 100), out), 148);
  assert.equal(writeIcmpv6DestUnreachable(TEP, 5, BIG6_UDP, out.subarray(0, 200)), 200);
  assert.equal(writeIcmpv6DestUnreachable(TEP, 5, BIG6_UDP, out.subarray(0, 96)), 96);
  assert.equal(writeIcmpv6DestUnreachable(TEP, 5, BIG6_UDP, out.subarray(0, 95)), 0);
  const spec = { src: TEP, type: 1, code: 5, maxLength: 1500 };
  assert.equal(writeIcmpv6Error(spec, BIG6_UDP, out), 1500);
  assert.equal(writeIcmpv6Error({ ...spec, maxLength: 0 }, BIG6_UDP, out), 0);
  // A Payload Length shorter than the bytes passed bounds the quote.
  assert.equal(writeIcmpv6DestUnreachable(TEP, 5, shifted(UDP6).slice(0, 50), out), 48 + 50);
  const padded = new Uint8Array(UDP6.length + 20);
  padded.set(UDP6);
  assert.equal(writeIcmpv6DestUnreachable(TEP, 5, padded, out), 48 + UDP6.length);
  assert.equal(writeIcmpv6DestUnreachable(TEP, 5, UDP6.subarray(0, 39), out), 0);
  assert.equal(
    writeIcmpv6DestUnreachable(TEP, 5, PING6_REQUEST.map((b, i) => i === 0 ? 0x45 : b), out),
    0,
  );
});

test("inet: an ICMPv6 error can be built in place over the original", () => {
  const want = new Uint8Array(1400);
  const n = writeIcmpv6DestUnreachable(TEP, 5, BIG6_UDP, want);
  const buf = new Uint8Array(3000);
  buf.set(BIG6_UDP);
  assert.equal(writeIcmpv6DestUnreachable(TEP, 5, buf.subarray(0, BIG6_UDP.length), buf), n);
  assert.equal(toHex(buf.subarray(0, n)), toHex(want.subarray(0, n)));
  buf.set(BIG6_UDP, 20);
  assert.equal(
    writeIcmpv6DestUnreachable(TEP, 5, buf.subarray(20, 20 + BIG6_UDP.length), buf, 0),
    n,
  );
  assert.equal(toHex(buf.subarray(0, n)), toHex(want.subarray(0, n)));
});

test("inet: icmpv6ErrorAllowed follows RFC 4443 §2.4(e)", () => {
  assert.equal(icmpv6ErrorAllowed(UDP6, 1, 5), true);
  assert.equal(icmpv6ErrorAllowed(EXT6_UDP, 1, 5), true);
  assert.equal(icmpv6ErrorAllowed(PING6_REQUEST, 1, 5), true); // a query
  assert.equal(icmpv6ErrorAllowed(PORT_UNREACH6, 1, 5), false); // an error
  assert.equal(icmpv6ErrorAllowed(BIG6_UNREACH.subarray(0, 60), 2, 0), false);
  const redirect = PING6_REQUEST.slice();
  redirect[40] = 137;
  assert.equal(icmpv6ErrorAllowed(redirect, 1, 5), false);
  // An ICMPv6 error behind extension headers is still an error.
  const hidden = EXT6_UDP.slice();
  hidden[48] = 58;
  hidden[56] = 3;
  assert.equal(icmpv6ErrorAllowed(hidden, 1, 5), false);
  const unspecified = UDP6.slice();
  unspecified.fill(0, 8, 24);
  assert.equal(icmpv6ErrorAllowed(unspecified, 1, 5), false);
  const mcastSrc = UDP6.slice();
  mcastSrc[8] = 0xff;
  assert.equal(icmpv6ErrorAllowed(mcastSrc, 1, 5), false);
  const mcastDst = UDP6.slice();
  mcastDst[24] = 0xff;
  assert.equal(icmpv6ErrorAllowed(mcastDst, 1, 5), false);
  assert.equal(icmpv6ErrorAllowed(mcastDst, 2, 0), true); // Packet Too Big
  assert.equal(icmpv6ErrorAllowed(mcastDst, 4, 2), true); // unrecognised option
  assert.equal(icmpv6ErrorAllowed(mcastDst, 4, 1), false);
  assert.equal(icmpv6ErrorAllowed(UDP6.subarray(0, 30), 1, 5), false);
  assert.equal(icmpv6ErrorAllowed(PING6_REQUEST.subarray(0, 40), 1, 5), false); // cannot tell
  assert.equal(icmpv6ErrorAllowed(BIG6_UDP.subarray(0, 100), 1, 5), true); // cut short
});

test("inet: ICMPv6 codecs work on subarray views and at offsets", () => {
  const v = shifted(PORT_UNREACH6, 9);
  const m = parseIcmpv6Packet(v);
  assert.ok(m.ok);
  assert.equal(toHex(m.original!), toHex(UDP6));
  const sum = ipv6PseudoHeaderSum(v, 8, v, 24, v.length - 40, 58);
  assert.ok(parseIcmpv6(v.subarray(40), sum).ok);
  const big = new Uint8Array(300);
  const view = big.subarray(11, 250);
  const n = writeIcmpv6DestUnreachable(TEP, 5, shifted(UDP6, 3), view, 5);
  assert.equal(n, 48 + UDP6.length);
  assert.ok(parseIcmpv6Packet(big.subarray(16, 16 + n)).ok);
});

test("inet: ICMPv6 parsers name each refusal", () => {
  assert.deepEqual(parseIcmpv6(new Uint8Array(7), null), { ok: false, reason: "truncated" });
  const sum = ipv6PseudoHeaderSum(PING6_REQUEST, 8, PING6_REQUEST, 24, 64, 58);
  const msg = PING6_REQUEST.slice(40);
  assert.equal(parseIcmpv6(msg, sum).ok, true);
  msg[20] ^= 4;
  assert.deepEqual(parseIcmpv6(msg, sum), { ok: false, reason: "bad-checksum" });
  assert.equal(parseIcmpv6(msg, null).ok, true);
  // The checksum covers the pseudo-header: another destination breaks it.
  assert.equal(
    parseIcmpv6(PING6_REQUEST.subarray(40), ipv6PseudoHeaderSum(TEP, 0, LOOPBACK, 0, 64, 58)).ok,
    false,
  );
  const shortQuote = fixChecksum(PORT_UNREACH6.slice(0, 48 + 39));
  shortQuote[5] = 47;
  assert.deepEqual(parseIcmpv6Packet(fixChecksum(shortQuote)), { ok: false, reason: "bad-quote" });
  const v4Quote = PORT_UNREACH6.slice();
  v4Quote[48] = 0x45;
  assert.deepEqual(parseIcmpv6Packet(fixChecksum(v4Quote)), { ok: false, reason: "bad-quote" });
  assert.deepEqual(parseIcmpv6Packet(UDP6), { ok: false, reason: "not-icmpv6" });
  assert.deepEqual(parseIcmpv6Packet(PING6_REQUEST.subarray(0, 50)), {
    ok: false,
    reason: "bad-payload-length",
  });
  const frag = new Uint8Array(56);
  frag.set(PING6_REQUEST.subarray(0, 40));
  frag[5] = 16;
  frag[6] = 44;
  frag.set(hex("3a00 0001 0000 0007"), 40);
  assert.deepEqual(parseIcmpv6Packet(frag), { ok: false, reason: "fragment" });
});

test("inet: ICMPv6 seeded random round trip (build error or echo, parse back)", () => {
  const rng = new Prng(4443);
  const out = new Uint8Array(1400);
  const orig = new Uint8Array(2000);
  for (let n = 0; n < 2000; n++) {
    const src = rng.bytes(16);
    if (rng.int(2) === 0) {
      const data = rng.bytes(rng.int(300));
      const spec = {
        reply: rng.int(2) === 0,
        identifier: rng.int(0x10000),
        sequence: rng.int(0x10000),
        data,
        src,
        dst: rng.bytes(16),
        hopLimit: rng.int(256),
        trafficClass: rng.int(256),
        flowLabel: rng.int(0x100000),
      };
      const len = writeIcmpv6Echo(spec, out);
      assert.equal(len, 48 + data.length);
      const m = parseIcmpv6Packet(out.subarray(0, len));
      assert.ok(m.ok);
      assert.deepEqual(
        [m.type, m.identifier, m.sequence, toHex(m.body), toHex(m.src), toHex(m.dst), m.hopLimit],
        [
          spec.reply ? 129 : 128,
          spec.identifier,
          spec.sequence,
          toHex(data),
          toHex(src),
          toHex(spec.dst),
          spec.hopLimit,
        ],
      );
      const ip = parseIpv6(out.subarray(0, len));
      assert.ok(ip.ok);
      assert.deepEqual(
        [ip.header.trafficClass, ip.header.flowLabel],
        [spec.trafficClass, spec.flowLabel],
      );
    } else {
      const total = 40 + rng.int(1800);
      rng.fill(orig.subarray(0, total));
      orig[0] = 0x60 | (orig[0] & 0x0f);
      orig[4] = (total - 40) >> 8;
      orig[5] = (total - 40) & 0xff;
      const spec = { src, type: 1 + rng.int(4), code: rng.int(8), rest: rng.u32() };
      const len = writeIcmpv6Error(spec, orig.subarray(0, total), out);
      assert.equal(len, Math.min(1280, 48 + total));
      const m = parseIcmpv6Packet(out.subarray(0, len));
      assert.ok(m.ok);
      assert.deepEqual([m.type, m.code, m.rest], [spec.type, spec.code, spec.rest]);
      assert.ok(equals16(m.dst, 0, orig, 8));
      assert.equal(toHex(m.original!), toHex(orig.subarray(0, len - 48)));
    }
  }
});

test("inet: ICMPv6 parsers and builders never throw on 100k random or mutated inputs", () => {
  const rng = new Prng(0xbad58);
  const known = new Set<string>(ICMPV6_REASONS);
  const knownPacket = new Set<string>(ICMPV6_PACKET_REASONS);
  let ok = 0;
  const msgSeeds = [PING6_REQUEST.subarray(40), PORT_UNREACH6.subarray(40)];
  forEachHostileInput(rng, msgSeeds, 100_000, 100, (b) => {
    const r = parseIcmpv6(b, (b.length & 1) === 0 ? null : rng.int(0x10000));
    if (r.ok) ok++;
    else assert.ok(known.has(r.reason), r.reason);
  });
  assert.ok(ok > 1000, `only ${ok} valid messages`);
  ok = 0;
  const out = new Uint8Array(1400);
  const pktSeeds = [PING6_REQUEST, PORT_UNREACH6, EXT6_UNREACH.subarray(0, 100), UDP6];
  forEachHostileInput(rng, pktSeeds, 100_000, 100, (b) => {
    const r = parseIcmpv6Packet(b);
    if (r.ok) ok++;
    else assert.ok(knownPacket.has(r.reason), r.reason);
    icmpv6ErrorAllowed(b, 1, 5);
    const n = writeIcmpv6DestUnreachable(TEP, 5, b, out);
    if (n !== 0) assert.ok(parseIcmpv6Packet(out.subarray(0, n)).ok);
  });
  assert.ok(ok > 1000, `only ${ok} valid packets`);
});
