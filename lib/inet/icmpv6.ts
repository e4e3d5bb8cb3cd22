/**
 * ICMP for IPv6 (RFC 4443): a parser (with the pseudo-header checksum) and builders for the
 * messages the dstm data planes emit (protocol brief §4.4): Destination Unreachable (1/5
 * "source address failed ingress/egress policy" above all), Packet Too Big, Time Exceeded,
 * Parameter Problem, and Echo request/reply.
 *
 * The error builders write a whole IPv6 packet into the caller's buffer, addressed to the source
 * of the offending packet, and quote as much of it as fits in 1280 bytes (RFC 4443 §2.4(c)).
 * Use {@link icmpv6ErrorAllowed} first to honour RFC 4443 §2.4(e). Rate limiting is the caller's.
 *
 * @module
 */
import { internetChecksum, ipv6PseudoHeaderSum } from "./checksum.ts";
import {
  copy16,
  IPV6_HEADER_LENGTH,
  type Ipv6Reason,
  Ipv6Walk,
  walkIpv6,
  writeIpv6HeaderUnchecked,
} from "./ipv6.ts";
import { IP_PROTO } from "./proto.ts";
import { copyBytes, isUint } from "./_bytes.ts";

/** ICMPv6 message types used here (RFC 4443). */
export const ICMPV6_TYPE = {
  DEST_UNREACHABLE: 1,
  PACKET_TOO_BIG: 2,
  TIME_EXCEEDED: 3,
  PARAMETER_PROBLEM: 4,
  ECHO_REQUEST: 128,
  ECHO_REPLY: 129,
  REDIRECT: 137,
} as const;

/** Codes of Destination Unreachable (type 1; RFC 4443 §3.1). */
export const ICMPV6_UNREACH = {
  NO_ROUTE: 0,
  ADMIN_PROHIBITED: 1,
  BEYOND_SCOPE: 2,
  ADDRESS: 3,
  PORT: 4,
  /** Source address failed ingress/egress policy (brief §4.4, RFC 7596 §6.2). */
  SOURCE_POLICY_FAILED: 5,
  REJECT_ROUTE: 6,
} as const;

/** Codes of Time Exceeded (type 3; RFC 4443 §3.3). */
export const ICMPV6_TIME_EXCEEDED = {
  HOP_LIMIT: 0,
  REASSEMBLY: 1,
} as const;

/** Codes of Parameter Problem (type 4; RFC 4443 §3.4). */
export const ICMPV6_PARAM_PROBLEM = {
  ERRONEOUS_HEADER: 0,
  UNRECOGNIZED_NEXT_HEADER: 1,
  UNRECOGNIZED_OPTION: 2,
} as const;

/** Length of the ICMPv6 header (type, code, checksum, 4 bytes of message-specific data). */
export const ICMPV6_HEADER_LENGTH = 8;
/** Largest IPv6 packet carrying an ICMPv6 error: the IPv6 minimum MTU (RFC 4443 §2.4(c)). */
export const ICMPV6_MAX_ERROR_LENGTH = 1280;
/** Hop limit of the packets built here unless told otherwise. */
export const ICMPV6_DEFAULT_HOP_LIMIT = 64;

/** Why bytes are not an acceptable ICMPv6 message. Each value is a drop-counter label. */
export type Icmpv6Reason =
  /** Fewer than the 8-byte ICMPv6 header. */
  | "truncated"
  /** The checksum (with the pseudo-header) does not verify. */
  | "bad-checksum"
  /** An error message whose body does not start with an IPv6 header. */
  | "bad-quote";

/** Every {@link Icmpv6Reason}, for registering drop counters up front. */
export const ICMPV6_REASONS: readonly Icmpv6Reason[] = ["truncated", "bad-checksum", "bad-quote"];

/** Why {@link parseIcmpv6Packet} refused an IPv6 packet. */
export type Icmpv6PacketReason = Ipv6Reason | Icmpv6Reason | "not-icmpv6" | "fragment";

/** Every {@link Icmpv6PacketReason}, for registering drop counters up front. */
export const ICMPV6_PACKET_REASONS: readonly Icmpv6PacketReason[] = [
  "truncated",
  "bad-version",
  "bad-payload-length",
  "truncated-extension",
  "too-many-headers",
  "misplaced-hop-by-hop",
  "bad-checksum",
  "bad-quote",
  "not-icmpv6",
  "fragment",
];

/** Whether an ICMPv6 type is an error message (types 0..127, RFC 4443 §2.1). */
export function isIcmpv6Error(type: number): boolean {
  return type < 128;
}

/** A parsed ICMPv6 message. Views point into the parsed bytes. */
export interface Icmpv6Message {
  /** Message type (see {@link ICMPV6_TYPE}). */
  type: number;
  /** Message code. */
  code: number;
  /** Checksum as stored. */
  checksum: number;
  /** Bytes 4..7 as an unsigned 32-bit integer. */
  rest: number;
  /** Everything after the 8-byte header. */
  body: Uint8Array;
  /** For error messages: the quoted original packet (starts with an IPv6 header); else null. */
  original: Uint8Array | null;
  /** Echo (types 128 and 129) identifier; 0 for other types. */
  identifier: number;
  /** Echo (types 128 and 129) sequence number; 0 for other types. */
  sequence: number;
  /** Packet Too Big (type 2) MTU; 0 for other types. */
  mtu: number;
  /** Parameter Problem (type 4) pointer; 0 for other types. */
  pointer: number;
}

/** Result of {@link parseIcmpv6}. */
export type Icmpv6ParseResult =
  | ({ ok: true } & Icmpv6Message)
  | { ok: false; reason: Icmpv6Reason };

/**
 * Parse an ICMPv6 message (the upper-layer bytes, starting at the type byte). With a
 * `pseudoSum` (from `ipv6PseudoHeaderSum(..., bytes.length, IP_PROTO.ICMPV6)`) the checksum is
 * verified; pass `null` to skip verification explicitly. Error messages must quote at least a
 * 40-byte IPv6 header. Allocates the result; never throws.
 */
export function parseIcmpv6(bytes: Uint8Array, pseudoSum: number | null): Icmpv6ParseResult {
  if (bytes.length < ICMPV6_HEADER_LENGTH) return { ok: false, reason: "truncated" };
  if (pseudoSum !== null && internetChecksum(bytes, 0, bytes.length, pseudoSum) !== 0) {
    return { ok: false, reason: "bad-checksum" };
  }
  const type = bytes[0];
  const rest = ((bytes[4] << 24) | (bytes[5] << 16) | (bytes[6] << 8) | bytes[7]) >>> 0;
  const body = bytes.subarray(ICMPV6_HEADER_LENGTH);
  let original: Uint8Array | null = null;
  if (isIcmpv6Error(type)) {
    if (body.length < IPV6_HEADER_LENGTH || body[0] >> 4 !== 6) {
      return { ok: false, reason: "bad-quote" };
    }
    original = body;
  }
  const echo = type === 128 || type === 129;
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
    mtu: type === 2 ? rest : 0,
    pointer: type === 4 ? rest : 0,
  };
}

/** Result of {@link parseIcmpv6Packet}. */
export type Icmpv6PacketParseResult =
  | ({
    ok: true;
    /** IPv6 source of the message (16-byte view). */
    src: Uint8Array;
    /** IPv6 destination of the message (16-byte view). */
    dst: Uint8Array;
    /** Hop limit of the carrying packet. */
    hopLimit: number;
  } & Icmpv6Message)
  | { ok: false; reason: Icmpv6PacketReason };

/**
 * Parse a whole IPv6 packet that carries ICMPv6: walk the extension headers, refuse fragments
 * (reassemble first) and other protocols, and verify the checksum with the pseudo-header.
 * Allocates the result; never throws.
 */
export function parseIcmpv6Packet(packet: Uint8Array): Icmpv6PacketParseResult {
  const w = new Ipv6Walk();
  const why = walkIpv6(packet, 0, packet.length, w);
  if (why !== null) return { ok: false, reason: why };
  if (w.isFragment()) return { ok: false, reason: "fragment" };
  if (w.protocol !== IP_PROTO.ICMPV6) return { ok: false, reason: "not-icmpv6" };
  const len = w.end - w.offset;
  const sum = ipv6PseudoHeaderSum(packet, 8, packet, 24, len, IP_PROTO.ICMPV6);
  const m = parseIcmpv6(packet.subarray(w.offset, w.end), sum);
  if (!m.ok) return m;
  return {
    ...m,
    src: packet.subarray(8, 24),
    dst: packet.subarray(24, 40),
    hopLimit: packet[7],
  };
}

const scratchWalk = new Ipv6Walk();
const QUOTED = { quoted: true } as const;

/**
 * Whether RFC 4443 §2.4(e) allows sending an ICMPv6 error of `type`/`code` about `original` (an
 * IPv6 packet, possibly truncated). False for: something that is not an IPv6 header or whose
 * header chain cannot be walked; an ICMPv6 error message or Redirect; a multicast destination
 * (except for Packet Too Big and Parameter Problem code 2); an unspecified (::) or multicast
 * source. Link-layer multicast and anycast sources cannot be seen here and are the caller's.
 * Does not allocate.
 */
export function icmpv6ErrorAllowed(original: Uint8Array, type: number, code: number): boolean {
  if (walkIpv6(original, 0, original.length, scratchWalk, QUOTED) !== null) return false;
  if (original[8] === 0xff) return false;
  let zero = true;
  for (let i = 8; i < 24; i++) {
    if (original[i] !== 0) {
      zero = false;
      break;
    }
  }
  if (zero) return false;
  if (original[24] === 0xff && !(type === 2 || (type === 4 && code === 2))) return false;
  if (scratchWalk.protocol === IP_PROTO.ICMPV6 && scratchWalk.fragmentOffset === 0) {
    if (scratchWalk.offset >= scratchWalk.end) return false;
    const t = original[scratchWalk.offset];
    if (isIcmpv6Error(t) || t === ICMPV6_TYPE.REDIRECT) return false;
  }
  return true;
}

/** What {@link writeIcmpv6Error} builds. Reuse one object to avoid allocating per packet. */
export interface Icmpv6ErrorSpec {
  /** Source address of the error (16 bytes): an address of the sending node. */
  src: Uint8Array;
  /** ICMPv6 type (see {@link ICMPV6_TYPE}). */
  type: number;
  /** ICMPv6 code. */
  code: number;
  /** Bytes 4..7 of the header (MTU for type 2, pointer for type 4); default 0. */
  rest?: number;
  /** Hop limit; default {@link ICMPV6_DEFAULT_HOP_LIMIT}. */
  hopLimit?: number;
  /** Traffic class; default 0. */
  trafficClass?: number;
  /** Flow label; default 0. */
  flowLabel?: number;
  /** Largest packet to build; default {@link ICMPV6_MAX_ERROR_LENGTH}. */
  maxLength?: number;
}

function writeU32(out: Uint8Array, off: number, v: number): void {
  out[off] = v >>> 24;
  out[off + 1] = (v >>> 16) & 0xff;
  out[off + 2] = (v >>> 8) & 0xff;
  out[off + 3] = v & 0xff;
}

/** Store the ICMPv6 checksum of the message at `out[off + 40]` (`len` bytes). */
function fillChecksum(out: Uint8Array, off: number, len: number): void {
  const m = off + IPV6_HEADER_LENGTH;
  out[m + 2] = 0;
  out[m + 3] = 0;
  const sum = ipv6PseudoHeaderSum(out, off + 8, out, off + 24, len, IP_PROTO.ICMPV6);
  const c = internetChecksum(out, m, len, sum);
  out[m + 2] = c >> 8;
  out[m + 3] = c & 0xff;
}

function emitError(
  src: Uint8Array,
  type: number,
  code: number,
  rest: number,
  hopLimit: number,
  trafficClass: number,
  flowLabel: number,
  maxLength: number,
  original: Uint8Array,
  out: Uint8Array,
  off: number,
): number {
  if (
    src.length !== 16 || !isUint(type, 0xff) || !isUint(code, 0xff) ||
    !isUint(rest, 0xffffffff) || !isUint(hopLimit, 0xff) || !isUint(trafficClass, 0xff) ||
    !isUint(flowLabel, 0xfffff) || !isUint(off, out.length) || !(maxLength >= 0)
  ) {
    return 0;
  }
  if (original.length < IPV6_HEADER_LENGTH || original[0] >> 4 !== 6) return 0;
  const extent = Math.min(
    IPV6_HEADER_LENGTH + ((original[4] << 8) | original[5]),
    original.length,
  );
  const overhead = IPV6_HEADER_LENGTH + ICMPV6_HEADER_LENGTH;
  const room = Math.min(maxLength, out.length - off, 0xffff + IPV6_HEADER_LENGTH) - overhead;
  const quote = Math.min(extent, room);
  if (quote < Math.min(extent, IPV6_HEADER_LENGTH + 8)) return 0;
  const len = ICMPV6_HEADER_LENGTH + quote;
  const m = off + IPV6_HEADER_LENGTH;
  // Quote first: `original` may share memory with `out` (building the error in place). The
  // destination is then read from the quoted copy's source address.
  copyBytes(original, 0, out, m + ICMPV6_HEADER_LENGTH, quote);
  writeIpv6HeaderUnchecked(out, off, trafficClass, flowLabel, len, IP_PROTO.ICMPV6, hopLimit);
  copy16(src, 0, out, off + 8);
  copy16(out, m + ICMPV6_HEADER_LENGTH + 8, out, off + 24);
  out[m] = type;
  out[m + 1] = code;
  writeU32(out, m + 4, rest);
  fillChecksum(out, off, len);
  return IPV6_HEADER_LENGTH + len;
}

/**
 * Write at `out[off]` a complete IPv6 packet carrying the ICMPv6 error `spec` about `original`
 * (the offending IPv6 packet as received, starting at its header), sent from `spec.src` to the
 * original source. Returns the packet length, or 0 when `original` does not start with an IPv6
 * header, a field is out of range, or `out` cannot hold the original's first 48 bytes. Does not
 * allocate.
 */
export function writeIcmpv6Error(
  spec: Icmpv6ErrorSpec,
  original: Uint8Array,
  out: Uint8Array,
  off = 0,
): number {
  return emitError(
    spec.src,
    spec.type,
    spec.code,
    spec.rest ?? 0,
    spec.hopLimit ?? ICMPV6_DEFAULT_HOP_LIMIT,
    spec.trafficClass ?? 0,
    spec.flowLabel ?? 0,
    spec.maxLength ?? ICMPV6_MAX_ERROR_LENGTH,
    original,
    out,
    off,
  );
}

/**
 * Write a Destination Unreachable (type 1) packet with `code` from `src` about `original`; the
 * TEP's binding-check failure uses code 5, {@link ICMPV6_UNREACH}`.SOURCE_POLICY_FAILED`
 * (brief §4.4). Returns the length or 0.
 */
export function writeIcmpv6DestUnreachable(
  src: Uint8Array,
  code: number,
  original: Uint8Array,
  out: Uint8Array,
  off = 0,
): number {
  return emitError(
    src,
    1,
    code,
    0,
    ICMPV6_DEFAULT_HOP_LIMIT,
    0,
    0,
    ICMPV6_MAX_ERROR_LENGTH,
    original,
    out,
    off,
  );
}

/**
 * Write a Packet Too Big (type 2) packet carrying `mtu` from `src` about `original`. Returns the
 * length or 0.
 */
export function writeIcmpv6PacketTooBig(
  src: Uint8Array,
  mtu: number,
  original: Uint8Array,
  out: Uint8Array,
  off = 0,
): number {
  return emitError(
    src,
    2,
    0,
    mtu,
    ICMPV6_DEFAULT_HOP_LIMIT,
    0,
    0,
    ICMPV6_MAX_ERROR_LENGTH,
    original,
    out,
    off,
  );
}

/**
 * Write a Time Exceeded (type 3) packet with `code` from `src` about `original`. Returns the
 * length or 0.
 */
export function writeIcmpv6TimeExceeded(
  src: Uint8Array,
  code: number,
  original: Uint8Array,
  out: Uint8Array,
  off = 0,
): number {
  return emitError(
    src,
    3,
    code,
    0,
    ICMPV6_DEFAULT_HOP_LIMIT,
    0,
    0,
    ICMPV6_MAX_ERROR_LENGTH,
    original,
    out,
    off,
  );
}

/**
 * Write a Parameter Problem (type 4) packet with `code` and `pointer` (byte offset of the error
 * in `original`) from `src`. A tunnel-encapsulation-limit of 0 is reported with code 0 and the
 * pointer at the limit byte (RFC 2473 §4.1.1, brief §4.1). Returns the length or 0.
 */
export function writeIcmpv6ParameterProblem(
  src: Uint8Array,
  code: number,
  pointer: number,
  original: Uint8Array,
  out: Uint8Array,
  off = 0,
): number {
  return emitError(
    src,
    4,
    code,
    pointer,
    ICMPV6_DEFAULT_HOP_LIMIT,
    0,
    0,
    ICMPV6_MAX_ERROR_LENGTH,
    original,
    out,
    off,
  );
}

/** What {@link writeIcmpv6Echo} builds. */
export interface Icmpv6EchoSpec {
  /** Echo Reply (129) when true, Echo Request (128) when false. */
  reply: boolean;
  /** Identifier. */
  identifier: number;
  /** Sequence number. */
  sequence: number;
  /** Data to carry (for a reply: the request's data). */
  data: Uint8Array;
  /** IPv6 source (16 bytes). */
  src: Uint8Array;
  /** IPv6 destination (16 bytes). */
  dst: Uint8Array;
  /** Hop limit; default {@link ICMPV6_DEFAULT_HOP_LIMIT}. */
  hopLimit?: number;
  /** Traffic class; default 0. */
  trafficClass?: number;
  /** Flow label; default 0. */
  flowLabel?: number;
}

/**
 * Write at `out[off]` a complete IPv6 packet carrying an ICMPv6 Echo Request or Reply. Returns
 * the packet length, or 0 when a field is out of range or the packet does not fit. `data` may
 * share memory with `out` (answering a request in place); `src` and `dst` must not overlap the
 * area written.
 */
export function writeIcmpv6Echo(spec: Icmpv6EchoSpec, out: Uint8Array, off = 0): number {
  const hopLimit = spec.hopLimit ?? ICMPV6_DEFAULT_HOP_LIMIT;
  const tc = spec.trafficClass ?? 0;
  const flow = spec.flowLabel ?? 0;
  const len = ICMPV6_HEADER_LENGTH + spec.data.length;
  if (
    !isUint(spec.identifier, 0xffff) || !isUint(spec.sequence, 0xffff) ||
    spec.src.length !== 16 || spec.dst.length !== 16 || !isUint(hopLimit, 0xff) ||
    !isUint(tc, 0xff) || !isUint(flow, 0xfffff) || len > 0xffff || !isUint(off, out.length) ||
    out.length - off < IPV6_HEADER_LENGTH + len
  ) {
    return 0;
  }
  const m = off + IPV6_HEADER_LENGTH;
  copyBytes(spec.data, 0, out, m + ICMPV6_HEADER_LENGTH, spec.data.length);
  writeIpv6HeaderUnchecked(out, off, tc, flow, len, IP_PROTO.ICMPV6, hopLimit);
  copy16(spec.src, 0, out, off + 8);
  copy16(spec.dst, 0, out, off + 24);
  out[m] = spec.reply ? 129 : 128;
  out[m + 1] = 0;
  out[m + 4] = spec.identifier >> 8;
  out[m + 5] = spec.identifier & 0xff;
  out[m + 6] = spec.sequence >> 8;
  out[m + 7] = spec.sequence & 0xff;
  fillChecksum(out, off, len);
  return IPV6_HEADER_LENGTH + len;
}
