/**
 * The TSP status codes as ONE table (protocol brief §2.7): code, exact wire text, meaning, source.
 *
 * Where sources disagree (310, 502, 521) the table carries the draft -04 / RFC 5572 meaning, as
 * the brief recommends; the DSTM-only codes 306-309 of the 2002 DSTM profile are included.
 * `310` is never sent with the profile's "IPv4 Invalid Address" meaning: use `501` for that.
 *
 * A code above 1000 is a redirect: the same meaning as `code - 1000`, followed by a broker list
 * (`<tunnel action="list" type="broker">`).
 *
 * @module
 */

/** One row of {@link STATUS_CODES}. */
export interface StatusCodeEntry {
  /** The numeric code as sent on the wire. */
  readonly code: number;
  /** The exact text that follows the code and one space. */
  readonly text: string;
  /** What the code means, for logs and documentation. */
  readonly meaning: string;
  /** Where the code comes from. */
  readonly source: string;
}

/** Every status code this implementation knows, in ascending order (brief §2.7). */
export const STATUS_CODES: readonly StatusCodeEntry[] = Object.freeze([
  {
    code: 200,
    text: "Success",
    meaning: "Operation completed (auth, create, query, ...)",
    source: "all TSP drafts",
  },
  {
    code: 300,
    text: "Authentication failed",
    meaning: "Bad user, password or mechanism; session closed",
    source: "all TSP drafts",
  },
  {
    code: 301,
    text: "No more tunnels available",
    meaning: "Server at capacity",
    source: "TSP vg-01, -01...-04",
  },
  {
    code: 302,
    text: "Unsupported client version",
    meaning: "Version refused; session closed",
    source: "all TSP drafts",
  },
  {
    code: 303,
    text: "Unsupported tunnel type",
    meaning: "Tunnel type not offered",
    source: "all TSP drafts",
  },
  {
    code: 306,
    text: "Address Pool Exhausted",
    meaning: "DSTM pool empty",
    source: "2002 DSTM profile -01",
  },
  {
    code: 307,
    text: "Configuration Error at TEP",
    meaning: "TEP could not install mapping or tunnel",
    source: "2002 DSTM profile -01",
  },
  {
    code: 308,
    text: "Requested Address Unavailable",
    meaning: "Renewal refused, or the address is not leased (query miss)",
    source: "2002 DSTM profile -01",
  },
  {
    code: 309,
    text: "Invalid IPv6 address",
    meaning: "DSTM: the IPv6 address cannot be served",
    source: "2002 DSTM profile -01",
  },
  {
    code: 310,
    text: "Server side error",
    meaning: "Server failure (the -04 meaning; the profile's 'IPv4 Invalid Address' is 501)",
    source: "TSP -01...-04",
  },
  {
    code: 500,
    text: "Invalid request format or specified length",
    meaning: "Malformed or truncated request",
    source: "TSP -01...-04",
  },
  {
    code: 501,
    text: "Invalid IPv4 address",
    meaning: "Bad IPv4 address (also: query outside the pool)",
    source: "TSP -04",
  },
  { code: 502, text: "Invalid IPv6 address", meaning: "Bad IPv6 address", source: "TSP -04" },
  {
    code: 504,
    text: "Router function not supported",
    meaning: "Router section refused",
    source: "TSP -01",
  },
  {
    code: 505,
    text: "No more tunnels available",
    meaning: "Server at capacity (old code)",
    source: "2002 profile -00",
  },
  {
    code: 506,
    text: "IPv4 address already used for existing tunnel",
    meaning: "Address conflict",
    source: "TSP -04",
  },
  {
    code: 507,
    text: "Requested prefix length cannot be assigned",
    meaning: "Prefix length refused",
    source: "TSP -04",
  },
  {
    code: 509,
    text: "DNS delegation setup error",
    meaning: "Reverse DNS delegation failed",
    source: "TSP -01",
  },
  { code: 514, text: "Protocol error", meaning: "Protocol error", source: "TSP -01" },
  {
    code: 517,
    text: "Unsupported router protocol",
    meaning: "Routing protocol refused",
    source: "TSP -01",
  },
  {
    code: 518,
    text: "Unsupported prefix length",
    meaning: "Prefix length refused",
    source: "TSP -01",
  },
  {
    code: 520,
    text: "Missing prefix length",
    meaning: "Router request without prefix length",
    source: "TSP -01",
  },
  {
    code: 521,
    text: "Request already in progress",
    meaning: "Temporary: a request for this tunnel is running",
    source: "TSP -04",
  },
  { code: 530, text: "Server too busy", meaning: "Temporary overload", source: "TSP -04" },
].map((e) => Object.freeze(e)));

/** Named codes, so that code reads `Status.ADDRESS_UNAVAILABLE` rather than `308`. */
export const Status = Object.freeze(
  {
    SUCCESS: 200,
    AUTH_FAILED: 300,
    NO_MORE_TUNNELS: 301,
    UNSUPPORTED_VERSION: 302,
    UNSUPPORTED_TUNNEL_TYPE: 303,
    POOL_EXHAUSTED: 306,
    TEP_CONFIG_ERROR: 307,
    ADDRESS_UNAVAILABLE: 308,
    DSTM_INVALID_IPV6: 309,
    SERVER_ERROR: 310,
    INVALID_REQUEST: 500,
    INVALID_IPV4: 501,
    INVALID_IPV6: 502,
    ROUTER_NOT_SUPPORTED: 504,
    ADDRESS_IN_USE: 506,
    PREFIX_LENGTH_UNAVAILABLE: 507,
    PROTOCOL_ERROR: 514,
    REQUEST_IN_PROGRESS: 521,
    SERVER_BUSY: 530,
  } as const,
);

/** Added to a code when a broker list follows (brief §2.7): `1302` is `302` with a redirect. */
export const REDIRECT_OFFSET = 1000;

const BY_CODE: ReadonlyMap<number, StatusCodeEntry> = new Map(STATUS_CODES.map((e) => [e.code, e]));

/** True for a redirect code (1001..1999): the base meaning plus a broker list. */
export function isRedirectCode(code: number): boolean {
  return Number.isInteger(code) && code > REDIRECT_OFFSET && code < 2 * REDIRECT_OFFSET;
}

/** The code without the redirect offset: `1302` gives `302`, `302` gives `302`. */
export function baseStatusCode(code: number): number {
  return isRedirectCode(code) ? code - REDIRECT_OFFSET : code;
}

/** True for the success class (`2xx`, and `OK` lines which parse as 200). Redirects are not. */
export function isSuccessCode(code: number): boolean {
  return code >= 200 && code <= 299;
}

/** The table row for a code (redirect codes give the base row), or `undefined`. */
export function statusEntry(code: number): StatusCodeEntry | undefined {
  return BY_CODE.get(baseStatusCode(code));
}

/**
 * The exact text for a code; redirect codes use the base code's text. Unknown codes give
 * `"Unknown status"` so that a status line can always be formed.
 */
export function statusText(code: number): string {
  return statusEntry(code)?.text ?? "Unknown status";
}
