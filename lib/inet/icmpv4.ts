/**
 * ICMP for IPv4 (RFC 792): a parser and builders for the messages the dstm data planes emit
 * (protocol brief §4.3, §4.4): Destination Unreachable 3/1, 3/4 with the next-hop MTU
 * (RFC 1191), 3/13, Time Exceeded 11/0, and Echo request/reply.
 *
 * The error builders write a whole IPv4 packet (header + ICMP) into the caller's buffer,
 * addressed to the source of the offending packet, and quote as much of that packet as fits in
 * 576 bytes (RFC 1812 §4.3.2.3), never less than its IP header and 8 data bytes (RFC 792). Use
 * {@link icmpv4ErrorAllowed} first to honour RFC 1812 §4.3.2.7 (no errors about errors,
 * broadcasts, non-initial fragments...). Rate limiting is the caller's.
 *
 * @module
 */
import { internetChecksum } from "./checksum.ts";
import { IPV4_MIN_HEADER_LENGTH } from "./ipv4.ts";
import { IP_PROTO } from "./proto.ts";
import { copyBytes, isUint } from "./_bytes.ts";

/** ICMPv4 message types used here (RFC 792). */
export const ICMPV4_TYPE = {
  ECHO_REPLY: 0,
  DEST_UNREACHABLE: 3,
  SOURCE_QUENCH: 4,
  REDIRECT: 5,
  ECHO_REQUEST: 8,
  TIME_EXCEEDED: 11,
  PARAMETER_PROBLEM: 12,
} as const;

/** Codes of Destination Unreachable (type 3; RFC 792, RFC 1812 §5.2.7.1). */
export const ICMPV4_UNREACH = {
  NET: 0,
  HOST: 1,
  PROTOCOL: 2,
  PORT: 3,
  /** Fragmentation needed and DF set; carries the next-hop MTU (RFC 1191). */
  FRAGMENTATION_NEEDED: 4,
  /** Communication administratively prohibited (RFC 1812). */
  ADMIN_PROHIBITED: 13,
} as const;

/** Codes of Time Exceeded (type 11). */
export const ICMPV4_TIME_EXCEEDED = {
  TTL: 0,
  REASSEMBLY: 1,
} as const;

/** Length of the ICMPv4 header (type, code, checksum, 4 bytes of "rest of header"). */
export const ICMPV4_HEADER_LENGTH = 8;
/** Largest IPv4 datagram carrying an ICMPv4 error (RFC 1812 §4.3.2.3). */
export const ICMPV4_MAX_ERROR_LENGTH = 576;
/** TTL of the packets built here unless told otherwise. */
export const ICMPV4_DEFAULT_TTL = 64;
/** TOS of errors built here unless told otherwise: precedence 6, internetwork control (RFC 1812 §4.3.2.5). */
export const ICMPV4_ERROR_TOS = 0xc0;

/** Why bytes are not an acceptable ICMPv4 message. Each value is a drop-counter label. */
export type Icmpv4Reason =
  /** Fewer than the 8-byte ICMP header. */
  | "truncated"
  /** The checksum does not verify. */
  | "bad-checksum"
  /** An error message whose body does not start with an IPv4 header. */
  | "bad-quote";

/** Every {@link Icmpv4Reason}, for registering drop counters up front. */
export const ICMPV4_REASONS: readonly Icmpv4Reason[] = ["truncated", "bad-checksum", "bad-quote"];

/** Whether an ICMPv4 type is an error message (3, 4, 5, 11, 12). */
export function isIcmpv4Error(type: number): boolean {
  return type === 3 || type === 4 || type === 5 || type === 11 || type === 12;
}

/** A parsed ICMPv4 message. Views point into the parsed bytes. */
export interface Icmpv4Message {
  /** Message type (see {@link ICMPV4_TYPE}). */
  type: number;
  /** Message code. */
  code: number;
  /** Checksum as stored. */
  checksum: number;
  /** Bytes 4..7 ("rest of header") as an unsigned 32-bit integer. */
  rest: number;
  /** Everything after the 8-byte header. */
  body: Uint8Array;
  /** For error messages: the quoted original packet (starts with an IPv4 header); else null. */
  original: Uint8Array | null;
  /** Echo (types 0 and 8) identifier; 0 for other types. */
  identifier: number;
  /** Echo (types 0 and 8) sequence number; 0 for other types. */
  sequence: number;
  /** Next-hop MTU of a 3/4 message (RFC 1191; 0 from old routers); 0 for other messages. */
  mtu: number;
  /** Parameter Problem (type 12) pointer; 0 for other types. */
  pointer: number;
}

/** Result of {@link parseIcmpv4}. */
export type Icmpv4ParseResult =
  | ({ ok: true } & Icmpv4Message)
  | { ok: false; reason: Icmpv4Reason };

/** Options for {@link parseIcmpv4}. */
export interface Icmpv4ParseOptions {
  /** Verify the checksum (default true). */
  verifyChecksum?: boolean;
}

/**
 * Header length of an IPv4 header at `buf[off]` within `len` bytes, checking only its shape
 * (version 4, IHL >= 5, header inside `len`), not Total Length: quotes are often cut short.
 * Returns 0 when it is not an IPv4 header.
 */
function quotedIpv4HeaderLength(buf: Uint8Array, off: number, len: number): number {
  if (len < IPV4_MIN_HEADER_LENGTH || buf[off] >> 4 !== 4) return 0;
  const hl = (buf[off] & 0x0f) << 2;
  return hl < IPV4_MIN_HEADER_LENGTH || hl > len ? 0 : hl;
}

/**
 * Parse an ICMPv4 message (the IP payload, starting at the type byte). Error messages must
 * quote at least an IPv4 header. Allocates the result; never throws.
 */
export function parseIcmpv4(bytes: Uint8Array, opts: Icmpv4ParseOptions = {}): Icmpv4ParseResult {
  if (bytes.length < ICMPV4_HEADER_LENGTH) return { ok: false, reason: "truncated" };
  if ((opts.verifyChecksum ?? true) && internetChecksum(bytes, 0, bytes.length) !== 0) {
    return { ok: false, reason: "bad-checksum" };
  }
  const type = bytes[0];
  const rest = ((bytes[4] << 24) | (bytes[5] << 16) | (bytes[6] << 8) | bytes[7]) >>> 0;
  const body = bytes.subarray(ICMPV4_HEADER_LENGTH);
  let original: Uint8Array | null = null;
  if (isIcmpv4Error(type)) {
    if (quotedIpv4HeaderLength(body, 0, body.length) === 0) {
      return { ok: false, reason: "bad-quote" };
    }
    original = body;
  }
  const echo = type === 0 || type === 8;
  return {
    ok: true,
    type,
    code: bytes[1],
    checksum: (bytes[2] << 8) | bytes[3],
    rest,
    body,
    original,
    identifier: echo ? rest >>> 16 : 0,
    sequence: echo ? rest & 0xffff : 0,
    mtu: type === 3 && bytes[1] === 4 ? rest & 0xffff : 0,
    pointer: type === 12 ? rest >>> 24 : 0,
  };
}

/**
 * Whether RFC 1812 §4.3.2.7 allows sending an ICMPv4 error about `original` (an IPv4 packet,
 * possibly truncated). False for: something that is not an IPv4 header; an ICMP error message
 * (or an ICMP packet too short to tell); a non-initial fragment; a multicast or limited-broadcast
 * destination; a source that is not a single host (0/8, 127/8, 224/4 and 240/4, including
 * 255.255.255.255). Subnet-directed broadcasts and link-layer broadcasts cannot be seen here and
 * are the caller's to exclude.
 */
export function icmpv4ErrorAllowed(original: Uint8Array): boolean {
  const hl = quotedIpv4HeaderLength(original, 0, original.length);
  if (hl === 0) return false;
  if ((((original[6] & 0x1f) << 8) | original[7]) !== 0) return false;
  const s0 = original[12];
  if (s0 === 0 || s0 === 127 || s0 >= 224) return false;
  const d0 = original[16];
  if (d0 >= 224 && d0 < 240) return false;
  if (d0 === 255 && original[17] === 255 && original[18] === 255 && original[19] === 255) {
    return false;
  }
  if (original[9] === IP_PROTO.ICMP) {
    if (original.length <= hl) return false;
    if (isIcmpv4Error(original[hl])) return false;
  }
  return true;
}

/** What {@link writeIcmpv4Error} builds. Reuse one object to avoid allocating per packet. */
export interface Icmpv4ErrorSpec {
  /** Source address of the error: an address of the sending interface. */
  src: number;
  /** ICMP type (see {@link ICMPV4_TYPE}). */
  type: number;
  /** ICMP code. */
  code: number;
  /** Bytes 4..7 of the ICMP header ("rest of header"; e.g. the MTU for 3/4); default 0. */
  rest?: number;
  /** TTL; default {@link ICMPV4_DEFAULT_TTL}. */
  ttl?: number;
  /** TOS; default {@link ICMPV4_ERROR_TOS}. */
  tos?: number;
  /** IP Identification; default 0. */
  identification?: number;
  /** Largest packet to build; default {@link ICMPV4_MAX_ERROR_LENGTH}. */
  maxLength?: number;
}

function writeU32(out: Uint8Array, off: number, v: number): void {
  out[off] = v >>> 24;
  out[off + 1] = (v >>> 16) & 0xff;
  out[off + 2] = (v >>> 8) & 0xff;
  out[off + 3] = v & 0xff;
}

/** Write the 20-byte IPv4 header of an ICMP packet (no options, DF clear) and its checksum. */
function writeIcmpIpHeader(
  out: Uint8Array,
  off: number,
  tos: number,
  total: number,
  id: number,
  ttl: number,
  dontFragment: boolean,
  src: number,
  dst: number,
): void {
  out[off] = 0x45;
  out[off + 1] = tos;
  out[off + 2] = total >> 8;
  out[off + 3] = total & 0xff;
  out[off + 4] = id >> 8;
  out[off + 5] = id & 0xff;
  out[off + 6] = dontFragment ? 0x40 : 0;
  out[off + 7] = 0;
  out[off + 8] = ttl;
  out[off + 9] = IP_PROTO.ICMP;
  out[off + 10] = 0;
  out[off + 11] = 0;
  writeU32(out, off + 12, src);
  writeU32(out, off + 16, dst);
  const c = internetChecksum(out, off, IPV4_MIN_HEADER_LENGTH);
  out[off + 10] = c >> 8;
  out[off + 11] = c & 0xff;
}

function emitError(
  src: number,
  type: number,
  code: number,
  rest: number,
  ttl: number,
  tos: number,
  id: number,
  maxLength: number,
  original: Uint8Array,
  out: Uint8Array,
  off: number,
): number {
  if (
    !isUint(src, 0xffffffff) || !isUint(type, 0xff) || !isUint(code, 0xff) ||
    !isUint(rest, 0xffffffff) || !isUint(ttl, 0xff) || !isUint(tos, 0xff) ||
    !isUint(id, 0xffff) || !isUint(off, out.length) || !(maxLength >= 0)
  ) {
    return 0;
  }
  const hl = quotedIpv4HeaderLength(original, 0, original.length);
  if (hl === 0) return 0;
  const total = (original[2] << 8) | original[3];
  if (total < hl) return 0;
  const extent = Math.min(total, original.length);
  const overhead = IPV4_MIN_HEADER_LENGTH + ICMPV4_HEADER_LENGTH;
  const room = Math.min(maxLength, out.length - off, 0xffff) - overhead;
  const quote = Math.min(extent, room);
  if (quote < Math.min(extent, hl + 8)) return 0;
  const length = overhead + quote;
  const dst = ((original[12] << 24) | (original[13] << 16) | (original[14] << 8) | original[15]) >>>
    0;
  const m = off + IPV4_MIN_HEADER_LENGTH;
  // Quote first: `original` may share memory with `out` (building the error in place).
  copyBytes(original, 0, out, m + ICMPV4_HEADER_LENGTH, quote);
  writeIcmpIpHeader(out, off, tos, length, id, ttl, false, src, dst);
  out[m] = type;
  out[m + 1] = code;
  out[m + 2] = 0;
  out[m + 3] = 0;
  writeU32(out, m + 4, rest);
  const c = internetChecksum(out, m, ICMPV4_HEADER_LENGTH + quote);
  out[m + 2] = c >> 8;
  out[m + 3] = c & 0xff;
  return length;
}

/**
 * Write at `out[off]` a complete IPv4 packet carrying the ICMPv4 error `spec` about `original`
 * (the offending IPv4 packet as received, starting at its header), sent from `spec.src` to the
 * original source. Returns the packet length, or 0 when `original` does not start with an IPv4
 * header, a field is out of range, or `out` cannot hold the IP header and 8 data bytes of the
 * original. Does not allocate.
 */
export function writeIcmpv4Error(
  spec: Icmpv4ErrorSpec,
  original: Uint8Array,
  out: Uint8Array,
  off = 0,
): number {
  return emitError(
    spec.src,
    spec.type,
    spec.code,
    spec.rest ?? 0,
    spec.ttl ?? ICMPV4_DEFAULT_TTL,
    spec.tos ?? ICMPV4_ERROR_TOS,
    spec.identification ?? 0,
    spec.maxLength ?? ICMPV4_MAX_ERROR_LENGTH,
    original,
    out,
    off,
  );
}

/**
 * Write a Destination Unreachable, Host Unreachable (3/1) packet from `src` about `original`
 * (brief §4.4: relayed tunnel errors, unroutable pool addresses). Returns the length or 0.
 */
export function writeIcmpv4HostUnreachable(
  src: number,
  original: Uint8Array,
  out: Uint8Array,
  off = 0,
): number {
  return emitError(
    src,
    3,
    1,
    0,
    ICMPV4_DEFAULT_TTL,
    ICMPV4_ERROR_TOS,
    0,
    ICMPV4_MAX_ERROR_LENGTH,
    original,
    out,
    off,
  );
}

/**
 * Write a Fragmentation Needed and DF Set (3/4) packet from `src` about `original`, carrying the
 * next-hop `mtu` (RFC 1191; brief §4.3: the tunnel MTU). Returns the length or 0 (also when
 * `mtu` is not in 0..65535).
 */
export function writeIcmpv4FragmentationNeeded(
  src: number,
  mtu: number,
  original: Uint8Array,
  out: Uint8Array,
  off = 0,
): number {
  if (!isUint(mtu, 0xffff)) return 0;
  return emitError(
    src,
    3,
    4,
    mtu,
    ICMPV4_DEFAULT_TTL,
    ICMPV4_ERROR_TOS,
    0,
    ICMPV4_MAX_ERROR_LENGTH,
    original,
    out,
    off,
  );
}

/**
 * Write a Communication Administratively Prohibited (3/13, RFC 1812 §5.2.7.1) packet from `src`
 * about `original` (brief §4.4, RFC 7596 §5.2). Returns the length or 0.
 */
export function writeIcmpv4AdminProhibited(
  src: number,
  original: Uint8Array,
  out: Uint8Array,
  off = 0,
): number {
  return emitError(
    src,
    3,
    13,
    0,
    ICMPV4_DEFAULT_TTL,
    ICMPV4_ERROR_TOS,
    0,
    ICMPV4_MAX_ERROR_LENGTH,
    original,
    out,
    off,
  );
}

/**
 * Write a Time Exceeded, TTL exceeded in transit (11/0) packet from `src` about `original`
 * (brief §4.2). Returns the length or 0.
 */
export function writeIcmpv4TimeExceeded(
  src: number,
  original: Uint8Array,
  out: Uint8Array,
  off = 0,
): number {
  return emitError(
    src,
    11,
    0,
    0,
    ICMPV4_DEFAULT_TTL,
    ICMPV4_ERROR_TOS,
    0,
    ICMPV4_MAX_ERROR_LENGTH,
    original,
    out,
    off,
  );
}

/** What {@link writeIcmpv4Echo} builds. */
export interface Icmpv4EchoSpec {
  /** Echo Reply (type 0) when true, Echo Request (type 8) when false. */
  reply: boolean;
  /** Identifier. */
  identifier: number;
  /** Sequence number. */
  sequence: number;
  /** Data to carry (for a reply: the request's data). */
  data: Uint8Array;
  /** IPv4 source. */
  src: number;
  /** IPv4 destination. */
  dst: number;
  /** TTL; default {@link ICMPV4_DEFAULT_TTL}. */
  ttl?: number;
  /** TOS; default 0. */
  tos?: number;
  /** IP Identification; default 0. */
  identification?: number;
  /** Set DF; default false. */
  dontFragment?: boolean;
}

/**
 * Write at `out[off]` a complete IPv4 packet carrying an ICMPv4 Echo Request or Reply. Returns
 * the packet length, or 0 when a field is out of range or the packet does not fit.
 */
export function writeIcmpv4Echo(spec: Icmpv4EchoSpec, out: Uint8Array, off = 0): number {
  const ttl = spec.ttl ?? ICMPV4_DEFAULT_TTL;
  const tos = spec.tos ?? 0;
  const id = spec.identification ?? 0;
  const length = IPV4_MIN_HEADER_LENGTH + ICMPV4_HEADER_LENGTH + spec.data.length;
  if (
    !isUint(spec.identifier, 0xffff) || !isUint(spec.sequence, 0xffff) ||
    !isUint(spec.src, 0xffffffff) || !isUint(spec.dst, 0xffffffff) || !isUint(ttl, 0xff) ||
    !isUint(tos, 0xff) || !isUint(id, 0xffff) || length > 0xffff || !isUint(off, out.length) ||
    out.length - off < length
  ) {
    return 0;
  }
  const m = off + IPV4_MIN_HEADER_LENGTH;
  // Data first: it may share memory with `out` (answering a request in place).
  copyBytes(spec.data, 0, out, m + ICMPV4_HEADER_LENGTH, spec.data.length);
  writeIcmpIpHeader(out, off, tos, length, id, ttl, spec.dontFragment ?? false, spec.src, spec.dst);
  out[m] = spec.reply ? 0 : 8;
  out[m + 1] = 0;
  out[m + 2] = 0;
  out[m + 3] = 0;
  out[m + 4] = spec.identifier >> 8;
  out[m + 5] = spec.identifier & 0xff;
  out[m + 6] = spec.sequence >> 8;
  out[m + 7] = spec.sequence & 0xff;
  const c = internetChecksum(out, m, ICMPV4_HEADER_LENGTH + spec.data.length);
  out[m + 2] = c >> 8;
  out[m + 3] = c & 0xff;
  return length;
}
