/**
 * Strict IP address text ↔ bytes for the sys layer (netlink attributes and socket addresses).
 * Only the canonical forms are accepted: dotted-decimal IPv4 without leading zeros, and IPv6
 * in RFC 4291 §2.2 text (with `::` and an optional dotted IPv4 tail, no zone). Formatting
 * follows RFC 5952 (lower case, longest zero run compressed), the same text `ip -j` prints.
 *
 * Thin byte-oriented adapters over `lib/addr`, which owns the parsing rules; only the IPv4-mapped
 * dotted form is kept here, to match `inet_ntop` and `ip -j`.
 *
 * @module
 */
import {
  formatIpv6 as addrFormatIpv6,
  ipv4ToBytes,
  parseIpv4 as addrParseIpv4,
  parseIpv6 as addrParseIpv6,
} from "../addr/mod.ts";

/** An address family as used by the sys layer: 4 (AF_INET) or 6 (AF_INET6). */
export type IpFamily = 4 | 6;

/** A parsed address or prefix. */
export interface IpBytes {
  /** 4 or 6. */
  family: IpFamily;
  /** 4 or 16 bytes in network order. */
  bytes: Uint8Array;
}

/** A parsed prefix, e.g. `10.0.0.0/8`. */
export interface IpPrefix extends IpBytes {
  /** Prefix length in bits. */
  prefixLength: number;
}

/** Parse dotted-decimal IPv4 (`"192.0.2.1"`); null if not canonical. */
export function parseIpv4(text: string): Uint8Array | null {
  if (/\s/.test(text)) return null; // lib/addr trims XML whitespace; kernel-facing text must be exact
  const r = addrParseIpv4(text);
  if (!r.ok) return null;
  const out = new Uint8Array(4);
  ipv4ToBytes(r.value, out, 0);
  return out;
}

/** Parse IPv6 text (a dotted IPv4 tail allowed, no zone); null if invalid. */
export function parseIpv6(text: string): Uint8Array | null {
  if (/\s/.test(text)) return null;
  // lib/addr repairs the TSP examples' "::" beside 8 explicit groups; RFC 4291 text does not have it.
  const groups = text.split(":").filter(Boolean).length + (text.includes(".") ? 1 : 0);
  if (text.includes("::") && groups >= 8) return null;
  const r = addrParseIpv6(text, { embeddedIpv4: true });
  return r.ok ? r.value : null;
}

/** Parse an IPv4 or IPv6 address; null if neither. */
export function parseIp(text: string): IpBytes | null {
  const v4 = parseIpv4(text);
  if (v4) return { family: 4, bytes: v4 };
  const v6 = parseIpv6(text);
  if (v6) return { family: 6, bytes: v6 };
  return null;
}

/**
 * Parse `address/length` (a bare address means a host prefix: /32 or /128). Host bits are
 * kept as given. Null if invalid.
 */
export function parsePrefix(text: string): IpPrefix | null {
  const slash = text.indexOf("/");
  const addr = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!addr) return null;
  const max = addr.family === 4 ? 32 : 128;
  if (slash < 0) return { ...addr, prefixLength: max };
  const lenText = text.slice(slash + 1);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText)) return null;
  const len = Number(lenText);
  if (len > max) return null;
  return { ...addr, prefixLength: len };
}

/** Format 4 bytes at `offset` as dotted decimal. */
export function formatIpv4(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/** Format 16 bytes at `offset` as RFC 5952 IPv6 text. */
export function formatIpv6(bytes: Uint8Array, offset = 0): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push((bytes[offset + 2 * i] << 8) | bytes[offset + 2 * i + 1]);
  // IPv4-mapped addresses keep the dotted tail, as inet_ntop does.
  if (w[0] === 0 && w[1] === 0 && w[2] === 0 && w[3] === 0 && w[4] === 0 && w[5] === 0xffff) {
    return `::ffff:${formatIpv4(bytes, offset + 12)}`;
  }
  return addrFormatIpv6(bytes, offset);
}

/** Format 4 or 16 bytes as IPv4 or IPv6 text. */
export function formatIp(bytes: Uint8Array): string {
  return bytes.length === 4 ? formatIpv4(bytes) : formatIpv6(bytes);
}
