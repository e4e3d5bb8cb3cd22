/**
 * DIGEST-MD5 (RFC 2831 §2.1.2.1 and §2.1.3) response and rspauth values for `qop=auth`, written
 * by hand on `node:crypto` MD5 (the npm `sasl-digest-md5` package computes wrong answers).
 *
 * ```
 * A1       = { H({ username, ":", realm, ":", passwd }), ":", nonce, ":", cnonce [, ":", authzid] }
 * A2       = { "AUTHENTICATE:", digest-uri }        (client response)
 * A2'      = { ":", digest-uri }                    (server rspauth)
 * response = HEX(KD(HEX(H(A1)), { nonce, ":", nc, ":", cnonce, ":", "auth", ":", HEX(H(A2)) }))
 * ```
 *
 * @module
 */
import { md5Bin, md5HexBin, utf8ToBin } from "./_binary.ts";

/** The `qop` value this module speaks (RFC 2831 §2.1.2.1: authentication only). */
export const DIGEST_MD5_QOP = "auth";
/** The only `nc` value of a TSP exchange: one response per nonce (RFC 2831 §2.1.2.1). */
export const DIGEST_MD5_NC = "00000001";

/** Inputs of {@link digestMd5Response} and {@link digestMd5Rspauth}. Strings are hashed as UTF-8. */
export interface DigestMd5Params {
  /** The authentication identity (`username`), unescaped. */
  username: string;
  /** The realm, unescaped. */
  realm: string;
  /** The password in clear. */
  password: string;
  /** The server's nonce. */
  nonce: string;
  /** The client's cnonce. */
  cnonce: string;
  /** The nonce count as 8 hex digits; default `00000001`. */
  nc?: string;
  /** The `digest-uri` value, e.g. `tsp/[::1]`. */
  digestUri: string;
  /** The authorization identity, when the client sends one (it then enters A1). */
  authzid?: string;
  /**
   * Compute A1 the way TSP 2.0.0 and older servers did (gogoc "Bug1455"): when H(user:realm:pass)
   * contains a zero octet, that C string was cut at the zero, so A1 is just the octets before it.
   * Without a zero octet this changes nothing.
   */
  legacyA1?: boolean;
}

/**
 * Octet-level inputs (binary strings, see `_binary.ts`), for the mechanisms, which must hash the
 * peer's octets exactly as received.
 */
export interface DigestMd5Octets {
  /** `username ":" realm ":" passwd` as octets. */
  secret: string;
  /** The server's nonce, unescaped. */
  nonce: string;
  /** The client's cnonce, unescaped. */
  cnonce: string;
  /** The nonce count exactly as sent (`00000001`). */
  nc: string;
  /** The `digest-uri` value exactly as sent, unescaped. */
  digestUri: string;
  /** The authorization identity, when sent. */
  authzid?: string;
  /** See {@link DigestMd5Params.legacyA1}. */
  legacyA1?: boolean;
}

/** Whether {@link DigestMd5Params.legacyA1} would change the result for this secret. */
export function legacyA1Differs(secret: string): boolean {
  return md5Bin(secret).includes("\0");
}

/** HEX(H(A1)) for octet inputs. */
export function digestMd5A1Hex(o: DigestMd5Octets): string {
  const inner = md5Bin(o.secret);
  const zero = o.legacyA1 ? inner.indexOf("\0") : -1;
  if (zero >= 0) return md5HexBin(inner.slice(0, zero));
  return md5HexBin(
    inner + ":" + o.nonce + ":" + o.cnonce + (o.authzid !== undefined ? ":" + o.authzid : ""),
  );
}

/** The response value from HEX(H(A1)): KD with A2 = `AUTHENTICATE:` digest-uri. */
export function digestMd5ResponseFromA1(a1: string, o: DigestMd5Octets): string {
  return kd(a1, o, "AUTHENTICATE:" + o.digestUri);
}

/** The rspauth value from HEX(H(A1)): KD with A2 = `:` digest-uri. */
export function digestMd5RspauthFromA1(a1: string, o: DigestMd5Octets): string {
  return kd(a1, o, ":" + o.digestUri);
}

function kd(a1: string, o: DigestMd5Octets, a2: string): string {
  const ha2 = md5HexBin(a2);
  const s = a1 + ":" + o.nonce + ":" + o.nc + ":" + o.cnonce + ":" + DIGEST_MD5_QOP + ":" + ha2;
  return md5HexBin(s);
}

/** Both 32-hex values for octet inputs: what the client sends and what the server proves. */
export function digestMd5Octets(o: DigestMd5Octets): { response: string; rspauth: string } {
  const a1 = digestMd5A1Hex(o);
  return { response: digestMd5ResponseFromA1(a1, o), rspauth: digestMd5RspauthFromA1(a1, o) };
}

function toOctets(p: DigestMd5Params): DigestMd5Octets {
  return {
    secret: utf8ToBin(p.username + ":" + p.realm + ":" + p.password),
    nonce: utf8ToBin(p.nonce),
    cnonce: utf8ToBin(p.cnonce),
    nc: utf8ToBin(p.nc ?? DIGEST_MD5_NC),
    digestUri: utf8ToBin(p.digestUri),
    authzid: p.authzid === undefined ? undefined : utf8ToBin(p.authzid),
    legacyA1: p.legacyA1,
  };
}

/**
 * The client's `response` value (32 lower-case hex digits) for `qop=auth`.
 * RFC 2831 §4: chris/secret/elwood.innosoft.com → `d388dad90d4bbd760a152321f2143af7`.
 */
export function digestMd5Response(params: DigestMd5Params): string {
  return digestMd5Octets(toOctets(params)).response;
}

/**
 * The server's `rspauth` value (32 lower-case hex digits) for `qop=auth`, which proves to the
 * client that the server knows the password too.
 * RFC 2831 §4: → `ea40f60335c427b5527b84dbabcdfffd`.
 */
export function digestMd5Rspauth(params: DigestMd5Params): string {
  return digestMd5Octets(toOctets(params)).rspauth;
}
