/**
 * The packet behind the `struct virtio_net_hdr` (10 bytes, host order) that starts every read
 * from a TUN opened with `IFF_VNET_HDR`.
 *
 * @module
 */
import { internetChecksum } from "../inet/checksum.ts";

/** sizeof(struct virtio_net_hdr). */
export const VNET_HEADER_LENGTH = 10;
const F_NEEDS_CSUM = 1;
const GSO_NONE = 0;

/**
 * The length of the packet behind the virtio header of a TUN read of `len` bytes at `buf[off]`
 * (the packet starts at `off + VNET_HEADER_LENGTH`), after completing a checksum the kernel left
 * partial (`VIRTIO_NET_HDR_F_NEEDS_CSUM`: the field holds the pseudo-header sum; the sum from
 * `csum_start` to the end is folded into it). 0 for what cannot be taken as one packet: a read
 * shorter than the header, a GSO packet, a checksum position outside the packet. Host
 * (little-endian) header fields. Never throws on contents; allocates nothing.
 */
export function readVnetPacket(buf: Uint8Array, off: number, len: number): number {
  const n = len - VNET_HEADER_LENGTH;
  if (n <= 0 || off < 0 || off + len > buf.length) return 0;
  if (buf[off + 1] !== GSO_NONE) return 0;
  if ((buf[off] & F_NEEDS_CSUM) !== 0) {
    const start = buf[off + 6] | (buf[off + 7] << 8);
    const at = start + (buf[off + 8] | (buf[off + 9] << 8));
    if (at + 2 > n) return 0;
    const p = off + VNET_HEADER_LENGTH;
    const sum = internetChecksum(buf, p + start, n - start);
    buf[p + at] = sum >> 8;
    buf[p + at + 1] = sum & 0xff;
  }
  return n;
}
