/**
 * Packet codecs for the dstm data planes (TEP and client): Internet checksum, IPv4, IPv6 with
 * extension headers, ICMPv4, ICMPv6, and IPv4-in-IPv6 encapsulation with IPv6 fragmentation.
 *
 * Conventions: parsers never throw on input and return `null` (check/walk functions, no
 * allocation) or `{ ok: false, reason }` (parse functions) with a reason that is a drop-counter
 * label; writers write into the caller's buffer and return the length written, or 0.
 *
 * @module
 */
export * from "./proto.ts";
export * from "./checksum.ts";
export {
  checkIpv4,
  decrementTtl,
  fillIpv4Checksum,
  IPV4_FIELD,
  IPV4_MAX_HEADER_LENGTH,
  IPV4_MIN_HEADER_LENGTH,
  IPV4_REASONS,
  ipv4Checksum,
  ipv4DontFragment,
  ipv4Dst,
  type Ipv4Fields,
  ipv4FragmentOffset,
  type Ipv4Header,
  ipv4HeaderLength,
  ipv4Identification,
  ipv4IsFragment,
  ipv4MoreFragments,
  type Ipv4ParseOptions,
  type Ipv4ParseResult,
  ipv4Protocol,
  type Ipv4Reason,
  ipv4Src,
  ipv4Tos,
  ipv4TotalLength,
  ipv4Ttl,
  parseIpv4,
  writeIpv4Header,
} from "./ipv4.ts";
export {
  checkIpv6,
  compare16,
  copy16,
  equals16,
  IPV6_FIELD,
  IPV6_FRAGMENT_HEADER_LENGTH,
  IPV6_HEADER_LENGTH,
  IPV6_MAX_EXTENSION_HEADERS,
  IPV6_REASONS,
  type Ipv6Fields,
  ipv6FlowLabel,
  type Ipv6Fragment,
  type Ipv6Header,
  ipv6HopLimit,
  ipv6NextHeader,
  type Ipv6ParseResult,
  ipv6PayloadLength,
  type Ipv6Reason,
  ipv6TrafficClass,
  Ipv6Walk,
  type Ipv6WalkOptions,
  parseIpv6,
  walkIpv6,
  writeIpv6FragmentHeader,
  writeIpv6Header,
} from "./ipv6.ts";
export * from "./icmpv4.ts";
export * from "./icmpv6.ts";
export * from "./encap.ts";
