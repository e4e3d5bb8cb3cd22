/**
 * Answer ICMP echo requests in place (test probes only): an IPv4 ICMP Echo Request (type 8,
 * RFC 792) or an ICMPv6 Echo Request (type 128, RFC 4443 §4.1) becomes the matching reply with
 * source and destination swapped and the checksum updated incrementally (RFC 1624).
 */

function swap(b: Uint8Array, a: number, c: number, len: number): void {
  for (let i = 0; i < len; i++) {
    const t = b[a + i];
    b[a + i] = b[c + i];
    b[c + i] = t;
  }
}

/** RFC 1624 eqn. 3: checksum after one 16-bit word changes from `m` to `m2`. */
function csumUpdate(hc: number, m: number, m2: number): number {
  let s = (~hc & 0xffff) + (~m & 0xffff) + m2;
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Turn the echo request in `b[0..n)` into its reply; false if it is not one. */
export function answerEcho(b: Uint8Array, n: number): boolean {
  const version = b[0] >> 4;
  if (version === 4 && n >= 28) {
    const ihl = (b[0] & 0x0f) * 4;
    if (b[9] !== 1 || n < ihl + 8 || b[ihl] !== 8) return false;
    swap(b, 12, 16, 4);
    const cs = (b[ihl + 2] << 8) | b[ihl + 3];
    const next = csumUpdate(cs, 0x0800 | b[ihl + 1], 0x0000 | b[ihl + 1]);
    b[ihl] = 0;
    b[ihl + 2] = next >> 8;
    b[ihl + 3] = next & 0xff;
    return true;
  }
  if (version === 6 && n >= 48) {
    if (b[6] !== 58 || b[40] !== 128) return false;
    swap(b, 8, 24, 16);
    const cs = (b[42] << 8) | b[43];
    const next = csumUpdate(cs, (128 << 8) | b[41], (129 << 8) | b[41]);
    b[40] = 129;
    b[42] = next >> 8;
    b[43] = next & 0xff;
    return true;
  }
  return false;
}
