/**
 * Which IPv6 address a `create`/`delete` is about (pure).
 *
 * The lease is keyed by the client's global IPv6 address (protocol brief §1.3, §5.3, §8.7: gogoc
 * puts the source address of its TSP socket in `<client><address type="ipv6">`). Rules:
 *
 * - The session runs over IPv6 from a non-loopback address: that source address is the client's
 *   address. A request that names another IPv6 address is refused (`source-mismatch`) unless
 *   the operator set `trustRequestAddress` (NAT66, relays); a request that names none uses the
 *   source address.
 * - The session runs over IPv4 (or IPv4-mapped IPv6), or from loopback (a local relay, tests):
 *   the source says nothing about the client, so the request must name the address.
 *
 * Whether the address may hold a lease at all (not link-local, multicast, ...) is the
 * allocator's call (`309`).
 *
 * @module
 */
import { parseIpv6 } from "../lib/addr/mod.ts";

/** Result of {@link resolveClientIpv6}. */
export type ClientAddressResult =
  | { readonly ok: true; readonly ipv6: Uint8Array; readonly from: "source" | "request" }
  | { readonly ok: false; readonly reason: "missing" | "malformed" | "source-mismatch" };

/** True when `b` is `::1`. */
function isLoopback6(b: Uint8Array): boolean {
  for (let i = 0; i < 15; i++) if (b[i] !== 0) return false;
  return b[15] === 1;
}

/** True when `b` is an IPv4-mapped address `::ffff:a.b.c.d`. */
function isMapped4(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The client's IPv6 address for a request arriving from `peerAddress` (socket text:
 * `2001:db8::10`, `::ffff:192.0.2.7`, `192.0.2.7`, `::1`) naming `requested` (the request's
 * `<client>` IPv6 text, if any).
 */
export function resolveClientIpv6(
  peerAddress: string,
  requested: string | undefined,
  trustRequest: boolean,
): ClientAddressResult {
  let req: Uint8Array | undefined;
  if (requested !== undefined) {
    const r = parseIpv6(requested);
    if (!r.ok) return { ok: false, reason: "malformed" };
    req = r.value;
  }
  const p = peerAddress.includes(":") ? parseIpv6(peerAddress.replace(/%.*$/, "")) : undefined;
  const source = p && p.ok && !isMapped4(p.value) && !isLoopback6(p.value) ? p.value : undefined;
  if (source === undefined) {
    return req ? { ok: true, ipv6: req, from: "request" } : { ok: false, reason: "missing" };
  }
  if (req === undefined) return { ok: true, ipv6: source, from: "source" };
  if (equal(req, source)) return { ok: true, ipv6: source, from: "source" };
  return trustRequest
    ? { ok: true, ipv6: req, from: "request" }
    : { ok: false, reason: "source-mismatch" };
}
