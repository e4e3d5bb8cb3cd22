import { test } from "node:test";
import assert from "node:assert/strict";
import {
  decapsulate,
  dropQueued,
  encapsulate,
  expireReassembly,
  FORWARD_ACTION,
  FORWARD_OUT_BYTES,
  type ForwardAction,
  ForwardContext,
  forwardQueued,
  PeerMtuTable,
  submitMiss,
} from "./forward.ts";
import { type ForwardConfigInput, resolveForwardConfig } from "./forward_config.ts";
import { BindingTable } from "./binding_table.ts";
import { QueryScheduler } from "./query_scheduler.ts";
import { TokenBucket } from "../ratelimit/token_bucket.ts";
import { Reassembler, REASSEMBLY } from "./reassembly.ts";
import { Ipv4Pool, parseCidr4 } from "../addr/mod.ts";
import { Prng } from "../testing/prng.ts";
import {
  concat,
  expectIcmpv4Error,
  expectIcmpv6Error,
  expectIpv6Header,
  expectTtlDecremented,
  expectTunnel,
  fragmentsOf,
  hexOf,
  ipv4,
  ipv6,
  NET,
  tunnel,
  v4,
  v6,
} from "./testdata/packets.ts";

const A = FORWARD_ACTION;
const BASE: ForwardConfigInput = {
  tunnelIpv6: "2001:db8:ffff::2",
  tepIpv4: "192.0.2.2",
  pool: "198.51.100.0/24",
  clientPrefixes: ["2001:db8:100::/48"],
};
const FRAG_ID = 0xabcd1234;

interface Rig {
  ctx: ForwardContext;
  bindings: BindingTable;
  out: Uint8Array;
}

/** A context with X and Y bound (push, 60 s) at t = 0. */
function rig(over: Partial<ForwardConfigInput> = {}, bind = true): Rig {
  const bindings = new BindingTable({ capacity: 64 });
  if (bind) {
    bindings.upsert({ ipv4: NET.x4, ipv6: NET.x6, lifetimeMs: 60_000, source: "push" }, 0);
    bindings.upsert({ ipv4: NET.y4, ipv6: NET.y6, lifetimeMs: 60_000, source: "push" }, 0);
  }
  const ctx = new ForwardContext(resolveForwardConfig({ ...BASE, ...over }), {
    bindings,
    fragmentId: () => FRAG_ID,
  });
  return { ctx, bindings, out: new Uint8Array(FORWARD_OUT_BYTES) };
}

/** The output packets of the last call, copied. */
function outputs(ctx: ForwardContext): Uint8Array[] {
  const r: Uint8Array[] = [];
  for (let i = 0; i < ctx.count; i++) {
    r.push(ctx.buffer.slice(ctx.offsets[i], ctx.offsets[i] + ctx.lengths[i]));
  }
  return r;
}

function decap(r: Rig, pkt: Uint8Array, now = 1000): ForwardAction {
  return decapsulate(pkt, 0, pkt.length, now, r.ctx, r.out);
}

/** Encapsulate `pkt` placed after `headroom` bytes (default 40: in place). */
function encap(r: Rig, pkt: Uint8Array, now = 1000, headroom = 40): ForwardAction {
  const buf = new Uint8Array(headroom + pkt.length);
  buf.set(pkt, headroom);
  return encapsulate(buf, headroom, pkt.length, now, r.ctx, r.out);
}

function assertDrop(r: Rig, action: ForwardAction, reason: string) {
  assert.equal(action, A.DROP, `expected drop ${reason}, got action ${action} (${r.ctx.reason})`);
  assert.equal(r.ctx.reason, reason);
  assert.equal(r.ctx.count, 0);
  assert.equal(r.ctx.dropCount(reason as never), 1);
}

const X_TO_Z = () => ipv4({ src: NET.x4, dst: NET.z4, ttl: 64, payloadLength: 64 });
const Z_TO_X = () => ipv4({ src: NET.z4, dst: NET.x4, ttl: 50, payloadLength: 64 });

// ---- decapsulation ------------------------------------------------------------------------------

test("tep forward: decap of a valid tunnel packet writes the inner IPv4 packet, TTL - 1", () => {
  const r = rig();
  const inner = X_TO_Z();
  const pkt = tunnel(NET.x6, NET.tep6, inner, 3); // outer hop limit is thrown away
  assert.equal(decap(r, pkt), A.WRITE_IPV4);
  assert.equal(r.ctx.family, 4);
  assert.equal(r.ctx.count, 1);
  assert.equal(r.ctx.buffer, pkt); // forwarded from where it lies
  assert.equal(r.ctx.offset, 40);
  assert.equal(hexOf(outputs(r.ctx)[0]), hexOf(expectTtlDecremented(inner)));
  assert.equal(r.ctx.reason, null);
  assert.equal(r.ctx.counters.total(), 0);
  assert.equal(r.ctx.stats.get("decapPackets"), 1);
  assert.equal(r.ctx.stats.get("decapBytes"), inner.length);
});

test("tep forward: decap walks extension headers to Next Header 4", () => {
  const r = rig();
  const inner = X_TO_Z();
  const dstOpts = Uint8Array.from([4, 0, 1, 4, 0, 0, 0, 0]); // PadN
  const pkt = ipv6(NET.x6, NET.tep6, 60, concat(dstOpts, inner));
  assert.equal(decap(r, pkt), A.WRITE_IPV4);
  assert.equal(r.ctx.offset, 48);
  assert.equal(hexOf(outputs(r.ctx)[0]), hexOf(expectTtlDecremented(inner)));
});

test("tep forward: decap drops a spoofed inner source (bound to another IPv6 address)", () => {
  const r = rig();
  // X sends with Y's address; a node with no lease sends with X's address.
  assertDrop(
    r,
    decap(r, tunnel(NET.x6, NET.tep6, ipv4({ src: NET.y4, dst: NET.z4 }))),
    "spoofed-source",
  );
  const r2 = rig();
  assertDrop(r2, decap(r2, tunnel(NET.evil6, NET.tep6, X_TO_Z())), "spoofed-source");
  assert.equal(r2.ctx.bindings.lookup(NET.x4, 1000) >= 0, true); // the binding is untouched
  // A source outside the pool is never queried.
  const r3 = rig();
  const foreign = tunnel(NET.x6, NET.tep6, ipv4({ src: v4("10.0.0.1"), dst: NET.z4 }));
  assertDrop(r3, decap(r3, foreign), "outside-pool");
});

test("tep forward: spoofed source with the ICMPv6 1/5 policy sends a rate-limited error", () => {
  const r = rig({ icmp: { bindingFailure: true, burst: 1, ratePerSec: 1 } });
  const pkt = tunnel(NET.evil6, NET.tep6, X_TO_Z());
  assert.equal(decap(r, pkt), A.SEND_ICMP);
  assert.equal(r.ctx.reason, "spoofed-source");
  assert.equal(r.ctx.family, 6);
  assert.equal(hexOf(outputs(r.ctx)[0]), hexOf(expectIcmpv6Error(NET.tep6, 1, 5, 0, pkt)));
  assert.equal(r.ctx.dropCount("spoofed-source"), 1);
  // The bucket is empty: the next one is dropped silently.
  assert.equal(decap(r, tunnel(NET.evil6, NET.tep6, X_TO_Z())), A.DROP);
  assert.equal(r.ctx.dropCount("icmp-rate-limited"), 1);
  assert.equal(r.ctx.dropCount("spoofed-source"), 2);
});

test("tep forward: decap drops outer sources outside the client prefixes", () => {
  const r = rig();
  assertDrop(r, decap(r, tunnel(NET.outside6, NET.tep6, X_TO_Z())), "outside-client-prefix");
});

test("tep forward: decap drops packets not addressed to the tunnel address", () => {
  const r = rig();
  const pkt = tunnel(NET.x6, v6("2001:db8:ffff::1"), X_TO_Z());
  assertDrop(r, decap(r, pkt), "not-to-tunnel-address");
});

test("tep forward: decap counts multicast (the kernel's MLD reports on the TUN) apart", () => {
  const r = rig();
  const mld = ipv6(v6("::"), v6("ff02::16"), 58, new Uint8Array(28));
  assertDrop(r, decap(r, mld), "ipv6-multicast");
  assert.equal(r.ctx.dropCount("not-to-tunnel-address"), 0);
});

test("tep forward: decap drops Next Header other than 4, and malformed packets", () => {
  const r = rig();
  assertDrop(r, decap(r, ipv6(NET.x6, NET.tep6, 17, new Uint8Array(16))), "not-ipip");
  const six = ipv6(NET.x6, NET.tep6, 41, ipv6(NET.x6, NET.tep6, 59, new Uint8Array(0)));
  r.ctx.counters.reset();
  assertDrop(r, decap(r, six), "not-ipip");
  r.ctx.counters.reset();
  assertDrop(r, decap(r, new Uint8Array(39)), "malformed-ipv6");
  r.ctx.counters.reset();
  const badSum = X_TO_Z();
  badSum[11] ^= 1;
  assertDrop(r, decap(r, tunnel(NET.x6, NET.tep6, badSum)), "malformed-ipv4");
  r.ctx.counters.reset();
  assertDrop(r, decap(r, tunnel(NET.x6, NET.tep6, new Uint8Array(10))), "malformed-ipv4");
});

test("tep forward: decap of packets from the tunnel address itself is a loop", () => {
  const r = rig({ clientPrefixes: ["2001:db8:100::/48", "2001:db8:fffe::/48"] });
  assertDrop(r, decap(r, tunnel(NET.tep6, NET.tep6, X_TO_Z())), "loop");
});

test("tep forward: decap TTL 1 sends ICMPv4 11/0 to the client, tunnelled back to it", () => {
  for (const ttl of [1, 0]) {
    const r = rig();
    const inner = ipv4({ src: NET.x4, dst: NET.z4, ttl });
    assert.equal(decap(r, tunnel(NET.x6, NET.tep6, inner)), A.SEND_ICMP);
    assert.equal(r.ctx.reason, "ttl-exceeded");
    assert.equal(r.ctx.family, 6);
    const expected = expectTunnel(NET.tep6, NET.x6, expectIcmpv4Error(NET.tep4, 11, 0, 0, inner));
    assert.equal(hexOf(outputs(r.ctx)[0]), hexOf(expected));
    assert.equal(r.ctx.dropCount("ttl-exceeded"), 1);
  }
});

test("tep forward: decap with no binding for the pair is queue-and-query, never a binding", () => {
  const r = rig({}, false);
  const inner = X_TO_Z();
  assert.equal(decap(r, tunnel(NET.x6, NET.tep6, inner)), A.QUEUE_AND_QUERY);
  assert.equal(r.ctx.queryDirection, "decap");
  assert.equal(r.ctx.queryIpv4, NET.x4);
  assert.equal(hexOf(r.ctx.peer), hexOf(NET.x6));
  assert.equal(hexOf(outputs(r.ctx)[0]), hexOf(inner)); // unmodified: TTL untouched
  assert.equal(r.bindings.size, 0);
  assert.equal(r.ctx.counters.total(), 0);
  assert.equal(r.ctx.stats.get("queued"), 1);
});

// ---- fragments ---------------------------------------------------------------------------------

function bigTunnel(payload: number, ttl = 64) {
  const inner = ipv4({ src: NET.x4, dst: NET.z4, payloadLength: payload, ttl });
  return { inner, pkt: tunnel(NET.x6, NET.tep6, inner) };
}

test("tep forward: decap reassembles fragments in order, then forwards the inner packet", () => {
  const r = rig();
  const { inner, pkt } = bigTunnel(3000);
  const frags = fragmentsOf(pkt, 1232, 7);
  assert.equal(decap(r, frags[0]), A.DONE);
  assert.equal(decap(r, frags[1]), A.DONE);
  assert.equal(r.ctx.reason, null);
  assert.equal(decap(r, frags[2]), A.WRITE_IPV4);
  assert.equal(hexOf(outputs(r.ctx)[0]), hexOf(expectTtlDecremented(inner)));
  assert.equal(r.ctx.stats.get("reassembled"), 1);
  assert.equal(r.ctx.counters.total(), 0);
});

test("tep forward: decap reassembles fragments out of order", () => {
  const r = rig();
  const { inner, pkt } = bigTunnel(5000);
  const frags = fragmentsOf(pkt, 1232, 8);
  const order = [3, 0, 4, 2, 1];
  const actions = order.map((i) => decap(r, frags[i]));
  assert.deepEqual(actions, [A.DONE, A.DONE, A.DONE, A.DONE, A.WRITE_IPV4]);
  assert.equal(hexOf(outputs(r.ctx)[0]), hexOf(expectTtlDecremented(inner)));
});

test("tep forward: overlapping fragments drop the datagram (fragment-overlap, every fragment)", () => {
  const r = rig();
  const { pkt } = bigTunnel(3000);
  const frags = fragmentsOf(pkt, 1232, 9);
  const overlap = fragmentsOf(pkt, 1224, 9)[1]; // offset 1224 overlaps frags[0]
  assert.equal(decap(r, frags[0]), A.DONE);
  assert.equal(decap(r, frags[2]), A.DONE);
  assert.equal(decap(r, overlap), A.DROP);
  assert.equal(r.ctx.reason, "fragment-overlap");
  assert.equal(r.ctx.dropCount("fragment-overlap"), 3);
  assert.equal(r.ctx.reassembler.inProgress, 0);
});

test("tep forward: incomplete fragments time out (scripted clock)", () => {
  const r = rig();
  const { pkt } = bigTunnel(3000);
  const frags = fragmentsOf(pkt, 1232, 10);
  assert.equal(decap(r, frags[0], 1000), A.DONE);
  assert.equal(decap(r, frags[1], 2000), A.DONE);
  assert.equal(r.ctx.reassembler.pollAt(), 6000);
  assert.equal(expireReassembly(r.ctx, 5999), 0);
  assert.equal(expireReassembly(r.ctx, 6000), 2);
  assert.equal(r.ctx.dropCount("fragment-reassembly-timeout"), 2);
  // The last fragment alone is held again, and counted when it times out in turn.
  assert.equal(decap(r, frags[2], 6001), A.DONE);
  assert.equal(decap(r, fragmentsOf(bigTunnel(2000).pkt, 1232, 11)[0], 11001), A.DONE);
  assert.equal(r.ctx.dropCount("fragment-reassembly-timeout"), 3);
});

test("tep forward: fragments are filtered (tunnel address, client prefix) before reassembly", () => {
  const r = rig();
  const { pkt } = bigTunnel(3000);
  const outside = tunnel(NET.outside6, NET.tep6, bigTunnel(3000).inner);
  assertDrop(r, decap(r, fragmentsOf(outside, 1232, 1)[0]), "outside-client-prefix");
  assert.equal(r.ctx.reassembler.inProgress, 0);
  const frags = fragmentsOf(pkt, 1232, 1);
  assert.equal(decap(r, frags[0]), A.DONE);
  assert.equal(r.ctx.reassembler.inProgress, 1);
});

// ---- encapsulation -----------------------------------------------------------------------------

test("tep forward: encap of a packet to a bound pool address, in place (RFC 2473 header)", () => {
  const r = rig();
  const inner = Z_TO_X();
  const buf = new Uint8Array(40 + inner.length);
  buf.set(inner, 40);
  assert.equal(encapsulate(buf, 40, inner.length, 1000, r.ctx, r.out), A.WRITE_IPV6);
  assert.equal(r.ctx.family, 6);
  assert.equal(r.ctx.buffer, buf); // zero copy
  assert.equal(r.ctx.offset, 0);
  const expected = expectTunnel(NET.tep6, NET.x6, expectTtlDecremented(inner));
  assert.equal(hexOf(outputs(r.ctx)[0]), hexOf(expected));
  assert.equal(r.ctx.stats.get("encapPackets"), 1);
  assert.equal(r.ctx.stats.get("encapBytes"), inner.length);
  // Without headroom the packet is copied; the bytes are the same.
  const r2 = rig();
  assert.equal(encap(r2, inner, 1000, 0), A.WRITE_IPV6);
  assert.equal(r2.ctx.buffer, r2.out);
  assert.equal(hexOf(outputs(r2.ctx)[0]), hexOf(expected));
});

test("tep forward: golden vector, bytes computed outside TypeScript (Python, RFC 1071)", () => {
  // Z (203.0.113.5) -> X (198.51.100.7), UDP, TTL 50, 16 bytes 00..0f; X is 2001:db8:100::10.
  const hex = (t: string) =>
    Uint8Array.from(t.replace(/\s/g, "").match(/../g)!.map((b) => parseInt(b, 16)));
  const payload = "000102030405060708090a0b0c0d0e0f";
  const input = hex("45000024 12340000 32111055 cb007105 c6336407" + payload);
  const expected = hex(
    "60000000 00240440 20010db8 ffff0000 00000000 00000002 20010db8 01000000 00000000 00000010" +
      "45000024 12340000 31111155 cb007105 c6336407" + payload,
  );
  const r = rig();
  assert.equal(encap(r, input), A.WRITE_IPV6);
  assert.equal(hexOf(outputs(r.ctx)[0]), hexOf(expected));
  // And back: X's reply decapsulates to the same inner bytes, TTL - 1 again.
  const reply = hex("45000024 12340000 32111055 c6336407 cb007105" + payload);
  assert.equal(decap(r, tunnel(NET.x6, NET.tep6, reply)), A.WRITE_IPV4);
  assert.equal(
    hexOf(outputs(r.ctx)[0]),
    hexOf(hex("45000024 12340000 31111155 c6336407 cb007105" + payload)),
  );
});

test("tep forward: encap with an encapsulation limit writes the 48-byte header", () => {
  const r = rig({ encapLimit: 4 });
  const inner = Z_TO_X();
  assert.equal(encap(r, inner, 1000, 40), A.WRITE_IPV6); // 40 < 48: copied
  const opt = Uint8Array.from([4, 0, 4, 1, 4, 1, 1, 0]);
  const expected = concat(
    expectIpv6Header(NET.tep6, NET.x6, inner.length + 8, 60),
    opt,
    expectTtlDecremented(inner),
  );
  assert.equal(hexOf(outputs(r.ctx)[0]), hexOf(expected));
  assert.equal(encap(r, inner, 1000, 64), A.WRITE_IPV6); // in place
  assert.equal(hexOf(outputs(r.ctx)[0]), hexOf(expected));
});

test("tep forward: encap drops destinations outside the pool and malformed packets", () => {
  const r = rig();
  assertDrop(r, encap(r, ipv4({ src: NET.z4, dst: v4("203.0.113.9") })), "outside-pool");
  const bad = Z_TO_X();
  bad[0] = 0x46; // IHL 6 without options: checksum fails
  assertDrop(r, encap(r, bad), "malformed-ipv4");
});

test("tep forward: encap TTL 1 sends ICMPv4 11/0 to the IPv4 source", () => {
  const r = rig();
  const inner = ipv4({ src: NET.z4, dst: NET.x4, ttl: 1 });
  assert.equal(encap(r, inner), A.SEND_ICMP);
  assert.equal(r.ctx.family, 4);
  assert.equal(r.ctx.reason, "ttl-exceeded");
  assert.equal(hexOf(outputs(r.ctx)[0]), hexOf(expectIcmpv4Error(NET.tep4, 11, 0, 0, inner)));
  assert.equal(r.ctx.stats.get("icmpv4Sent"), 1);
  // Policy off: silent drop.
  const r2 = rig({ icmp: { timeExceeded: false } });
  assertDrop(r2, encap(r2, inner), "ttl-exceeded");
});

test("tep forward: every generated ICMP is rate-limited (token bucket)", () => {
  const r = rig({ icmp: { ratePerSec: 1, burst: 2 } });
  const inner = ipv4({ src: NET.z4, dst: NET.x4, ttl: 1 });
  assert.equal(encap(r, inner, 0), A.SEND_ICMP);
  assert.equal(encap(r, inner, 0), A.SEND_ICMP);
  assert.equal(encap(r, inner, 0), A.DROP);
  assert.equal(r.ctx.reason, "ttl-exceeded");
  assert.equal(r.ctx.dropCount("icmp-rate-limited"), 1);
  assert.equal(r.ctx.dropCount("ttl-exceeded"), 3);
  assert.equal(encap(r, inner, 1000), A.SEND_ICMP); // one token back after a second
});

test("tep forward: encap too big with DF set sends ICMPv4 3/4 with the tunnel MTU", () => {
  const r = rig();
  const inner = ipv4({ src: NET.z4, dst: NET.x4, df: true, payloadLength: 1480 }); // 1500 bytes
  assert.equal(encap(r, inner), A.SEND_ICMP);
  assert.equal(r.ctx.reason, "too-big-df");
  assert.equal(r.ctx.family, 4);
  assert.equal(hexOf(outputs(r.ctx)[0]), hexOf(expectIcmpv4Error(NET.tep4, 3, 4, 1460, inner)));
  // Exactly the tunnel MTU passes.
  const fits = ipv4({ src: NET.z4, dst: NET.x4, df: true, payloadLength: 1440 });
  assert.equal(encap(r, fits), A.WRITE_IPV6);
  assert.equal(r.ctx.lengths[0], 1500);
});

test("tep forward: encap too big with DF clear sends IPv6 fragments that reassemble to the tunnel packet", () => {
  const r = rig();
  const inner = ipv4({ src: NET.z4, dst: NET.x4, df: false, payloadLength: 3980 }); // 4000 bytes
  assert.equal(encap(r, inner), A.WRITE_IPV6);
  assert.equal(r.ctx.count, 3);
  const frags = outputs(r.ctx);
  assert.ok(frags.every((f) => f.length <= 1500));
  const expected = expectTunnel(NET.tep6, NET.x6, expectTtlDecremented(inner));
  // Independently fragmented expectation: 1448 data bytes per fragment (1500 - 40 - 8, rounded to 8).
  assert.deepEqual(frags.map(hexOf), fragmentsOf(expected, 1448, FRAG_ID).map(hexOf));
  // And they reassemble to the tunnel packet.
  const re = new Reassembler();
  const back = new Uint8Array(re.maxPacketBytes);
  const st = frags.map((f) => re.add(f, 0, f.length, 0, back));
  assert.equal(st.at(-1), REASSEMBLY.COMPLETE);
  assert.equal(hexOf(back.subarray(0, re.length)), hexOf(expected));
  assert.equal(r.ctx.stats.get("fragmentsSent"), 3);
  // The inner packet was not fragmented: its flags and offset are untouched.
  assert.equal(back[40 + 6] & 0x3f, 0);
});

test("tep forward: the largest packet (65 535 bytes) fragments at a 1280 path MTU", () => {
  const r = rig({ ipv6Mtu: 1280 });
  const inner = ipv4({ src: NET.z4, dst: NET.x4, payloadLength: 65515 });
  assert.equal(encap(r, inner, 1000, 0), A.WRITE_IPV6); // copied to out, fragments in scratch
  assert.equal(r.ctx.count, 54);
  const re = new Reassembler();
  const back = new Uint8Array(re.maxPacketBytes);
  let st = -1;
  for (const f of outputs(r.ctx)) {
    assert.ok(f.length <= 1280);
    st = re.add(f, 0, f.length, 0, back);
  }
  assert.equal(st, REASSEMBLY.COMPLETE);
  const expected = expectTunnel(NET.tep6, NET.x6, expectTtlDecremented(inner));
  assert.equal(hexOf(back.subarray(0, re.length)), hexOf(expected));
});

test("tep forward: encap to an unbound pool address is queue-and-query", () => {
  const r = rig({}, false);
  const inner = Z_TO_X();
  assert.equal(encap(r, inner), A.QUEUE_AND_QUERY);
  assert.equal(r.ctx.queryDirection, "encap");
  assert.equal(r.ctx.queryIpv4, NET.x4);
  assert.equal(hexOf(outputs(r.ctx)[0]), hexOf(inner)); // TTL untouched while it waits
});

test("tep forward: a binding to the TEP's own tunnel address is a loop", () => {
  const r = rig();
  r.bindings.upsert(
    { ipv4: v4("198.51.100.50"), ipv6: NET.tep6, lifetimeMs: 1e6, source: "push" },
    0,
  );
  assertDrop(r, encap(r, ipv4({ src: NET.z4, dst: v4("198.51.100.50") })), "loop");
});

// ---- hairpin -----------------------------------------------------------------------------------

test("tep forward: pool-to-pool traffic is hairpinned to the other client", () => {
  const r = rig();
  const inner = ipv4({ src: NET.x4, dst: NET.y4, ttl: 9 });
  const pkt = tunnel(NET.x6, NET.tep6, inner);
  assert.equal(decap(r, pkt), A.HAIRPIN);
  assert.equal(r.ctx.family, 6);
  assert.equal(r.ctx.buffer, pkt); // re-encapsulated in place
  const expected = expectTunnel(NET.tep6, NET.y6, expectTtlDecremented(inner));
  assert.equal(hexOf(outputs(r.ctx)[0]), hexOf(expected));
  assert.equal(r.ctx.stats.get("hairpinPackets"), 1);
  assert.equal(r.ctx.stats.get("decapPackets"), 0);
  // TTL 1 on a hairpin: the error goes back to X through the tunnel.
  const dying = ipv4({ src: NET.x4, dst: NET.y4, ttl: 1 });
  assert.equal(decap(r, tunnel(NET.x6, NET.tep6, dying)), A.SEND_ICMP);
  assert.equal(
    hexOf(outputs(r.ctx)[0]),
    hexOf(expectTunnel(NET.tep6, NET.x6, expectIcmpv4Error(NET.tep4, 11, 0, 0, dying))),
  );
  // Hairpin to a pool address with no binding: query it (encap direction).
  const toUnbound = ipv4({ src: NET.x4, dst: v4("198.51.100.99") });
  assert.equal(decap(r, tunnel(NET.x6, NET.tep6, toUnbound)), A.QUEUE_AND_QUERY);
  assert.equal(r.ctx.queryDirection, "encap");
  assert.equal(r.ctx.queryIpv4, v4("198.51.100.99"));
});

test("tep forward: hairpinning can be disabled", () => {
  const r = rig({ hairpin: false });
  assertDrop(
    r,
    decap(r, tunnel(NET.x6, NET.tep6, ipv4({ src: NET.x4, dst: NET.y4 }))),
    "hairpin-disabled",
  );
});

test("tep forward: a reassembled hairpin packet too big for the peer is fragmented again", () => {
  const r = rig();
  const inner = ipv4({ src: NET.x4, dst: NET.y4, payloadLength: 2980 });
  const frags = fragmentsOf(tunnel(NET.x6, NET.tep6, inner), 1232, 5);
  for (const f of frags.slice(0, -1)) assert.equal(decap(r, f), A.DONE);
  assert.equal(decap(r, frags.at(-1)!), A.HAIRPIN);
  assert.equal(r.ctx.count, 3);
  const expected = expectTunnel(NET.tep6, NET.y6, expectTtlDecremented(inner));
  assert.deepEqual(outputs(r.ctx).map(hexOf), fragmentsOf(expected, 1448, FRAG_ID).map(hexOf));
});

// ---- bindings over time, and the query scheduler -------------------------------------------------

test("tep forward: bindings expire on a scripted clock (both directions then query)", () => {
  const bindings = new BindingTable({ capacity: 8 });
  bindings.upsert({ ipv4: NET.x4, ipv6: NET.x6, lifetimeMs: 10_000, source: "query" }, 0);
  const ctx = new ForwardContext(resolveForwardConfig(BASE), { bindings });
  const r: Rig = { ctx, bindings, out: new Uint8Array(FORWARD_OUT_BYTES) };
  assert.equal(decap(r, tunnel(NET.x6, NET.tep6, X_TO_Z()), 9_999), A.WRITE_IPV4);
  assert.equal(encap(r, Z_TO_X(), 9_999), A.WRITE_IPV6);
  assert.equal(decap(r, tunnel(NET.x6, NET.tep6, X_TO_Z()), 10_000), A.QUEUE_AND_QUERY);
  assert.equal(r.ctx.queryDirection, "decap");
  assert.equal(encap(r, Z_TO_X(), 10_000), A.QUEUE_AND_QUERY);
  assert.equal(r.ctx.queryDirection, "encap");
  assert.equal(r.ctx.counters.total(), 0);
});

test("tep forward: queue-and-query through the scheduler, then forward on the answer", () => {
  const r = rig({}, false);
  const pool = new Ipv4Pool((parseCidr4("198.51.100.0/24") as { ok: true; value: never }).value);
  const q = new QueryScheduler({ pool });
  // Encap miss: the first packet starts a query.
  const inner = Z_TO_X();
  assert.equal(encap(r, inner, 100), A.QUEUE_AND_QUERY);
  assert.equal(submitMiss(r.ctx, q, 100).kind, "query");
  // Decap miss from X for its own address: same address, already queried: queued.
  const up = X_TO_Z();
  assert.equal(decap(r, tunnel(NET.x6, NET.tep6, up), 110), A.QUEUE_AND_QUERY);
  assert.equal(submitMiss(r.ctx, q, 110).kind, "queued");
  // A spoofer claims the same address meanwhile.
  assert.equal(decap(r, tunnel(NET.evil6, NET.tep6, X_TO_Z()), 120), A.QUEUE_AND_QUERY);
  assert.equal(submitMiss(r.ctx, q, 120).kind, "queued");
  // The server answers: X4 is X6. The caller installs the binding, then flushes the queue.
  r.bindings.upsert({ ipv4: NET.x4, ipv6: NET.x6, lifetimeMs: 60_000, source: "query" }, 200);
  const outcome = q.onAnswer(NET.x4, { kind: "found", ipv6: NET.x6 }, 200);
  assert.equal(outcome.forward.length, 2);
  assert.equal(outcome.dropped.length, 1);
  const got: string[] = [];
  for (const pk of outcome.forward) {
    const a = forwardQueued(pk, 200, r.ctx, r.out);
    got.push(`${a}:${hexOf(outputs(r.ctx)[0])}`);
  }
  assert.deepEqual(got, [
    `${A.WRITE_IPV6}:${hexOf(expectTunnel(NET.tep6, NET.x6, expectTtlDecremented(inner)))}`,
    `${A.WRITE_IPV4}:${hexOf(expectTtlDecremented(up))}`,
  ]);
  assert.equal(dropQueued(outcome.dropped[0], 200, r.ctx, r.out), A.DROP);
  assert.equal(r.ctx.reason, "spoofed-source");
  assert.equal(r.ctx.dropCount("spoofed-source"), 1);
  assert.equal(r.bindings.size, 1);
});

test("tep forward: refused queries drop queued packets, with ICMPv4 3/1 if configured", () => {
  const r = rig({ icmp: { unreachableOnQueryFailure: true } }, false);
  const pool = new Ipv4Pool((parseCidr4("198.51.100.0/24") as { ok: true; value: never }).value);
  const q = new QueryScheduler({ pool });
  const inner = Z_TO_X();
  assert.equal(encap(r, inner, 0), A.QUEUE_AND_QUERY);
  assert.equal(submitMiss(r.ctx, q, 0).kind, "query");
  const outcome = q.onAnswer(NET.x4, { kind: "refused" }, 50);
  assert.equal(outcome.dropped.length, 1);
  assert.equal(dropQueued(outcome.dropped[0], 50, r.ctx, r.out), A.SEND_ICMP);
  assert.equal(r.ctx.reason, "query-refused");
  assert.equal(hexOf(outputs(r.ctx)[0]), hexOf(expectIcmpv4Error(NET.tep4, 3, 1, 0, inner)));
  // Negative-cached now: the scheduler drops the next one, and submitMiss counts it.
  assert.equal(encap(r, inner, 60), A.QUEUE_AND_QUERY);
  assert.equal(submitMiss(r.ctx, q, 60).kind, "drop");
  assert.equal(r.ctx.dropCount("negative-cached"), 1);
});

// ---- MTU per peer --------------------------------------------------------------------------------

test("tep forward: peer MTU table lowers (>= 1280), never raises, and ages back", () => {
  const t = new PeerMtuTable({ defaultMtu: 1500, maxPeers: 2, ageMs: 600_000 });
  assert.equal(t.get(NET.x6, 0, 0), 1500);
  assert.equal(t.lower(NET.x6, 0, 1400, 0), 1400);
  assert.equal(t.lower(NET.x6, 0, 1450, 1), 1400); // a PTB never raises it
  assert.equal(t.lower(NET.x6, 0, 600, 2), 1280); // never below the IPv6 minimum
  assert.equal(t.get(NET.y6, 0, 3), 1500); // per peer
  assert.equal(t.get(NET.x6, 0, 600_001), 1280);
  assert.equal(t.get(NET.x6, 0, 600_002), 1500); // aged out (RFC 8201 §4)
  // Bounded: a third peer replaces the oldest entry.
  t.lower(NET.x6, 0, 1300, 700_000);
  t.lower(NET.y6, 0, 1301, 700_000);
  t.lower(NET.evil6, 0, 1302, 700_000);
  assert.ok(t.size <= 2);
  assert.equal(t.get(NET.evil6, 0, 700_001), 1302);
});

test("tep forward: encap uses the per-peer MTU", () => {
  const r = rig();
  r.ctx.peerMtu.lower(NET.x6, 0, 1280, 0);
  const inner = ipv4({ src: NET.z4, dst: NET.x4, df: true, payloadLength: 1480 });
  assert.equal(encap(r, inner), A.SEND_ICMP);
  assert.equal(hexOf(outputs(r.ctx)[0]), hexOf(expectIcmpv4Error(NET.tep4, 3, 4, 1240, inner)));
  // Y still has the default 1500.
  assert.equal(
    encap(r, ipv4({ src: NET.z4, dst: NET.y4, df: true, payloadLength: 1440 })),
    A.WRITE_IPV6,
  );
});

// ---- allocation shape and robustness ---------------------------------------------------------

test("tep forward: hot loop reuses the same context, arrays and buffers (no per-packet objects)", () => {
  const r = rig();
  const up = tunnel(NET.x6, NET.tep6, X_TO_Z());
  const downInner = Z_TO_X();
  const down = new Uint8Array(40 + downInner.length);
  const offsets = r.ctx.offsets;
  const lengths = r.ctx.lengths;
  const peer = r.ctx.peer;
  for (let i = 0; i < 20_000; i++) {
    up[40 + 8] = 64; // restore the TTL (and checksum below) the core decrements in place
    up.set(X_TO_Z_HEADER, 40);
    assert.equal(decapsulate(up, 0, up.length, 1000 + i, r.ctx, r.out), A.WRITE_IPV4);
    assert.equal(r.ctx.buffer, up);
    down.set(downInner, 40);
    assert.equal(encapsulate(down, 40, downInner.length, 1000 + i, r.ctx, r.out), A.WRITE_IPV6);
    assert.equal(r.ctx.buffer, down);
  }
  assert.equal(r.ctx.offsets, offsets);
  assert.equal(r.ctx.lengths, lengths);
  assert.equal(r.ctx.peer, peer);
  assert.equal(r.ctx.stats.get("decapPackets"), 20_000);
  assert.equal(r.ctx.stats.get("encapPackets"), 20_000);
  assert.equal(r.ctx.counters.total(), 0);
});
const X_TO_Z_HEADER = X_TO_Z().subarray(0, 20);

test("tep forward: random and mutated bytes never throw (100k decap + 100k encap)", () => {
  const rng = new Prng(2024);
  const r = rig({ icmp: { bindingFailure: true, unreachableOnQueryFailure: true } });
  const seeds6 = [
    tunnel(NET.x6, NET.tep6, X_TO_Z()),
    tunnel(NET.x6, NET.tep6, ipv4({ src: NET.x4, dst: NET.y4, ttl: 1 })),
    tunnel(NET.evil6, NET.tep6, X_TO_Z()),
    tunnel(NET.x6, NET.tep6, ipv4({ src: NET.x4, dst: NET.y4 })),
    ...fragmentsOf(bigTunnel(2000).pkt, 1232, 1),
  ];
  const seeds4 = [
    Z_TO_X(),
    ipv4({ src: NET.z4, dst: NET.y4, ttl: 1 }),
    ipv4({ src: NET.z4, dst: NET.x4, df: true, payloadLength: 1480 }),
    ipv4({ src: NET.z4, dst: NET.x4, payloadLength: 3000 }),
    ipv4({ src: NET.z4, dst: v4("198.51.100.99") }),
  ];
  const buf = new Uint8Array(8192);
  const counts = new Map<number, number>();
  const one = (seeds: Uint8Array[], fn: (len: number) => ForwardAction, n: number) => {
    let len: number;
    if ((n & 1) === 0) {
      len = rng.int(120);
      rng.fill(buf.subarray(48, 48 + len));
      if (len > 0 && rng.int(2) === 0) buf[48] = seeds === seeds6 ? 0x60 : 0x45;
    } else {
      const s = seeds[rng.int(seeds.length)];
      buf.set(s, 48);
      len = s.length;
      for (let e = 1 + rng.int(3); e > 0; e--) {
        const what = rng.int(4);
        if (what === 0) buf[48 + rng.int(len)] = rng.u32() & 0xff;
        else if (what === 1) buf[48 + rng.int(Math.min(len, 64))] ^= 1 << rng.int(8);
        else if (what === 2) len = rng.int(len + 1);
      }
    }
    const a = fn(len);
    counts.set(a, (counts.get(a) ?? 0) + 1);
  };
  for (let n = 0; n < 100_000; n++) {
    one(seeds6, (len) => decapsulate(buf, 48, len, n % 50_000, r.ctx, r.out), n);
  }
  for (let n = 0; n < 100_000; n++) {
    one(seeds4, (len) => encapsulate(buf, 48, len, n % 50_000, r.ctx, r.out), n);
  }
  // Sanity: the mutations reached deep into the core, not only the first checks.
  assert.ok((counts.get(A.WRITE_IPV4) ?? 0) > 0);
  assert.ok((counts.get(A.WRITE_IPV6) ?? 0) > 0);
  assert.ok((counts.get(A.SEND_ICMP) ?? 0) > 0);
  assert.ok((counts.get(A.DROP) ?? 0) > 0);
  assert.ok((counts.get(A.HAIRPIN) ?? 0) > 0);
  assert.ok((counts.get(A.QUEUE_AND_QUERY) ?? 0) > 0);
});

test("tep forward: out must hold FORWARD_OUT_BYTES (programmer error)", () => {
  const r = rig();
  const pkt = tunnel(NET.x6, NET.tep6, X_TO_Z());
  assert.throws(
    () => decapsulate(pkt, 0, pkt.length, 0, r.ctx, new Uint8Array(2048)),
    RangeError,
  );
});

test("tep forward: an explicit ICMP limiter and counters can be shared", () => {
  const bindings = new BindingTable({ capacity: 4 });
  const limiter = new TokenBucket({ ratePerSec: 1, burst: 1 });
  const ctx = new ForwardContext(resolveForwardConfig(BASE), { bindings, icmpLimiter: limiter });
  assert.equal(ctx.icmpLimiter, limiter);
  const out = new Uint8Array(FORWARD_OUT_BYTES);
  const dying = ipv4({ src: NET.z4, dst: v4("198.51.100.3"), ttl: 1 });
  const buf = concat(new Uint8Array(40), dying);
  assert.equal(encapsulate(buf, 40, dying.length, 0, ctx, out), A.SEND_ICMP);
  buf.set(dying, 40);
  assert.equal(encapsulate(buf, 40, dying.length, 0, ctx, out), A.DROP);
  assert.equal(ctx.dropCount("icmp-rate-limited"), 1);
});
