/**
 * IPv4-in-IPv6 encapsulation for DSTM (RFC 2473; protocol brief §4.1, §4.3): write the outer
 * IPv6 header in front of an IPv4 packet already sitting in the caller's buffer, find the inner
 * IPv4 packet of a received tunnel packet, and split an encapsulated packet that is too big for
 * the path into IPv6 fragments (the DF=0 branch of RFC 2473 §7.2).
 *
 * Zero-copy use: read each IPv4 packet into the buffer at an offset that leaves
 * {@link encapHeaderLength} bytes of headroom, then encapsulate in place:
 *
 * ```ts
 * const HEADROOM = encapHeaderLength(opts);
 * const n = tun.read(buf.subarray(HEADROOM)); // once per buffer, not per packet
 * const len = encapsulateIpv4(opts, binding.ipv6, buf, HEADROOM, n);
 * if (len !== 0) send(buf, 0, len);
 * ```
 *
 * Nothing here allocates per packet.
 *
 * @module
 */
import {
  copy16,
  IPV6_FRAGMENT_HEADER_LENGTH,
  IPV6_HEADER_LENGTH,
  IPV6_MAX_EXTENSION_HEADERS,
  type Ipv6Reason,
  Ipv6Walk,
  type Ipv6WalkOptions,
  walkIpv6,
  writeIpv6HeaderUnchecked,
} from "./ipv6.ts";
import { IPV4_MIN_HEADER_LENGTH } from "./ipv4.ts";
import { IP_PROTO } from "./proto.ts";
import { copyBytes, isUint } from "./_bytes.ts";

/** Length of the Destination Options header carrying a Tunnel Encapsulation Limit (RFC 2473 §4.1.1). */
export const ENCAP_LIMIT_HEADER_LENGTH = 8;
/** Recommended Tunnel Encapsulation Limit when the option is used (RFC 2473 §6.6). */
export const DEFAULT_ENCAP_LIMIT = 4;

/** How to build the outer IPv6 header (brief §4.1). Usually one per tunnel endpoint. */
export interface EncapOptions {
  /** Outer source address (16 bytes): the client's registered global address, or the TEP's. */
  src: Uint8Array;
  /** Outer hop limit, independent of the inner TTL (brief §4.2; 64 on routers). */
  hopLimit: number;
  /** Fixed Traffic Class, used unless {@link EncapOptions.copyTos} (default in the brief: 0). */
  trafficClass: number;
  /** Copy the inner IPv4 TOS byte (DSCP and ECN) into the Traffic Class instead. */
  copyTos: boolean;
  /** 20-bit Flow Label (default in the brief: 0). */
  flowLabel: number;
  /**
   * Tunnel Encapsulation Limit to carry in a Destination Options header (RFC 2473 §4.1.1), or
   * undefined to leave the option off (the brief's default for IPv4-in-IPv6).
   */
  encapLimit?: number;
}

/** Bytes {@link encapsulateIpv4} puts in front of the IPv4 packet: 40, or 48 with an encapsulation limit. */
export function encapHeaderLength(opts: EncapOptions): number {
  return opts.encapLimit === undefined
    ? IPV6_HEADER_LENGTH
    : IPV6_HEADER_LENGTH + ENCAP_LIMIT_HEADER_LENGTH;
}

/**
 * Encapsulate the IPv4 packet of `innerLen` bytes at `buf[innerOff]`: write the outer IPv6 header
 * (and the encapsulation-limit option if configured) into the {@link encapHeaderLength} bytes
 * just before it, with destination `dst` (16 bytes). Returns the length of the tunnel packet,
 * which starts at `innerOff - encapHeaderLength(opts)`, or 0 when there is not enough headroom,
 * the range is outside `buf`, the inner packet is not IPv4 or too long for an IPv6 payload, or
 * an option is out of range. Neither TTL nor hop limit is copied across (brief §4.2).
 */
export function encapsulateIpv4(
  opts: EncapOptions,
  dst: Uint8Array,
  buf: Uint8Array,
  innerOff: number,
  innerLen: number,
): number {
  const limit = opts.encapLimit;
  const hdr = limit === undefined
    ? IPV6_HEADER_LENGTH
    : IPV6_HEADER_LENGTH + ENCAP_LIMIT_HEADER_LENGTH;
  const payload = hdr - IPV6_HEADER_LENGTH + innerLen;
  if (
    !(innerOff >= hdr && innerLen >= IPV4_MIN_HEADER_LENGTH && innerOff + innerLen <= buf.length) ||
    buf[innerOff] >> 4 !== 4 || payload > 0xffff || opts.src.length !== 16 ||
    dst.length !== 16 || !isUint(opts.hopLimit, 0xff) || !isUint(opts.trafficClass, 0xff) ||
    !isUint(opts.flowLabel, 0xfffff) || (limit !== undefined && !isUint(limit, 0xff))
  ) {
    return 0;
  }
  const off = innerOff - hdr;
  const tc = opts.copyTos ? buf[innerOff + 1] : opts.trafficClass;
  if (limit === undefined) {
    writeIpv6HeaderUnchecked(buf, off, tc, opts.flowLabel, payload, IP_PROTO.IPV4, opts.hopLimit);
  } else {
    writeIpv6HeaderUnchecked(
      buf,
      off,
      tc,
      opts.flowLabel,
      payload,
      IP_PROTO.DESTINATION_OPTIONS,
      opts.hopLimit,
    );
    const d = off + IPV6_HEADER_LENGTH;
    buf[d] = IP_PROTO.IPV4; // next header
    buf[d + 1] = 0; // Hdr Ext Len: 8 bytes
    buf[d + 2] = 4; // option type: Tunnel Encapsulation Limit
    buf[d + 3] = 1; // Opt Data Len
    buf[d + 4] = limit;
    buf[d + 5] = 1; // PadN
    buf[d + 6] = 1;
    buf[d + 7] = 0;
  }
  copy16(opts.src, 0, buf, off + 8);
  copy16(dst, 0, buf, off + 24);
  return hdr + innerLen;
}

/** Why a received IPv6 packet yields no inner IPv4 packet. Each value is a drop-counter label. */
export type DecapReason =
  | Ipv6Reason
  /** The upper-layer protocol after the extension headers is not 4 (IPv4). */
  | "not-ipip"
  /** The packet is an IPv6 fragment: reassemble before decapsulating (RFC 2473 §7). */
  | "fragment";

/** Every {@link DecapReason}, for registering drop counters up front. */
export const DECAP_REASONS: readonly DecapReason[] = [
  "truncated",
  "bad-version",
  "bad-payload-length",
  "truncated-extension",
  "too-many-headers",
  "misplaced-hop-by-hop",
  "not-ipip",
  "fragment",
];

const DEFAULT_WALK: Ipv6WalkOptions = {};

/**
 * Find the inner IPv4 packet of the IPv6 packet in `len` bytes of `buf` from `off`, after any
 * extension headers. On success returns `null` and `out.offset` .. `out.end` is the inner packet
 * (validate it with `checkIpv4`; the outer addresses are at `off + 8` and `off + 24`). Fragments
 * are refused (an atomic fragment, RFC 6946, is accepted). With `opts.quoted` (reading the
 * tunnel packet quoted in an ICMPv6 error, brief §4.4) a cut-short packet is accepted, and so is
 * a first fragment. Never allocates, never throws on content.
 */
export function decapsulateIpv4(
  buf: Uint8Array,
  off: number,
  len: number,
  out: Ipv6Walk,
  opts: Ipv6WalkOptions = DEFAULT_WALK,
): DecapReason | null {
  const why = walkIpv6(buf, off, len, out, opts);
  if (why !== null) return why;
  if (opts.quoted === true ? out.fragmentOffset !== 0 : out.isFragment()) return "fragment";
  if (out.protocol !== IP_PROTO.IPV4) return "not-ipip";
  return null;
}

/** Result of {@link parseEncapsulatedIpv4}. */
export type EncapParseResult =
  | {
    ok: true;
    /** Offset of the inner IPv4 packet in the input. */
    innerOffset: number;
    /** The inner IPv4 packet (a view into the input). */
    inner: Uint8Array;
  }
  | { ok: false; reason: DecapReason };

/**
 * Allocating convenience over {@link decapsulateIpv4}: the inner IPv4 packet of an IPv6 tunnel
 * packet as a view. Never throws.
 */
export function parseEncapsulatedIpv4(
  bytes: Uint8Array,
  opts: Ipv6WalkOptions = DEFAULT_WALK,
): EncapParseResult {
  const w = new Ipv6Walk();
  const why = decapsulateIpv4(bytes, 0, bytes.length, w, opts);
  if (why !== null) return { ok: false, reason: why };
  return { ok: true, innerOffset: w.offset, inner: bytes.subarray(w.offset, w.end) };
}

/** Why an IPv6 packet cannot be split into fragments. */
export type FragmentReason =
  | "truncated"
  | "bad-version"
  | "bad-payload-length"
  | "truncated-extension"
  | "too-many-headers"
  /** The packet already carries a Fragment header. */
  | "already-fragment"
  /** The MTU leaves no room for 8 bytes of data after the unfragmentable part and Fragment header. */
  | "mtu-too-small";

/** Every {@link FragmentReason}. */
export const FRAGMENT_REASONS: readonly FragmentReason[] = [
  "truncated",
  "bad-version",
  "bad-payload-length",
  "truncated-extension",
  "too-many-headers",
  "already-fragment",
  "mtu-too-small",
];

/**
 * How {@link planIpv6Fragments} splits a packet; reuse one per data plane. Offsets are relative
 * to the start of the packet.
 */
export class Ipv6FragmentPlan {
  /** Length of the unfragmentable part: the IPv6 header plus Hop-by-Hop and Routing headers (and Destination Options before a Routing header). */
  unfragmentableLength: number = 0;
  /** Offset of the Next Header byte that becomes 44 in each fragment. */
  nextHeaderOffset: number = 0;
  /** Original value of that byte: the Fragment header's Next Header. */
  nextHeader: number = 0;
  /** Length of the fragmentable part. */
  fragmentableLength: number = 0;
  /** Fragmentable bytes per fragment (a multiple of 8); the last fragment may carry fewer. */
  chunkLength: number = 0;
  /** Number of fragments. */
  count: number = 0;
}

/**
 * Plan the split of the IPv6 packet in `len` bytes of `buf` from `off` into fragments of at most
 * `mtu` bytes each (RFC 8200 §4.5), filling `plan`. Returns `null` or the reason. A packet that
 * already fits gives one fragment; callers normally send such a packet as is.
 */
export function planIpv6Fragments(
  buf: Uint8Array,
  off: number,
  len: number,
  mtu: number,
  plan: Ipv6FragmentPlan,
): FragmentReason | null {
  if (!(off >= 0 && len >= 0 && off + len <= buf.length)) {
    throw new RangeError(
      `Cannot fragment IPv6: range ${off}+${len} is outside a buffer of ${buf.length} bytes`,
    );
  }
  if (len < IPV6_HEADER_LENGTH) return "truncated";
  if (buf[off] >> 4 !== 6) return "bad-version";
  const plen = IPV6_HEADER_LENGTH + ((buf[off + 4] << 8) | buf[off + 5]);
  if (plen > len) return "bad-payload-length";
  let nh = buf[off + 6];
  let pos = IPV6_HEADER_LENGTH;
  let unfragEnd = IPV6_HEADER_LENGTH;
  let unfragNhAt = 6;
  let count = 0;
  while (
    nh === IP_PROTO.HOP_BY_HOP || nh === IP_PROTO.ROUTING || nh === IP_PROTO.DESTINATION_OPTIONS
  ) {
    if (++count > IPV6_MAX_EXTENSION_HEADERS) return "too-many-headers";
    if (pos + 2 > plen) return "truncated-extension";
    const hlen = (buf[off + pos + 1] + 1) << 3;
    if (pos + hlen > plen) return "truncated-extension";
    if (nh !== IP_PROTO.DESTINATION_OPTIONS) {
      unfragEnd = pos + hlen;
      unfragNhAt = pos;
    }
    nh = buf[off + pos];
    pos += hlen;
  }
  if (nh === IP_PROTO.FRAGMENT) return "already-fragment";
  // Each fragment: unfragmentable part + Fragment header + data, within the MTU and within
  // the 16-bit Payload Length.
  const max = Math.min(mtu, 0xffff + IPV6_HEADER_LENGTH);
  const chunk = Math.floor((max - unfragEnd - IPV6_FRAGMENT_HEADER_LENGTH) / 8) * 8;
  if (!(chunk >= 8)) return "mtu-too-small";
  const fragLen = plen - unfragEnd;
  plan.unfragmentableLength = unfragEnd;
  plan.nextHeaderOffset = unfragNhAt;
  plan.nextHeader = buf[off + unfragNhAt];
  plan.fragmentableLength = fragLen;
  plan.chunkLength = chunk;
  plan.count = fragLen === 0 ? 1 : Math.ceil(fragLen / chunk);
  return null;
}

/**
 * Write fragment number `index` (0-based) of the packet at `buf[off]`, planned by
 * {@link planIpv6Fragments}, at `out[outOff]`, with the 32-bit `identification` (the same for
 * every fragment of the packet; choose it unpredictably, RFC 7739). Returns the fragment's
 * length, or 0 when `index` or `identification` is out of range or the fragment does not fit in
 * `out`. `out` must not overlap the packet. Does not allocate.
 */
export function writeIpv6Fragment(
  buf: Uint8Array,
  off: number,
  plan: Ipv6FragmentPlan,
  index: number,
  identification: number,
  out: Uint8Array,
  outOff = 0,
): number {
  if (!isUint(index, plan.count - 1) || !isUint(identification, 0xffffffff)) return 0;
  const start = index * plan.chunkLength;
  const size = Math.min(plan.chunkLength, plan.fragmentableLength - start);
  const unfrag = plan.unfragmentableLength;
  const total = unfrag + IPV6_FRAGMENT_HEADER_LENGTH + size;
  if (
    !isUint(outOff, out.length) || out.length - outOff < total ||
    off + unfrag + start + size > buf.length
  ) {
    return 0;
  }
  copyBytes(buf, off, out, outOff, unfrag);
  const payloadLength = total - IPV6_HEADER_LENGTH;
  out[outOff + 4] = payloadLength >> 8;
  out[outOff + 5] = payloadLength & 0xff;
  out[outOff + plan.nextHeaderOffset] = IP_PROTO.FRAGMENT;
  const f = outOff + unfrag;
  out[f] = plan.nextHeader;
  out[f + 1] = 0;
  out[f + 2] = start >> 8;
  out[f + 3] = (start & 0xf8) | (index < plan.count - 1 ? 1 : 0);
  out[f + 4] = identification >>> 24;
  out[f + 5] = (identification >>> 16) & 0xff;
  out[f + 6] = (identification >>> 8) & 0xff;
  out[f + 7] = identification & 0xff;
  copyBytes(buf, off + unfrag + start, out, f + IPV6_FRAGMENT_HEADER_LENGTH, size);
  return total;
}
