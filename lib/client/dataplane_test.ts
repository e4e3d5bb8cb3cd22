import { test } from "node:test";
import assert from "node:assert/strict";
import {
  CLIENT_DROP_REASON_ID,
  CLIENT_DROP_REASONS,
  CLIENT_TRAFFIC_COUNTER_ID,
  CLIENT_TRAFFIC_COUNTERS,
  ClientDataplane,
  ClientDataplaneCounters,
  type ClientDataplaneOptions,
  DEFAULT_TUNNEL_MTU,
  type Icmpv6DropReason,
  KEEPALIVE_LENGTH,
  MIN_TUNNEL_MTU,
  REPLY_BUFFER_LENGTH,
  type TunDropReason,
  type TunnelDropReason,
} from "./dataplane.ts";
import { TepSourceFilter } from "./source_filter.ts";
import { type Cidr6, parseCidr6, parseIpv4, parseIpv6 } from "../addr/mod.ts";
import {
  checkIpv4,
  internetChecksum,
  IP_PROTO,
  ipv6PseudoHeaderSum,
  parseIcmpv4,
  parseIpv4 as parseIpv4Packet,
  writeIcmpv4Echo,
  writeIcmpv6DestUnreachable,
  writeIcmpv6Echo,
  writeIcmpv6PacketTooBig,
  writeIcmpv6ParameterProblem,
  writeIcmpv6TimeExceeded,
  writeIpv4Header,
  writeIpv6FragmentHeader,
  writeIpv6Header,
} from "../inet/mod.ts";
import { Prng } from "../testing/prng.ts";

// ---------------------------------------------------------------------------------------------
// Fixtures.

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

function hex(text: string): Uint8Array {
  const s = text.replace(/\s/g, "");
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** The client's registered IPv6 address (the raw socket's bound source). */
const LOCAL = v6("2001:db8:100::10");
/** The TEP the server named. */
const TEP1 = { ipv6: v6("2001:db8:ffff::1"), ipv4: v4("192.0.2.1") };
/** Another TEP of the domain (inside the configured TEP prefix; BR2 of the draft's flow). */
const TEP2_V6 = v6("2001:db8:ffff::2");
/** A router on the path between the client and the TEP. */
const ROUTER = v6("2001:db8:50::1");
/** Some IPv6 node that is not a TEP. */
const STRANGER = v6("2001:db8:bad::66");
const LEASE = v4("198.51.100.7");
const OTHER_LEASE = v4("198.51.100.8");
const REMOTE = v4("203.0.113.5");
const PROBE_ID = 0xd57a;

function newFilter(): TepSourceFilter {
  return new TepSourceFilter({ prefixes: [c6("2001:db8:ffff::/48")] });
}

function makeDataplane(extra: Partial<ClientDataplaneOptions> = {}): ClientDataplane {
  return new ClientDataplane({
    localIpv6: LOCAL,
    filter: newFilter(),
    probeId: PROBE_ID,
    lease: { ipv4: LEASE, tep: TEP1 },
    ...extra,
  });
}

interface Ipv4Spec {
  src?: number;
  dst?: number;
  df?: boolean;
  total?: number;
  protocol?: number;
  /** Bytes before the packet in its buffer. */
  pad?: number;
  /** Bytes after the Total Length (padding a reader may deliver). */
  trailing?: number;
}

/**
 * An IPv4 packet built with the lib/inet writer: `total` bytes, id 0x1234, TTL 64, payload byte
 * i = (7i + 3) & 0xff. The same bytes as the golden generator.
 */
function ipv4(o: Ipv4Spec = {}): { buf: Uint8Array; off: number; len: number } {
  const total = o.total ?? 60;
  const pad = o.pad ?? 0;
  const trailing = o.trailing ?? 0;
  const buf = new Uint8Array(pad + total + trailing).fill(0xee);
  const n = writeIpv4Header(
    {
      tos: 0,
      totalLength: total,
      identification: 0x1234,
      dontFragment: o.df ?? false,
      moreFragments: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol: o.protocol ?? IP_PROTO.UDP,
      src: o.src ?? LEASE,
      dst: o.dst ?? REMOTE,
    },
    buf,
    pad,
  );
  assert.equal(n, 20);
  for (let i = 20; i < total; i++) buf[pad + i] = ((i - 20) * 7 + 3) & 0xff;
  return { buf, off: pad, len: total + trailing };
}

/** The bytes of `p` as a standalone array. */
function bytesOf(p: { buf: Uint8Array; off: number; len: number }): Uint8Array {
  return p.buf.slice(p.off, p.off + p.len);
}

/** A tunnel packet as the client sent it: IPv6 (registered address → TEP1, next header 4) + inner. */
function tunnelPacket(
  inner: Uint8Array,
  o: { src?: Uint8Array; dst?: Uint8Array; nextHeader?: number } = {},
): Uint8Array {
  const p = new Uint8Array(40 + inner.length);
  writeIpv6Header(
    {
      trafficClass: 0,
      flowLabel: 0,
      payloadLength: inner.length,
      nextHeader: o.nextHeader ?? IP_PROTO.IPV4,
      hopLimit: 64,
      src: o.src ?? LOCAL,
      dst: o.dst ?? TEP1.ipv6,
    },
    p,
    0,
  );
  p.set(inner, 40);
  return p;
}

/** A fragment of a tunnel packet: IPv6 + Fragment header (next header 4) + `data`. */
function tunnelFragment(data: Uint8Array, fragmentOffset: number, more: boolean): Uint8Array {
  const p = new Uint8Array(48 + data.length);
  writeIpv6Header(
    {
      trafficClass: 0,
      flowLabel: 0,
      payloadLength: 8 + data.length,
      nextHeader: IP_PROTO.FRAGMENT,
      hopLimit: 64,
      src: LOCAL,
      dst: TEP1.ipv6,
    },
    p,
    0,
  );
  assert.equal(writeIpv6FragmentHeader(IP_PROTO.IPV4, fragmentOffset, more, 0xabcd, p, 40), 8);
  p.set(data, 48);
  return p;
}

/**
 * What the raw ICMPv6 socket delivers for the IPv6 packet `pkt` built by a lib/inet writer: the
 * message (from byte 40) and the source. The destination is set to the registered address and
 * the checksum recomputed, as it would be for any error that reaches this host.
 */
function delivered(pkt: Uint8Array, n: number): { msg: Uint8Array; src: Uint8Array } {
  assert.ok(n > 48, "ICMPv6 writer failed");
  const p = pkt.slice(0, n);
  p.set(LOCAL, 24);
  const len = n - 40;
  p[42] = 0;
  p[43] = 0;
  const c = internetChecksum(p, 40, len, ipv6PseudoHeaderSum(p, 8, p, 24, len, IP_PROTO.ICMPV6));
  p[42] = c >> 8;
  p[43] = c & 0xff;
  return { msg: p.subarray(40), src: p.slice(8, 24) };
}

const OUT = new Uint8Array(2000);

function ptb(mtu: number, quoted: Uint8Array, from = ROUTER) {
  return delivered(OUT, writeIcmpv6PacketTooBig(from, mtu, quoted, OUT));
}

function unreachable(code: number, quoted: Uint8Array, from = ROUTER) {
  return delivered(OUT, writeIcmpv6DestUnreachable(from, code, quoted, OUT));
}

function timeExceeded(code: number, quoted: Uint8Array, from = ROUTER) {
  return delivered(OUT, writeIcmpv6TimeExceeded(from, code, quoted, OUT));
}

function feedIcmp(dp: ClientDataplane, m: { msg: Uint8Array; src: Uint8Array }, now = 0) {
  return dp.fromIcmpv6(m.msg, 0, m.msg.length, m.src, 0, now);
}

/** A 16-byte source address at offset 5 of a bigger buffer (as a recvfrom sockaddr would be). */
function srcAt5(addr: Uint8Array): Uint8Array {
  const b = new Uint8Array(24).fill(0x77);
  b.set(addr, 5);
  return b;
}

// ---------------------------------------------------------------------------------------------
// TUN → tunnel.

test("client dataplane: a packet from the lease goes into the tunnel, counted", () => {
  const dp = makeDataplane();
  const p = ipv4({ pad: 13, total: 100, trailing: 4 });
  const r = dp.fromTun(p.buf, p.off, p.len, 0);
  assert.equal(r.kind, "send-tunnel");
  if (r.kind !== "send-tunnel") return;
  assert.equal(r.buffer, p.buf);
  assert.equal(r.offset, 13);
  assert.equal(r.length, 100, "trimmed to the Total Length");
  assert.equal(dp.counters.get("tunnel-tx-packets"), 1);
  assert.equal(dp.counters.get("tunnel-tx-bytes"), 100);
  assert.equal(dp.counters.totalDrops(), 0);
  // The TTL is not decremented and the bytes are untouched (protocol.md §4.2).
  assert.deepEqual(p.buf.subarray(13, 113), ipv4({ total: 100 }).buf);
});

test("client dataplane: without a lease nothing goes either way (no-lease)", () => {
  const dp = makeDataplane({ lease: undefined });
  const p = ipv4();
  const r = dp.fromTun(p.buf, p.off, p.len, 0);
  assert.deepEqual({ ...r }, { ...r, kind: "drop", reason: "no-lease" });
  const t = dp.fromTunnel(p.buf, p.off, p.len, TEP1.ipv6, 0);
  assert.equal(t.kind, "drop");
  assert.equal(t.kind === "drop" && t.reason, "no-lease");
  assert.equal(dp.counters.drop("no-lease"), 2);
  assert.equal(dp.buildKeepalive(1, new Uint8Array(64)), 0);
  // A lease arrives, then goes.
  dp.setLease({ ipv4: LEASE, tep: TEP1 });
  assert.equal(dp.lease, LEASE);
  assert.equal(dp.fromTun(p.buf, p.off, p.len, 0).kind, "send-tunnel");
  dp.setLease(undefined);
  assert.equal(dp.lease, undefined);
  assert.equal(dp.fromTun(p.buf, p.off, p.len, 0).kind, "drop");
  assert.equal(dp.counters.drop("no-lease"), 3);
});

test("client dataplane: a spoofed inner source from the local stack is dropped (not-lease-source)", () => {
  const dp = makeDataplane();
  for (const src of [OTHER_LEASE, REMOTE, 0]) {
    const p = ipv4({ src });
    const r = dp.fromTun(p.buf, p.off, p.len, 0);
    assert.equal(r.kind === "drop" && r.reason, "not-lease-source");
  }
  assert.equal(dp.counters.drop("not-lease-source"), 3);
  assert.equal(dp.counters.get("tunnel-tx-packets"), 0);
});

test("client dataplane: malformed IPv4 from the TUN is dropped (malformed-ipv4)", () => {
  const dp = makeDataplane();
  const cases: Uint8Array[] = [];
  cases.push(new Uint8Array(19)); // truncated
  const v6pkt = tunnelPacket(new Uint8Array(20)); // an IPv6 packet on the IPv4-only TUN
  cases.push(v6pkt);
  const longer = bytesOf(ipv4({ total: 60 }));
  longer[3] = 61; // Total Length beyond the bytes read
  cases.push(longer);
  const ihl = bytesOf(ipv4());
  ihl[0] = 0x44; // IHL 4
  cases.push(ihl);
  for (const c of cases) {
    const r = dp.fromTun(c, 0, c.length, 0);
    assert.equal(r.kind === "drop" && r.reason, "malformed-ipv4");
  }
  assert.equal(dp.counters.drop("malformed-ipv4"), cases.length);
});

test("client dataplane: too big with DF=1 gives ICMPv4 3/4 with the tunnel MTU (golden bytes)", () => {
  const dp = makeDataplane();
  assert.equal(dp.tunnelMtu, DEFAULT_TUNNEL_MTU);
  const p = ipv4({ total: 1500, df: true, pad: 3 });
  // The input, as the golden generator built it.
  assert.equal(toHex(p.buf.subarray(3, 23)), "450005dc123440004011bc9cc6336407cb007105");
  const r = dp.fromTun(p.buf, p.off, p.len, 0);
  assert.equal(r.kind, "reply-tun");
  if (r.kind !== "reply-tun") return;
  assert.equal(r.buffer, dp.replyBuffer);
  assert.equal(r.offset, 0);
  assert.equal(r.length, 576, "RFC 1812 §4.3.2.3: at most 576 bytes");
  const reply = r.buffer.subarray(r.offset, r.offset + r.length);
  // From the TEP's IPv4 to the lease, TOS 0xc0, TTL 64; ICMP 3/4 with next-hop MTU 1460.
  // Computed independently (Python) and decoded by tcpdump -vv: "192.0.2.1 > 198.51.100.7:
  // ICMP 203.0.113.5 unreachable - need to frag (mtu 1460)", checksums good.
  assert.equal(
    toHex(reply.subarray(0, 28)),
    "45c002400000000040018bc1c0000201c63364070304d5ed000005b4",
  );
  assert.deepEqual(reply.subarray(28), p.buf.subarray(3, 3 + 548), "quotes the packet's start");
  assert.equal(checkIpv4(reply, 0, reply.length, true), null);
  const icmp = parseIcmpv4(reply.subarray(20));
  assert.ok(icmp.ok);
  assert.equal(icmp.type, 3);
  assert.equal(icmp.code, 4);
  assert.equal(icmp.mtu, 1460);
  assert.equal(dp.counters.drop("too-big-df"), 1, "counted although an ICMP was sent");
  assert.equal(dp.counters.get("icmpv4-errors-sent"), 1);
  assert.equal(dp.counters.get("tunnel-tx-packets"), 0);
});

test("client dataplane: the 3/4 quotes the whole small packet and none of the bytes after it", () => {
  const dp = makeDataplane({ tunnelMtu: 100 });
  const p = ipv4({ total: 120, df: true, pad: 5, trailing: 40 });
  const r = dp.fromTun(p.buf, p.off, p.len, 0);
  assert.equal(r.kind, "reply-tun");
  if (r.kind !== "reply-tun") return;
  assert.equal(r.length, 28 + 120);
  const reply = r.buffer.subarray(0, r.length);
  assert.deepEqual(reply.subarray(28), p.buf.subarray(5, 125));
  const m = parseIcmpv4(reply.subarray(20));
  assert.ok(m.ok);
  assert.equal(m.mtu, 100);
});

test("client dataplane: too big with DF=0 is sent (the kernel fragments the IPv6 packet)", () => {
  const dp = makeDataplane();
  const p = ipv4({ total: 1500, df: false });
  const r = dp.fromTun(p.buf, p.off, p.len, 0);
  assert.equal(r.kind, "send-tunnel");
  assert.equal(r.kind === "send-tunnel" && r.length, 1500);
  // Exactly the tunnel MTU with DF=1 also fits.
  const fit = ipv4({ total: 1460, df: true });
  assert.equal(dp.fromTun(fit.buf, fit.off, fit.len, 0).kind, "send-tunnel");
  assert.equal(dp.counters.drop("too-big-df"), 0);
  assert.equal(dp.counters.get("tunnel-tx-packets"), 2);
  assert.equal(dp.counters.get("tunnel-tx-bytes"), 2960);
});

test("client dataplane: ICMPv4 errors into the TUN are rate-limited by a token bucket", () => {
  const dp = makeDataplane({ icmpRatePerSec: 1, icmpBurst: 2 });
  const p = ipv4({ total: 1500, df: true });
  const kinds: string[] = [];
  const at = (now: number) => {
    const r = dp.fromTun(p.buf, p.off, p.len, now);
    kinds.push(r.kind === "drop" ? r.reason : r.kind);
  };
  at(0);
  at(0);
  at(0);
  at(500); // half a token
  at(1000); // one token again
  at(1000);
  assert.deepEqual(kinds, [
    "reply-tun",
    "reply-tun",
    "icmp-rate-limited",
    "icmp-rate-limited",
    "reply-tun",
    "icmp-rate-limited",
  ]);
  assert.equal(dp.counters.drop("too-big-df"), 6);
  assert.equal(dp.counters.drop("icmp-rate-limited"), 3);
  assert.equal(dp.counters.get("icmpv4-errors-sent"), 3);
  // A clock that goes backwards refills nothing.
  assert.equal(dp.icmpTokens(10), 0);
  assert.equal(dp.icmpTokens(3000), 2);
});

test("client dataplane: no ICMPv4 error about an ICMP error or a non-initial fragment", () => {
  const dp = makeDataplane();
  const err = ipv4({ total: 1500, df: true, protocol: IP_PROTO.ICMP });
  err.buf[20] = 3; // the payload is an ICMP Destination Unreachable
  let r = dp.fromTun(err.buf, err.off, err.len, 0);
  assert.equal(r.kind === "drop" && r.reason, "too-big-df");
  const frag = ipv4({ total: 1500, df: true });
  frag.buf[7] = 1; // fragment offset 8 (and DF): RFC 1812 §4.3.2.7
  frag.buf[10] = 0;
  frag.buf[11] = 0;
  const c = internetChecksum(frag.buf, 0, 20);
  frag.buf[10] = c >> 8;
  frag.buf[11] = c & 0xff;
  r = dp.fromTun(frag.buf, frag.off, frag.len, 0);
  assert.equal(r.kind === "drop" && r.reason, "too-big-df");
  assert.equal(dp.counters.get("icmpv4-errors-sent"), 0);
  assert.equal(dp.icmpTokens(0), 10, "no token spent on an error that may not be sent");
});

// ---------------------------------------------------------------------------------------------
// Tunnel → TUN.

test("client dataplane: tunnel traffic to the lease from any domain TEP is written to the TUN", () => {
  const dp = makeDataplane();
  const p = ipv4({ src: REMOTE, dst: LEASE, total: 80, pad: 9, trailing: 3 });
  for (const from of [TEP1.ipv6, TEP2_V6]) {
    const r = dp.fromTunnel(p.buf, p.off, p.len, srcAt5(from), 5);
    assert.equal(r.kind, "write-tun");
    if (r.kind !== "write-tun") return;
    assert.equal(r.buffer, p.buf);
    assert.equal(r.offset, 9);
    assert.equal(r.length, 80);
  }
  assert.equal(dp.counters.get("tunnel-rx-packets"), 2);
  assert.equal(dp.counters.get("tunnel-rx-bytes"), 160);
});

test("client dataplane: a non-TEP IPv6 source is dropped and counted (source-not-tep)", () => {
  const dp = makeDataplane();
  const p = ipv4({ src: REMOTE, dst: LEASE });
  for (const from of [STRANGER, ROUTER, LOCAL]) {
    const r = dp.fromTunnel(p.buf, p.off, p.len, from, 0);
    assert.equal(r.kind === "drop" && r.reason, "source-not-tep");
  }
  assert.equal(dp.counters.drop("source-not-tep"), 3);
  assert.equal(dp.counters.get("tunnel-rx-packets"), 0);
});

test("client dataplane: with no TEP prefix, the server-named TEP is learned from the lease", () => {
  const filter = new TepSourceFilter();
  const dp = new ClientDataplane({ localIpv6: LOCAL, filter, probeId: 1 });
  const p = ipv4({ src: REMOTE, dst: LEASE });
  const r = dp.fromTunnel(p.buf, p.off, p.len, TEP1.ipv6, 0);
  assert.equal(r.kind === "drop" && r.reason, "source-not-tep");
  dp.setLease({ ipv4: LEASE, tep: TEP1 });
  assert.equal(filter.accepts(TEP1.ipv6, 0), true, "setLease adds the TEP to the filter");
  assert.equal(filter.acceptsInner(p.buf, 16), true, "and sets the filter's lease");
  assert.equal(dp.fromTunnel(p.buf, p.off, p.len, TEP1.ipv6, 0).kind, "write-tun");
  assert.equal(dp.fromTunnel(p.buf, p.off, p.len, TEP2_V6, 0).kind, "drop");
  assert.deepEqual(dp.tep, { ipv6: TEP1.ipv6, ipv4: TEP1.ipv4 });
});

test("client dataplane: a decapsulated packet to another IPv4 is dropped (inner-not-lease)", () => {
  const dp = makeDataplane();
  for (const dst of [OTHER_LEASE, REMOTE, 0xffffffff]) {
    const p = ipv4({ src: REMOTE, dst });
    const r = dp.fromTunnel(p.buf, p.off, p.len, TEP1.ipv6, 0);
    assert.equal(r.kind === "drop" && r.reason, "inner-not-lease");
  }
  assert.equal(dp.counters.drop("inner-not-lease"), 3);
});

test("client dataplane: a bad IPv4 header from the tunnel is dropped (malformed-ipv4)", () => {
  const dp = makeDataplane();
  const p = ipv4({ src: REMOTE, dst: LEASE });
  p.buf[10] ^= 0xff; // header checksum
  let r = dp.fromTunnel(p.buf, p.off, p.len, TEP1.ipv6, 0);
  assert.equal(r.kind === "drop" && r.reason, "malformed-ipv4");
  r = dp.fromTunnel(p.buf, 0, 10, TEP1.ipv6, 0);
  assert.equal(r.kind === "drop" && r.reason, "malformed-ipv4");
  assert.equal(dp.counters.drop("malformed-ipv4"), 2);
});

// ---------------------------------------------------------------------------------------------
// Keepalive.

test("client dataplane: the keepalive probe is an echo request from the lease to the TEP (golden)", () => {
  const dp = makeDataplane();
  const out = new Uint8Array(40).fill(0xee);
  const n = dp.buildKeepalive(0x0102, out, 4);
  assert.equal(n, KEEPALIVE_LENGTH);
  // Computed independently (Python) and decoded by tcpdump -vv: "198.51.100.7 > 192.0.2.1:
  // ICMP echo request, id 54650, seq 258, length 8", DF, TTL 64, checksums good.
  assert.equal(
    toHex(out.subarray(4, 4 + n)),
    "4500001c0000400040014ea5c6336407c000020108002183d57a0102",
  );
  assert.equal(out[3], 0xee);
  assert.equal(out[4 + n], 0xee);
  // It passes the TUN rules like any other packet.
  assert.equal(dp.fromTun(out, 4, n, 0).kind, "send-tunnel");
  assert.equal(dp.buildKeepalive(0x10000, out), 0);
  assert.equal(dp.buildKeepalive(1, new Uint8Array(27)), 0);
});

test("client dataplane: the TEP's echo reply with our probe id is consumed as keepalive-reply", () => {
  const dp = makeDataplane();
  const out = new Uint8Array(100);
  const reply = (o: { id?: number; src?: number; dst?: number; seq?: number }) => {
    const data = hex("6473746d"); // echo data is carried back
    const n = writeIcmpv4Echo({
      reply: true,
      identifier: o.id ?? PROBE_ID,
      sequence: o.seq ?? 7,
      data,
      src: o.src ?? TEP1.ipv4,
      dst: o.dst ?? LEASE,
    }, out);
    assert.equal(n, 32);
    return dp.fromTunnel(out, 0, n, TEP2_V6, 0);
  };
  const r = reply({ seq: 0xbeef });
  assert.equal(r.kind, "keepalive-reply");
  assert.equal(r.kind === "keepalive-reply" && r.seq, 0xbeef);
  assert.equal(dp.counters.get("keepalive-replies"), 1);
  // Someone else's ping, or a reply from another address: the local stack's business.
  assert.equal(reply({ id: PROBE_ID ^ 1 }).kind, "write-tun");
  assert.equal(reply({ src: REMOTE }).kind, "write-tun");
  // A corrupted ICMP checksum is not a keepalive (the local stack drops it).
  writeIcmpv4Echo({
    reply: true,
    identifier: PROBE_ID,
    sequence: 1,
    data: new Uint8Array(0),
    src: TEP1.ipv4,
    dst: LEASE,
  }, out);
  out[22] ^= 1;
  assert.equal(dp.fromTunnel(out, 0, 28, TEP1.ipv6, 0).kind, "write-tun");
  assert.equal(dp.counters.get("keepalive-replies"), 1);
  assert.equal(dp.counters.get("tunnel-rx-packets"), 3);
});

// ---------------------------------------------------------------------------------------------
// ICMPv6.

test("client dataplane: Packet Too Big quoting our packet lowers the tunnel MTU to reported − 40", () => {
  const dp = makeDataplane();
  const inner = bytesOf(ipv4({ total: 1400, df: true }));
  let r = feedIcmp(dp, ptb(1400, tunnelPacket(inner)), 0);
  assert.equal(r.kind, "mtu");
  if (r.kind !== "mtu") return;
  assert.equal(r.mtu, 1360);
  assert.equal(r.changed, true);
  assert.equal(dp.tunnelMtu, 1360);
  // DF was set and the packet exceeds the new MTU: a 3/4 for the local stack (RFC 2473 §8).
  assert.ok(r.length > 0);
  const icmp4 = r.buffer.subarray(r.offset, r.offset + r.length);
  const parsed = parseIpv4Packet(icmp4);
  assert.ok(parsed.ok);
  assert.equal(parsed.header.src, TEP1.ipv4);
  assert.equal(parsed.header.dst, LEASE);
  const m = parseIcmpv4(parsed.payload);
  assert.ok(m.ok);
  assert.equal(m.type, 3);
  assert.equal(m.code, 4);
  assert.equal(m.mtu, 1360);
  assert.deepEqual(m.original?.subarray(0, 28), inner.subarray(0, 28));
  // New packets above the new MTU now get the 3/4 straight from fromTun.
  const p = ipv4({ total: 1400, df: true });
  const t = dp.fromTun(p.buf, p.off, p.len, 0);
  assert.equal(t.kind, "reply-tun");
  // A PTB that would not lower it changes nothing (RFC 8201 §4).
  r = feedIcmp(dp, ptb(1450, tunnelPacket(inner)), 0);
  assert.equal(r.kind === "mtu" && r.changed, false);
  assert.equal(r.kind === "mtu" && r.mtu, 1360);
  assert.equal(dp.tunnelMtu, 1360);
  assert.equal(dp.counters.get("packet-too-big"), 2);
  assert.equal(dp.counters.get("mtu-lowered"), 1);
});

test("client dataplane: a Packet Too Big below 1280 sets the floor 1240; DF=0 gets no 3/4", () => {
  const dp = makeDataplane();
  const inner = bytesOf(ipv4({ total: 1300, df: false }));
  const r = feedIcmp(dp, ptb(576, tunnelPacket(inner)), 0);
  assert.equal(r.kind, "mtu");
  if (r.kind !== "mtu") return;
  assert.equal(r.mtu, MIN_TUNNEL_MTU);
  assert.equal(r.changed, true);
  assert.equal(r.length, 0, "no ICMPv4 for a DF=0 packet: the kernel fragments it");
  const again = feedIcmp(dp, ptb(0, tunnelPacket(inner)), 0);
  assert.equal(again.kind === "mtu" && again.changed, false);
  assert.equal(dp.tunnelMtu, 1240);
});

test("client dataplane: ICMPv6 errors that do not quote our tunnel packet are dropped (icmp-not-ours)", () => {
  const dp = makeDataplane();
  const inner = bytesOf(ipv4({ total: 1400, df: true }));
  const cases = [
    ptb(1300, tunnelPacket(inner, { dst: TEP2_V6 })), // to another TEP than the current one
    ptb(1300, tunnelPacket(inner, { src: STRANGER })), // not from our registered address
    ptb(1300, tunnelPacket(inner, { nextHeader: IP_PROTO.UDP })), // not a tunnel packet
    unreachable(3, tunnelPacket(inner, { dst: ROUTER })),
  ];
  for (const c of cases) {
    const r = feedIcmp(dp, c);
    assert.equal(r.kind === "drop" && r.reason, "icmp-not-ours");
  }
  assert.equal(dp.counters.drop("icmp-not-ours"), 4);
  assert.equal(dp.tunnelMtu, DEFAULT_TUNNEL_MTU);
  // Without a lease there is no tunnel packet of ours at all.
  dp.setLease(undefined);
  const r = feedIcmp(dp, ptb(1300, tunnelPacket(inner)));
  assert.equal(r.kind === "drop" && r.reason, "icmp-not-ours");
});

test("client dataplane: unreachable or hop limit exceeded toward the TEP gives tep-unreachable and a 3/1", () => {
  const dp = makeDataplane();
  const inner = bytesOf(ipv4({ total: 200 }));
  const cases: [string, { msg: Uint8Array; src: Uint8Array }, number, number][] = [
    ["no route", unreachable(0, tunnelPacket(inner)), 1, 0],
    ["address unreachable", unreachable(3, tunnelPacket(inner)), 1, 3],
    ["hop limit", timeExceeded(0, tunnelPacket(inner)), 3, 0],
  ];
  for (const [what, m, type, code] of cases) {
    const r = feedIcmp(dp, m);
    assert.equal(r.kind, "tep-unreachable", what);
    if (r.kind !== "tep-unreachable") return;
    assert.equal(r.type, type);
    assert.equal(r.code, code);
    const p = parseIpv4Packet(r.buffer.subarray(r.offset, r.offset + r.length));
    assert.ok(p.ok, what);
    assert.equal(p.header.src, TEP1.ipv4);
    assert.equal(p.header.dst, LEASE);
    assert.deepEqual([p.payload[0], p.payload[1]], [3, 1], "ICMPv4 host unreachable");
    assert.deepEqual(p.payload.subarray(8), inner, "quotes the whole inner packet");
  }
  assert.equal(dp.counters.get("tep-unreachable"), 3);
  assert.equal(dp.counters.get("icmpv4-errors-sent"), 3);
});

test("client dataplane: ICMPv6 1/5 counts as binding-unknown only from a domain TEP", () => {
  const dp = makeDataplane();
  const quoted = tunnelPacket(bytesOf(ipv4()));
  for (const tep of [TEP1.ipv6, TEP2_V6]) {
    const r = feedIcmp(dp, unreachable(5, quoted, tep));
    assert.equal(r.kind, "binding-unknown");
  }
  for (const notTep of [ROUTER, STRANGER]) {
    const r = feedIcmp(dp, unreachable(5, quoted, notTep));
    assert.equal(r.kind === "drop" && r.reason, "icmp-source-not-tep");
  }
  assert.equal(dp.counters.get("binding-unknown"), 2);
  assert.equal(dp.counters.drop("icmp-source-not-tep"), 2);
  // From a TEP but about a packet that is not ours.
  const r = feedIcmp(
    dp,
    unreachable(5, tunnelPacket(bytesOf(ipv4()), { src: STRANGER }), TEP1.ipv6),
  );
  assert.equal(r.kind === "drop" && r.reason, "icmp-not-ours");
});

test("client dataplane: ICMPv6 quoting a fragment of our packet", () => {
  const dp = makeDataplane();
  const inner = bytesOf(ipv4({ total: 1400, df: false }));
  // First fragment: the inner header is there.
  let r = feedIcmp(dp, unreachable(3, tunnelFragment(inner.subarray(0, 1232), 0, true)));
  assert.equal(r.kind, "tep-unreachable");
  assert.ok(r.kind === "tep-unreachable" && r.length > 0);
  // A later fragment: ours, but no inner header to relay.
  r = feedIcmp(dp, unreachable(3, tunnelFragment(inner.subarray(1232), 1232, false)));
  assert.equal(r.kind, "tep-unreachable");
  assert.equal(r.kind === "tep-unreachable" && r.length, 0);
  r = feedIcmp(dp, ptb(1300, tunnelFragment(inner.subarray(1232), 1232, false)));
  assert.equal(r.kind === "mtu" && r.mtu, 1260);
});

test("client dataplane: malformed and irrelevant ICMPv6 is dropped with its reason", () => {
  const dp = makeDataplane();
  const quoted = tunnelPacket(bytesOf(ipv4()));
  const good = ptb(1300, quoted);
  // Bad checksum.
  const bad = { msg: good.msg.slice(), src: good.src };
  bad.msg[bad.msg.length - 1] ^= 0x40; // in the quoted payload
  let r = feedIcmp(dp, bad);
  assert.equal(r.kind === "drop" && r.reason, "malformed-icmpv6");
  // Too short for a header, and a quote too short for an IPv6 header.
  r = dp.fromIcmpv6(good.msg, 0, 7, good.src, 0, 0);
  assert.equal(r.kind === "drop" && r.reason, "malformed-icmpv6");
  const cut = new Uint8Array(40 + 8 + 30); // a PTB whose quote has 30 bytes
  cut.set(ROUTER, 8);
  cut[40] = 2;
  cut[46] = 0x05;
  cut[48] = 0x60;
  r = feedIcmp(dp, delivered(cut, cut.length));
  assert.equal(r.kind === "drop" && r.reason, "malformed-icmpv6");
  // Not for the tunnel: echo, Parameter Problem, reassembly time exceeded.
  const echo = new Uint8Array(100);
  const n = writeIcmpv6Echo({
    reply: false,
    identifier: 1,
    sequence: 1,
    data: new Uint8Array(4),
    src: ROUTER,
    dst: LOCAL,
  }, echo);
  const ignored = [
    delivered(echo, n),
    delivered(OUT, writeIcmpv6ParameterProblem(ROUTER, 0, 6, quoted, OUT)),
    timeExceeded(1, quoted),
  ];
  for (const m of ignored) {
    r = feedIcmp(dp, m);
    assert.equal(r.kind === "drop" && r.reason, "icmpv6-ignored");
  }
  assert.equal(dp.counters.drop("malformed-icmpv6"), 3);
  assert.equal(dp.counters.drop("icmpv6-ignored"), 3);
  // With verification off, the bad checksum passes to the next checks.
  const lax = makeDataplane({ verifyIcmpv6Checksum: false });
  assert.equal(feedIcmp(lax, bad).kind, "mtu");
});

test("client dataplane: relayed ICMPv4 errors share the rate limit", () => {
  const dp = makeDataplane({ icmpRatePerSec: 1, icmpBurst: 1 });
  const quoted = tunnelPacket(bytesOf(ipv4({ total: 100 })));
  let r = feedIcmp(dp, unreachable(3, quoted), 0);
  assert.ok(r.kind === "tep-unreachable" && r.length > 0);
  r = feedIcmp(dp, unreachable(3, quoted), 0);
  assert.equal(r.kind, "tep-unreachable", "the verdict stands");
  assert.equal(r.kind === "tep-unreachable" && r.length, 0, "but no ICMPv4 is built");
  assert.equal(dp.counters.drop("icmp-rate-limited"), 1);
  const p = ipv4({ total: 1500, df: true });
  const t = dp.fromTun(p.buf, p.off, p.len, 0);
  assert.equal(t.kind === "drop" && t.reason, "icmp-rate-limited");
});

// ---------------------------------------------------------------------------------------------
// Results, counters, options.

test("client dataplane: each entry point reuses one result object", () => {
  const dp = makeDataplane();
  const a = ipv4();
  const b = ipv4({ src: OTHER_LEASE });
  const r1 = dp.fromTun(a.buf, a.off, a.len, 0);
  const r2 = dp.fromTun(b.buf, b.off, b.len, 0);
  assert.equal(r1, r2);
  assert.equal(r2.kind, "drop");
  const c = ipv4({ src: REMOTE, dst: LEASE });
  const t1 = dp.fromTunnel(c.buf, c.off, c.len, TEP1.ipv6, 0);
  const t2 = dp.fromTunnel(c.buf, c.off, c.len, STRANGER, 0);
  assert.equal(t1, t2);
  const quoted = tunnelPacket(bytesOf(ipv4()));
  const i1 = feedIcmp(dp, ptb(1300, quoted));
  const i2 = feedIcmp(dp, unreachable(5, quoted, STRANGER));
  assert.equal(i1, i2);
  assert.notEqual(r1 as object, t1 as object);
  assert.notEqual(t1 as object, i1 as object);
});

test("client dataplane: counters live in a SharedArrayBuffer with one named slot per reason", () => {
  const sab = new SharedArrayBuffer(8 + ClientDataplaneCounters.BYTES);
  const dp = makeDataplane({ counters: new ClientDataplaneCounters(sab, 8) });
  const reader = new ClientDataplaneCounters(sab, 8);
  const p = ipv4({ src: OTHER_LEASE });
  dp.fromTun(p.buf, p.off, p.len, 0);
  dp.fromTunnel(p.buf, p.off, p.len, STRANGER, 0);
  assert.equal(reader.drop("not-lease-source"), 1);
  assert.equal(reader.drops[CLIENT_DROP_REASON_ID["source-not-tep"]], 1);
  assert.equal(reader.totalDrops(), 2);
  const snap = reader.snapshot();
  assert.equal(snap.drops["source-not-tep"], 1);
  assert.equal(snap.traffic["tunnel-tx-packets"], 0);
  assert.equal(ClientDataplaneCounters.BYTES, 8 * (CLIENT_DROP_REASONS.length + 10));
  assert.equal(CLIENT_TRAFFIC_COUNTERS.length, 10);
  // The table: unique names, every one explained in one line, ids in table order.
  for (const table of [CLIENT_DROP_REASONS, CLIENT_TRAFFIC_COUNTERS]) {
    const names = new Set(table.map((r) => r.name));
    assert.equal(names.size, table.length);
    for (const r of table) {
      assert.match(r.name, /^[a-z0-9]+(-[a-z0-9]+)*$/);
      assert.ok(r.help.length > 10 && !r.help.includes("\n"), r.name);
    }
  }
  CLIENT_DROP_REASONS.forEach((r, i) => assert.equal(CLIENT_DROP_REASON_ID[r.name], i));
  CLIENT_TRAFFIC_COUNTERS.forEach((r, i) => assert.equal(CLIENT_TRAFFIC_COUNTER_ID[r.name], i));
  reader.reset();
  assert.equal(reader.totalDrops(), 0);
  assert.throws(() => new ClientDataplaneCounters(sab, 12), RangeError);
  assert.throws(() => new ClientDataplaneCounters(new ArrayBuffer(8)), RangeError);
});

test("client dataplane: bad options and out-of-range offsets are programmer errors", () => {
  const filter = newFilter();
  const base = { localIpv6: LOCAL, filter, probeId: 1 };
  assert.throws(() => new ClientDataplane({ ...base, localIpv6: new Uint8Array(4) }), RangeError);
  assert.throws(() => new ClientDataplane({ ...base, probeId: 0x10000 }), RangeError);
  assert.throws(() => new ClientDataplane({ ...base, tunnelMtu: 67 }), RangeError);
  assert.throws(() => new ClientDataplane({ ...base, tunnelMtu: 1460.5 }), RangeError);
  assert.throws(
    () => new ClientDataplane({ ...base, replyBuffer: new Uint8Array(REPLY_BUFFER_LENGTH - 1) }),
    RangeError,
  );
  assert.throws(() => new ClientDataplane({ ...base, icmpRatePerSec: 0 }), RangeError);
  assert.throws(() => new ClientDataplane({ ...base, icmpBurst: 0.5 }), RangeError);
  const dp = new ClientDataplane(base);
  assert.throws(() => dp.setLease({ ipv4: -1, tep: TEP1 }), RangeError);
  assert.throws(
    () => dp.setLease({ ipv4: LEASE, tep: { ipv6: new Uint8Array(15), ipv4: 1 } }),
    RangeError,
  );
  assert.throws(() => dp.setTunnelMtu(70000), RangeError);
  const b = new Uint8Array(40);
  assert.throws(() => dp.fromTun(b, 30, 11, 0), RangeError);
  assert.throws(() => dp.fromTun(b, -1, 1, 0), RangeError);
  assert.throws(() => dp.fromTunnel(b, 0, 40, b, 25), RangeError);
  assert.throws(() => dp.fromIcmpv6(b, 0, 41, b, 0, 0), RangeError);
  dp.setTunnelMtu(1280);
  assert.equal(dp.tunnelMtu, 1280);
  dp.setLocalIpv6(srcAt5(ROUTER), 5);
});

// ---------------------------------------------------------------------------------------------
// Hostile input.

const TUN_REASONS: readonly TunDropReason[] = [
  "no-lease",
  "malformed-ipv4",
  "not-lease-source",
  "too-big-df",
  "icmp-rate-limited",
];
const TUNNEL_REASONS: readonly TunnelDropReason[] = [
  "no-lease",
  "malformed-ipv4",
  "source-not-tep",
  "inner-not-lease",
];
const ICMP_REASONS: readonly Icmpv6DropReason[] = [
  "malformed-icmpv6",
  "icmp-not-ours",
  "icmp-source-not-tep",
  "icmpv6-ignored",
];

/**
 * Fill `scratch` with hostile input number `n` and return its length: even n random bytes of
 * length 0..maxLen, odd n a copy of a seed with 1 to 4 edits (set a byte, flip a bit, truncate,
 * extend). No allocation.
 */
function hostile(
  rng: Prng,
  n: number,
  seeds: readonly Uint8Array[],
  scratch: Uint8Array,
  maxLen: number,
): number {
  let len: number;
  if ((n & 1) === 0) {
    len = rng.int(maxLen + 1);
    for (let i = 0; i < len; i++) scratch[i] = rng.u32() & 0xff;
    return len;
  }
  const seed = seeds[rng.int(seeds.length)];
  scratch.set(seed);
  len = seed.length;
  const edits = 1 + rng.int(4);
  for (let e = 0; e < edits; e++) {
    const what = rng.int(8);
    if (what < 3 && len > 0) scratch[rng.int(len)] = rng.u32() & 0xff;
    else if (what < 6 && len > 0) scratch[rng.int(len)] ^= 1 << rng.int(8);
    else if (what === 6) len = rng.int(len + 1);
    else {
      const grow = Math.min(rng.int(32), scratch.length - len);
      for (let i = 0; i < grow; i++) scratch[len + i] = rng.u32() & 0xff;
      len += grow;
    }
  }
  return len;
}

const N = 100_000;

test("client dataplane: 100k hostile TUN packets never throw and get a defined verdict", () => {
  const rng = new Prng(0xd5_7a_00_01);
  const dp = makeDataplane({ tunnelMtu: 1300 });
  const seeds = [
    bytesOf(ipv4()),
    bytesOf(ipv4({ total: 1400, df: true })),
    bytesOf(ipv4({ total: 1400, df: false })),
    bytesOf(ipv4({ total: 28, protocol: IP_PROTO.ICMP })),
  ];
  const scratch = new Uint8Array(1600);
  const first = dp.fromTun(scratch, 0, 0, 0);
  let sent = 0;
  let replies = 0;
  for (let n = 0; n < N; n++) {
    const len = hostile(rng, n, seeds, scratch, 120);
    const r = dp.fromTun(scratch, 0, len, n);
    assert.equal(r, first);
    if (r.kind === "send-tunnel") {
      sent++;
      assert.ok(r.buffer === scratch && r.offset === 0 && r.length >= 20 && r.length <= len);
    } else if (r.kind === "reply-tun") {
      replies++;
      assert.ok(r.buffer === dp.replyBuffer && r.length >= 28 + 20 && r.length <= 576);
    } else {
      assert.equal(r.kind, "drop");
      assert.ok(TUN_REASONS.includes(r.reason), r.reason);
    }
  }
  assert.ok(sent > 1000 && replies > 100, `sent ${sent}, replies ${replies}`);
  assert.equal(dp.counters.get("tunnel-tx-packets"), sent);
  assert.equal(dp.counters.get("icmpv4-errors-sent"), replies);
});

test("client dataplane: 100k hostile tunnel packets never throw and get a defined verdict", () => {
  const rng = new Prng(0xd5_7a_00_02);
  const dp = makeDataplane();
  const echo = new Uint8Array(28);
  writeIcmpv4Echo({
    reply: true,
    identifier: PROBE_ID,
    sequence: 9,
    data: new Uint8Array(0),
    src: TEP1.ipv4,
    dst: LEASE,
  }, echo);
  const seeds = [bytesOf(ipv4({ src: REMOTE, dst: LEASE })), echo];
  const scratch = new Uint8Array(200);
  const src = new Uint8Array(16);
  const first = dp.fromTunnel(scratch, 0, 0, src, 0);
  let written = 0;
  let keepalives = 0;
  for (let n = 0; n < N; n++) {
    const len = hostile(rng, n, seeds, scratch, 80);
    if ((n & 2) === 0) src.set(TEP1.ipv6);
    else for (let i = 0; i < 16; i++) src[i] = rng.u32() & 0xff;
    const r = dp.fromTunnel(scratch, 0, len, src, 0);
    assert.equal(r, first);
    if (r.kind === "write-tun") {
      written++;
      assert.ok(r.buffer === scratch && r.offset === 0 && r.length >= 20 && r.length <= len);
    } else if (r.kind === "keepalive-reply") {
      keepalives++;
      assert.ok(Number.isInteger(r.seq) && r.seq >= 0 && r.seq <= 0xffff);
    } else {
      assert.equal(r.kind, "drop");
      assert.ok(TUNNEL_REASONS.includes(r.reason), r.reason);
    }
  }
  assert.ok(written > 1000 && keepalives > 100, `written ${written}, keepalives ${keepalives}`);
  assert.equal(dp.counters.get("tunnel-rx-packets"), written);
  assert.equal(dp.counters.get("keepalive-replies"), keepalives);
  assert.equal(dp.counters.totalDrops() + written + keepalives, N + 1);
});

test("client dataplane: 100k hostile ICMPv6 messages never throw and get a defined verdict", () => {
  const rng = new Prng(0xd5_7a_00_03);
  // Checksums off so that mutated seeds reach the deeper checks; a few with them on.
  const lax = makeDataplane({ verifyIcmpv6Checksum: false });
  const strict = makeDataplane();
  const inner = bytesOf(ipv4({ total: 300, df: true }));
  const quoted = tunnelPacket(inner);
  const seeds = [
    ptb(1300, quoted).msg,
    unreachable(3, quoted).msg,
    unreachable(5, quoted, TEP1.ipv6).msg,
    timeExceeded(0, quoted).msg,
    unreachable(3, tunnelFragment(inner.subarray(0, 200), 0, true)).msg,
    ptb(1300, tunnelFragment(inner.subarray(200), 200, false)).msg,
  ].map((m) => m.slice());
  const scratch = new Uint8Array(600);
  const src = new Uint8Array(16);
  const counts: Record<string, number> = {};
  for (const dp of [lax, strict]) {
    const first = dp.fromIcmpv6(scratch, 0, 0, src, 0, 0);
    const runs = dp === lax ? N : N / 5;
    for (let n = 0; n < runs; n++) {
      const len = hostile(rng, n, seeds, scratch, 400);
      const pick = rng.int(3);
      if (pick === 0) src.set(TEP1.ipv6);
      else if (pick === 1) src.set(ROUTER);
      else for (let i = 0; i < 16; i++) src[i] = rng.u32() & 0xff;
      if ((n & 255) === 0) dp.setTunnelMtu(DEFAULT_TUNNEL_MTU);
      const r = dp.fromIcmpv6(scratch, 0, len, src, 0, n);
      assert.equal(r, first);
      counts[r.kind] = (counts[r.kind] ?? 0) + 1;
      if (r.kind === "drop") {
        assert.ok(ICMP_REASONS.includes(r.reason), r.reason);
      } else if (r.kind === "mtu") {
        assert.ok(r.mtu >= MIN_TUNNEL_MTU && r.mtu <= DEFAULT_TUNNEL_MTU && r.mtu === dp.tunnelMtu);
        assert.ok(r.length === 0 || (r.buffer === dp.replyBuffer && r.length <= 576));
      } else if (r.kind === "tep-unreachable") {
        assert.ok(r.type === 1 || r.type === 3);
        assert.ok(r.length === 0 || (r.buffer === dp.replyBuffer && r.length <= 576));
      } else {
        assert.equal(r.kind, "binding-unknown");
      }
    }
  }
  for (const kind of ["mtu", "tep-unreachable", "binding-unknown", "drop"]) {
    assert.ok((counts[kind] ?? 0) > 100, `${kind}: ${JSON.stringify(counts)}`);
  }
});
