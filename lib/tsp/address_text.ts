/**
 * Thin adapter between the TSP XML codec and `lib/addr/` (protocol brief §2.5, §2.6): the text of
 * an `<address>` element is checked here and kept as a string in the message types.
 *
 * IPv4 and IPv6 texts lose every XML whitespace character (the drafts break addresses across
 * lines), then must pass the strict parsers of `lib/addr/` (no octal or short IPv4 forms; the
 * TSP `::` + eight groups repair for IPv6). A `dn` is trimmed and must look like a host name.
 *
 * @module
 */
import { parseIpv4, parseIpv6 } from "../addr/mod.ts";

/** The `type` attribute of `<address>` (brief §2.6). */
export type AddressType = "ipv4" | "ipv6" | "dn";

/** Why {@link checkAddressText} refused a text. */
export type AddressTextReason = "bad-ipv4" | "bad-ipv6" | "bad-dn";

/** Result of {@link checkAddressText}: the cleaned text, or why it is refused. */
export type AddressTextResult =
  | { readonly ok: true; readonly value: string }
  | { readonly ok: false; readonly reason: AddressTextReason };

const DN = /^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252}[A-Za-z0-9_.])?$/;

/** Remove every XML whitespace character (space, tab, CR, LF). */
function stripSpace(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) return s.replace(/[ \t\r\n]+/g, "");
  }
  return s;
}

/**
 * Check the text of an address of the given type and return it cleaned (see the module notes).
 * Never throws.
 */
export function checkAddressText(type: AddressType, raw: string): AddressTextResult {
  if (typeof raw !== "string" || raw.length > 300) {
    return {
      ok: false,
      reason: type === "ipv4" ? "bad-ipv4" : type === "ipv6" ? "bad-ipv6" : "bad-dn",
    };
  }
  switch (type) {
    case "ipv4": {
      const v = stripSpace(raw);
      return parseIpv4(v).ok ? { ok: true, value: v } : { ok: false, reason: "bad-ipv4" };
    }
    case "ipv6": {
      const v = stripSpace(raw);
      return parseIpv6(v).ok ? { ok: true, value: v } : { ok: false, reason: "bad-ipv6" };
    }
    case "dn": {
      const v = raw.trim();
      return DN.test(v) ? { ok: true, value: v } : { ok: false, reason: "bad-dn" };
    }
    default:
      return { ok: false, reason: "bad-dn" };
  }
}
