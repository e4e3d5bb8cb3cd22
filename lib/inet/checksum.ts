/**
 * The Internet checksum (RFC 1071): the 16-bit ones' complement of the ones' complement sum of
 * 16-bit big-endian words, plus the incremental update of RFC 1624 and the IPv4 / IPv6
 * pseudo-header sums used by ICMPv6, UDP and TCP.
 *
 * Sums are passed around *folded* (an integer in 0..0xffff, not yet complemented), so the
 * result of one function can be the `initial` of the next:
 *
 * ```ts
 * const pseudo = ipv6PseudoHeaderSum(pkt, 8, pkt, 24, icmpLen, IP_PROTO.ICMPV6);
 * const ok = internetChecksum(pkt, 40, icmpLen, pseudo) === 0;
 * ```
 *
 * Nothing here allocates. Range arguments are trusted only after a cheap bounds check; a range
 * outside the buffer is a programmer error and throws `RangeError`.
 *
 * @module
 */

/** Fold a non-negative integer sum (up to 2^53) into 16 bits with end-around carry. */
export function foldSum(sum: number): number {
  while (sum > 0xffff) {
    const lo = sum & 0xffff; // exact: ToInt32 keeps the low 32 bits of an integer
    sum = lo + (sum - lo) / 65536;
  }
  return sum;
}

function checkRange(buf: Uint8Array, off: number, len: number): void {
  if (!(off >= 0 && len >= 0 && off + len <= buf.length)) {
    throw new RangeError(
      `Cannot sum bytes: range ${off}+${len} is outside a buffer of ${buf.length} bytes`,
    );
  }
}

/**
 * Ones' complement sum (RFC 1071 §4.1), folded to 16 bits, of `len` bytes of `buf` from `off`,
 * added to `initial`. An odd final byte is padded with a zero byte on the right. When chaining
 * several ranges through `initial`, all but the last must have an even length.
 */
export function onesSum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  checkRange(buf, off, len);
  let sum = initial;
  const even = off + (len & ~1);
  let i = off;
  // Four words per iteration; the sum stays far below 2^53 for any Uint8Array.
  for (const end8 = off + (len & ~7); i < end8; i += 8) {
    sum += ((buf[i] << 8) | buf[i + 1]) + ((buf[i + 2] << 8) | buf[i + 3]) +
      ((buf[i + 4] << 8) | buf[i + 5]) + ((buf[i + 6] << 8) | buf[i + 7]);
  }
  for (; i < even; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (len & 1) sum += buf[even] << 8;
  return foldSum(sum);
}

/**
 * Internet checksum (RFC 1071) of `len` bytes of `buf` from `off`, starting from the folded sum
 * `initial` (for example a pseudo-header sum). Returns the 16-bit value to store in a checksum
 * field; over a range that already holds a correct checksum it returns 0.
 */
export function internetChecksum(buf: Uint8Array, off: number, len: number, initial = 0): number {
  return ~onesSum(buf, off, len, initial) & 0xffff;
}

/**
 * Incremental checksum update (RFC 1624 §3, eqn. 3: `HC' = ~(~HC + ~m + m')`) when one 16-bit
 * word of the covered data changes from `oldWord` to `newWord`. Returns the new checksum field.
 */
export function updateChecksum16(checksum: number, oldWord: number, newWord: number): number {
  return ~foldSum((~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff)) & 0xffff;
}

/**
 * Folded sum of the IPv4 pseudo-header (RFC 768 / RFC 9293 §3.1): source and destination
 * addresses (as unsigned 32-bit integers), zero, protocol and the upper-layer length.
 */
export function ipv4PseudoHeaderSum(
  src: number,
  dst: number,
  protocol: number,
  length: number,
): number {
  return foldSum(
    (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + (protocol & 0xff) +
      (length & 0xffff),
  );
}

/**
 * Folded sum of the IPv6 pseudo-header (RFC 8200 §8.1): the 16-byte source at `src[srcOff]`, the
 * 16-byte destination at `dst[dstOff]`, the 32-bit upper-layer packet length and the next header.
 * Source and destination may live in different buffers.
 */
export function ipv6PseudoHeaderSum(
  src: Uint8Array,
  srcOff: number,
  dst: Uint8Array,
  dstOff: number,
  length: number,
  nextHeader: number,
): number {
  const head = (length >>> 16) + (length & 0xffff) + (nextHeader & 0xff);
  return onesSum(dst, dstOff, 16, onesSum(src, srcOff, 16, head));
}
