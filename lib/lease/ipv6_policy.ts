/**
 * Which client IPv6 addresses may hold a lease.
 *
 * @module
 */

/**
 * True when `addr` (16 bytes at `off`) may hold a DSTM lease: a unicast address that can be
 * reached later, so not `::`, `::1`, an IPv4-mapped `::ffff:0:0/96` address, a link-local
 * `fe80::/10` address or a multicast `ff00::/8` address (protocol.md §1.3: the client talks from
 * its global IPv6 address). Anything else gets `309 Invalid IPv6 address`.
 * Throws `TypeError` when fewer than 16 bytes are available.
 */
export function isLeaseableIpv6(addr: Uint8Array, off = 0): boolean {
  if (off < 0 || addr.length - off < 16) {
    throw new TypeError("Cannot check IPv6 address: need 16 bytes");
  }
  const b0 = addr[off];
  if (b0 === 0xff) return false; // multicast
  if (b0 === 0xfe && (addr[off + 1] & 0xc0) === 0x80) return false; // link-local
  if (b0 !== 0) return true;
  let zeros = true;
  for (let i = 1; i < 10; i++) {
    if (addr[off + i] !== 0) {
      zeros = false;
      break;
    }
  }
  if (!zeros) return true;
  // first 10 bytes are zero
  if (addr[off + 10] === 0xff && addr[off + 11] === 0xff) return false; // ::ffff:0:0/96
  if (addr[off + 10] !== 0 || addr[off + 11] !== 0) return true;
  let rest = 0;
  for (let i = 12; i < 15; i++) rest |= addr[off + i];
  if (rest === 0 && addr[off + 15] <= 1) return false; // :: and ::1
  return true;
}
