/**
 * The 8-byte TSP-over-UDP header (protocol brief §2.9, §8.4; TSP -04 §3):
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-------+-------------------------------------------------------+
 * |  0xF  |              Sequence Number (28 bits)                |
 * +-------+-------------------------------------------------------+
 * |                       Timestamp (32 bits)                     |
 * +---------------------------------------------------------------+
 * |  TSP data (same bytes as over TCP) ...
 * ```
 *
 * The 0xF nibble tells signalling from tunnelled IPv6 (nibble 6) on a shared socket. The server
 * echoes both fields unchanged; a retransmission reuses the sequence number.
 *
 * @module
 */

/** Spec constants (TSP -04 §3). */
export const UDP_HEADER = Object.freeze({
  /** Header length in bytes. */
  LENGTH: 8,
  /** The signalling marker in the top 4 bits. */
  SIGNAL_NIBBLE: 0xf,
  /** Mask of the 28-bit sequence number. */
  SEQUENCE_MASK: 0x0fffffff,
  /** The IANA port for TSP over TCP and UDP. */
  PORT: 3653,
});

/** The header fields. */
export interface UdpHeader {
  /** 28-bit sequence number. */
  readonly sequence: number;
  /** 32-bit timestamp, opaque to the server. */
  readonly timestamp: number;
}

/** Why {@link parseUdpDatagram} refused a datagram. */
export type UdpHeaderReason = "truncated" | "not-signal";

/** Result of {@link parseUdpDatagram}: the header and the payload as a view (no copy). */
export type UdpDatagramResult =
  | { readonly ok: true; readonly header: UdpHeader; readonly payload: Uint8Array }
  | { readonly ok: false; readonly reason: UdpHeaderReason };

/** True when `bytes` starts with the 0xF signalling nibble (and is long enough for a header). */
export function isTspSignal(bytes: Uint8Array): boolean {
  return bytes.length >= UDP_HEADER.LENGTH && bytes[0] >> 4 === UDP_HEADER.SIGNAL_NIBBLE;
}

/** Parse a datagram: header fields and a `subarray` view of the TSP data. Never throws. */
export function parseUdpDatagram(bytes: Uint8Array): UdpDatagramResult {
  if (!(bytes instanceof Uint8Array) || bytes.length < UDP_HEADER.LENGTH) {
    return { ok: false, reason: "truncated" };
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const first = dv.getUint32(0);
  if (first >>> 28 !== UDP_HEADER.SIGNAL_NIBBLE) return { ok: false, reason: "not-signal" };
  return {
    ok: true,
    header: { sequence: first & UDP_HEADER.SEQUENCE_MASK, timestamp: dv.getUint32(4) },
    payload: bytes.subarray(UDP_HEADER.LENGTH),
  };
}

/**
 * Write the header into `out` at `offset`; returns 8, or 0 when it does not fit. The sequence is
 * taken modulo 2^28 and the timestamp modulo 2^32.
 */
export function writeUdpHeader(h: UdpHeader, out: Uint8Array, offset = 0): number {
  if (offset < 0 || offset + UDP_HEADER.LENGTH > out.length) return 0;
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  dv.setUint32(
    offset,
    ((UDP_HEADER.SIGNAL_NIBBLE << 28) | (h.sequence & UDP_HEADER.SEQUENCE_MASK)) >>> 0,
  );
  dv.setUint32(offset + 4, h.timestamp >>> 0);
  return UDP_HEADER.LENGTH;
}

/** A fresh datagram: the header followed by `payload`. */
export function encodeUdpDatagram(h: UdpHeader, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(UDP_HEADER.LENGTH + payload.length);
  writeUdpHeader(h, out, 0);
  out.set(payload, UDP_HEADER.LENGTH);
  return out;
}

/** The next sequence number (modulo 2^28). */
export function nextSequence(seq: number): number {
  return (seq + 1) & UDP_HEADER.SEQUENCE_MASK;
}

/**
 * Serial-number comparison on the 28-bit space (RFC 1982 style): positive when `a` is after `b`,
 * negative when before, 0 when equal.
 */
export function compareSequence(a: number, b: number): number {
  const d = (a - b) & UDP_HEADER.SEQUENCE_MASK;
  if (d === 0) return 0;
  return d < 0x08000000 ? 1 : -1;
}
