/**
 * Test-only packet builders for the TEP forwarding tests (`reassembly_test.ts`, `forward_test.ts`,
 * `icmp_relay_test.ts`). Not part of the library.
 *
 * Inputs are built with the `lib/inet` writers (`writeIpv4Header`, `writeIpv6Header`, ...).
 * **Expected** packets are built here byte by byte with a separate checksum routine
 * ({@link sum}), so a bug shared by a codec and the core cannot make a test pass.
 *
 * @module
 */
import { parseIpv4, parseIpv6 } from "../../addr/mod.ts";
import { writeIpv4Header, writeIpv6Header } from "../../inet/mod.ts";

/** The 16 bytes of IPv6 address text (throws on bad text: test code). */
export function v6(text: string): Uint8Array {
  const r = parseIpv6(text);
  if (!r.ok) throw new TypeError(`Cannot parse IPv6 test address ${text}: ${r.reason}`);
  return r.value;
}

/** IPv4 address text as an unsigned 32-bit integer (throws on bad text: test code). */
export function v4(text: string): number {
  const r = parseIpv4(text);
  if (!r.ok) throw new TypeError(`Cannot parse IPv4 test address ${text}: ${r.reason}`);
  return r.value;
}

/** The addresses of the brief's example domain (protocol brief, table at the top). */
export const NET = {
  /** TEP2's tunnel address (the TEP under test). */
  tep6: v6("2001:db8:ffff::2"),
  /** TEP2's IPv4 address. */
  tep4: v4("192.0.2.2"),
  /** Client X. */
  x6: v6("2001:db8:100::10"),
  x4: v4("198.51.100.7"),
  /** Client Y, same domain. */
  y6: v6("2001:db8:100::20"),
  y4: v4("198.51.100.9"),
  /** A node in the domain with no lease. */
  evil6: v6("2001:db8:100::66"),
  /** Outside the domain's client prefix. */
  outside6: v6("2001:db8:9999::1"),
  /** IPv4-only correspondent Z. */
  z4: v4("203.0.113.5"),
  /** A router on the IPv6 path, source of ICMPv6 errors. */
  r6: v6("2001:db8:50::1"),
} as const;

/** Concatenate byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Hex of bytes for readable assertion messages. */
export function hexOf(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i++) s += b[i].toString(16).padStart(2, "0");
  return s;
}

/** Fields of {@link ipv4}. */
export interface Ipv4Spec {
  src: number;
  dst: number;
  ttl?: number;
  df?: boolean;
  id?: number;
  protocol?: number;
  tos?: number;
  /** Payload bytes after the 20-byte header (default 16). */
  payloadLength?: number;
  /** First payload byte of a counting pattern (default 0). */
  pattern?: number;
}

/** An IPv4 packet (input builder, with `writeIpv4Header`): header and a counting payload. */
export function ipv4(spec: Ipv4Spec): Uint8Array {
  const plen = spec.payloadLength ?? 16;
  const out = new Uint8Array(20 + plen);
  const n = writeIpv4Header({
    tos: spec.tos ?? 0,
    totalLength: 20 + plen,
    identification: spec.id ?? 0x1234,
    dontFragment: spec.df ?? false,
    moreFragments: false,
    fragmentOffset: 0,
    ttl: spec.ttl ?? 64,
    protocol: spec.protocol ?? 17,
    src: spec.src,
    dst: spec.dst,
  }, out);
  if (n !== 20) throw new TypeError("Cannot build IPv4 test packet");
  const p0 = spec.pattern ?? 0;
  for (let i = 0; i < plen; i++) out[20 + i] = (p0 + i) & 0xff;
  return out;
}

/** An IPv6 packet (input builder, with `writeIpv6Header`) carrying `payload`. */
export function ipv6(
  src: Uint8Array,
  dst: Uint8Array,
  nextHeader: number,
  payload: Uint8Array,
  hopLimit = 64,
): Uint8Array {
  const out = new Uint8Array(40 + payload.length);
  const n = writeIpv6Header({
    trafficClass: 0,
    flowLabel: 0,
    payloadLength: payload.length,
    nextHeader,
    hopLimit,
    src,
    dst,
  }, out);
  if (n !== 40) throw new TypeError("Cannot build IPv6 test packet");
  out.set(payload, 40);
  return out;
}

/** An IPv4-in-IPv6 tunnel packet (input builder). */
export function tunnel(src: Uint8Array, dst: Uint8Array, inner: Uint8Array, hopLimit = 64) {
  return ipv6(src, dst, 4, inner, hopLimit);
}

// ---- independent expected-packet construction ----------------------------------------------

/** Ones' complement sum of `b` (16-bit big-endian words), folded; written apart from lib/inet. */
export function sum(b: Uint8Array, initial = 0): number {
  let s = initial;
  for (let i = 0; i + 1 < b.length; i += 2) s += b[i] * 256 + b[i + 1];
  if (b.length % 2 === 1) s += b[b.length - 1] * 256;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 65536);
  return s;
}

function u16(v: number): number[] {
  return [(v >> 8) & 0xff, v & 0xff];
}

function u32(v: number): number[] {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

/** The expected 40-byte IPv6 header, byte by byte. */
export function expectIpv6Header(
  src: Uint8Array,
  dst: Uint8Array,
  payloadLength: number,
  nextHeader: number,
  hopLimit = 64,
): Uint8Array {
  return Uint8Array.from([
    0x60,
    0,
    0,
    0,
    ...u16(payloadLength),
    nextHeader,
    hopLimit,
    ...src,
    ...dst,
  ]);
}

/** The expected IPv4-in-IPv6 packet (RFC 2473 header, hop limit 64, traffic class 0). */
export function expectTunnel(src: Uint8Array, dst: Uint8Array, inner: Uint8Array): Uint8Array {
  return concat(expectIpv6Header(src, dst, inner.length, 4), inner);
}

/** `packet` (IPv4) with its TTL lowered by one and the header checksum recomputed from scratch. */
export function expectTtlDecremented(packet: Uint8Array): Uint8Array {
  const p = packet.slice();
  const hl = (p[0] & 15) * 4;
  p[8]--;
  p[10] = 0;
  p[11] = 0;
  const c = ~sum(p.subarray(0, hl)) & 0xffff;
  p[10] = c >> 8;
  p[11] = c & 0xff;
  return p;
}

/**
 * The expected ICMPv4 error packet (RFC 792): IPv4 header (TOS 0xc0, TTL 64, ID 0, no DF) from
 * `src` to the original's source, then type, code, checksum, `rest`, and the quote of the
 * original (as much as fits in 576 bytes).
 */
export function expectIcmpv4Error(
  src: number,
  type: number,
  code: number,
  rest: number,
  original: Uint8Array,
): Uint8Array {
  const total = (original[2] << 8) | original[3];
  const quoteLen = Math.min(total, original.length, 576 - 28);
  const quote = original.subarray(0, quoteLen);
  const icmp = concat(Uint8Array.from([type, code, 0, 0, ...u32(rest)]), quote);
  const ic = ~sum(icmp) & 0xffff;
  icmp[2] = ic >> 8;
  icmp[3] = ic & 0xff;
  const len = 20 + icmp.length;
  const ip = Uint8Array.from([
    0x45,
    0xc0,
    ...u16(len),
    0,
    0,
    0,
    0,
    64,
    1,
    0,
    0,
    ...u32(src),
    ...original.subarray(12, 16),
  ]);
  const c = ~sum(ip) & 0xffff;
  ip[10] = c >> 8;
  ip[11] = c & 0xff;
  return concat(ip, icmp);
}

/**
 * The expected ICMPv6 error packet (RFC 4443): hop limit 64 from `src` to the original's
 * source, quoting as much of the original as fits in 1280 bytes, checksum over the pseudo-header.
 */
export function expectIcmpv6Error(
  src: Uint8Array,
  type: number,
  code: number,
  rest: number,
  original: Uint8Array,
): Uint8Array {
  const extent = Math.min(40 + ((original[4] << 8) | original[5]), original.length);
  const quote = original.subarray(0, Math.min(extent, 1280 - 48));
  const icmp = concat(Uint8Array.from([type, code, 0, 0, ...u32(rest)]), quote);
  const dst = original.subarray(8, 24);
  const pseudo = concat(src, dst, Uint8Array.from([...u32(icmp.length), 0, 0, 0, 58]));
  const c = ~sum(icmp, sum(pseudo)) & 0xffff;
  icmp[2] = c >> 8;
  icmp[3] = c & 0xff;
  return concat(expectIpv6Header(src, dst, icmp.length, 58), icmp);
}

/**
 * An ICMPv6 error packet sent by `from` to `to` quoting `original` (input builder for the relay
 * tests; checksum computed with {@link sum}).
 */
export function icmpv6Error(
  from: Uint8Array,
  to: Uint8Array,
  type: number,
  code: number,
  rest: number,
  original: Uint8Array,
): Uint8Array {
  const icmp = concat(Uint8Array.from([type, code, 0, 0, ...u32(rest)]), original);
  const pseudo = concat(from, to, Uint8Array.from([...u32(icmp.length), 0, 0, 0, 58]));
  const c = ~sum(icmp, sum(pseudo)) & 0xffff;
  icmp[2] = c >> 8;
  icmp[3] = c & 0xff;
  return concat(expectIpv6Header(from, to, icmp.length, 58), icmp);
}

/**
 * One fragment, by hand: bytes `[start, start + len)` of the fragmentable part of `packet`
 * (a packet with no extension headers: the fragmentable part is everything after byte 40),
 * with Identification `id` and the M flag `more`.
 */
export function fragmentOf(
  packet: Uint8Array,
  start: number,
  len: number,
  id: number,
  more: boolean,
): Uint8Array {
  const data = packet.subarray(40 + start, 40 + start + len);
  const hdr = packet.slice(0, 40);
  const plen = 8 + data.length;
  hdr[4] = plen >> 8;
  hdr[5] = plen & 0xff;
  const nh = hdr[6];
  hdr[6] = 44;
  const fh = Uint8Array.from([nh, 0, ...u16(start | (more ? 1 : 0)), ...u32(id)]);
  return concat(hdr, fh, data);
}

/** Split `packet` (no extension headers) into fragments of `chunk` data bytes (a multiple of 8). */
export function fragmentsOf(packet: Uint8Array, chunk: number, id: number): Uint8Array[] {
  const total = packet.length - 40;
  const out: Uint8Array[] = [];
  for (let s = 0; s < total; s += chunk) {
    const n = Math.min(chunk, total - s);
    out.push(fragmentOf(packet, s, n, id, s + n < total));
  }
  return out;
}
