/**
 * Linux system-call constants used by the sys layer (generic ABI values, the same on x86-64
 * and arm64), from the UAPI/glibc headers named on each group.
 *
 * @module
 */

/** Flags, options and numbers for open/fcntl/poll/socket calls. */
export const LINUX = {
  // asm-generic/fcntl.h
  O_RDWR: 0o2,
  O_NONBLOCK: 0o4000,
  O_CLOEXEC: 0o2000000,
  F_GETFL: 3,
  F_SETFL: 4,
  // asm-generic/poll.h
  POLLIN: 0x1,
  POLLOUT: 0x4,
  POLLERR: 0x8,
  POLLHUP: 0x10,
  POLLNVAL: 0x20,
  // linux/socket.h, linux/net.h
  AF_INET: 2,
  AF_INET6: 10,
  SOCK_DGRAM: 2,
  SOCK_RAW: 3,
  SOCK_NONBLOCK: 0o4000,
  SOCK_CLOEXEC: 0o2000000,
  MSG_TRUNC: 0x20,
  MSG_DONTWAIT: 0x40,
  // asm-generic/socket.h
  SOL_SOCKET: 1,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SO_RCVTIMEO: 20,
  SO_BINDTODEVICE: 25,
  // linux/in.h, linux/in6.h
  IPPROTO_IPIP: 4,
  IPPROTO_UDP: 17,
  IPPROTO_IPV6: 41,
  IPPROTO_ICMPV6: 58,
  IPV6_UNICAST_HOPS: 16,
  IPV6_MTU_DISCOVER: 23,
  IPV6_RECVERR: 25,
  IPV6_PMTUDISC_DONT: 0,
  IPV6_PMTUDISC_WANT: 1,
  IPV6_PMTUDISC_DO: 2,
  IPV6_PMTUDISC_PROBE: 3,
  // linux/icmpv6.h
  ICMP6_FILTER: 1,
  // linux/eventfd.h
  EFD_NONBLOCK: 0o4000,
  EFD_CLOEXEC: 0o2000000,
} as const;

/** True on little-endian hosts: kernel structs and netlink use host byte order. */
export const HOST_LE: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
