import { test } from "node:test";
import assert from "node:assert/strict";
import { Reassembler, REASSEMBLER_DEFAULTS, REASSEMBLY } from "./reassembly.ts";
import { Ipv6FragmentPlan, planIpv6Fragments, writeIpv6Fragment } from "../inet/mod.ts";
import { Prng } from "../testing/prng.ts";
import {
  concat,
  fragmentOf,
  fragmentsOf,
  hexOf,
  ipv4,
  ipv6,
  NET,
  tunnel,
  v6,
} from "./testdata/packets.ts";

const OUT = new Uint8Array(REASSEMBLER_DEFAULTS.maxPacketBytes);

/** A tunnel packet from X to the TEP whose inner IPv4 packet has `payload` bytes of payload. */
function bigTunnel(payload: number, pattern = 0): Uint8Array {
  return tunnel(
    NET.x6,
    NET.tep6,
    ipv4({ src: NET.x4, dst: NET.z4, payloadLength: payload, pattern }),
  );
}

/** Fragments of `pkt` written by the lib/inet fragmenter for a path MTU of `mtu`. */
function inetFragments(pkt: Uint8Array, mtu: number, id: number): Uint8Array[] {
  const plan = new Ipv6FragmentPlan();
  assert.equal(planIpv6Fragments(pkt, 0, pkt.length, mtu, plan), null);
  const out: Uint8Array[] = [];
  for (let i = 0; i < plan.count; i++) {
    const buf = new Uint8Array(mtu);
    const n = writeIpv6Fragment(pkt, 0, plan, i, id, buf);
    assert.ok(n > 0);
    out.push(buf.subarray(0, n));
  }
  return out;
}

function feed(r: Reassembler, frags: Uint8Array[], now = 0): number[] {
  return frags.map((f) => r.add(f, 0, f.length, now, OUT));
}

test("tep reassembly: fragments in order give back the original packet", () => {
  const r = new Reassembler();
  const pkt = bigTunnel(3000);
  const frags = inetFragments(pkt, 1280, 0xdeadbeef);
  assert.equal(frags.length, 3);
  const st = feed(r, frags);
  assert.deepEqual(st, [REASSEMBLY.HELD, REASSEMBLY.HELD, REASSEMBLY.COMPLETE]);
  assert.equal(r.length, pkt.length);
  assert.equal(hexOf(OUT.subarray(0, r.length)), hexOf(pkt));
  assert.equal(r.inProgress, 0);
  assert.equal(r.stats().heldBytes, 0);
  assert.equal(r.stats().completed, 1);
  assert.equal(r.pollAt(), Infinity);
});

test("tep reassembly: fragments out of order (reversed, shuffled) give back the original", () => {
  const rng = new Prng(7);
  for (let round = 0; round < 20; round++) {
    const r = new Reassembler();
    const pkt = bigTunnel(500 + rng.int(8000), round);
    const chunk = Math.min(8 * (20 + rng.int(150)), (pkt.length - 41) & ~7); // >= 2 fragments
    const frags = fragmentsOf(pkt, chunk, round);
    if (round === 0) frags.reverse();
    else {
      for (let i = frags.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [frags[i], frags[j]] = [frags[j], frags[i]];
      }
    }
    const st = feed(r, frags);
    assert.equal(st.at(-1), REASSEMBLY.COMPLETE, `round ${round}`);
    assert.ok(st.slice(0, -1).every((s) => s === REASSEMBLY.HELD));
    assert.equal(hexOf(OUT.subarray(0, r.length)), hexOf(pkt));
  }
});

test("tep reassembly: the unfragmentable part (Hop-by-Hop header) comes from the first fragment", () => {
  // IPv6 + Hop-by-Hop (PadN only) + IPv4: the fragmenter keeps the HbH header in every fragment.
  const inner = ipv4({ src: NET.x4, dst: NET.z4, payloadLength: 2000 });
  const hbh = Uint8Array.from([4, 0, 1, 4, 0, 0, 0, 0]);
  const pkt = ipv6(NET.x6, NET.tep6, 0, concat(hbh, inner));
  const frags = inetFragments(pkt, 1280, 42);
  const r = new Reassembler();
  const st = feed(r, frags.reverse());
  assert.equal(st.at(-1), REASSEMBLY.COMPLETE);
  assert.equal(hexOf(OUT.subarray(0, r.length)), hexOf(pkt));
});

test("tep reassembly: a 65 575-byte packet (the largest) reassembles; bigger is fragment-too-big", () => {
  const r = new Reassembler();
  const pkt = bigTunnel(65535 - 20); // IPv6 payload 65 535 bytes
  assert.equal(pkt.length, 65575);
  const frags = fragmentsOf(pkt, 1232, 9);
  const st = feed(r, frags);
  assert.equal(st.at(-1), REASSEMBLY.COMPLETE);
  assert.equal(r.length, 65575);
  assert.equal(hexOf(OUT.subarray(0, r.length)), hexOf(pkt));
  // A fragment that would end past 65 535 bytes of payload.
  const last = fragmentOf(pkt, 65528, 7, 10, false);
  last[42] = 0xff; // offset field 0xfff8 (65528) with 16 bytes of data
  const tooFar = concat(last.subarray(0, 48), new Uint8Array(16));
  tooFar[5] = 24;
  assert.equal(r.add(tooFar, 0, tooFar.length, 0, OUT), REASSEMBLY.DROPPED);
  assert.equal(r.reason, "fragment-too-big");
});

test("tep reassembly: maxPacketBytes 1500 accepts 1500 and refuses 1501 as fragment-too-big", () => {
  const r = new Reassembler({ maxPacketBytes: 1500, maxBytes: 4096 });
  const ok = bigTunnel(1500 - 60);
  assert.equal(feed(r, fragmentsOf(ok, 800, 1)).at(-1), REASSEMBLY.COMPLETE);
  assert.equal(r.length, 1500);
  const big = bigTunnel(1500 - 60 + 8);
  const frags = fragmentsOf(big, 800, 2);
  assert.equal(r.add(frags[0], 0, frags[0].length, 0, OUT), REASSEMBLY.HELD);
  assert.equal(r.add(frags[1], 0, frags[1].length, 0, OUT), REASSEMBLY.DROPPED);
  assert.equal(r.reason, "fragment-too-big");
  assert.equal(r.dropped, 2); // this one and the one held
  assert.equal(r.inProgress, 0);
});

test("tep reassembly: overlapping fragments drop the whole datagram (RFC 5722)", () => {
  const r = new Reassembler();
  const pkt = bigTunnel(3000);
  const a = fragmentOf(pkt, 0, 1232, 5, true);
  const b = fragmentOf(pkt, 1232, 1232, 5, true);
  const overlap = fragmentOf(pkt, 2400, 620, 5, false); // starts inside b
  assert.deepEqual(feed(r, [a, b]), [REASSEMBLY.HELD, REASSEMBLY.HELD]);
  assert.equal(r.add(overlap, 0, overlap.length, 0, OUT), REASSEMBLY.DROPPED);
  assert.equal(r.reason, "fragment-overlap");
  assert.equal(r.dropped, 3);
  assert.equal(r.inProgress, 0);
  assert.equal(r.stats().heldBytes, 0);
  // Same offset, different length: also an overlap.
  assert.equal(r.add(a, 0, a.length, 0, OUT), REASSEMBLY.HELD);
  const a2 = fragmentOf(pkt, 0, 1224, 5, true);
  assert.equal(r.add(a2, 0, a2.length, 0, OUT), REASSEMBLY.DROPPED);
  assert.equal(r.reason, "fragment-overlap");
  // Overlap from below: a later fragment that runs into one held.
  assert.equal(r.add(b, 0, b.length, 0, OUT), REASSEMBLY.HELD);
  const c = fragmentOf(pkt, 8, 1232, 5, true);
  assert.equal(r.add(c, 0, c.length, 0, OUT), REASSEMBLY.DROPPED);
  assert.equal(r.reason, "fragment-overlap");
});

test("tep reassembly: an exact duplicate is dropped alone and the datagram still completes", () => {
  const r = new Reassembler();
  const pkt = bigTunnel(3000);
  const frags = fragmentsOf(pkt, 1232, 77);
  assert.equal(r.add(frags[0], 0, frags[0].length, 0, OUT), REASSEMBLY.HELD);
  assert.equal(r.add(frags[0], 0, frags[0].length, 0, OUT), REASSEMBLY.DROPPED);
  assert.equal(r.reason, "fragment-duplicate");
  assert.equal(r.dropped, 1);
  assert.deepEqual(feed(r, frags.slice(1)), [REASSEMBLY.HELD, REASSEMBLY.COMPLETE]);
  assert.equal(hexOf(OUT.subarray(0, r.length)), hexOf(pkt));
});

test("tep reassembly: incomplete datagram times out at pollAt (scripted clock)", () => {
  const r = new Reassembler({ timeoutMs: 5000 });
  const pkt = bigTunnel(3000);
  const frags = fragmentsOf(pkt, 1232, 3);
  assert.equal(r.add(frags[0], 0, frags[0].length, 1000, OUT), REASSEMBLY.HELD);
  assert.equal(r.add(frags[2], 0, frags[2].length, 2000, OUT), REASSEMBLY.HELD);
  assert.equal(r.pollAt(), 6000);
  assert.equal(r.expire(5999), 0);
  assert.equal(r.expire(6000), 2);
  assert.equal(r.pollAt(), Infinity);
  // The missing fragment arriving late starts a new datagram that cannot complete.
  assert.equal(r.add(frags[1], 0, frags[1].length, 6001, OUT), REASSEMBLY.HELD);
  assert.equal(r.pollAt(), 11001);
  // add() also expires what is due: the next fragment at 11001 reports it.
  const other = fragmentsOf(bigTunnel(2000), 1232, 4);
  assert.equal(r.add(other[0], 0, other[0].length, 11001, OUT), REASSEMBLY.HELD);
  assert.equal(r.timedOut, 1);
  assert.equal(r.inProgress, 1);
});

test("tep reassembly: datagrams are keyed by (source, destination, identification)", () => {
  const r = new Reassembler();
  const a = tunnel(NET.x6, NET.tep6, ipv4({ src: NET.x4, dst: NET.z4, payloadLength: 2000 }));
  const b = tunnel(NET.y6, NET.tep6, ipv4({ src: NET.y4, dst: NET.z4, payloadLength: 2000 }));
  const c = tunnel(NET.x6, v6("2001:db8:ffff::3"), ipv4({ src: NET.x4, dst: NET.z4 }));
  const fa = fragmentsOf(a, 1232, 1);
  const fb = fragmentsOf(b, 1232, 1);
  const fc = fragmentsOf(concat(c, new Uint8Array(0)), 16, 1);
  assert.deepEqual(feed(r, [fa[0], fb[0], fc[0]]), [
    REASSEMBLY.HELD,
    REASSEMBLY.HELD,
    REASSEMBLY.HELD,
  ]);
  assert.equal(r.inProgress, 3);
  assert.equal(r.add(fb[1], 0, fb[1].length, 0, OUT), REASSEMBLY.COMPLETE);
  assert.equal(hexOf(OUT.subarray(0, r.length)), hexOf(b));
  assert.equal(r.add(fa[1], 0, fa[1].length, 0, OUT), REASSEMBLY.COMPLETE);
  assert.equal(hexOf(OUT.subarray(0, r.length)), hexOf(a));
});

test("tep reassembly: malformed fragments (length not a multiple of 8, ends that disagree)", () => {
  const r = new Reassembler();
  const pkt = bigTunnel(3000);
  const odd = fragmentOf(pkt, 0, 1231, 8, true);
  assert.equal(r.add(odd, 0, odd.length, 0, OUT), REASSEMBLY.DROPPED);
  assert.equal(r.reason, "fragment-malformed");
  const first = fragmentOf(pkt, 0, 1232, 8, true);
  const end1 = fragmentOf(pkt, 2464, 556, 8, false);
  const end2 = fragmentOf(pkt, 2464, 500, 8, false);
  assert.deepEqual(feed(r, [first, end1]), [REASSEMBLY.HELD, REASSEMBLY.HELD]);
  assert.equal(r.add(end2, 0, end2.length, 0, OUT), REASSEMBLY.DROPPED);
  assert.equal(r.reason, "fragment-malformed");
  assert.equal(r.dropped, 3);
  // Data past the announced end (1232).
  assert.deepEqual(feed(r, [fragmentOf(pkt, 1224, 8, 9, false)]), [REASSEMBLY.HELD]);
  const past = fragmentOf(pkt, 1232, 1232, 9, true);
  assert.equal(r.add(past, 0, past.length, 0, OUT), REASSEMBLY.DROPPED);
  assert.equal(r.reason, "fragment-malformed");
  // Not a fragment at all.
  const whole = bigTunnel(10);
  assert.equal(r.add(whole, 0, whole.length, 0, OUT), REASSEMBLY.DROPPED);
  assert.equal(r.reason, "malformed-ipv6");
});

test("tep reassembly: memory budget evicts the oldest datagram (fragment-memory)", () => {
  const r = new Reassembler({ maxBytes: 65575, blockSize: 256 });
  // Each datagram holds a 30 000-byte first fragment: two fit, the third evicts the first.
  const mk = (id: number) => fragmentOf(bigTunnel(60000), 0, 30000, id, true);
  assert.equal(r.add(mk(1), 0, mk(1).length, 0, OUT), REASSEMBLY.HELD);
  assert.equal(r.add(mk(2), 0, mk(2).length, 1, OUT), REASSEMBLY.HELD);
  assert.equal(r.add(mk(3), 0, mk(3).length, 2, OUT), REASSEMBLY.HELD);
  assert.equal(r.evicted, 1);
  assert.equal(r.inProgress, 2);
  assert.equal(r.pollAt(), 5001); // datagram 2 is now the oldest
});

test("tep reassembly: maxDatagrams and maxFragmentsPerDatagram are bounds", () => {
  const r = new Reassembler({ maxDatagrams: 2, maxFragmentsPerDatagram: 3 });
  const pkt = bigTunnel(3000);
  for (let id = 1; id <= 3; id++) {
    const f = fragmentOf(pkt, 0, 8, id, true);
    assert.equal(r.add(f, 0, f.length, id, OUT), REASSEMBLY.HELD);
  }
  assert.equal(r.evicted, 1); // datagram 1 made room for 3
  assert.equal(r.inProgress, 2);
  const frags = [8, 16, 24].map((o) => fragmentOf(pkt, o, 8, 3, true));
  assert.equal(r.add(frags[0], 0, frags[0].length, 5, OUT), REASSEMBLY.HELD);
  assert.equal(r.add(frags[1], 0, frags[1].length, 5, OUT), REASSEMBLY.HELD);
  assert.equal(r.add(frags[2], 0, frags[2].length, 5, OUT), REASSEMBLY.DROPPED);
  assert.equal(r.reason, "fragment-memory");
  assert.equal(r.dropped, 4);
});

test("tep reassembly: options are checked; out must hold maxPacketBytes", () => {
  assert.throws(() => new Reassembler({ maxPacketBytes: 1499 }), RangeError);
  assert.throws(() => new Reassembler({ maxBytes: 1000 }), RangeError);
  assert.throws(() => new Reassembler({ timeoutMs: 0 }), RangeError);
  assert.throws(() => new Reassembler({ maxDatagrams: 0 }), RangeError);
  const r = new Reassembler({ maxPacketBytes: 2000 });
  const f = fragmentOf(bigTunnel(100), 0, 16, 1, true);
  assert.throws(() => r.add(f, 0, f.length, 0, new Uint8Array(1999)), RangeError);
  assert.equal(r.add(f, 0, f.length, 0, new Uint8Array(2000)), REASSEMBLY.HELD);
});

test("tep reassembly: random bytes and mutated fragments never throw; memory comes back", () => {
  const rng = new Prng(99);
  const r = new Reassembler({ maxBytes: 1 << 17, maxDatagrams: 8 });
  const pkt = bigTunnel(3000);
  const seeds = fragmentsOf(pkt, 1232, 1);
  const buf = new Uint8Array(4096);
  for (let n = 0; n < 20000; n++) {
    let len: number;
    if (n % 2 === 0) {
      len = rng.int(200);
      rng.fill(buf.subarray(0, len));
      if (len > 0) buf[0] = 0x60;
      if (len > 6) buf[6] = 44;
    } else {
      const s = seeds[rng.int(seeds.length)];
      buf.set(s);
      len = s.length;
      for (let e = 0; e < 3; e++) buf[40 + rng.int(8)] = rng.u32() & 0xff;
      if (rng.int(4) === 0) buf[44 + rng.int(4)] = rng.int(4); // few identifications
      if (rng.int(4) === 0) len = rng.int(len + 1);
    }
    r.add(buf, 0, len, n, OUT);
  }
  r.clear();
  assert.equal(r.inProgress, 0);
  assert.equal(r.stats().heldBytes, 0);
  // Every block came back: a full-size datagram still fits.
  const big = bigTunnel(60000);
  assert.equal(feed(r, fragmentsOf(big, 1232, 12345), 30000).at(-1), REASSEMBLY.COMPLETE);
});
