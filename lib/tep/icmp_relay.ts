/**
 * Relaying ICMPv6 errors about the TEP's tunnel packets to the IPv4 world (RFC 2473 §8,
 * protocol brief §4.4), sans-I/O like `forward.ts` and sharing its {@link ForwardContext}.
 *
 * An IPv6 node between the TEP and a client that cannot deliver a tunnel packet sends an ICMPv6
 * error to the encapsulator, the TEP's tunnel address. The error quotes the tunnel packet: the
 * outer IPv6 header, then the inner IPv4 header and some of its data. The TEP:
 *
 * - **Packet Too Big** (type 2): lowers the path MTU of that client (`ctx.peerMtu`, never below
 *   1280, RFC 8201), so later packets are fragmented or refused with ICMPv4 3/4; and, if the
 *   quoted inner packet had DF set, sends ICMPv4 3/4 to the inner source with
 *   MTU = reported MTU − the tunnel header (RFC 2473 §8.2 / §7.2);
 * - **Destination Unreachable** (1), **Time Exceeded** (3), **Parameter Problem** (4): sends
 *   ICMPv4 3/1 (host unreachable) to the inner source (RFC 2473 §8.1).
 *
 * The generated ICMPv4 comes from the TEP's IPv4 address, honours RFC 1812 §4.3.2.7 and the ICMP
 * rate limit, and is tunnelled to the inner source when that is a bound pool client (a hairpinned
 * packet). Only errors quoting a packet this TEP could have sent are acted on: quoted outer source
 * = the tunnel address, quoted outer destination inside a client prefix, and (to relay) the
 * quoted inner destination bound to that client. Anything else (echo, errors about other
 * traffic, bad checksums) is left to the kernel, which sees the same messages: `DONE`, counted in
 * `ctx.stats` as `icmpIgnored`, and never as a drop.
 *
 * @module
 */
import {
  decapsulateIpv4,
  equals16,
  internetChecksum,
  IP_PROTO,
  ipv4DontFragment,
  ipv6PseudoHeaderSum,
  walkIpv6,
} from "../inet/mod.ts";
import { contains6 } from "../addr/mod.ts";
import {
  emitIcmpv4Error,
  FORWARD_ACTION,
  type ForwardAction,
  type ForwardContext,
  STAT_ICMP_IGNORED,
  STAT_ICMP_RELAYED,
  STAT_MTU_LOWERED,
  STAT_PTB,
} from "./forward.ts";

const QUOTED = Object.freeze({ quoted: true });

function ignore(ctx: ForwardContext): ForwardAction {
  ctx.stats.values[STAT_ICMP_IGNORED]++;
  return FORWARD_ACTION.DONE;
}

function inClientPrefixes(ctx: ForwardContext, buf: Uint8Array, off: number): boolean {
  const p = ctx.config.clientPrefixes;
  for (let i = 0; i < p.length; i++) if (contains6(p[i], buf, off)) return true;
  return false;
}

/**
 * Handle the IPv6 packet carrying ICMPv6 in `len` bytes of `buf` from `off`, received at `now`
 * (see the module documentation). Returns `SEND_ICMP` with the ICMPv4 error in `out`
 * (`ctx.family` 4: to the TUN; 6: tunnelled to a pool client), or `DONE` (nothing to send: a PTB
 * only lowered the MTU, the policy or the rate limit said no, or the message is not about a
 * tunnel packet). Never throws on content.
 *
 * @throws {RangeError} if `out` is shorter than `FORWARD_OUT_BYTES` or the range is outside
 * `buf` (programmer errors).
 */
export function relayIcmpv6(
  buf: Uint8Array,
  off: number,
  len: number,
  now: number,
  ctx: ForwardContext,
  out: Uint8Array,
): ForwardAction {
  ctx.reset(out);
  const cfg = ctx.config;
  const w = ctx.walk;
  if (walkIpv6(buf, off, len, w) !== null || w.isFragment()) return ignore(ctx);
  if (w.protocol !== IP_PROTO.ICMPV6) return ignore(ctx);
  if (!equals16(buf, off + 24, cfg.tunnelIpv6, 0)) return ignore(ctx);
  const m = w.offset;
  const mlen = w.end - m;
  if (mlen < 8 + 40) return ignore(ctx);
  const type = buf[m];
  if (type < 1 || type > 4) return ignore(ctx);
  const pseudo = ipv6PseudoHeaderSum(buf, off + 8, buf, off + 24, mlen, IP_PROTO.ICMPV6);
  if (internetChecksum(buf, m, mlen, pseudo) !== 0) return ignore(ctx);

  // The quoted tunnel packet: from our tunnel address to a client.
  const q = m + 8;
  const qlen = w.end - q;
  if (buf[q] >> 4 !== 6) return ignore(ctx);
  if (!equals16(buf, q + 8, cfg.tunnelIpv6, 0)) return ignore(ctx);
  if (!inClientPrefixes(ctx, buf, q + 24)) return ignore(ctx);

  const v = ctx.stats.values;
  let reportedMtu = 0;
  if (type === 2) {
    // RFC 8201 §4: lower the peer's path MTU (never below 1280, never raised by a PTB).
    v[STAT_PTB]++;
    const rest = ((buf[m + 4] << 24) | (buf[m + 5] << 16) | (buf[m + 6] << 8) | buf[m + 7]) >>> 0;
    const before = ctx.peerMtu.get(buf, q + 24, now);
    reportedMtu = rest < 1280 ? 1280 : rest > 0xffff + 40 ? 0xffff + 40 : rest;
    if (ctx.peerMtu.lower(buf, q + 24, reportedMtu, now) < before) v[STAT_MTU_LOWERED]++;
  }

  // The quoted inner IPv4 packet (a quote of a first fragment is fine).
  const qw = ctx.quoteWalk;
  if (decapsulateIpv4(buf, q, qlen, qw, QUOTED) !== null) return ignore(ctx);
  const inner = qw.offset;
  const avail = qw.end - inner;
  if (avail < 20 || buf[inner] >> 4 !== 4) return ignore(ctx);
  const ihl = (buf[inner] & 15) << 2;
  if (ihl < 20 || ihl > avail) return ignore(ctx);
  // Only for a packet this TEP would send: the inner destination is bound to the quoted client.
  const innerDst = ((buf[inner + 16] << 24) | (buf[inner + 17] << 16) | (buf[inner + 18] << 8) |
    buf[inner + 19]) >>> 0;
  const slot = ctx.bindings.lookup(innerDst, now);
  if (slot < 0 || !ctx.bindings.ipv6Equals(slot, buf, q + 24)) return ignore(ctx);

  const original = buf.subarray(inner, qw.end);
  if (type === 2) {
    if (!ipv4DontFragment(buf, inner)) return FORWARD_ACTION.DONE;
    const mtu = reportedMtu - ctx.encapHeaderLength;
    const a = emitIcmpv4Error(
      ctx,
      cfg.icmp.relayTunnelErrors && cfg.icmp.fragmentationNeeded,
      3,
      4,
      mtu,
      original,
      now,
      out,
      null,
    );
    if (a === FORWARD_ACTION.SEND_ICMP) v[STAT_ICMP_RELAYED]++;
    return a;
  }
  const a = emitIcmpv4Error(ctx, cfg.icmp.relayTunnelErrors, 3, 1, 0, original, now, out, null);
  if (a === FORWARD_ACTION.SEND_ICMP) v[STAT_ICMP_RELAYED]++;
  return a;
}
