/**
 * IP protocol numbers (IANA "Assigned Internet Protocol Numbers"), as carried in the IPv4
 * Protocol field and the IPv6 Next Header field.
 *
 * @module
 */

/** IP protocol / IPv6 next-header numbers used by the dstm data planes. */
export const IP_PROTO = {
  /** IPv6 Hop-by-Hop Options header (RFC 8200 §4.3). */
  HOP_BY_HOP: 0,
  /** ICMP for IPv4 (RFC 792). */
  ICMP: 1,
  /** IPv4 encapsulation ("IP in IP", RFC 2003 / RFC 2473): the DSTM inner packet. */
  IPV4: 4,
  /** TCP (RFC 9293). */
  TCP: 6,
  /** UDP (RFC 768). */
  UDP: 17,
  /** IPv6 encapsulation (RFC 2473). */
  IPV6: 41,
  /** IPv6 Routing header (RFC 8200 §4.4). */
  ROUTING: 43,
  /** IPv6 Fragment header (RFC 8200 §4.5). */
  FRAGMENT: 44,
  /** Encapsulating Security Payload (RFC 4303). */
  ESP: 50,
  /** Authentication Header (RFC 4302). */
  AH: 51,
  /** ICMP for IPv6 (RFC 4443). */
  ICMPV6: 58,
  /** No Next Header (RFC 8200 §4.7). */
  NO_NEXT_HEADER: 59,
  /** IPv6 Destination Options header (RFC 8200 §4.6). */
  DESTINATION_OPTIONS: 60,
} as const;
