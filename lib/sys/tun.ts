/**
 * Create or attach a TUN device (`/dev/net/tun`, ioctl TUNSETIFF with `IFF_TUN | IFF_NO_PI`,
 * `linux/if_tun.h`): every read returns one whole IP packet (IPv4 or IPv6, no extra header) and
 * every write injects one. Configure the link (MTU, up, addresses, routes) with rtnetlink.
 * Opening the name of an existing persistent TUN attaches to it; otherwise the device lives as
 * long as its fd.
 *
 * @module
 */

import { Errno } from "./errno.ts";
import { cString, type Libc, libc } from "./libc.ts";
import { HOST_LE, LINUX } from "./linux_constants.ts";
import { checkIfName } from "./netlink_spec.ts";
import { SysError } from "./sys_error.ts";

/** TUN ioctl and flag values (`linux/if_tun.h`). */
export const TUN = {
  /** _IOW('T', 202, int) */
  TUNSETIFF: 0x400454ca,
  IFF_TUN: 0x0001,
  IFF_NO_PI: 0x1000,
  IFF_MULTI_QUEUE: 0x0100,
  /** Every read and write starts with a `struct virtio_net_hdr` (see `tun_vnet.ts`). */
  IFF_VNET_HDR: 0x4000,
  /** _IOR('T', 210, unsigned int) */
  TUNGETIFF: 0x800454d2,
  /** linux/sockios.h */
  SIOCSIFTXQLEN: 0x8943,
  /** sizeof(struct ifreq) */
  IFREQ_LEN: 40,
} as const;

/** How to open a TUN. */
export interface TunOptions {
  /** Interface name (at most 15 bytes), or a `%d` pattern; default `"tun%d"` (kernel picks). */
  name?: string;
  /** IFF_MULTI_QUEUE: several fds (queues) on one device. Default false. */
  multiQueue?: boolean;
  /** O_NONBLOCK on the fd. Default true (the loops read until EAGAIN, then poll). */
  nonBlocking?: boolean;
  /** IFF_VNET_HDR: a virtio header before every packet. Default false (see `tun_vnet.ts`). */
  vnetHeader?: boolean;
}

/** An open TUN queue: its fd and the kernel's name for the device. */
export interface TunHandle {
  /** The file descriptor: read and write whole packets on it. */
  readonly fd: number;
  /** Interface name, e.g. `"tun0"`. */
  readonly name: string;
  /** Close the fd (a non-persistent TUN disappears with its last fd). Idempotent. */
  close(): void;
}

/** Open `/dev/net/tun` and create or attach the device; throws {@link SysError}. */
export function openTun(options: TunOptions = {}, c: Libc = libc()): TunHandle {
  const name = options.name ?? "tun%d";
  checkIfName(name.replace("%d", "0"));
  const op = `open TUN ${name}`;
  let flags = LINUX.O_RDWR | LINUX.O_CLOEXEC;
  if (options.nonBlocking ?? true) flags |= LINUX.O_NONBLOCK;
  const fd = c.open(cString("/dev/net/tun"), flags);
  if (fd < 0) {
    const e = c.errno();
    throw new SysError(op, e, e === Errno.ENOENT ? "/dev/net/tun is missing" : undefined);
  }
  const ifr = new Uint8Array(TUN.IFREQ_LEN);
  ifr.set(new TextEncoder().encode(name));
  let ifFlags = TUN.IFF_TUN | TUN.IFF_NO_PI;
  if (options.multiQueue) ifFlags |= TUN.IFF_MULTI_QUEUE;
  if (options.vnetHeader) ifFlags |= TUN.IFF_VNET_HDR;
  new DataView(ifr.buffer).setUint16(16, ifFlags, HOST_LE);
  if (c.ioctl(fd, TUN.TUNSETIFF, ifr) < 0) {
    const e = c.errno();
    c.close(fd);
    throw new SysError(op, e, e === Errno.EBUSY ? "the device is attached elsewhere" : undefined);
  }
  const nul = ifr.indexOf(0);
  const actual = new TextDecoder().decode(ifr.subarray(0, nul < 0 ? 16 : Math.min(nul, 16)));
  let open = true;
  return {
    fd,
    name: actual,
    close() {
      if (open) c.close(fd);
      open = false;
    },
  };
}

/**
 * Set the transmit queue length of the TUN behind `fd` (`ip link set DEV txqueuelen N`): how
 * many packets the kernel holds for the reader before it drops (the default is 500, a few
 * milliseconds at the rates a user-space forwarder reaches, less than one scheduling hiccup).
 * Returns 0, or the errno (EPERM without CAP_NET_ADMIN).
 */
export function setTunQueueLength(fd: number, length: number, c: Libc = libc()): number {
  if (!Number.isInteger(length) || length < 1 || length > 0x7fffffff) {
    throw new RangeError(`Cannot set TUN queue length: ${length} is not a positive integer`);
  }
  const ifr = new Uint8Array(TUN.IFREQ_LEN);
  if (c.ioctl(fd, TUN.TUNGETIFF, ifr) < 0) return c.errno();
  ifr.fill(0, 16);
  new DataView(ifr.buffer).setInt32(16, length, HOST_LE);
  const s = c.socket(LINUX.AF_INET, LINUX.SOCK_DGRAM | LINUX.SOCK_CLOEXEC, 0);
  if (s < 0) return c.errno();
  const r = c.ioctl(s, TUN.SIOCSIFTXQLEN, ifr);
  const e = r < 0 ? c.errno() : 0;
  c.close(s);
  return e;
}
