import { test } from "node:test";
import assert from "node:assert/strict";
import {
  DECAP_REASONS,
  decapsulateIpv4,
  encapHeaderLength,
  type EncapOptions,
  encapsulateIpv4,
  FRAGMENT_REASONS,
  Ipv6FragmentPlan,
  parseEncapsulatedIpv4,
  planIpv6Fragments,
  writeIpv6Fragment,
} from "./encap.ts";
import { checkIpv4, fillIpv4Checksum } from "./ipv4.ts";
import { Ipv6Walk, parseIpv6, walkIpv6 } from "./ipv6.ts";
import { parseIcmpv6Packet, writeIcmpv6PacketTooBig } from "./icmpv6.ts";
import { IP_PROTO } from "./proto.ts";
import { Prng } from "../testing/prng.ts";
import { forEachHostileInput, hex, shifted, toHex } from "./_testing.ts";
import { EXT6_UDP, PING4_REQUEST, PORT_UNREACH4, REASSEMBLED4, UDP6 } from "./_captures.ts";

const CLIENT = hex("2001 0db8 0000 0000 0000 0000 0000 0002");
const TEP = hex("2001 0db8 0000 0000 0000 0000 0000 0001");
const OPTS: EncapOptions = {
  src: TEP,
  hopLimit: 64,
  trafficClass: 0,
  copyTos: false,
  flowLabel: 0,
};

/** `inner` placed after `headroom` bytes of a fresh buffer with `tail` spare bytes. */
function withHeadroom(inner: Uint8Array, headroom: number, tail = 0): Uint8Array {
  const b = new Uint8Array(headroom + inner.length + tail);
  b.set(inner, headroom);
  return b;
}

// The expected tunnel packets below were written out as pcap files and decoded by tcpdump 4.99.3
// ("IP6 (hlim 64, next-header IPIP (4) payload length: 84) 2001:db8::1 > 2001:db8::2: IP (tos
// 0x0, ttl 64, id 3659, offset 0, flags [DF], proto ICMP (1), length 84) 127.0.0.1 > 127.0.0.1:
// ICMP echo request, id 4796, seq 1, length 64"; with the limit: "DSTOPT (opt_type 0x04: len=1)
// (padn)"), as an independent check of the bytes.
const TUNNEL_HEADER = hex(`
  6000 0000 0054 0440 2001 0db8 0000 0000 0000 0000 0000 0001 2001 0db8 0000 0000
  0000 0000 0000 0002`);
const TUNNEL_HEADER_LIMIT = hex(`
  6000 0000 005c 3c40 2001 0db8 0000 0000 0000 0000 0000 0001 2001 0db8 0000 0000
  0000 0000 0000 0002 0400 0401 0401 0100`);

test("inet: encapsulateIpv4 writes the RFC 2473 header in front of a captured ping", () => {
  const buf = withHeadroom(PING4_REQUEST, 40);
  assert.equal(encapsulateIpv4(OPTS, CLIENT, buf, 40, PING4_REQUEST.length), 124);
  assert.equal(toHex(buf.subarray(0, 40)), toHex(TUNNEL_HEADER));
  assert.equal(toHex(buf.subarray(40)), toHex(PING4_REQUEST)); // inner untouched, TTL included
  const outer = parseIpv6(buf);
  assert.ok(outer.ok);
  assert.equal(outer.protocol, IP_PROTO.IPV4);
});

test("inet: encapsulateIpv4 adds the Tunnel Encapsulation Limit option when configured", () => {
  const opts = { ...OPTS, encapLimit: 4 };
  assert.equal(encapHeaderLength(opts), 48);
  assert.equal(encapHeaderLength(OPTS), 40);
  const buf = withHeadroom(PING4_REQUEST, 48);
  assert.equal(encapsulateIpv4(opts, CLIENT, buf, 48, PING4_REQUEST.length), 132);
  assert.equal(toHex(buf.subarray(0, 48)), toHex(TUNNEL_HEADER_LIMIT));
  // Same option bytes as the Linux kernel put in the captured packet (only Next Header differs).
  assert.equal(toHex(buf.subarray(41, 48)), toHex(EXT6_UDP.subarray(49, 56)));
  const w = new Ipv6Walk();
  assert.equal(decapsulateIpv4(buf, 0, buf.length, w), null);
  assert.equal(w.offset, 48);
});

test("inet: encapsulateIpv4 traffic class, flow label and hop limit options", () => {
  const buf = withHeadroom(PORT_UNREACH4, 40); // TOS 0xc0
  const opts = { ...OPTS, copyTos: true, flowLabel: 0xabcde, hopLimit: 9 };
  assert.equal(encapsulateIpv4(opts, CLIENT, buf, 40, PORT_UNREACH4.length), 106);
  const p = parseIpv6(buf);
  assert.ok(p.ok);
  assert.equal(p.header.trafficClass, 0xc0);
  assert.equal(p.header.flowLabel, 0xabcde);
  assert.equal(p.header.hopLimit, 9);
  assert.equal(toHex(buf.subarray(0, 4)), "6c0abcde");
  assert.equal(encapsulateIpv4({ ...OPTS, trafficClass: 0xb8 }, CLIENT, buf, 40, 66), 106);
  assert.equal(buf[0], 0x6b);
  assert.equal(buf[1] >> 4, 0x8);
});

test("inet: encapsulateIpv4 refuses what it cannot encapsulate", () => {
  const buf = withHeadroom(PING4_REQUEST, 40);
  const n = PING4_REQUEST.length;
  assert.equal(encapsulateIpv4(OPTS, CLIENT, buf, 39, n), 0); // no headroom... and not IPv4
  assert.equal(encapsulateIpv4({ ...OPTS, encapLimit: 4 }, CLIENT, buf, 40, n), 0);
  assert.equal(encapsulateIpv4(OPTS, CLIENT, buf, 40, n + 1), 0); // past the buffer
  assert.equal(encapsulateIpv4(OPTS, CLIENT, buf, 40, 19), 0);
  assert.equal(encapsulateIpv4(OPTS, CLIENT.subarray(1), buf, 40, n), 0);
  assert.equal(encapsulateIpv4({ ...OPTS, hopLimit: 256 }, CLIENT, buf, 40, n), 0);
  assert.equal(encapsulateIpv4({ ...OPTS, flowLabel: -1 }, CLIENT, buf, 40, n), 0);
  assert.equal(encapsulateIpv4({ ...OPTS, encapLimit: 300 }, CLIENT, buf, 40, n), 0);
  const v6 = withHeadroom(UDP6, 40);
  assert.equal(encapsulateIpv4(OPTS, CLIENT, v6, 40, UDP6.length), 0);
  const huge = new Uint8Array(40 + 65536);
  huge[40] = 0x45;
  assert.equal(encapsulateIpv4(OPTS, CLIENT, huge, 40, 65536), 0);
  assert.equal(encapsulateIpv4(OPTS, CLIENT, huge, 40, 65535), 40 + 65535);
});

test("inet: decapsulateIpv4 finds the inner packet or names the reason", () => {
  const buf = withHeadroom(PING4_REQUEST, 40, 6); // trailing link padding
  encapsulateIpv4(OPTS, CLIENT, buf, 40, PING4_REQUEST.length);
  const w = new Ipv6Walk();
  assert.equal(decapsulateIpv4(buf, 0, buf.length, w), null);
  assert.deepEqual([w.offset, w.end], [40, 124]);
  assert.equal(checkIpv4(buf, w.offset, w.end - w.offset), null);
  const r = parseEncapsulatedIpv4(buf);
  assert.ok(r.ok);
  assert.equal(r.innerOffset, 40);
  assert.equal(toHex(r.inner), toHex(PING4_REQUEST));
  assert.deepEqual(parseEncapsulatedIpv4(UDP6), { ok: false, reason: "not-ipip" });
  assert.deepEqual(parseEncapsulatedIpv4(buf.subarray(0, 100)), {
    ok: false,
    reason: "bad-payload-length",
  });
  assert.deepEqual(parseEncapsulatedIpv4(buf.subarray(0, 30)), { ok: false, reason: "truncated" });
  // A tunnel packet split into IPv6 fragments must be reassembled first.
  const plan = new Ipv6FragmentPlan();
  assert.equal(planIpv6Fragments(buf, 0, 124, 96, plan), null);
  const frag = new Uint8Array(96);
  for (let i = 0; i < plan.count; i++) {
    const n = writeIpv6Fragment(buf, 0, plan, i, 7, frag);
    assert.deepEqual(parseEncapsulatedIpv4(frag.subarray(0, n)), {
      ok: false,
      reason: "fragment",
    });
  }
});

test("inet: decapsulateIpv4 reads the tunnel packet quoted in an ICMPv6 Packet Too Big", () => {
  // A 1500-byte IPv4 packet in a 1540-byte tunnel packet; a router with MTU 1400 complains.
  const inner = bigInner(1500);
  const tunnel = withHeadroom(inner, 40);
  encapsulateIpv4(OPTS, CLIENT, tunnel, 40, inner.length);
  const ptb = new Uint8Array(1280);
  const n = writeIcmpv6PacketTooBig(hex("20010db8 00000000 00000000 0000ffff"), 1000, tunnel, ptb);
  assert.equal(n, 1280);
  const m = parseIcmpv6Packet(ptb.subarray(0, n));
  assert.ok(m.ok);
  assert.equal(m.mtu, 1000);
  const q = m.original!;
  const w = new Ipv6Walk();
  assert.equal(decapsulateIpv4(q, 0, q.length, w), "bad-payload-length");
  assert.equal(decapsulateIpv4(q, 0, q.length, w, { quoted: true }), null);
  assert.equal(w.offset, 40);
  // The inner header is there for the ICMPv4 3/4 relay (brief §4.4).
  assert.equal(toHex(q.subarray(w.offset, w.offset + 20)), toHex(inner.subarray(0, 20)));
  const r = parseEncapsulatedIpv4(q, { quoted: true });
  assert.ok(r.ok);
  assert.equal(r.inner.length, 1232 - 40);
});

test("inet: encapsulation works on subarray views and at offsets", () => {
  const big = new Uint8Array(400);
  const view = big.subarray(17, 300);
  view.set(PING4_REQUEST, 60);
  assert.equal(encapsulateIpv4(OPTS, shifted(CLIENT, 5), view, 60, 84), 124);
  assert.equal(toHex(view.subarray(20, 60)), toHex(TUNNEL_HEADER));
  const w = new Ipv6Walk();
  assert.equal(decapsulateIpv4(view, 20, 124, w), null);
  assert.deepEqual([w.offset, w.end], [60, 144]);
  const r = parseEncapsulatedIpv4(view.subarray(20, 144));
  assert.ok(r.ok);
  assert.equal(toHex(r.inner), toHex(PING4_REQUEST));
});

/** Reassemble fragments written by writeIpv6Fragment (test helper; no overlap handling). */
function reassemble(frags: Uint8Array[]): Uint8Array {
  const w = new Ipv6Walk();
  let unfrag = 0;
  let first: Uint8Array | null = null;
  let total = 0;
  const data = new Uint8Array(70000);
  for (const f of frags) {
    assert.equal(walkIpv6(f, 0, f.length, w), null);
    assert.ok(w.fragmentHeaderOffset >= 0);
    const start = w.fragmentHeaderOffset + 8;
    const chunk = f.subarray(start);
    data.set(chunk, w.fragmentOffset);
    if (!w.moreFragments) total = w.fragmentOffset + chunk.length;
    if (w.fragmentOffset === 0) {
      first = f;
      unfrag = w.fragmentHeaderOffset;
    }
  }
  assert.ok(first !== null);
  const out = new Uint8Array(unfrag + total);
  out.set(first.subarray(0, unfrag));
  out.set(data.subarray(0, total), unfrag);
  const pl = out.length - 40;
  out[4] = pl >> 8;
  out[5] = pl & 0xff;
  // Restore the Next Header that the Fragment header carried.
  out[nextHeaderField(first, IP_PROTO.FRAGMENT)] = first[unfrag];
  return out;
}

/** Offset of the Next Header field holding `target` in an unfragmentable part. */
function nextHeaderField(pkt: Uint8Array, target: number): number {
  let at = 6;
  let pos = 40;
  while (pkt[at] !== target) {
    at = pos;
    pos += (pkt[pos + 1] + 1) * 8;
  }
  return at;
}

/** An IPv4 packet of `len` bytes: the header of REASSEMBLED4 (Total Length fixed), then zeros. */
function bigInner(len: number): Uint8Array {
  const inner = new Uint8Array(len);
  inner.set(REASSEMBLED4.subarray(0, 20));
  inner[2] = len >> 8;
  inner[3] = len & 0xff;
  fillIpv4Checksum(inner, 0);
  return inner;
}

// tcpdump decoded the two fragments of this test as "frag (0x00000007:0|1232) IP (... length
// 1500 ...)" and "frag (0x00000007:1232|268)".
test("inet: an oversized DF=0 tunnel packet is split into IPv6 fragments within the MTU", () => {
  const inner = bigInner(1500);
  const buf = withHeadroom(inner, 40);
  assert.equal(encapsulateIpv4(OPTS, CLIENT, buf, 40, 1500), 1540);
  const plan = new Ipv6FragmentPlan();
  assert.equal(planIpv6Fragments(buf, 0, 1540, 1280, plan), null);
  assert.deepEqual(
    [plan.unfragmentableLength, plan.nextHeaderOffset, plan.nextHeader, plan.chunkLength],
    [40, 6, 4, 1232],
  );
  assert.equal(plan.count, 2);
  const f0 = new Uint8Array(1280);
  const f1 = new Uint8Array(1280);
  assert.equal(writeIpv6Fragment(buf, 0, plan, 0, 7, f0), 1280);
  assert.equal(writeIpv6Fragment(buf, 0, plan, 1, 7, f1), 40 + 8 + 268);
  assert.equal(writeIpv6Fragment(buf, 0, plan, 2, 7, f1), 0);
  assert.equal(writeIpv6Fragment(buf, 0, plan, 0, 7, new Uint8Array(1279)), 0);
  assert.equal(
    toHex(f0.subarray(0, 48)),
    toHex(hex(`
    6000 0000 04d8 2c40 2001 0db8 0000 0000 0000 0000 0000 0001 2001 0db8 0000 0000
    0000 0000 0000 0002 0400 0001 0000 0007`)),
  );
  assert.equal(
    toHex(f1.subarray(0, 48)),
    toHex(hex(`
    6000 0000 0114 2c40 2001 0db8 0000 0000 0000 0000 0000 0001 2001 0db8 0000 0000
    0000 0000 0000 0002 0400 04d0 0000 0007`)),
  );
  const whole = reassemble([f1.subarray(0, 316), f0]);
  assert.equal(toHex(whole), toHex(buf));
});

test("inet: fragmentation keeps Hop-by-Hop in every fragment and fragments Destination Options", () => {
  const plan = new Ipv6FragmentPlan();
  assert.equal(planIpv6Fragments(EXT6_UDP, 0, 80, 64, plan), null);
  assert.equal(plan.unfragmentableLength, 48);
  assert.equal(plan.nextHeaderOffset, 40);
  assert.equal(plan.nextHeader, 60);
  assert.equal(plan.chunkLength, 8);
  assert.equal(plan.count, 4);
  const frags: Uint8Array[] = [];
  for (let i = 0; i < plan.count; i++) {
    const out = new Uint8Array(64);
    const n = writeIpv6Fragment(EXT6_UDP, 0, plan, i, 0xfeedf00d, out);
    assert.ok(n > 0 && n <= 64);
    assert.equal(out[40], 44);
    frags.push(out.subarray(0, n));
  }
  assert.equal(toHex(reassemble(frags)), toHex(EXT6_UDP));
  // A Routing header pulls the Destination Options before it into the unfragmentable part.
  const routed = hex(`
    6000 0000 0018 3c40 2001 0db8 0000 0000 0000 0000 0000 0001 2001 0db8 0000 0000
    0000 0000 0000 0002 2b00 0104 0000 0000 1100 0400 0000 0000 0000 0000 0000 0000`);
  assert.equal(planIpv6Fragments(routed, 0, routed.length, 1280, plan), null);
  assert.equal(plan.unfragmentableLength, 56);
  assert.equal(plan.nextHeaderOffset, 48);
  assert.equal(plan.nextHeader, 17);
  assert.equal(plan.fragmentableLength, 8);
});

test("inet: planIpv6Fragments names each refusal", () => {
  const plan = new Ipv6FragmentPlan();
  const frag = hex(`
    6000 0000 0010 2c40 2001 0db8 0000 0000 0000 0000 0000 0001 2001 0db8 0000 0000
    0000 0000 0000 0002 0400 0001 0000 0007 4500 0014 0000 0000`);
  assert.equal(planIpv6Fragments(frag, 0, frag.length, 1280, plan), "already-fragment");
  assert.equal(planIpv6Fragments(EXT6_UDP, 0, 80, 63, plan), "mtu-too-small");
  assert.equal(planIpv6Fragments(EXT6_UDP, 0, 80, Number.NaN, plan), "mtu-too-small");
  assert.equal(planIpv6Fragments(EXT6_UDP, 0, 79, 1280, plan), "bad-payload-length");
  assert.equal(planIpv6Fragments(EXT6_UDP, 0, 30, 1280, plan), "truncated");
  assert.equal(planIpv6Fragments(PING4_REQUEST, 0, 84, 1280, plan), "bad-version");
  const cut = EXT6_UDP.slice(0, 52);
  cut[5] = 12;
  assert.equal(planIpv6Fragments(cut, 0, 52, 1280, plan), "truncated-extension");
  assert.equal(planIpv6Fragments(UDP6, 0, UDP6.length, 1280, plan), null);
  assert.equal(plan.count, 1);
  assert.throws(() => planIpv6Fragments(UDP6, 1, UDP6.length, 1280, plan), RangeError);
});

test("inet: encapsulate, fragment, reassemble, decapsulate: seeded random round trip", () => {
  const rng = new Prng(2473);
  const buf = new Uint8Array(48 + 9000);
  const frags: Uint8Array[] = [];
  for (let i = 0; i < 64; i++) frags.push(new Uint8Array(2000));
  const plan = new Ipv6FragmentPlan();
  const w = new Ipv6Walk();
  for (let n = 0; n < 400; n++) {
    const small = rng.int(4) === 0;
    const mtu = small ? 64 + rng.int(200) : 1280 + rng.int(221);
    const innerLen = 20 + rng.int(small ? 300 : 8000);
    const opts: EncapOptions = {
      src: rng.bytes(16),
      hopLimit: rng.int(256),
      trafficClass: rng.int(256),
      copyTos: rng.int(2) === 0,
      flowLabel: rng.int(0x100000),
      encapLimit: rng.int(3) === 0 ? rng.int(256) : undefined,
    };
    const hdr = encapHeaderLength(opts);
    const inner = buf.subarray(hdr, hdr + innerLen);
    rng.fill(inner);
    inner[0] = 0x45;
    const innerCopy = inner.slice();
    const dst = rng.bytes(16);
    const len = encapsulateIpv4(opts, dst, buf, hdr, innerLen);
    assert.equal(len, hdr + innerLen);
    const p = parseIpv6(buf.subarray(0, len));
    assert.ok(p.ok);
    assert.equal(p.header.trafficClass, opts.copyTos ? innerCopy[1] : opts.trafficClass);
    assert.equal(toHex(p.header.dst), toHex(dst));
    assert.equal(planIpv6Fragments(buf, 0, len, mtu, plan), null);
    assert.ok(plan.count <= frags.length);
    const parts: Uint8Array[] = [];
    for (let i = 0; i < plan.count; i++) {
      const f = writeIpv6Fragment(buf, 0, plan, i, n, frags[i]);
      assert.ok(f > 0 && f <= mtu, `fragment ${i} of ${plan.count}: ${f} > ${mtu}`);
      assert.equal(decapsulateIpv4(frags[i], 0, f, w), plan.count === 1 ? null : "fragment");
      parts.push(frags[i].subarray(0, f));
    }
    // Fragments may arrive in any order.
    for (let i = parts.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [parts[i], parts[j]] = [parts[j], parts[i]];
    }
    const whole = reassemble(parts);
    assert.equal(decapsulateIpv4(whole, 0, whole.length, w), null);
    assert.equal(toHex(whole.subarray(w.offset, w.end)), toHex(innerCopy));
  }
});

test("inet: decapsulation and fragment planning never throw on 100k random or mutated inputs", () => {
  const rng = new Prng(0xbad44);
  const known = new Set<string>(DECAP_REASONS);
  const knownFrag = new Set<string>(FRAGMENT_REASONS);
  const tunnel = withHeadroom(PING4_REQUEST.subarray(0, 40), 48);
  tunnel[51] = 40;
  encapsulateIpv4({ ...OPTS, encapLimit: 4 }, CLIENT, tunnel, 48, 40);
  const plain = withHeadroom(PING4_REQUEST.subarray(0, 50), 40);
  encapsulateIpv4(OPTS, CLIENT, plain, 40, 50);
  const w = new Ipv6Walk();
  const plan = new Ipv6FragmentPlan();
  const out = new Uint8Array(200);
  let ok = 0;
  forEachHostileInput(rng, [tunnel, plain, EXT6_UDP], 100_000, 100, (b) => {
    const why = decapsulateIpv4(
      b,
      0,
      b.length,
      w,
      (b.length & 1) === 0 ? undefined : { quoted: true },
    );
    if (why === null) {
      ok++;
      assert.ok(w.offset <= w.end && w.end <= b.length);
    } else {
      assert.ok(known.has(why), why);
    }
    const r = parseEncapsulatedIpv4(b);
    if (!r.ok) assert.ok(known.has(r.reason), r.reason);
    const f = planIpv6Fragments(b, 0, b.length, 56 + rng.int(100), plan);
    if (f === null) {
      for (let i = 0; i < plan.count; i++) assert.ok(writeIpv6Fragment(b, 0, plan, i, 1, out) > 0);
    } else {
      assert.ok(knownFrag.has(f), f);
    }
  });
  assert.ok(ok > 1000, `only ${ok} valid inputs`);
});
