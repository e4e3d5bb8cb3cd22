/**
 * A TUN whose every read and write starts with a `struct virtio_net_hdr` (`IFF_VNET_HDR`,
 * `linux/if_tun.h`, `linux/virtio_net.h`): 10 bytes that let a write hand the kernel one large
 * TCP segment (GSO, the kernel's receive path takes it as one packet, as after GRO) and say
 * which checksum is still to be completed. Without `TUNSETOFFLOAD` the kernel sends nothing but
 * whole, checksummed packets to the reader (the header of a read is all zero, except where a
 * checksum is left partial: {@link VNET.F_NEEDS_CSUM}).
 *
 * Where the kernel refuses the flag, {@link openVnetTun} opens a plain TUN ({@link openTun}) and
 * says so (`vnetHeader: false`).
 *
 * @module
 */
import { type Libc, libc } from "./libc.ts";
import { SysError } from "./sys_error.ts";
import { openTun, TUN, type TunHandle, type TunOptions } from "./tun.ts";
import { Errno } from "./errno.ts";

/** virtio_net_hdr values (`linux/virtio_net.h`) and the TUN flag that enables it. */
export const VNET = {
  /** TUNSETIFF flag. */
  IFF_VNET_HDR: TUN.IFF_VNET_HDR,
  /** sizeof(struct virtio_net_hdr): flags, gso_type, hdr_len, gso_size, csum_start, csum_offset. */
  HDR_LEN: 10,
  /** flags: complete the checksum from csum_start, store it at csum_start + csum_offset. */
  F_NEEDS_CSUM: 1,
  /** flags: the checksum has been verified. */
  F_DATA_VALID: 2,
  GSO_NONE: 0,
  GSO_TCPV4: 1,
  GSO_TCPV6: 4,
  /** gso_type bit: the segments carry ECN CWR. */
  GSO_ECN: 0x80,
} as const;

/** An open TUN queue, with or without the virtio header. */
export interface VnetTunHandle extends TunHandle {
  /** True: every read and write starts with {@link VNET.HDR_LEN} header bytes. */
  readonly vnetHeader: boolean;
}

/**
 * Open `/dev/net/tun` with `IFF_VNET_HDR` (as {@link openTun} does otherwise); falls back to a
 * plain TUN when the kernel refuses the flag. Throws {@link SysError}.
 */
export function openVnetTun(options: TunOptions = {}, c: Libc = libc()): VnetTunHandle {
  try {
    return { ...openTun({ ...options, vnetHeader: true }, c), vnetHeader: true };
  } catch (e) {
    if (e instanceof SysError && e.errno === Errno.EINVAL) {
      return { ...openTun({ ...options, vnetHeader: false }, c), vnetHeader: false };
    }
    throw e;
  }
}
