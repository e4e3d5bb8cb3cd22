/**
 * Strict IP address text ↔ bytes for the sys layer (netlink attributes and socket addresses).
 * Only the canonical forms are accepted: dotted-decimal IPv4 without leading zeros, and IPv6
 * in RFC 4291 §2.2 text (with `::` and an optional dotted IPv4 tail, no zone). Formatting
 * follows RFC 5952 (lower case, longest zero run compressed), the same text `ip -j` prints.
 *
 * A small local helper: `lib/addr` owns address handling for the rest of the project.
 *
 * @module
 */

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

const DEC = /^(0|[1-9][0-9]{0,2})$/;
const HEX = /^[0-9a-fA-F]{1,4}$/;

/** Parse dotted-decimal IPv4 (`"192.0.2.1"`); null if not canonical. */
export function parseIpv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!DEC.test(parts[i])) return null;
    const v = Number(parts[i]);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

/** Parse IPv6 text (`"2001:db8::1"`, `"::ffff:192.0.2.1"`); null if invalid. */
export function parseIpv6(text: string): Uint8Array | null {
  if (text.length === 0 || text.length > 45) return null;
  const out = new Uint8Array(16);
  let head = text;
  let tail = "";
  const dbl = text.indexOf("::");
  if (dbl >= 0) {
    if (text.indexOf("::", dbl + 1) >= 0) return null;
    head = text.slice(0, dbl);
    tail = text.slice(dbl + 2);
  }
  const headGroups = head === "" ? [] : head.split(":");
  const tailGroups = dbl >= 0 ? (tail === "" ? [] : tail.split(":")) : [];
  const words: number[] = [];
  const all = dbl >= 0 ? [...headGroups, "", ...tailGroups] : headGroups;
  // Expand groups to 16-bit words; the empty marker stands for the `::` gap.
  const expanded: (number | null)[] = [];
  for (let i = 0; i < all.length; i++) {
    const g = all[i];
    if (dbl >= 0 && i === headGroups.length && g === "") {
      expanded.push(null);
      continue;
    }
    if (i === all.length - 1 && g.includes(".")) {
      const v4 = parseIpv4(g);
      if (!v4) return null;
      expanded.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      continue;
    }
    if (!HEX.test(g)) return null;
    expanded.push(parseInt(g, 16));
  }
  const explicit = expanded.filter((w) => w !== null).length;
  if (dbl >= 0) {
    if (explicit > 7) return null;
    for (const w of expanded) {
      if (w === null) { for (let k = 0; k < 8 - explicit; k++) words.push(0); }
      else words.push(w);
    }
  } else {
    if (explicit !== 8) return null;
    for (const w of expanded) words.push(w as number);
  }
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i] >> 8;
    out[2 * i + 1] = words[i] & 0xff;
  }
  return out;
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
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number, b: number) => w.slice(a, b).map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** Format 4 or 16 bytes as IPv4 or IPv6 text. */
export function formatIp(bytes: Uint8Array): string {
  return bytes.length === 4 ? formatIpv4(bytes) : formatIpv6(bytes);
}
