/**
 * CIDR blocks (RFC 4632 for IPv4, RFC 4291 §2.3 for IPv6): strict parsing, membership tests that
 * do not allocate, and block bounds.
 *
 * Text is `address/prefix`, the address as strict as {@link parseIpv4} / {@link parseIpv6} take
 * it, the prefix decimal without leading zeros. Whitespace is trimmed around the whole text only
 * (`198.51.100.0 /24` is refused). By default host bits set below the prefix are an error
 * (`198.51.100.1/24` → `host-bits-set`): in a config that is almost always a typo for a single
 * address or a different block. With `{ loose: true }` the host bits are cleared instead.
 *
 * Build blocks with the parse functions or {@link makeCidr4} / {@link makeCidr6}; the fields are
 * precomputed and must agree with each other.
 *
 * @module
 */
import { formatIpv4, type Ipv4ParseReason, parseIpv4 } from "./ipv4.ts";
import { formatIpv6, type Ipv6ParseOptions, type Ipv6ParseReason, parseIpv6 } from "./ipv6.ts";
import { trimXmlSpace } from "./_text.ts";

/** An IPv4 CIDR block. */
export interface Cidr4 {
  /** The lowest address of the block (host bits zero), as an unsigned 32-bit integer. */
  readonly network: number;
  /** Prefix length, 0..32. */
  readonly prefix: number;
  /** Netmask as an unsigned 32-bit integer, e.g. `0xffffff00` for /24 (0 for /0). */
  readonly mask: number;
}

/** An IPv6 CIDR block. */
export interface Cidr6 {
  /** The lowest address of the block (host bits zero): 16 bytes owned by the block; do not modify. */
  readonly network: Uint8Array;
  /** Prefix length, 0..128. */
  readonly prefix: number;
}

/** Reasons a CIDR text is refused, beyond those of its address part. */
export type CidrReason =
  /** No `/` in the text. */
  | "missing-prefix"
  /** The prefix is not 1..3 decimal digits without a leading zero, or is above 32 / 128. */
  | "bad-prefix"
  /** Bits below the prefix are set in the address (and the `loose` option was not given). */
  | "host-bits-set";

/** Why {@link parseCidr4} refused a text: a reason of the address part or of the CIDR itself. */
export type Cidr4ParseReason = Ipv4ParseReason | CidrReason;

/** Why {@link parseCidr6} refused a text: a reason of the address part or of the CIDR itself. */
export type Cidr6ParseReason = Ipv6ParseReason | CidrReason;

/** Result of {@link parseCidr4}. */
export type Cidr4ParseResult =
  | { readonly ok: true; readonly value: Cidr4 }
  | { readonly ok: false; readonly reason: Cidr4ParseReason };

/** Result of {@link parseCidr6}. */
export type Cidr6ParseResult =
  | { readonly ok: true; readonly value: Cidr6 }
  | { readonly ok: false; readonly reason: Cidr6ParseReason };

/** Options for {@link parseCidr4} and {@link makeCidr4}. */
export interface Cidr4Options {
  /** Clear host bits instead of refusing them (`198.51.100.7/24` → `198.51.100.0/24`). */
  readonly loose?: boolean;
}

/** Options for {@link parseCidr6} and {@link makeCidr6}; includes the IPv6 text options. */
export interface Cidr6Options extends Ipv6ParseOptions {
  /** Clear host bits instead of refusing them (`2001:db8::1/32` → `2001:db8::/32`). */
  readonly loose?: boolean;
}

/** The IPv4 netmask for a prefix length 0..32. (`x << 32` is `x` in JS, hence the /0 case.) */
function mask4(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** The mask of the byte that holds bit `prefix` (for `prefix % 8 !== 0`), else 0. */
function partialByteMask(prefix: number): number {
  const rem = prefix & 7;
  return rem === 0 ? 0 : (0xff << (8 - rem)) & 0xff;
}

/**
 * Split trimmed `address/prefix` text. Returns the address text and the prefix, or a reason.
 * The address text is checked not to end in whitespace, so only the whole text is trimmed.
 */
function splitCidr(
  text: string,
  maxPrefix: number,
): { address: string; prefix: number } | CidrReason | "not-a-string" | "invalid-char" {
  if (typeof text !== "string") return "not-a-string";
  const t = trimXmlSpace(text);
  const slash = t.indexOf("/");
  if (slash < 0) return "missing-prefix";
  const address = t.slice(0, slash);
  if (address.length > 0 && trimXmlSpace(address) !== address) return "invalid-char";
  const p = t.slice(slash + 1);
  if (p.length === 0 || p.length > 3 || (p.length > 1 && p.charCodeAt(0) === 0x30)) {
    return "bad-prefix";
  }
  let prefix = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return "bad-prefix";
    prefix = prefix * 10 + (c - 0x30);
  }
  if (prefix > maxPrefix) return "bad-prefix";
  return { address, prefix };
}

/**
 * Parse IPv4 CIDR text such as `198.51.100.0/24`. Host bits set → `host-bits-set`, unless
 * `options.loose`, which clears them. Never throws on input.
 */
export function parseCidr4(text: string, options?: Cidr4Options): Cidr4ParseResult {
  const split = splitCidr(text, 32);
  if (typeof split === "string") return { ok: false, reason: split };
  const a = parseIpv4(split.address);
  if (!a.ok) return a;
  const mask = mask4(split.prefix);
  const network = (a.value & mask) >>> 0;
  if (network !== a.value && options?.loose !== true) return { ok: false, reason: "host-bits-set" };
  return { ok: true, value: { network, prefix: split.prefix, mask } };
}

/**
 * Parse IPv6 CIDR text such as `2001:db8::/32`. Host bits set → `host-bits-set`, unless
 * `options.loose`, which clears them. `options.embeddedIpv4` is passed to {@link parseIpv6}.
 * Never throws on input.
 */
export function parseCidr6(text: string, options?: Cidr6Options): Cidr6ParseResult {
  const split = splitCidr(text, 128);
  if (typeof split === "string") return { ok: false, reason: split };
  const a = parseIpv6(split.address, options);
  if (!a.ok) return a;
  const hostBits = clearHostBits6(a.value, split.prefix);
  if (hostBits && options?.loose !== true) return { ok: false, reason: "host-bits-set" };
  return { ok: true, value: { network: a.value, prefix: split.prefix } };
}

/** Clear the bits of `bytes` (16) below `prefix`, in place; true if any were set. */
function clearHostBits6(bytes: Uint8Array, prefix: number): boolean {
  let any = false;
  const full = prefix >>> 3;
  if (full < 16) {
    const m = partialByteMask(prefix);
    if ((bytes[full] & ~m & 0xff) !== 0) any = true;
    bytes[full] &= m;
    for (let i = full + 1; i < 16; i++) {
      if (bytes[i] !== 0) any = true;
      bytes[i] = 0;
    }
  }
  return any;
}

/** Throw a `RangeError` unless `prefix` is an integer in `0..max`. */
function checkPrefix(prefix: number, max: number): void {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) {
    throw new RangeError(`Cannot make CIDR block: prefix ${prefix} is not in 0..${max}`);
  }
}

/**
 * Build an IPv4 block from an address and a prefix length.
 *
 * @throws {RangeError} if `address` is not an unsigned 32-bit integer, `prefix` is not in 0..32,
 * or host bits are set and `options.loose` is not given (programmer errors; use
 * {@link parseCidr4} for untrusted text).
 */
export function makeCidr4(address: number, prefix: number, options?: Cidr4Options): Cidr4 {
  if (typeof address !== "number" || (address >>> 0) !== address) {
    throw new RangeError(`Cannot make CIDR block: ${address} is not an IPv4 address`);
  }
  checkPrefix(prefix, 32);
  const mask = mask4(prefix);
  const network = (address & mask) >>> 0;
  if (network !== address && options?.loose !== true) {
    throw new RangeError(
      `Cannot make CIDR block: host bits set in ${formatIpv4(address)}/${prefix}`,
    );
  }
  return { network, prefix, mask };
}

/**
 * Build an IPv6 block from the 16 bytes at `bytes[off..]` and a prefix length. The bytes are
 * copied.
 *
 * @throws {RangeError} if fewer than 16 bytes are available at `off`, `prefix` is not in 0..128,
 * or host bits are set and `options.loose` is not given (programmer errors; use
 * {@link parseCidr6} for untrusted text).
 */
export function makeCidr6(
  bytes: Uint8Array,
  prefix: number,
  options?: Cidr6Options,
  off = 0,
): Cidr6 {
  if (!Number.isInteger(off) || off < 0 || off + 16 > bytes.length) {
    throw new RangeError(`Cannot make CIDR block: offset ${off} + 16 exceeds ${bytes.length}`);
  }
  checkPrefix(prefix, 128);
  const network = bytes.slice(off, off + 16);
  if (clearHostBits6(network, prefix) && options?.loose !== true) {
    throw new RangeError(
      `Cannot make CIDR block: host bits set in ${formatIpv6(bytes, off)}/${prefix}`,
    );
  }
  return { network, prefix };
}

/** True if the IPv4 address `u32` is inside `cidr`. No allocation. */
export function contains4(cidr: Cidr4, u32: number): boolean {
  return ((u32 & cidr.mask) >>> 0) === cidr.network;
}

/**
 * True if the 16 bytes at `bytes[off..]` (e.g. an address field inside a packet) are inside
 * `cidr`. No allocation.
 *
 * @throws {RangeError} if fewer than 16 bytes are available at `off` (a programmer error).
 */
export function contains6(cidr: Cidr6, bytes: Uint8Array, off = 0): boolean {
  if (!Number.isInteger(off) || off < 0 || off + 16 > bytes.length) {
    throw new RangeError(`Cannot test IPv6 address: offset ${off} + 16 exceeds ${bytes.length}`);
  }
  const net = cidr.network;
  const full = cidr.prefix >>> 3;
  for (let i = 0; i < full; i++) {
    if (bytes[off + i] !== net[i]) return false;
  }
  if (full < 16) {
    const m = partialByteMask(cidr.prefix);
    if ((bytes[off + full] & m) !== net[full]) return false;
  }
  return true;
}

/** Number of addresses in an IPv4 block: 2^(32 - prefix), from 1 (/32) to 2^32 (/0). */
export function cidr4Size(cidr: Cidr4): number {
  return 2 ** (32 - cidr.prefix);
}

/** The highest address of an IPv4 block: the broadcast address for prefixes up to /30. */
export function cidr4Broadcast(cidr: Cidr4): number {
  return (cidr.network | ~cidr.mask) >>> 0;
}

/**
 * The first usable host address: network + 1 for prefixes up to /30; for /31 (RFC 3021
 * point-to-point links) and /32 the network address itself.
 */
export function cidr4FirstHost(cidr: Cidr4): number {
  return cidr.prefix >= 31 ? cidr.network : cidr.network + 1;
}

/**
 * The last usable host address: broadcast - 1 for prefixes up to /30; for /31 and /32 the
 * highest address of the block.
 */
export function cidr4LastHost(cidr: Cidr4): number {
  const b = cidr4Broadcast(cidr);
  return cidr.prefix >= 31 ? b : b - 1;
}

/** Number of addresses in an IPv6 block, 2^(128 - prefix), as a bigint. */
export function cidr6Size(cidr: Cidr6): bigint {
  return 1n << BigInt(128 - cidr.prefix);
}

/**
 * Write the highest address of an IPv6 block (all host bits set) into `out` at `off` and return
 * 16, or 0 if `out` has no room (nothing written). No allocation. The lowest address is
 * `cidr.network`.
 */
export function cidr6Last(cidr: Cidr6, out: Uint8Array, off = 0): number {
  if (!Number.isInteger(off) || off < 0 || off + 16 > out.length) return 0;
  const full = cidr.prefix >>> 3;
  for (let i = 0; i < 16; i++) {
    if (i < full) out[off + i] = cidr.network[i];
    else if (i === full) out[off + i] = cidr.network[i] | (~partialByteMask(cidr.prefix) & 0xff);
    else out[off + i] = 0xff;
  }
  return 16;
}

/** Format an IPv4 block as `a.b.c.d/p`. */
export function formatCidr4(cidr: Cidr4): string {
  return `${formatIpv4(cidr.network)}/${cidr.prefix}`;
}

/** Format an IPv6 block as RFC 5952 text plus `/p`, e.g. `2001:db8::/32`. */
export function formatCidr6(cidr: Cidr6): string {
  return `${formatIpv6(cidr.network)}/${cidr.prefix}`;
}
