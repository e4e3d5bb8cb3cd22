/**
 * IPv6 header (RFC 8200): checked view, extension-header walk to the upper-layer protocol,
 * fragment header fields, writers, and non-allocating helpers for 16-byte addresses.
 *
 * Hot path (no allocation): keep one {@link Ipv6Walk} per data plane and call
 * {@link walkIpv6} for each packet; it fills the walk in place and returns `null` or a reason.
 *
 * ```ts
 * const walk = new Ipv6Walk(); // once
 * const why = walkIpv6(buf, off, len, walk);
 * if (why !== null) return drop(why);
 * if (walk.protocol === IP_PROTO.IPV4) ... buf.subarray(walk.offset, walk.end) ...
 * ```
 *
 * Addresses are 16-byte ranges (`buf`, offset): the source is at `off + 8`, the destination at
 * `off + 24` (see {@link IPV6_FIELD}).
 *
 * @module
 */
import { IP_PROTO } from "./proto.ts";
import { isUint } from "./_bytes.ts";

/** Byte offsets of the IPv6 header fields (RFC 8200 §3). */
export const IPV6_FIELD = {
  VERSION_TC_FLOW: 0,
  PAYLOAD_LENGTH: 4,
  NEXT_HEADER: 6,
  HOP_LIMIT: 7,
  SRC: 8,
  DST: 24,
} as const;

/** Length of the fixed IPv6 header. */
export const IPV6_HEADER_LENGTH = 40;
/** Length of the IPv6 Fragment header (RFC 8200 §4.5). */
export const IPV6_FRAGMENT_HEADER_LENGTH = 8;
/** Default limit on the number of extension headers {@link walkIpv6} follows. */
export const IPV6_MAX_EXTENSION_HEADERS = 8;

/** Why bytes are not an acceptable IPv6 packet. Each value is a drop-counter label. */
export type Ipv6Reason =
  /** Fewer than 40 bytes. */
  | "truncated"
  /** Version field is not 6. */
  | "bad-version"
  /** Payload Length runs past the bytes available. */
  | "bad-payload-length"
  /** An extension header runs past the end of the packet. */
  | "truncated-extension"
  /** More extension headers than the configured limit. */
  | "too-many-headers"
  /** A Hop-by-Hop Options header that does not directly follow the IPv6 header (§4.1). */
  | "misplaced-hop-by-hop";

/** Every {@link Ipv6Reason}, for registering drop counters up front. */
export const IPV6_REASONS: readonly Ipv6Reason[] = [
  "truncated",
  "bad-version",
  "bad-payload-length",
  "truncated-extension",
  "too-many-headers",
  "misplaced-hop-by-hop",
];

function checkRange(buf: Uint8Array, off: number, len: number): void {
  if (!(off >= 0 && len >= 0 && off + len <= buf.length)) {
    throw new RangeError(
      `Cannot parse IPv6: range ${off}+${len} is outside a buffer of ${buf.length} bytes`,
    );
  }
}

/**
 * Check the fixed IPv6 header in `len` bytes of `buf` from `off`: at least 40 bytes, version 6,
 * and 40 + Payload Length within `len` (trailing bytes are allowed). Returns `null` or the
 * reason. Does not look at extension headers (see {@link walkIpv6}). Jumbograms (RFC 2675) are
 * not supported: a zero Payload Length means an empty payload.
 */
export function checkIpv6(
  buf: Uint8Array,
  off: number,
  len: number,
): "truncated" | "bad-version" | "bad-payload-length" | null {
  checkRange(buf, off, len);
  if (len < IPV6_HEADER_LENGTH) return "truncated";
  if (buf[off] >> 4 !== 6) return "bad-version";
  if (IPV6_HEADER_LENGTH + ((buf[off + 4] << 8) | buf[off + 5]) > len) {
    return "bad-payload-length";
  }
  return null;
}

/** Traffic Class byte. Valid after {@link checkIpv6}. */
export function ipv6TrafficClass(buf: Uint8Array, off: number): number {
  return ((buf[off] & 0x0f) << 4) | (buf[off + 1] >> 4);
}

/** 20-bit Flow Label. Valid after {@link checkIpv6}. */
export function ipv6FlowLabel(buf: Uint8Array, off: number): number {
  return ((buf[off + 1] & 0x0f) << 16) | (buf[off + 2] << 8) | buf[off + 3];
}

/** Payload Length (bytes after the 40-byte header). Valid after {@link checkIpv6}. */
export function ipv6PayloadLength(buf: Uint8Array, off: number): number {
  return (buf[off + 4] << 8) | buf[off + 5];
}

/** Next Header of the fixed header. Valid after {@link checkIpv6}. */
export function ipv6NextHeader(buf: Uint8Array, off: number): number {
  return buf[off + 6];
}

/** Hop Limit. Valid after {@link checkIpv6}. */
export function ipv6HopLimit(buf: Uint8Array, off: number): number {
  return buf[off + 7];
}

/**
 * The result of {@link walkIpv6}, reused from packet to packet: allocate one per data plane.
 * All offsets are absolute indexes into the walked buffer.
 */
export class Ipv6Walk {
  /**
   * Upper-layer protocol: the first Next Header value that is not a followed extension header
   * (`IP_PROTO.ESP` and `IP_PROTO.NO_NEXT_HEADER` end the walk and are reported as such). For a
   * non-first fragment it is the Fragment header's Next Header.
   */
  protocol: number = 0;
  /** Index of the upper-layer header (or of the fragment data for a non-first fragment). */
  offset: number = 0;
  /** Index one past the last byte of the packet (offset of the header + 40 + Payload Length). */
  end: number = 0;
  /** Index of the byte holding `protocol` (a Next Header field), for in-place rewrites. */
  protocolFieldOffset: number = 0;
  /** Number of extension headers walked. */
  headerCount: number = 0;
  /** Index of the Fragment header, or -1 when there is none. */
  fragmentHeaderOffset: number = -1;
  /** Fragment offset in bytes (field × 8); 0 without a Fragment header. */
  fragmentOffset: number = 0;
  /** The M (more fragments) flag; false without a Fragment header. */
  moreFragments: boolean = false;
  /** Fragment Identification; 0 without a Fragment header. */
  identification: number = 0;

  /**
   * Whether the packet is a real fragment: it has a Fragment header with a non-zero offset or
   * the M flag (an atomic fragment, RFC 6946, is not).
   */
  isFragment(): boolean {
    return this.fragmentHeaderOffset >= 0 && (this.fragmentOffset !== 0 || this.moreFragments);
  }
}

/** Options for {@link walkIpv6}. Pass a shared constant to avoid allocating per packet. */
export interface Ipv6WalkOptions {
  /** Maximum number of extension headers to follow (default {@link IPV6_MAX_EXTENSION_HEADERS}). */
  maxHeaders?: number;
  /**
   * The packet is a quote inside an ICMPv6 error and may be cut short: a Payload Length beyond
   * the bytes available is accepted and `end` is clamped to them (default false).
   */
  quoted?: boolean;
}

const DEFAULT_WALK: Ipv6WalkOptions = {};

/**
 * Check the IPv6 header at `buf[off]` and walk its extension headers (Hop-by-Hop 0, Routing 43,
 * Fragment 44, Destination Options 60, AH 51) to the upper-layer protocol, filling `out`.
 * ESP (50) and No Next Header (59) end the walk. A Fragment header with a non-zero offset also
 * ends it, because what follows is fragment data, not headers. Returns `null` on success or the
 * reason; `out` is only meaningful on success. Never allocates, never throws on content.
 */
export function walkIpv6(
  buf: Uint8Array,
  off: number,
  len: number,
  out: Ipv6Walk,
  opts: Ipv6WalkOptions = DEFAULT_WALK,
): Ipv6Reason | null {
  checkRange(buf, off, len);
  if (len < IPV6_HEADER_LENGTH) return "truncated";
  if (buf[off] >> 4 !== 6) return "bad-version";
  let end = off + IPV6_HEADER_LENGTH + ((buf[off + 4] << 8) | buf[off + 5]);
  if (end > off + len) {
    if (opts.quoted !== true) return "bad-payload-length";
    end = off + len;
  }
  const maxHeaders = opts.maxHeaders ?? IPV6_MAX_EXTENSION_HEADERS;
  out.end = end;
  out.headerCount = 0;
  out.fragmentHeaderOffset = -1;
  out.fragmentOffset = 0;
  out.moreFragments = false;
  out.identification = 0;
  let nhAt = off + 6;
  let nh = buf[nhAt];
  let pos = off + IPV6_HEADER_LENGTH;
  let count = 0;
  for (;;) {
    let hlen: number;
    if (
      nh === IP_PROTO.HOP_BY_HOP || nh === IP_PROTO.ROUTING ||
      nh === IP_PROTO.DESTINATION_OPTIONS
    ) {
      if (nh === IP_PROTO.HOP_BY_HOP && count !== 0) return "misplaced-hop-by-hop";
      if (pos + 2 > end) return "truncated-extension";
      hlen = (buf[pos + 1] + 1) << 3;
    } else if (nh === IP_PROTO.AH) {
      if (pos + 2 > end) return "truncated-extension";
      hlen = (buf[pos + 1] + 2) << 2;
    } else if (nh === IP_PROTO.FRAGMENT) {
      hlen = IPV6_FRAGMENT_HEADER_LENGTH;
    } else {
      break; // upper layer, ESP or No Next Header
    }
    if (++count > maxHeaders) return "too-many-headers";
    if (pos + hlen > end) return "truncated-extension";
    if (nh === IP_PROTO.FRAGMENT && out.fragmentHeaderOffset < 0) {
      out.fragmentHeaderOffset = pos;
      out.fragmentOffset = ((buf[pos + 2] << 8) | buf[pos + 3]) & 0xfff8;
      out.moreFragments = (buf[pos + 3] & 1) !== 0;
      out.identification =
        ((buf[pos + 4] << 24) | (buf[pos + 5] << 16) | (buf[pos + 6] << 8) | buf[pos + 7]) >>> 0;
      if (out.fragmentOffset !== 0) {
        nhAt = pos;
        nh = buf[pos];
        pos += hlen;
        break;
      }
    }
    nhAt = pos;
    nh = buf[pos];
    pos += hlen;
  }
  out.protocol = nh;
  out.protocolFieldOffset = nhAt;
  out.offset = pos;
  out.headerCount = count;
  return null;
}

/** A parsed fixed IPv6 header; addresses are 16-byte views into the parsed buffer. */
export interface Ipv6Header {
  /** Traffic Class byte. */
  trafficClass: number;
  /** 20-bit Flow Label. */
  flowLabel: number;
  /** Payload Length. */
  payloadLength: number;
  /** Next Header of the fixed header. */
  nextHeader: number;
  /** Hop Limit. */
  hopLimit: number;
  /** Source address (16 bytes). */
  src: Uint8Array;
  /** Destination address (16 bytes). */
  dst: Uint8Array;
}

/** Fragment header fields (RFC 8200 §4.5). */
export interface Ipv6Fragment {
  /** Fragment offset in bytes. */
  offset: number;
  /** M flag: more fragments follow. */
  more: boolean;
  /** Identification. */
  identification: number;
}

/** Result of {@link parseIpv6}. */
export type Ipv6ParseResult =
  | {
    ok: true;
    /** The fixed header. */
    header: Ipv6Header;
    /** Upper-layer protocol after the extension headers (see {@link Ipv6Walk.protocol}). */
    protocol: number;
    /** Offset of the upper-layer header in the input. */
    payloadOffset: number;
    /** Fragment header fields, or null when there is no Fragment header. */
    fragment: Ipv6Fragment | null;
    /** Upper-layer bytes (a view into the input, up to the Payload Length). */
    payload: Uint8Array;
  }
  | { ok: false; reason: Ipv6Reason };

/**
 * Parse an IPv6 packet and walk its extension headers (allocates the result; for per-packet work
 * use {@link walkIpv6}). Never throws.
 */
export function parseIpv6(
  bytes: Uint8Array,
  opts: Ipv6WalkOptions = DEFAULT_WALK,
): Ipv6ParseResult {
  const w = new Ipv6Walk();
  const reason = walkIpv6(bytes, 0, bytes.length, w, opts);
  if (reason !== null) return { ok: false, reason };
  return {
    ok: true,
    header: {
      trafficClass: ipv6TrafficClass(bytes, 0),
      flowLabel: ipv6FlowLabel(bytes, 0),
      payloadLength: ipv6PayloadLength(bytes, 0),
      nextHeader: ipv6NextHeader(bytes, 0),
      hopLimit: ipv6HopLimit(bytes, 0),
      src: bytes.subarray(8, 24),
      dst: bytes.subarray(24, 40),
    },
    protocol: w.protocol,
    payloadOffset: w.offset,
    fragment: w.fragmentHeaderOffset < 0 ? null : {
      offset: w.fragmentOffset,
      more: w.moreFragments,
      identification: w.identification,
    },
    payload: bytes.subarray(w.offset, w.end),
  };
}

/** Fields for {@link writeIpv6Header}. */
export interface Ipv6Fields {
  /** Traffic Class byte. */
  trafficClass: number;
  /** 20-bit Flow Label. */
  flowLabel: number;
  /** Payload Length (extension headers and upper layer). */
  payloadLength: number;
  /** Next Header. */
  nextHeader: number;
  /** Hop Limit. */
  hopLimit: number;
  /** Source address: exactly 16 bytes. */
  src: Uint8Array;
  /** Destination address: exactly 16 bytes. */
  dst: Uint8Array;
}

/**
 * Write the 40-byte IPv6 header for `fields` at `out[off]`. Returns 40, or 0 when a field is out
 * of range, an address is not 16 bytes, or the header does not fit in `out`.
 */
export function writeIpv6Header(fields: Ipv6Fields, out: Uint8Array, off = 0): number {
  if (
    !isUint(off, out.length) || out.length - off < IPV6_HEADER_LENGTH ||
    !isUint(fields.trafficClass, 0xff) || !isUint(fields.flowLabel, 0xfffff) ||
    !isUint(fields.payloadLength, 0xffff) || !isUint(fields.nextHeader, 0xff) ||
    !isUint(fields.hopLimit, 0xff) || fields.src.length !== 16 || fields.dst.length !== 16
  ) {
    return 0;
  }
  writeIpv6HeaderUnchecked(
    out,
    off,
    fields.trafficClass,
    fields.flowLabel,
    fields.payloadLength,
    fields.nextHeader,
    fields.hopLimit,
  );
  copy16(fields.src, 0, out, off + 8);
  copy16(fields.dst, 0, out, off + 24);
  return IPV6_HEADER_LENGTH;
}

/**
 * Write the first 8 bytes of an IPv6 header (everything but the addresses) without validation.
 * For callers in this directory that have already range-checked their values.
 */
export function writeIpv6HeaderUnchecked(
  out: Uint8Array,
  off: number,
  trafficClass: number,
  flowLabel: number,
  payloadLength: number,
  nextHeader: number,
  hopLimit: number,
): void {
  out[off] = 0x60 | (trafficClass >> 4);
  out[off + 1] = ((trafficClass & 0x0f) << 4) | ((flowLabel >> 16) & 0x0f);
  out[off + 2] = (flowLabel >> 8) & 0xff;
  out[off + 3] = flowLabel & 0xff;
  out[off + 4] = payloadLength >> 8;
  out[off + 5] = payloadLength & 0xff;
  out[off + 6] = nextHeader;
  out[off + 7] = hopLimit;
}

/**
 * Write an 8-byte Fragment header at `out[off]`: `nextHeader`, the offset in bytes (a multiple of
 * 8, at most 65528), the M flag and the 32-bit identification. Returns 8, or 0 when a value is
 * out of range or the header does not fit.
 */
export function writeIpv6FragmentHeader(
  nextHeader: number,
  fragmentOffset: number,
  more: boolean,
  identification: number,
  out: Uint8Array,
  off = 0,
): number {
  if (
    !isUint(off, out.length) || out.length - off < IPV6_FRAGMENT_HEADER_LENGTH ||
    !isUint(nextHeader, 0xff) || !isUint(fragmentOffset, 0xfff8) || (fragmentOffset & 7) !== 0 ||
    !isUint(identification, 0xffffffff)
  ) {
    return 0;
  }
  out[off] = nextHeader;
  out[off + 1] = 0;
  out[off + 2] = fragmentOffset >> 8;
  out[off + 3] = (fragmentOffset & 0xf8) | (more ? 1 : 0);
  out[off + 4] = identification >>> 24;
  out[off + 5] = (identification >>> 16) & 0xff;
  out[off + 6] = (identification >>> 8) & 0xff;
  out[off + 7] = identification & 0xff;
  return IPV6_FRAGMENT_HEADER_LENGTH;
}

/** Whether the 16 bytes at `a[aOff]` equal the 16 bytes at `b[bOff]`. Does not allocate. */
export function equals16(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean {
  for (let i = 0; i < 16; i++) if (a[aOff + i] !== b[bOff + i]) return false;
  return true;
}

/**
 * Compare the 16 bytes at `a[aOff]` with those at `b[bOff]` as big-endian numbers: negative,
 * zero or positive. Does not allocate.
 */
export function compare16(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): number {
  for (let i = 0; i < 16; i++) {
    const d = a[aOff + i] - b[bOff + i];
    if (d !== 0) return d;
  }
  return 0;
}

/** Copy 16 bytes from `src[srcOff]` to `dst[dstOff]`. Does not allocate. */
export function copy16(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): void {
  for (let i = 0; i < 16; i++) dst[dstOff + i] = src[srcOff + i];
}
