import { test } from "node:test";
import assert from "node:assert/strict";
import { BATCH, BURST, type DataplaneIo, DataplaneLoop, REPORT_GAP_MS } from "./dataplane_loop.ts";
import { COUNTER_BLOCK_BYTES, counterBlock, IO_COUNTER_ID } from "./io_counters.ts";
import { type RingMessage, type WorkerEvent, writeRingMessage } from "./ring_messages.ts";
import { parseCidr6, parseIpv4, parseIpv6 } from "../lib/addr/mod.ts";
import {
  internetChecksum,
  IP_PROTO,
  ipv6PseudoHeaderSum,
  parseIcmpv4,
  writeIcmpv4Echo,
  writeIcmpv6DestUnreachable,
  writeIpv4Header,
  writeIpv6Header,
} from "../lib/inet/mod.ts";

function v4(t: string): number {
  const r = parseIpv4(t);
  if (!r.ok) throw new Error(t);
  return r.value;
}
function v6(t: string): Uint8Array {
  const r = parseIpv6(t);
  if (!r.ok) throw new Error(t);
  return r.value;
}

const LOCAL = v6("2001:db8:100::10");
const TEP1 = { ipv6: v6("2001:db8:ffff::1"), ipv4: v4("192.0.2.1") };
const TEP2 = v6("2001:db8:ffff::2");
const OUTSIDER = v6("2001:db8:bad::1");
const ROUTER = v6("2001:db8:50::1");
const LEASE = v4("198.51.100.7");
const Z = v4("203.0.113.5");
const PROBE_ID = 0x1234;

/** An IPv4/UDP packet of `total` bytes. */
function ipv4(src: number, dst: number, total = 60, df = false): Uint8Array {
  const b = new Uint8Array(total);
  writeIpv4Header(
    {
      tos: 0,
      totalLength: total,
      identification: 7,
      dontFragment: df,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol: IP_PROTO.UDP,
      src,
      dst,
    },
    b,
    0,
  );
  return b;
}

/** Packets go through slots of shared memory, as in the Worker; held sends and writes count. */
class FakeIo implements DataplaneIo {
  tunIn = new Uint8Array(BURST * 2048);
  tunnelIn = new Uint8Array(BURST * 2048);
  tunnelFrom = new Uint8Array(BURST * 32);
  tunPackets: Uint8Array[] = [];
  tunOut: Uint8Array[] = [];
  tunnelPackets: { pkt: Uint8Array; from: Uint8Array }[] = [];
  tunnelOut: { pkt: Uint8Array; to: Uint8Array }[] = [];
  icmpIn: { msg: Uint8Array; from: Uint8Array }[] = [];
  ring: Uint8Array[] = [];
  readonly icmpFrom = new Uint8Array(16);
  failSends = false;
  failWrites = false;
  /** Sends and writes held for the flush, and how many held ones failed. */
  held = 0;
  heldSendFailures = 0;
  heldWriteFailures = 0;
  #tunLens: number[] = [];
  #tunnelLens: number[] = [];

  readTun(max: number): number {
    assert.equal(this.held, 0, "flushed before the next burst");
    let n = 0;
    for (; n < max && this.tunPackets.length > 0; n++) {
      const p = this.tunPackets.shift()!;
      this.tunIn.set(p, n * 2048);
      this.#tunLens[n] = p.length;
    }
    return n;
  }
  tunOffset(i: number): number {
    return i * 2048;
  }
  tunLength(i: number): number {
    return this.#tunLens[i];
  }
  writeTun(buf: Uint8Array, off: number, len: number): boolean {
    if (buf === this.tunnelIn) {
      this.held++;
      if (this.failWrites) this.heldWriteFailures++;
      else this.tunOut.push(buf.slice(off, off + len));
      return true;
    }
    if (this.failWrites) return false;
    this.tunOut.push(buf.slice(off, off + len));
    return true;
  }
  flushTun(): number {
    const n = this.heldWriteFailures;
    this.heldWriteFailures = 0;
    this.held = 0;
    return n;
  }
  sendTunnel(buf: Uint8Array, off: number, len: number, to: Uint8Array): boolean {
    if (buf === this.tunIn) {
      this.held++;
      if (this.failSends) this.heldSendFailures++;
      else this.tunnelOut.push({ pkt: buf.slice(off, off + len), to: to.slice() });
      return true;
    }
    if (this.failSends) return false;
    this.tunnelOut.push({ pkt: buf.slice(off, off + len), to: to.slice() });
    return true;
  }
  flushTunnel(): number {
    const n = this.heldSendFailures;
    this.heldSendFailures = 0;
    this.held = 0;
    return n;
  }
  recvTunnel(max: number): number {
    assert.equal(this.held, 0, "flushed before the next burst");
    let n = 0;
    for (; n < max && this.tunnelPackets.length > 0; n++) {
      const p = this.tunnelPackets.shift()!;
      this.tunnelIn.set(p.pkt, n * 2048);
      this.tunnelFrom.set(p.from, n * 32 + 8);
      this.#tunnelLens[n] = p.pkt.length;
    }
    return n;
  }
  tunnelOffset(i: number): number {
    return i * 2048;
  }
  tunnelLength(i: number): number {
    return this.#tunnelLens[i];
  }
  tunnelFromOffset(i: number): number {
    return i * 32 + 8;
  }
  recvIcmp(buf: Uint8Array): number {
    const m = this.icmpIn.shift();
    if (!m) return -11;
    buf.set(m.msg);
    this.icmpFrom.set(m.from);
    return m.msg.length;
  }
  popRing(buf: Uint8Array): number {
    const m = this.ring.shift();
    if (!m) return -1;
    buf.set(m);
    return m.length;
  }
  control(m: RingMessage): void {
    const b = new Uint8Array(32);
    this.ring.push(b.slice(0, writeRingMessage(m, b)));
  }
}

function setup(prefixes: string[] = []) {
  const io = new FakeIo();
  const posts: WorkerEvent[] = [];
  const clock = { now: 1_000_000 };
  const counters = counterBlock(new ArrayBuffer(COUNTER_BLOCK_BYTES));
  const loop = new DataplaneLoop({
    localIpv6: LOCAL,
    tepPrefixes: prefixes.map((p) => {
      const r = parseCidr6(p);
      if (!r.ok) throw new Error(p);
      return r.value;
    }),
    probeId: PROBE_ID,
    mtu: 1460,
    counters,
    io,
    post: (e) => posts.push(e),
    clock: () => clock.now,
  });
  const lease = () => {
    io.control({ kind: "lease", ipv4: LEASE, tepIpv4: TEP1.ipv4, tepIpv6: TEP1.ipv6 });
    loop.onRing();
  };
  return { io, posts, clock, counters, loop, lease };
}

test("dataplane loop: nothing passes without a lease; a lease message opens both ways", () => {
  const t = setup();
  t.io.tunPackets.push(ipv4(LEASE, Z));
  t.loop.onTun();
  assert.equal(t.io.tunnelOut.length, 0);
  assert.equal(t.counters.dataplane.drop("no-lease"), 1);

  t.lease();
  const out = ipv4(LEASE, Z, 100);
  t.io.tunPackets.push(out);
  t.loop.onTun();
  assert.equal(t.io.tunnelOut.length, 1);
  assert.deepEqual(t.io.tunnelOut[0].pkt, out, "sent whole; the kernel adds the IPv6 header");
  assert.deepEqual(t.io.tunnelOut[0].to, TEP1.ipv6);

  const back = ipv4(Z, LEASE, 80);
  t.io.tunnelPackets.push({ pkt: back, from: TEP2 }, { pkt: back, from: OUTSIDER }, {
    pkt: ipv4(Z, v4("198.51.100.8")),
    from: TEP1.ipv6,
  });
  t.loop.onTunnel();
  assert.deepEqual(t.io.tunOut, [back], "from TEP2 (the /64 of the named TEP) only");
  assert.equal(t.counters.dataplane.drop("source-not-tep"), 1);
  assert.equal(t.counters.dataplane.drop("inner-not-lease"), 1);

  t.io.control({ kind: "no-lease" });
  t.loop.onRing();
  t.io.tunPackets.push(ipv4(LEASE, Z));
  t.io.tunnelPackets.push({ pkt: back, from: TEP1.ipv6 });
  t.loop.onTun();
  t.loop.onTunnel();
  assert.equal(t.io.tunnelOut.length, 1);
  assert.equal(t.io.tunOut.length, 1);
  assert.equal(t.counters.io[IO_COUNTER_ID["control-messages"]], 2);
});

test("dataplane loop: configured prefixes replace the /64 rule", () => {
  const t = setup(["2001:db8:fffe::/48"]);
  t.lease();
  const back = ipv4(Z, LEASE);
  t.io.tunnelPackets.push(
    { pkt: back, from: TEP2 },
    { pkt: back, from: v6("2001:db8:fffe:9::1") },
    {
      pkt: back,
      from: TEP1.ipv6,
    },
  );
  t.loop.onTunnel();
  assert.equal(t.io.tunOut.length, 2, "the configured block and the named TEP itself");
  assert.equal(t.counters.dataplane.drop("source-not-tep"), 1, "TEP2 is outside the prefix");
});

test("dataplane loop: a probe goes to the TEP's IPv4; its reply is reported, not delivered", () => {
  const t = setup();
  t.lease();
  t.io.control({ kind: "probe", seq: 77 });
  t.loop.onRing();
  assert.equal(t.io.tunnelOut.length, 1);
  const probe = t.io.tunnelOut[0];
  assert.deepEqual(probe.to, TEP1.ipv6);
  const icmp = parseIcmpv4(probe.pkt.subarray(20));
  assert.ok(icmp.ok);
  const reply = new Uint8Array(64);
  const n = writeIcmpv4Echo({
    reply: true,
    identifier: PROBE_ID,
    sequence: 77,
    data: new Uint8Array(0),
    src: TEP1.ipv4,
    dst: LEASE,
  }, reply);
  t.io.tunnelPackets.push({ pkt: reply.slice(0, n), from: TEP1.ipv6 });
  t.loop.onTunnel();
  assert.deepEqual(t.posts, [{ kind: "keepalive-reply", seq: 77, at: t.clock.now }]);
  assert.equal(t.io.tunOut.length, 0);
});

/** An ICMPv6 Destination Unreachable from `from` quoting our tunnel packet, as received. */
function unreachableAboutOurPacket(
  from: Uint8Array,
  code = 3,
): { msg: Uint8Array; from: Uint8Array } {
  const inner = ipv4(LEASE, Z, 60);
  const quoted = new Uint8Array(40 + inner.length);
  writeIpv6Header(
    {
      trafficClass: 0,
      flowLabel: 0,
      payloadLength: inner.length,
      nextHeader: IP_PROTO.IPV4,
      hopLimit: 64,
      src: LOCAL,
      dst: TEP1.ipv6,
    },
    quoted,
    0,
  );
  quoted.set(inner, 40);
  const out = new Uint8Array(2000);
  const n = writeIcmpv6DestUnreachable(from, code, quoted, out);
  const p = out.slice(0, n);
  p.set(LOCAL, 24); // addressed to us; checksum over our address
  const len = n - 40;
  p[42] = 0;
  p[43] = 0;
  const c = internetChecksum(p, 40, len, ipv6PseudoHeaderSum(p, 8, p, 24, len, IP_PROTO.ICMPV6));
  p[42] = c >> 8;
  p[43] = c & 0xff;
  return { msg: p.slice(40), from: p.slice(8, 24) };
}

test("dataplane loop: a flood of ICMPv6 errors is reported once per gap, the rest counted", () => {
  const t = setup();
  t.lease();
  for (let i = 0; i < 10; i++) t.io.icmpIn.push(unreachableAboutOurPacket(ROUTER));
  t.loop.onIcmp();
  assert.equal(t.posts.length, 1);
  assert.deepEqual(t.posts[0], { kind: "tep-unreachable", type: 1, code: 3, at: t.clock.now });
  assert.equal(t.counters.io[IO_COUNTER_ID["events-suppressed"]], 9);
  assert.ok(t.io.tunOut.length >= 1, "ICMPv4 3/1 relayed to the local stack (rate-limited)");
  assert.equal(t.io.tunOut[0][20], 3);
  assert.equal(t.io.tunOut[0][21], 1);
  t.clock.now += REPORT_GAP_MS;
  t.io.icmpIn.push(unreachableAboutOurPacket(ROUTER));
  t.loop.onIcmp();
  assert.equal(t.posts.length, 2);
  // 1/5 "binding unknown": only from a domain TEP, and reported on its own schedule.
  t.io.icmpIn.push(unreachableAboutOurPacket(OUTSIDER, 5), unreachableAboutOurPacket(TEP2, 5));
  t.loop.onIcmp();
  assert.equal(t.counters.dataplane.drop("icmp-source-not-tep"), 1);
  assert.deepEqual(t.posts.at(-1), { kind: "binding-unknown", at: t.clock.now });
});

test("dataplane loop: failures and bad control messages are counted; MTU is range-checked", () => {
  const t = setup();
  t.lease();
  t.io.failSends = true;
  t.io.tunPackets.push(ipv4(LEASE, Z));
  t.loop.onTun();
  assert.equal(t.counters.io[IO_COUNTER_ID["tunnel-send-errors"]], 1);
  t.io.failWrites = true;
  t.io.tunnelPackets.push({ pkt: ipv4(Z, LEASE), from: TEP1.ipv6 });
  t.loop.onTunnel();
  assert.equal(t.counters.io[IO_COUNTER_ID["tun-write-errors"]], 1);
  t.io.ring.push(new Uint8Array([9, 9]));
  t.io.control({ kind: "mtu", mtu: 20 });
  t.io.control({ kind: "mtu", mtu: 1400 });
  t.loop.onRing();
  assert.equal(t.counters.io[IO_COUNTER_ID["bad-control-messages"]], 2);
  assert.equal(t.loop.dataplane.tunnelMtu, 1400);
  // DF over the tunnel MTU: dropped, ICMPv4 3/4 with the MTU into the TUN.
  t.io.failWrites = false;
  t.io.tunPackets.push(ipv4(LEASE, Z, 1450, true));
  t.loop.onTun();
  const err = t.io.tunOut.at(-1)!;
  assert.equal(err[20], 3);
  assert.equal(err[21], 4);
  assert.equal((err[26] << 8) | err[27], 1400);
  assert.equal(t.counters.dataplane.drop("too-big-df"), 1);
});

test("dataplane loop: one wake-up takes at most one batch from a source", () => {
  const t = setup();
  t.lease();
  for (let i = 0; i < BATCH + 44; i++) t.io.tunPackets.push(ipv4(LEASE, Z));
  t.loop.onTun();
  assert.equal(t.io.tunnelOut.length, BATCH);
  assert.equal(t.io.tunPackets.length, 44);
  t.loop.onTun();
  assert.equal(t.io.tunPackets.length, 0);
});

test("dataplane loop: a burst is decided packet by packet, its sends held and flushed in order", () => {
  const t = setup();
  t.lease();
  const pkts = [
    ipv4(LEASE, Z, 100),
    ipv4(v4("198.51.100.9"), Z, 60), // not the lease: dropped
    ipv4(LEASE, Z, 120),
    ipv4(LEASE, Z, 140),
  ];
  t.io.tunPackets.push(...pkts);
  t.loop.onTun();
  assert.equal(t.io.held, 0, "flushed at the end of the burst");
  assert.deepEqual(t.io.tunnelOut.map((o) => o.pkt), [pkts[0], pkts[2], pkts[3]]);
  assert.equal(t.counters.dataplane.drop("not-lease-source"), 1);
  // Held sends that fail are counted at the flush, one each.
  t.io.failSends = true;
  t.io.tunPackets.push(ipv4(LEASE, Z), ipv4(LEASE, Z), ipv4(LEASE, Z));
  t.loop.onTun();
  assert.equal(t.counters.io[IO_COUNTER_ID["tunnel-send-errors"]], 3);
  // The way back: a burst of writes held and flushed, the keepalive-free packets in order.
  const backs = [ipv4(Z, LEASE, 70), ipv4(Z, LEASE, 80), ipv4(Z, LEASE, 90)];
  t.io.tunnelPackets.push(
    { pkt: backs[0], from: TEP1.ipv6 },
    { pkt: backs[1], from: OUTSIDER },
    { pkt: backs[1], from: TEP1.ipv6 },
    { pkt: backs[2], from: TEP2 },
  );
  t.loop.onTunnel();
  assert.equal(t.io.held, 0);
  assert.deepEqual(t.io.tunOut, backs);
  assert.equal(t.counters.dataplane.drop("source-not-tep"), 1);
});
