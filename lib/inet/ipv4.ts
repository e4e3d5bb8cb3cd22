/**
 * IPv4 header (RFC 791): a checked view over bytes, an allocating parser for control paths, a
 * writer, and the TTL decrement with incremental checksum update used when forwarding.
 *
 * Hot path (no allocation): call {@link checkIpv4} once; when it returns `null`, the getters
 * (`ipv4Ttl(buf, off)`, ...) may be used on that header without further bounds checks.
 *
 * ```ts
 * const why = checkIpv4(buf, off, len, true);
 * if (why !== null) return drop(why);
 * if (ipv4DontFragment(buf, off) && ipv4TotalLength(buf, off) > mtu) ...
 * ```
 *
 * Addresses are unsigned 32-bit integers (`0xc0000201` is 192.0.2.1).
 *
 * @module
 */
import { internetChecksum, updateChecksum16 } from "./checksum.ts";
import { isUint } from "./_bytes.ts";

/** Byte offsets of the IPv4 header fields (RFC 791 §3.1). */
export const IPV4_FIELD = {
  VERSION_IHL: 0,
  TOS: 1,
  TOTAL_LENGTH: 2,
  IDENTIFICATION: 4,
  FLAGS_FRAGMENT: 6,
  TTL: 8,
  PROTOCOL: 9,
  CHECKSUM: 10,
  SRC: 12,
  DST: 16,
} as const;

/** Length of an IPv4 header without options. */
export const IPV4_MIN_HEADER_LENGTH = 20;
/** Length of an IPv4 header with the maximum 40 bytes of options (IHL 15). */
export const IPV4_MAX_HEADER_LENGTH = 60;

/** Why bytes are not an acceptable IPv4 header. Each value is a drop-counter label. */
export type Ipv4Reason =
  /** Fewer bytes than the fixed header, or than the header length the IHL announces. */
  | "truncated"
  /** Version field is not 4. */
  | "bad-version"
  /** IHL below 5. */
  | "bad-ihl"
  /** Total Length below the header length, or above the bytes available. */
  | "bad-total-length"
  /** Header checksum does not verify (only when verification is requested). */
  | "bad-checksum";

/** Every {@link Ipv4Reason}, for registering drop counters up front. */
export const IPV4_REASONS: readonly Ipv4Reason[] = [
  "truncated",
  "bad-version",
  "bad-ihl",
  "bad-total-length",
  "bad-checksum",
];

function checkRange(buf: Uint8Array, off: number, len: number): void {
  if (!(off >= 0 && len >= 0 && off + len <= buf.length)) {
    throw new RangeError(
      `Cannot parse IPv4: range ${off}+${len} is outside a buffer of ${buf.length} bytes`,
    );
  }
}

/**
 * Check that `len` bytes of `buf` from `off` start with a well-formed IPv4 header whose Total
 * Length fits in them (trailing bytes such as link padding are allowed). Returns `null` when the
 * header is acceptable, otherwise the reason. With `verifyChecksum` the header checksum must also
 * verify. Never allocates and never throws on content; a range outside `buf` throws `RangeError`.
 */
export function checkIpv4(
  buf: Uint8Array,
  off: number,
  len: number,
  verifyChecksum = true,
): Ipv4Reason | null {
  checkRange(buf, off, len);
  if (len < IPV4_MIN_HEADER_LENGTH) return "truncated";
  const b0 = buf[off];
  if (b0 >> 4 !== 4) return "bad-version";
  const hl = (b0 & 0x0f) << 2;
  if (hl < IPV4_MIN_HEADER_LENGTH) return "bad-ihl";
  if (len < hl) return "truncated";
  const total = (buf[off + 2] << 8) | buf[off + 3];
  if (total < hl || total > len) return "bad-total-length";
  if (verifyChecksum && internetChecksum(buf, off, hl) !== 0) return "bad-checksum";
  return null;
}

/** Header length in bytes (IHL × 4). Valid after {@link checkIpv4}. */
export function ipv4HeaderLength(buf: Uint8Array, off: number): number {
  return (buf[off] & 0x0f) << 2;
}

/** Type of Service / DSCP+ECN byte. Valid after {@link checkIpv4}. */
export function ipv4Tos(buf: Uint8Array, off: number): number {
  return buf[off + 1];
}

/** Total Length (header and data) in bytes. Valid after {@link checkIpv4}. */
export function ipv4TotalLength(buf: Uint8Array, off: number): number {
  return (buf[off + 2] << 8) | buf[off + 3];
}

/** Identification field. Valid after {@link checkIpv4}. */
export function ipv4Identification(buf: Uint8Array, off: number): number {
  return (buf[off + 4] << 8) | buf[off + 5];
}

/** Whether the Don't Fragment flag is set. Valid after {@link checkIpv4}. */
export function ipv4DontFragment(buf: Uint8Array, off: number): boolean {
  return (buf[off + 6] & 0x40) !== 0;
}

/** Whether the More Fragments flag is set. Valid after {@link checkIpv4}. */
export function ipv4MoreFragments(buf: Uint8Array, off: number): boolean {
  return (buf[off + 6] & 0x20) !== 0;
}

/** Fragment offset in bytes (the 13-bit field × 8). Valid after {@link checkIpv4}. */
export function ipv4FragmentOffset(buf: Uint8Array, off: number): number {
  return (((buf[off + 6] & 0x1f) << 8) | buf[off + 7]) << 3;
}

/** Whether the packet is a fragment (MF set or non-zero offset). Valid after {@link checkIpv4}. */
export function ipv4IsFragment(buf: Uint8Array, off: number): boolean {
  return (buf[off + 6] & 0x3f) !== 0 || buf[off + 7] !== 0;
}

/** Time To Live. Valid after {@link checkIpv4}. */
export function ipv4Ttl(buf: Uint8Array, off: number): number {
  return buf[off + 8];
}

/** Protocol number of the payload (see `IP_PROTO`). Valid after {@link checkIpv4}. */
export function ipv4Protocol(buf: Uint8Array, off: number): number {
  return buf[off + 9];
}

/** Header checksum field as stored. Valid after {@link checkIpv4}. */
export function ipv4Checksum(buf: Uint8Array, off: number): number {
  return (buf[off + 10] << 8) | buf[off + 11];
}

/** Source address as an unsigned 32-bit integer. Valid after {@link checkIpv4}. */
export function ipv4Src(buf: Uint8Array, off: number): number {
  return ((buf[off + 12] << 24) | (buf[off + 13] << 16) | (buf[off + 14] << 8) | buf[off + 15]) >>>
    0;
}

/** Destination address as an unsigned 32-bit integer. Valid after {@link checkIpv4}. */
export function ipv4Dst(buf: Uint8Array, off: number): number {
  return ((buf[off + 16] << 24) | (buf[off + 17] << 16) | (buf[off + 18] << 8) | buf[off + 19]) >>>
    0;
}

/**
 * Recompute and store the header checksum of the IPv4 header at `buf[off]` (its IHL must be
 * valid and the header inside `buf`).
 */
export function fillIpv4Checksum(buf: Uint8Array, off: number): void {
  const hl = ipv4HeaderLength(buf, off);
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  const c = internetChecksum(buf, off, hl);
  buf[off + 10] = c >> 8;
  buf[off + 11] = c & 0xff;
}

/**
 * Decrement the TTL of a checked IPv4 header in place, updating the header checksum
 * incrementally (RFC 1624, RFC 1812 §5.3.1). Returns the new TTL. When the TTL is 0 or 1 the
 * packet must not be forwarded: the buffer is left unchanged and 0 is returned, so the caller can
 * quote the packet as received in an ICMPv4 Time Exceeded (type 11, code 0).
 */
export function decrementTtl(buf: Uint8Array, off: number): number {
  const ttl = buf[off + 8];
  if (ttl <= 1) return 0;
  const proto = buf[off + 9];
  const old = (buf[off + 10] << 8) | buf[off + 11];
  const c = updateChecksum16(old, (ttl << 8) | proto, ((ttl - 1) << 8) | proto);
  buf[off + 8] = ttl - 1;
  buf[off + 10] = c >> 8;
  buf[off + 11] = c & 0xff;
  return ttl - 1;
}

/** IPv4 header fields for {@link writeIpv4Header}. */
export interface Ipv4Fields {
  /** Type of Service byte (DSCP << 2 | ECN). */
  tos: number;
  /** Total Length of the datagram, header included. */
  totalLength: number;
  /** Identification. */
  identification: number;
  /** Don't Fragment flag. */
  dontFragment: boolean;
  /** More Fragments flag. */
  moreFragments: boolean;
  /** Fragment offset in bytes; a multiple of 8, at most 65528. */
  fragmentOffset: number;
  /** Time To Live. */
  ttl: number;
  /** Protocol number (see `IP_PROTO`). */
  protocol: number;
  /** Source address as an unsigned 32-bit integer. */
  src: number;
  /** Destination address as an unsigned 32-bit integer. */
  dst: number;
  /** Options, already padded to a multiple of 4 bytes, at most 40. Absent means none. */
  options?: Uint8Array;
}

/** A parsed IPv4 header. */
export interface Ipv4Header extends Ipv4Fields {
  /** Header length in bytes (IHL × 4). */
  headerLength: number;
  /** Header checksum as stored. */
  checksum: number;
  /** Options bytes (a view into the parsed buffer; empty when IHL is 5). */
  options: Uint8Array;
}

/** Result of {@link parseIpv4}. */
export type Ipv4ParseResult =
  | {
    ok: true;
    /** The header fields. */
    header: Ipv4Header;
    /** The data after the header, up to Total Length (a view into the input). */
    payload: Uint8Array;
  }
  | { ok: false; reason: Ipv4Reason };

/** Options for {@link parseIpv4}. */
export interface Ipv4ParseOptions {
  /** Verify the header checksum (default true). */
  verifyChecksum?: boolean;
}

/**
 * Parse an IPv4 packet from `bytes` (allocates the result; for per-packet work use
 * {@link checkIpv4} and the getters). Never throws.
 */
export function parseIpv4(bytes: Uint8Array, opts: Ipv4ParseOptions = {}): Ipv4ParseResult {
  const reason = checkIpv4(bytes, 0, bytes.length, opts.verifyChecksum ?? true);
  if (reason !== null) return { ok: false, reason };
  const hl = ipv4HeaderLength(bytes, 0);
  const total = ipv4TotalLength(bytes, 0);
  return {
    ok: true,
    header: {
      tos: ipv4Tos(bytes, 0),
      totalLength: total,
      identification: ipv4Identification(bytes, 0),
      dontFragment: ipv4DontFragment(bytes, 0),
      moreFragments: ipv4MoreFragments(bytes, 0),
      fragmentOffset: ipv4FragmentOffset(bytes, 0),
      ttl: ipv4Ttl(bytes, 0),
      protocol: ipv4Protocol(bytes, 0),
      src: ipv4Src(bytes, 0),
      dst: ipv4Dst(bytes, 0),
      headerLength: hl,
      checksum: ipv4Checksum(bytes, 0),
      options: bytes.subarray(IPV4_MIN_HEADER_LENGTH, hl),
    },
    payload: bytes.subarray(hl, total),
  };
}

/**
 * Write an IPv4 header for `fields` at `out[off]`, computing the header checksum. Returns the
 * header length, or 0 when a field is out of range (for example a fragment offset that is not
 * a multiple of 8, or options longer than 40 bytes or not a multiple of 4) or the header does not
 * fit in `out`. Only the header is written; the payload is the caller's.
 */
export function writeIpv4Header(fields: Ipv4Fields, out: Uint8Array, off = 0): number {
  const optLen = fields.options === undefined ? 0 : fields.options.length;
  const hl = IPV4_MIN_HEADER_LENGTH + optLen;
  if (
    optLen > 40 || (optLen & 3) !== 0 || !isUint(off, out.length) || out.length - off < hl ||
    !isUint(fields.tos, 0xff) || !isUint(fields.totalLength, 0xffff) ||
    fields.totalLength < hl || !isUint(fields.identification, 0xffff) ||
    !isUint(fields.fragmentOffset, 0xfff8) || (fields.fragmentOffset & 7) !== 0 ||
    !isUint(fields.ttl, 0xff) || !isUint(fields.protocol, 0xff) ||
    !isUint(fields.src, 0xffffffff) || !isUint(fields.dst, 0xffffffff)
  ) {
    return 0;
  }
  const frag = (fields.dontFragment ? 0x4000 : 0) | (fields.moreFragments ? 0x2000 : 0) |
    (fields.fragmentOffset >> 3);
  out[off] = 0x40 | (hl >> 2);
  out[off + 1] = fields.tos;
  out[off + 2] = fields.totalLength >> 8;
  out[off + 3] = fields.totalLength & 0xff;
  out[off + 4] = fields.identification >> 8;
  out[off + 5] = fields.identification & 0xff;
  out[off + 6] = frag >> 8;
  out[off + 7] = frag & 0xff;
  out[off + 8] = fields.ttl;
  out[off + 9] = fields.protocol;
  out[off + 10] = 0;
  out[off + 11] = 0;
  writeU32(out, off + 12, fields.src);
  writeU32(out, off + 16, fields.dst);
  if (fields.options !== undefined) {
    for (let i = 0; i < optLen; i++) out[off + 20 + i] = fields.options[i];
  }
  const c = internetChecksum(out, off, hl);
  out[off + 10] = c >> 8;
  out[off + 11] = c & 0xff;
  return hl;
}

function writeU32(out: Uint8Array, off: number, v: number): void {
  out[off] = v >>> 24;
  out[off + 1] = (v >>> 16) & 0xff;
  out[off + 2] = (v >>> 8) & 0xff;
  out[off + 3] = v & 0xff;
}
