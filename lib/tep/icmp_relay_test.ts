import { test } from "node:test";
import assert from "node:assert/strict";
import { relayIcmpv6 } from "./icmp_relay.ts";
import {
  encapsulate,
  FORWARD_ACTION,
  FORWARD_OUT_BYTES,
  type ForwardAction,
  ForwardContext,
} from "./forward.ts";
import { type ForwardConfigInput, resolveForwardConfig } from "./forward_config.ts";
import { BindingTable } from "./binding_table.ts";
import { Prng } from "../testing/prng.ts";
import {
  expectIcmpv4Error,
  expectTunnel,
  fragmentOf,
  hexOf,
  icmpv6Error,
  ipv4,
  NET,
  tunnel,
  v6,
} from "./testdata/packets.ts";

const A = FORWARD_ACTION;
const BASE: ForwardConfigInput = {
  tunnelIpv6: "2001:db8:ffff::2",
  tepIpv4: "192.0.2.2",
  pool: "198.51.100.0/24",
  clientPrefixes: ["2001:db8:100::/48"],
};

interface Rig {
  ctx: ForwardContext;
  out: Uint8Array;
}

function rig(over: Partial<ForwardConfigInput> = {}): Rig {
  const bindings = new BindingTable({ capacity: 16 });
  bindings.upsert({ ipv4: NET.x4, ipv6: NET.x6, lifetimeMs: 600_000, source: "push" }, 0);
  bindings.upsert({ ipv4: NET.y4, ipv6: NET.y6, lifetimeMs: 600_000, source: "push" }, 0);
  const ctx = new ForwardContext(resolveForwardConfig({ ...BASE, ...over }), { bindings });
  return { ctx, out: new Uint8Array(FORWARD_OUT_BYTES) };
}

function relay(r: Rig, pkt: Uint8Array, now = 1000): ForwardAction {
  return relayIcmpv6(pkt, 0, pkt.length, now, r.ctx, r.out);
}

function output(r: Rig): string {
  return hexOf(r.ctx.buffer.subarray(r.ctx.offset, r.ctx.offset + r.ctx.length));
}

/** A tunnel packet this TEP sent to X (Z → X inside), and its inner packet. */
function sent(payload = 100, df = false) {
  const inner = ipv4({ src: NET.z4, dst: NET.x4, ttl: 49, df, payloadLength: payload });
  return { inner, pkt: tunnel(NET.tep6, NET.x6, inner) };
}

test("tep icmp relay: Time Exceeded, Destination Unreachable, Parameter Problem → ICMPv4 3/1", () => {
  const cases: [number, number, number][] = [
    [3, 0, 0], // hop limit exceeded in transit
    [1, 3, 0], // address unreachable
    [1, 0, 0], // no route
    [4, 0, 42], // parameter problem (e.g. the encapsulation limit byte)
  ];
  for (const [type, code, rest] of cases) {
    const r = rig();
    const { inner, pkt } = sent();
    const err = icmpv6Error(NET.r6, NET.tep6, type, code, rest, pkt);
    assert.equal(relay(r, err), A.SEND_ICMP, `type ${type}`);
    assert.equal(r.ctx.family, 4);
    assert.equal(r.ctx.reason, null); // nothing of ours was dropped
    assert.equal(output(r), hexOf(expectIcmpv4Error(NET.tep4, 3, 1, 0, inner)));
    assert.equal(r.ctx.stats.get("icmpRelayed"), 1);
    assert.equal(r.ctx.counters.total(), 0);
  }
});

test("tep icmp relay: a quote cut to the IPv4 header + 8 bytes is enough", () => {
  const r = rig();
  const { inner, pkt } = sent(1000);
  const err = icmpv6Error(NET.r6, NET.tep6, 3, 0, 0, pkt.subarray(0, 40 + 28));
  assert.equal(relay(r, err), A.SEND_ICMP);
  assert.equal(output(r), hexOf(expectIcmpv4Error(NET.tep4, 3, 1, 0, inner.subarray(0, 28))));
});

test("tep icmp relay: Packet Too Big with DF lowers the peer MTU and sends ICMPv4 3/4 (MTU - 40)", () => {
  const r = rig();
  const { inner, pkt } = sent(1460, true); // 1480 bytes, tunnel packet 1520 (path MTU was bigger)
  const err = icmpv6Error(NET.r6, NET.tep6, 2, 0, 1400, pkt.subarray(0, 1232));
  assert.equal(relay(r, err), A.SEND_ICMP);
  assert.equal(r.ctx.family, 4);
  assert.equal(
    output(r),
    hexOf(expectIcmpv4Error(NET.tep4, 3, 4, 1360, inner.subarray(0, 1232 - 40))),
  );
  assert.equal(r.ctx.peerMtu.get(NET.x6, 0, 1000), 1400);
  assert.equal(r.ctx.stats.get("ptbReceived"), 1);
  assert.equal(r.ctx.stats.get("mtuLowered"), 1);
  // The next DF packet of that size is refused at the TEP with the new tunnel MTU.
  const buf = new Uint8Array(40 + inner.length);
  buf.set(ipv4({ src: NET.z4, dst: NET.x4, df: true, payloadLength: 1460 }), 40);
  assert.equal(encapsulate(buf, 40, inner.length, 1001, r.ctx, r.out), A.SEND_ICMP);
  assert.equal(r.ctx.reason, "too-big-df");
  assert.equal(r.out[20 + 6] * 256 + r.out[20 + 7], 1360);
});

test("tep icmp relay: Packet Too Big without DF only lowers the MTU; later packets are fragmented", () => {
  const r = rig();
  const { pkt } = sent(1460, false);
  const err = icmpv6Error(NET.r6, NET.tep6, 2, 0, 1400, pkt.subarray(0, 1232));
  assert.equal(relay(r, err), A.DONE);
  assert.equal(r.ctx.peerMtu.get(NET.x6, 0, 1000), 1400);
  const big = ipv4({ src: NET.z4, dst: NET.x4, payloadLength: 1460 });
  const buf = new Uint8Array(40 + big.length);
  buf.set(big, 40);
  assert.equal(encapsulate(buf, 40, big.length, 1001, r.ctx, r.out), A.WRITE_IPV6);
  assert.equal(r.ctx.count, 2);
  assert.ok(r.ctx.lengths[0] <= 1400 && r.ctx.lengths[1] <= 1400);
});

test("tep icmp relay: Packet Too Big below 1280 is clamped (RFC 8201), ICMPv4 MTU 1240", () => {
  const r = rig();
  const { inner, pkt } = sent(1460, true);
  const err = icmpv6Error(NET.r6, NET.tep6, 2, 0, 576, pkt.subarray(0, 200));
  assert.equal(relay(r, err), A.SEND_ICMP);
  assert.equal(r.ctx.peerMtu.get(NET.x6, 0, 1000), 1280);
  assert.equal(
    output(r),
    hexOf(expectIcmpv4Error(NET.tep4, 3, 4, 1240, inner.subarray(0, 160))),
  );
  // A later, bigger PTB does not raise it.
  assert.equal(
    relay(r, icmpv6Error(NET.r6, NET.tep6, 2, 0, 1500, pkt.subarray(0, 200))),
    A.SEND_ICMP,
  );
  assert.equal(r.ctx.peerMtu.get(NET.x6, 0, 1000), 1280);
  assert.equal(r.ctx.stats.get("mtuLowered"), 1);
});

test("tep icmp relay: Packet Too Big quoting a non-first fragment lowers the MTU only", () => {
  const r = rig();
  const { pkt } = sent(3000);
  const frag = fragmentOf(pkt, 1232, 1232, 77, true);
  assert.equal(relay(r, icmpv6Error(NET.r6, NET.tep6, 2, 0, 1300, frag)), A.DONE);
  assert.equal(r.ctx.peerMtu.get(NET.x6, 0, 1000), 1300);
  // A first fragment does carry the inner header: relayed (DF is clear here, so only for 3/1).
  const first = fragmentOf(pkt, 0, 1232, 77, true);
  assert.equal(relay(r, icmpv6Error(NET.r6, NET.tep6, 3, 0, 0, first)), A.SEND_ICMP);
});

test("tep icmp relay: an error about a hairpinned packet goes back to the client through the tunnel", () => {
  const r = rig();
  const inner = ipv4({ src: NET.x4, dst: NET.y4, ttl: 8 });
  const pkt = tunnel(NET.tep6, NET.y6, inner);
  assert.equal(relay(r, icmpv6Error(NET.r6, NET.tep6, 1, 3, 0, pkt)), A.SEND_ICMP);
  assert.equal(r.ctx.family, 6);
  assert.equal(
    output(r),
    hexOf(expectTunnel(NET.tep6, NET.x6, expectIcmpv4Error(NET.tep4, 3, 1, 0, inner))),
  );
});

test("tep icmp relay: messages that are not about our tunnel packets are left alone", () => {
  const { pkt } = sent();
  const notOurs: [string, Uint8Array][] = [
    ["echo request", icmpv6Error(NET.r6, NET.tep6, 128, 0, 0x00010001, pkt)],
    ["to another address", icmpv6Error(NET.r6, v6("2001:db8:ffff::1"), 3, 0, 0, pkt)],
    [
      "quote from another source",
      icmpv6Error(NET.r6, NET.tep6, 3, 0, 0, tunnel(NET.y6, NET.x6, sent().inner)),
    ],
    [
      "quote to outside the client prefixes",
      icmpv6Error(NET.r6, NET.tep6, 3, 0, 0, tunnel(NET.tep6, NET.outside6, sent().inner)),
    ],
    [
      "quote not bound (X's address, Y's inner destination)",
      icmpv6Error(
        NET.r6,
        NET.tep6,
        3,
        0,
        0,
        tunnel(NET.tep6, NET.x6, ipv4({ src: NET.z4, dst: NET.y4 })),
      ),
    ],
    ["quote not IPv4-in-IPv6", icmpv6Error(NET.r6, NET.tep6, 3, 0, 0, pkt.slice().fill(17, 6, 7))],
    ["too short", icmpv6Error(NET.r6, NET.tep6, 3, 0, 0, pkt.subarray(0, 39))],
  ];
  for (const [what, msg] of notOurs) {
    const r = rig();
    assert.equal(relay(r, msg), A.DONE, what);
    assert.equal(r.ctx.stats.get("icmpIgnored"), 1, what);
    assert.equal(r.ctx.counters.total(), 0, what);
  }
  const r = rig();
  const bad = icmpv6Error(NET.r6, NET.tep6, 3, 0, 0, pkt);
  bad[42] ^= 0xff; // checksum
  assert.equal(relay(r, bad), A.DONE);
  assert.equal(r.ctx.stats.get("icmpIgnored"), 1);
});

test("tep icmp relay: policy off and the rate limit stop the ICMPv4 but not the MTU update", () => {
  const r = rig({ icmp: { relayTunnelErrors: false } });
  const { pkt } = sent(1460, true);
  assert.equal(relay(r, icmpv6Error(NET.r6, NET.tep6, 2, 0, 1400, pkt.subarray(0, 100))), A.DONE);
  assert.equal(r.ctx.peerMtu.get(NET.x6, 0, 1000), 1400);
  assert.equal(relay(r, icmpv6Error(NET.r6, NET.tep6, 3, 0, 0, pkt)), A.DONE);
  const lim = rig({ icmp: { burst: 1, ratePerSec: 1 } });
  assert.equal(relay(lim, icmpv6Error(NET.r6, NET.tep6, 3, 0, 0, pkt), 0), A.SEND_ICMP);
  assert.equal(relay(lim, icmpv6Error(NET.r6, NET.tep6, 3, 0, 0, pkt), 0), A.DONE);
  assert.equal(lim.ctx.dropCount("icmp-rate-limited"), 1);
});

test("tep icmp relay: random and mutated messages never throw", () => {
  const rng = new Prng(4242);
  const r = rig();
  const seeds = [
    icmpv6Error(NET.r6, NET.tep6, 3, 0, 0, sent().pkt),
    icmpv6Error(NET.r6, NET.tep6, 2, 0, 1300, sent(1460, true).pkt.subarray(0, 1232)),
    icmpv6Error(NET.r6, NET.tep6, 1, 3, 0, sent().pkt.subarray(0, 68)),
  ];
  const buf = new Uint8Array(2048);
  for (let n = 0; n < 50_000; n++) {
    let len: number;
    if (n % 2 === 0) {
      len = rng.int(200);
      rng.fill(buf.subarray(0, len));
    } else {
      const s = seeds[rng.int(seeds.length)];
      buf.set(s);
      len = s.length;
      buf[rng.int(len)] = rng.u32() & 0xff;
      if (rng.int(3) === 0) len = rng.int(len + 1);
    }
    relayIcmpv6(buf, 0, len, n, r.ctx, r.out);
  }
  assert.ok(r.ctx.stats.get("icmpIgnored") > 0);
});
