/**
 * Strict IPv6 text parsing, RFC 5952 formatting, equality and map keys (hand-written: see README,
 * "Hand-written parts").
 *
 * An IPv6 address is carried as 16 bytes in network byte order: a 16-byte `Uint8Array`, or 16
 * bytes at an offset inside a larger buffer (a packet), so the helpers take `(bytes, off)`.
 *
 * Accepted text (RFC 4291 §2.2), after trimming XML whitespace (space, tab, CR, LF):
 * - eight groups of 1..4 hex digits, either case: `2001:DB8:0:0:8:800:200C:417A`;
 * - one `::` standing for one or more zero groups: `2001:db8::1`, `::`, `::1`, `fe80::`;
 * - the **TSP repair** (protocol brief §2.6): a `::` next to eight explicit groups, as in the TSP
 *   examples' `2001:db8:c18:ffff::0000:0000:0000:0001`, is invalid under RFC 4291 (`::` must
 *   stand for at least one group, and Node's `net.isIP` and Python's `ipaddress` refuse it). The
 *   `::` stands for nothing there, so it is dropped and the address parsed from the eight groups.
 *
 * Refused unless asked for:
 * - zone ids (`fe80::1%eth0`): always refused (`zone-id`); a TSP or config address names no link;
 * - a dotted-quad IPv4 tail (`::ffff:192.0.2.1`, `::13.1.68.3`, RFC 4291 §2.2 form 3): refused
 *   (`embedded-ipv4`) by default, because no DSTM or TSP message needs one and an IPv4-mapped
 *   address as a tunnel endpoint is a mistake. Pass `{ embeddedIpv4: true }` to accept it; the
 *   tail is then parsed as strictly as {@link parseIpv4} parses (no octal, no short forms).
 *
 * @module
 */
import { parseIpv4 } from "./ipv4.ts";
import { trimXmlSpace } from "./_text.ts";

/** Why {@link parseIpv6} refused a text. */
export type Ipv6ParseReason =
  /** The input is not a string at all (e.g. `undefined` from a missing XML node). */
  | "not-a-string"
  /** Nothing left after trimming whitespace. */
  | "empty"
  /** Longer than 45 characters after trimming: no valid form is that long. */
  | "too-long"
  /** A character other than hex digits, `:` and (in a final IPv4 part) `.`. */
  | "invalid-char"
  /** A `%zone` suffix (`fe80::1%eth0`). */
  | "zone-id"
  /** A dotted-quad IPv4 tail without the `embeddedIpv4` option. */
  | "embedded-ipv4"
  /** A dotted-quad IPv4 tail that is not strict dotted-quad decimal (see `parseIpv4`). */
  | "bad-ipv4-tail"
  /** More than one `::` (this includes `:::`). */
  | "multiple-double-colon"
  /** An empty group: a lone leading or trailing `:` (`:1::`, `1:2:3:4:5:6:7:8:`). */
  | "empty-group"
  /** A group of more than four hex digits. */
  | "group-too-long"
  /** Not eight groups without `::`, or more than eight groups with it. */
  | "group-count";

/** Options for {@link parseIpv6}. */
export interface Ipv6ParseOptions {
  /**
   * Accept a dotted-quad IPv4 tail (`::ffff:192.0.2.1`, `64:ff9b::198.51.100.1`), parsed
   * strictly. Default `false`: such text is refused with reason `embedded-ipv4`.
   */
  readonly embeddedIpv4?: boolean;
}

/** Result of {@link parseIpv6}: a fresh 16-byte array in network byte order, or why not. */
export type Ipv6ParseResult =
  | { readonly ok: true; readonly value: Uint8Array }
  | { readonly ok: false; readonly reason: Ipv6ParseReason };

/** Longest accepted text: `ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`. */
const MAX_LEN = 45;

/** Number of bytes in an IPv6 address. */
const IPV6_LEN = 16;

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

function hexValue(c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57;
}

/** Group values of the part being read (scratch: the parser is not re-entrant). */
const HEAD = new Uint16Array(8);
const TAIL = new Uint16Array(8);

/**
 * Read a colon-separated run of groups `t[from, to)` (no `::` inside), each 1..4 hex digits,
 * into `vals` (the first eight). An empty run gives no groups. Returns the number of groups, or
 * the reason they are bad (the first bad group, left to right).
 */
function readGroups(
  t: string,
  from: number,
  to: number,
  vals: Uint16Array,
): number | Ipv6ParseReason {
  if (from === to) return 0;
  let n = 0;
  let start = from;
  for (let i = from; i <= to; i++) {
    if (i < to && t.charCodeAt(i) !== 0x3a) continue;
    const len = i - start;
    if (len === 0) return "empty-group";
    if (len > 4) return "group-too-long";
    let v = 0;
    for (let k = start; k < i; k++) v = (v << 4) | hexValue(t.charCodeAt(k));
    if (n < 8) vals[n] = v;
    n++;
    start = i + 1;
  }
  return n;
}

/**
 * Parse IPv6 text into 16 bytes (network byte order), strictly; see the module documentation for
 * the accepted forms, the TSP `::` repair and the embedded-IPv4 option. Never throws on input.
 *
 * @example
 * ```ts
 * parseIpv6("\n 2001:db8:c18:ffff::0000:0000:0000:0001 \n"); // ok: 2001:db8:c18:ffff::1
 * parseIpv6("fe80::1%eth0"); // { ok: false, reason: "zone-id" }
 * ```
 */
export function parseIpv6(text: string, options?: Ipv6ParseOptions): Ipv6ParseResult {
  if (typeof text !== "string") return { ok: false, reason: "not-a-string" };
  let t = trimXmlSpace(text);
  if (t.length === 0) return { ok: false, reason: "empty" };
  if (t.length > MAX_LEN) return { ok: false, reason: "too-long" };

  let firstDot = -1;
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c === 0x25) return { ok: false, reason: "zone-id" };
    if (c === 0x2e) {
      if (firstDot < 0) firstDot = i;
    } else if (c !== 0x3a && !isHex(c)) {
      return { ok: false, reason: "invalid-char" };
    }
  }

  // A dotted-quad tail becomes two hex groups, so the rest only deals with hex groups.
  if (firstDot >= 0) {
    const lastColon = t.lastIndexOf(":");
    if (lastColon < 0 || firstDot < lastColon) return { ok: false, reason: "invalid-char" };
    if (options?.embeddedIpv4 !== true) return { ok: false, reason: "embedded-ipv4" };
    const v4 = parseIpv4(t.slice(lastColon + 1));
    if (!v4.ok) return { ok: false, reason: "bad-ipv4-tail" };
    const hi = (v4.value >>> 16).toString(16);
    const lo = (v4.value & 0xffff).toString(16);
    t = `${t.slice(0, lastColon + 1)}${hi}:${lo}`;
  }

  // Find the single `::`, if any, and check the groups on each side of it.
  const dc = t.indexOf("::");
  const out = new Uint8Array(IPV6_LEN);
  if (dc < 0) {
    const n = readGroups(t, 0, t.length, HEAD);
    if (typeof n === "string") return { ok: false, reason: n };
    if (n !== 8) return { ok: false, reason: "group-count" };
    writeGroups(HEAD, 8, out, 0);
  } else {
    if (t.indexOf("::", dc + 1) >= 0) return { ok: false, reason: "multiple-double-colon" };
    const head = readGroups(t, 0, dc, HEAD);
    if (typeof head === "string") return { ok: false, reason: head };
    const tail = readGroups(t, dc + 2, t.length, TAIL);
    if (typeof tail === "string") return { ok: false, reason: tail };
    // 8 groups is the TSP repair: the `::` beside eight explicit groups stands for nothing.
    if (head + tail > 8) return { ok: false, reason: "group-count" };
    writeGroups(HEAD, head, out, 0);
    writeGroups(TAIL, tail, out, 8 - tail);
  }
  return { ok: true, value: out };
}

/** Write `n` group values as big-endian 16-bit words from group index `at`. */
function writeGroups(vals: Uint16Array, n: number, out: Uint8Array, at: number): void {
  for (let i = 0; i < n; i++) {
    out[2 * (at + i)] = vals[i] >>> 8;
    out[2 * (at + i) + 1] = vals[i] & 0xff;
  }
}

/** Throw a `RangeError` unless 16 bytes are available in `bytes` at `off`. */
function checkRoom(bytes: Uint8Array, off: number, what: string): void {
  if (!Number.isInteger(off) || off < 0 || off + IPV6_LEN > bytes.length) {
    throw new RangeError(
      `Cannot ${what} IPv6 address: offset ${off} + 16 exceeds length ${bytes.length}`,
    );
  }
}

/**
 * Format the 16 bytes at `bytes[off..off+16]` as RFC 5952 canonical text: lowercase hex, no
 * leading zeros in a group, the longest run of two or more zero groups (the first, on a tie)
 * compressed to `::`, a single zero group left as `0`. Always plain hex-colon: IPv4-mapped
 * addresses come out as `::ffff:c000:201`, not the mixed `::ffff:192.0.2.1` that RFC 5952 §5
 * recommends, so that every address has exactly one spelling in logs, configs and TSP replies.
 *
 * @throws {RangeError} if fewer than 16 bytes are available at `off` (a programmer error).
 */
export function formatIpv6(bytes: Uint8Array, off = 0): string {
  checkRoom(bytes, off, "format");
  // Longest run of zero groups (RFC 5952 §4.2.1-4.2.3): length >= 2, first one on a tie.
  let bestStart = -1;
  let bestLen = 1;
  let runStart = -1;
  for (let i = 0; i <= 8; i++) {
    const zero = i < 8 && bytes[off + 2 * i] === 0 && bytes[off + 2 * i + 1] === 0;
    if (zero) {
      if (runStart < 0) runStart = i;
    } else if (runStart >= 0) {
      if (i - runStart > bestLen) {
        bestStart = runStart;
        bestLen = i - runStart;
      }
      runStart = -1;
    }
  }
  let s = "";
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += "::";
      i += bestLen - 1;
      continue;
    }
    if (i > 0 && i !== bestStart + bestLen) s += ":";
    s += ((bytes[off + 2 * i] << 8) | bytes[off + 2 * i + 1]).toString(16);
  }
  return s;
}

/**
 * True if the 16 bytes at `a[aOff..]` equal the 16 bytes at `b[bOff..]`. No allocation.
 *
 * @throws {RangeError} if either side has fewer than 16 bytes at its offset (a programmer error).
 */
export function ipv6Equals(a: Uint8Array, b: Uint8Array, aOff = 0, bOff = 0): boolean {
  checkRoom(a, aOff, "compare");
  checkRoom(b, bOff, "compare");
  for (let i = 0; i < IPV6_LEN; i++) {
    if (a[aOff + i] !== b[bOff + i]) return false;
  }
  return true;
}

/**
 * A string key for the 16 bytes at `bytes[off..]`, for `Map`/`Set` lookups: eight UTF-16 code
 * units, one per 16-bit group (`String.fromCharCode`). Equal addresses give equal keys and
 * different addresses different keys. The key is opaque: it may hold lone surrogates and control
 * characters, so use {@link formatIpv6} for anything a person reads.
 *
 * Cost: one short string allocation per call, no intermediate strings. Measured on the 2-core dev
 * box, key plus `Map#get` is about 85-145 ns on Bun and Deno, 2-3 times faster than a 32-character
 * hex key built from a byte table. On a per-packet path that is still one allocation per packet.
 *
 * @throws {RangeError} if fewer than 16 bytes are available at `off` (a programmer error).
 */
export function ipv6Key(bytes: Uint8Array, off = 0): string {
  checkRoom(bytes, off, "key");
  const b = bytes;
  const o = off;
  return String.fromCharCode(
    (b[o] << 8) | b[o + 1],
    (b[o + 2] << 8) | b[o + 3],
    (b[o + 4] << 8) | b[o + 5],
    (b[o + 6] << 8) | b[o + 7],
    (b[o + 8] << 8) | b[o + 9],
    (b[o + 10] << 8) | b[o + 11],
    (b[o + 12] << 8) | b[o + 13],
    (b[o + 14] << 8) | b[o + 15],
  );
}
