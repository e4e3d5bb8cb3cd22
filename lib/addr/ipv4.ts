/**
 * Strict IPv4 text parsing and formatting.
 *
 * Only canonical dotted-quad decimal is accepted: the historical `inet_aton` forms (`010.0.0.1`
 * as octal, `0x0a.0.0.1`, `10.1`, a single 32-bit number), which `ipaddr.js` and `inet_aton`
 * accept, make two spellings of the same address compare unequal in configs and leak ambiguity
 * into the TSP XML codec. Hand-written: the strict check already reads every octet, and the
 * final `ipaddr.js` parse it used to hand the text to added nothing but time (see README,
 * "Hand-written parts").
 *
 * An IPv4 address is carried as a `number` holding an unsigned 32-bit integer (`0..0xffffffff`),
 * network byte order read as big-endian: `192.0.2.1` is `0xc0000201`.
 *
 * @module
 */
import { trimXmlSpace } from "./_text.ts";

/** Why {@link parseIpv4} refused a text. */
export type Ipv4ParseReason =
  /** The input is not a string at all (e.g. `undefined` from a missing XML node). */
  | "not-a-string"
  /** Nothing left after trimming whitespace. */
  | "empty"
  /** Longer than `255.255.255.255` (15 characters) after trimming. */
  | "too-long"
  /** A character other than a decimal digit or `.` (this catches `0x`, inner spaces, `%`, `:`). */
  | "invalid-char"
  /** Not exactly four dot-separated parts (`10.1`, `1.2.3.4.5`). */
  | "part-count"
  /** A part with no digits (`1..2.3`, `1.2.3.4.`, `.1.2.3`). */
  | "empty-part"
  /** A part with a leading zero (`010.0.0.1`): octal to `inet_aton`, so ambiguous. */
  | "leading-zero"
  /** A part above 255. */
  | "out-of-range";

/** Result of {@link parseIpv4}: the address as an unsigned 32-bit integer, or why it was refused. */
export type Ipv4ParseResult =
  | { readonly ok: true; readonly value: number }
  | { readonly ok: false; readonly reason: Ipv4ParseReason };

/** Longest accepted text, `255.255.255.255`. */
const MAX_LEN = 15;

/**
 * Read `text` (already trimmed) as strict dotted-quad decimal: four parts, each 1..3 digits
 * with no leading zero, each 0..255. Returns the address when it is, else the reason. Reasons are
 * checked in a fixed order (characters, empty parts, part count, leading zeros, range) so that
 * `10.1` reports `part-count` and `1.2.3.4.` reports `empty-part`.
 */
function readDottedQuad(text: string): Ipv4ParseReason | number {
  if (text.length === 0) return "empty";
  if (text.length > MAX_LEN) return "too-long";
  let dots = 0;
  let prev = 0x2e; // a virtual '.' before the text
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (prev === 0x2e) return "empty-part";
      dots++;
    } else if (c < 0x30 || c > 0x39) {
      return "invalid-char";
    }
    prev = c;
  }
  if (prev === 0x2e) return "empty-part";
  if (dots !== 3) return "part-count";
  let value = 0;
  let digits = 0;
  let address = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e; // a virtual final '.'
    if (c === 0x2e) {
      if (digits > 1 && text.charCodeAt(i - digits) === 0x30) return "leading-zero";
      if (value > 255) return "out-of-range";
      address = address * 256 + value;
      value = 0;
      digits = 0;
    } else {
      digits++;
      value = value * 10 + (c - 0x30); // at most 15 characters: far below 2^53
    }
  }
  return address;
}

/**
 * Parse strict dotted-quad IPv4 text into an unsigned 32-bit integer.
 *
 * Leading and trailing XML whitespace (space, tab, CR, LF) is removed first, because TSP XML
 * messages break addresses across lines. After that the text must be exactly four decimal parts,
 * each `0..255`, without leading zeros. Octal (`010.0.0.1`), hex (`0x0a.0.0.1`), short (`10.1`),
 * trailing-dot (`1.2.3.4.`) and inner-space forms are refused. Never throws on input.
 *
 * @example
 * ```ts
 * parseIpv4(" 192.0.2.1\n"); // { ok: true, value: 0xc0000201 }
 * parseIpv4("010.0.0.1"); // { ok: false, reason: "leading-zero" }
 * ```
 */
export function parseIpv4(text: string): Ipv4ParseResult {
  if (typeof text !== "string") return { ok: false, reason: "not-a-string" };
  const t = trimXmlSpace(text);
  const r = readDottedQuad(t);
  return typeof r === "number" ? { ok: true, value: r } : { ok: false, reason: r };
}

/** Throw a `RangeError` unless `value` is an integer in `0..0xffffffff`. */
function checkU32(value: number, what: string): void {
  if (typeof value !== "number" || (value >>> 0) !== value) {
    throw new RangeError(`Cannot use ${what}: ${value} is not an unsigned 32-bit integer`);
  }
}

/**
 * Format an IPv4 address (unsigned 32-bit integer) as dotted-quad decimal, e.g. `192.0.2.1`.
 *
 * @throws {RangeError} if `u32` is not an integer in `0..0xffffffff` (a programmer error).
 */
export function formatIpv4(u32: number): string {
  checkU32(u32, "IPv4 address");
  return `${u32 >>> 24}.${(u32 >>> 16) & 0xff}.${(u32 >>> 8) & 0xff}.${u32 & 0xff}`;
}

/**
 * Write an IPv4 address in network byte order into `out` at `off`. No allocation.
 *
 * @returns the number of bytes written: 4, or 0 if `out` has no room at `off` (nothing written).
 * @throws {RangeError} if `u32` is not an integer in `0..0xffffffff` (a programmer error).
 */
export function ipv4ToBytes(u32: number, out: Uint8Array, off: number): number {
  checkU32(u32, "IPv4 address");
  if (!Number.isInteger(off) || off < 0 || off + 4 > out.length) return 0;
  out[off] = u32 >>> 24;
  out[off + 1] = u32 >>> 16;
  out[off + 2] = u32 >>> 8;
  out[off + 3] = u32;
  return 4;
}

/**
 * Read an IPv4 address in network byte order from `buf` at `off`, as an unsigned 32-bit integer.
 * No allocation.
 *
 * @throws {RangeError} if fewer than 4 bytes are available at `off`: callers check the length of
 * what they parse before reading fields out of it.
 */
export function ipv4FromBytes(buf: Uint8Array, off: number): number {
  if (!Number.isInteger(off) || off < 0 || off + 4 > buf.length) {
    throw new RangeError(
      `Cannot read IPv4 address: offset ${off} + 4 exceeds length ${buf.length}`,
    );
  }
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}
