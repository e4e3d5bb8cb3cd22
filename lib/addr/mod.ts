/**
 * Strict IPv4/IPv6 text parsing and address math for dstm (hand-written; `ipaddr.js` is the
 * differential oracle of the tests).
 *
 * - `ipv4.ts`: {@link parseIpv4} (dotted-quad only), {@link formatIpv4}, byte helpers.
 * - `ipv6.ts`: {@link parseIpv6} (with the TSP `::` repair), {@link formatIpv6} (RFC 5952),
 *   {@link ipv6Equals}, {@link ipv6Key}.
 * - `cidr.ts`: {@link parseCidr4} / {@link parseCidr6}, membership and block bounds.
 * - `pool.ts`: {@link Ipv4Pool}, dense indices over the usable addresses of a block.
 *
 * Parsers return `{ ok: true, value } | { ok: false, reason }` and never throw on input; every
 * reason is a stable string fit for a counter label. Programmer errors (bad offsets, values out of
 * range) throw `RangeError`.
 *
 * @module
 */
export {
  formatIpv4,
  ipv4FromBytes,
  type Ipv4ParseReason,
  type Ipv4ParseResult,
  ipv4ToBytes,
  parseIpv4,
} from "./ipv4.ts";
export {
  formatIpv6,
  ipv6Equals,
  ipv6Key,
  type Ipv6ParseOptions,
  type Ipv6ParseReason,
  type Ipv6ParseResult,
  parseIpv6,
} from "./ipv6.ts";
export {
  type Cidr4,
  cidr4Broadcast,
  cidr4FirstHost,
  cidr4LastHost,
  type Cidr4Options,
  type Cidr4ParseReason,
  type Cidr4ParseResult,
  cidr4Size,
  type Cidr6,
  cidr6Last,
  type Cidr6Options,
  type Cidr6ParseReason,
  type Cidr6ParseResult,
  cidr6Size,
  type CidrReason,
  contains4,
  contains6,
  formatCidr4,
  formatCidr6,
  makeCidr4,
  makeCidr6,
  parseCidr4,
  parseCidr6,
} from "./cidr.ts";
export { Ipv4Pool, type Ipv4PoolOptions } from "./pool.ts";
