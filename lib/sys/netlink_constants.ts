/**
 * Spec constants of netlink and rtnetlink, from the Linux UAPI headers named on each group.
 * Implementation constants (buffer sizes, timeouts) live with the code that uses them.
 *
 * @module
 */

/** Netlink wire constants (`linux/netlink.h`, `linux/rtnetlink.h`, `linux/if_*.h`). */
export const NL = {
  // linux/socket.h, linux/netlink.h
  AF_NETLINK: 16,
  NETLINK_ROUTE: 0,
  SOL_NETLINK: 270,
  NETLINK_EXT_ACK: 11,
  NETLINK_CAP_ACK: 10,
  NETLINK_GET_STRICT_CHK: 12,

  /** sizeof(struct nlmsghdr) */
  HDRLEN: 16,
  /** NLMSG_ALIGNTO / RTA_ALIGNTO */
  ALIGNTO: 4,

  // nlmsg_type values below RTM_BASE
  NLMSG_NOOP: 1,
  NLMSG_ERROR: 2,
  NLMSG_DONE: 3,
  NLMSG_OVERRUN: 4,

  // nlmsg_flags
  F_REQUEST: 0x01,
  F_MULTI: 0x02,
  F_ACK: 0x04,
  F_ECHO: 0x08,
  F_DUMP_INTR: 0x10,
  F_ROOT: 0x100,
  F_MATCH: 0x200,
  F_DUMP: 0x300,
  F_REPLACE: 0x100,
  F_EXCL: 0x200,
  F_CREATE: 0x400,
  F_APPEND: 0x800,
  // flags of an NLMSG_ERROR acknowledgement
  F_CAPPED: 0x100,
  F_ACK_TLVS: 0x200,

  // enum nlmsgerr_attrs
  NLMSGERR_ATTR_MSG: 1,
  NLMSGERR_ATTR_OFFS: 2,

  NLA_F_NESTED: 0x8000,
  NLA_TYPE_MASK: 0x3fff,
} as const;

/** rtnetlink message types (`linux/rtnetlink.h`). */
export const RTM = {
  NEWLINK: 16,
  DELLINK: 17,
  GETLINK: 18,
  SETLINK: 19,
  NEWADDR: 20,
  DELADDR: 21,
  GETADDR: 22,
  NEWROUTE: 24,
  DELROUTE: 25,
  GETROUTE: 26,
} as const;

/** Address families (`linux/socket.h`). */
export const AF = { UNSPEC: 0, INET: 2, INET6: 10 } as const;

/** Interface flags (`linux/if.h`). */
export const IFF = {
  UP: 0x1,
  BROADCAST: 0x2,
  LOOPBACK: 0x8,
  POINTOPOINT: 0x10,
  RUNNING: 0x40,
  NOARP: 0x80,
  MULTICAST: 0x1000,
  LOWER_UP: 0x10000,
} as const;

/** Link attributes (`linux/if_link.h`, enum IFLA_*). */
export const IFLA = {
  ADDRESS: 1,
  BROADCAST: 2,
  IFNAME: 3,
  MTU: 4,
  LINK: 5,
  OPERSTATE: 16,
  LINKINFO: 18,
  EXT_MASK: 29,
  // nested in IFLA_LINKINFO
  INFO_KIND: 1,
} as const;

/** IFLA_EXT_MASK bits (`linux/rtnetlink.h`). */
export const RTEXT_FILTER = { VF: 1, SKIP_STATS: 8 } as const;

/** Operational states (`linux/if.h`, RFC 2863 IF-MIB ifOperStatus). */
export const OPERSTATE: readonly string[] = [
  "UNKNOWN",
  "NOTPRESENT",
  "DOWN",
  "LOWERLAYERDOWN",
  "TESTING",
  "DORMANT",
  "UP",
];

/** Address attributes (`linux/if_addr.h`, enum IFA_*). */
export const IFA = {
  ADDRESS: 1,
  LOCAL: 2,
  LABEL: 3,
  BROADCAST: 4,
  ANYCAST: 5,
  CACHEINFO: 6,
  MULTICAST: 7,
  FLAGS: 8,
} as const;

/** Address flags (`linux/if_addr.h`, IFA_F_*). */
export const IFA_F = {
  SECONDARY: 0x01,
  NODAD: 0x02,
  OPTIMISTIC: 0x04,
  DADFAILED: 0x08,
  HOMEADDRESS: 0x10,
  DEPRECATED: 0x20,
  TENTATIVE: 0x40,
  PERMANENT: 0x80,
  MANAGETEMPADDR: 0x100,
  NOPREFIXROUTE: 0x200,
} as const;

/** Route attributes (`linux/rtnetlink.h`, enum rtattr_type_t). */
export const RTA = {
  DST: 1,
  SRC: 2,
  IIF: 3,
  OIF: 4,
  GATEWAY: 5,
  PRIORITY: 6,
  PREFSRC: 7,
  METRICS: 8,
  TABLE: 15,
  PREF: 20,
} as const;

/** Routing tables (`linux/rtnetlink.h`, enum rt_class_t). */
export const RT_TABLE = { UNSPEC: 0, DEFAULT: 253, MAIN: 254, LOCAL: 255 } as const;

/** Route protocols (`linux/rtnetlink.h`, RTPROT_*). */
export const RTPROT = { UNSPEC: 0, REDIRECT: 1, KERNEL: 2, BOOT: 3, STATIC: 4 } as const;

/** Route scopes (`linux/rtnetlink.h`, enum rt_scope_t). */
export const RT_SCOPE = { UNIVERSE: 0, SITE: 200, LINK: 253, HOST: 254, NOWHERE: 255 } as const;

/** Route types (`linux/rtnetlink.h`, RTN_*), indexed by number. */
export const RTN_NAMES: readonly string[] = [
  "unspec",
  "unicast",
  "local",
  "broadcast",
  "anycast",
  "multicast",
  "blackhole",
  "unreachable",
  "prohibit",
  "throw",
  "nat",
  "xresolve",
];
