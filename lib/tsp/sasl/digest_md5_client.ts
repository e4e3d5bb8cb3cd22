/**
 * Client side of DIGEST-MD5 (RFC 2831) for TSP, sending exactly what gogoc sends (brief §2.4,
 * §8.3): on the challenge, base64 of
 * `charset=utf-8,username="…",realm="…",nonce="…",nc=00000001,cnonce="…",digest-uri="tsp/<x>",response=<32 hex>,qop=auth`;
 * on the server's `rspauth=<32 hex>` line, mutual authentication is checked before the `200`
 * status line may be accepted.
 *
 * @module
 */
import { decodeBase64, encodeBase64Bin } from "./_base64.ts";
import { binFromBytes, bytesFromBin, latin1Bin, utf8ToBin } from "./_binary.ts";
import { constantTimeEqualString } from "./_constant_time.ts";
import { parseDirectives, quote } from "./_directives.ts";
import {
  DIGEST_MD5_NC,
  DIGEST_MD5_QOP,
  digestMd5A1Hex,
  type DigestMd5Octets,
  digestMd5ResponseFromA1,
  digestMd5RspauthFromA1,
} from "./digest_md5_hash.ts";
import { TSP_SERV_TYPE } from "./digest_md5_server.ts";
import type { SaslClient, SaslClientStep } from "./mechanism.ts";

/** Largest decoded challenge or rspauth line accepted (RFC 2831 §2.1.1 allows 2048; lenient). */
export const DIGEST_MD5_MAX_CHALLENGE = 4096;

/** Options of {@link digestMd5Client}. */
export interface DigestMd5ClientOptions {
  /** The authentication identity (`username`). Non-empty. */
  user: string;
  /** The password. */
  pass: string;
  /**
   * The `<x>` of `digest-uri="tsp/<x>"`: the server as the user typed it (gogoc), e.g. `[::1]` or
   * `broker.example`. Non-empty.
   */
  digestUriHost: string;
  /** A fresh, unpredictable cnonce per exchange (the caller injects randomness). Non-empty. */
  cnonce: () => string;
  /** An authorization identity to send; servers in this module accept only one equal to `user`. */
  authzid?: string;
  /**
   * Compute A1 as gogoc does after negotiating TSP 2.0.0 or older (its "Bug1455"). For tests of
   * servers that accept it; default false.
   */
  legacyA1?: boolean;
  /** The `digest-uri` service type, `tsp` by default (other values for RFC 2831's example). */
  servType?: string;
}

const RSPAUTH_HEX = /^[0-9a-fA-F]{32}$/;

/**
 * Client side of DIGEST-MD5. `start()` gives `await`; the challenge line gives `send` of the
 * response; the rspauth line gives `verified` or `failure` (mutual authentication failed: abort).
 * Empty server lines are ignored (`await`). Never throws on server input; throws `TypeError` for
 * bad options and `RangeError` when `cnonce()` gives an empty or non-string value.
 *
 * When the challenge has `charset`, names and passwords are sent and hashed as their UTF-8
 * octets, as gogoc does (the server in this module accepts that form and RFC 2831's ISO 8859-1
 * form); without it, as ISO 8859-1, and credentials outside ISO 8859-1 give `failure`.
 */
export function digestMd5Client(opts: DigestMd5ClientOptions): SaslClient {
  if (opts === null || typeof opts !== "object") {
    throw new TypeError("Cannot create DIGEST-MD5 client: options missing");
  }
  const {
    user,
    pass,
    digestUriHost,
    cnonce: makeCnonce,
    authzid,
    legacyA1 = false,
    servType = TSP_SERV_TYPE,
  } = opts;
  if (typeof user !== "string" || user.length === 0) {
    throw new TypeError("Cannot create DIGEST-MD5 client: user is empty");
  }
  if (typeof pass !== "string") {
    throw new TypeError("Cannot create DIGEST-MD5 client: pass is not a string");
  }
  if (typeof digestUriHost !== "string" || digestUriHost.length === 0) {
    throw new TypeError("Cannot create DIGEST-MD5 client: digestUriHost is empty");
  }
  if (typeof makeCnonce !== "function") {
    throw new TypeError("Cannot create DIGEST-MD5 client: cnonce is not a function");
  }
  if (authzid !== undefined && typeof authzid !== "string") {
    throw new TypeError("Cannot create DIGEST-MD5 client: authzid is not a string");
  }
  if (typeof servType !== "string" || !/^[a-z0-9-]+$/i.test(servType)) {
    throw new TypeError("Cannot create DIGEST-MD5 client: servType must be a token");
  }
  let state: "new" | "challenge" | "rspauth" | "verified" | "failed" = "new";
  // Kept from the challenge step; rspauth is computed only when the server's line arrives.
  let octets: DigestMd5Octets | undefined;
  let a1 = "";
  const fail = (reason: string): SaslClientStep => {
    state = "failed";
    return { kind: "failure", reason };
  };

  const respond = (line: Uint8Array): SaslClientStep => {
    const decoded = decodeBase64(line, DIGEST_MD5_MAX_CHALLENGE);
    if (!decoded.ok) return fail(`DIGEST-MD5 challenge is not base64 (${decoded.reason})`);
    const parsed = parseDirectives(binFromBytes(decoded.bytes), new Set(["realm"]));
    if (!parsed.ok) return fail(`DIGEST-MD5 challenge syntax: ${parsed.reason}`);
    const get = (name: string): string | undefined => parsed.values.get(name)?.[0];
    const nonce = get("nonce");
    if (nonce === undefined || nonce.length === 0) return fail("DIGEST-MD5 challenge has no nonce");
    const qop = get("qop");
    if (
      qop !== undefined &&
      !qop.split(",").some((o) => o.trim().toLowerCase() === DIGEST_MD5_QOP)
    ) return fail("DIGEST-MD5 server does not offer qop=auth");
    const algorithm = get("algorithm");
    if (algorithm !== undefined && algorithm.toLowerCase() !== "md5-sess") {
      return fail("DIGEST-MD5 algorithm is not md5-sess");
    }
    const charset = get("charset");
    if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
      return fail("DIGEST-MD5 unsupported charset");
    }
    // RFC 2831 §2.1.2: with several realms offered, use the first; with none, omit it and
    // hash the empty realm.
    const realm = get("realm");
    const c = makeCnonce();
    if (typeof c !== "string" || c.length === 0) {
      throw new RangeError("Cannot answer DIGEST-MD5 challenge: cnonce() gave an empty value");
    }
    // With charset, UTF-8 octets (as gogoc); without it, RFC 2831 §2.1.2.1 wants ISO 8859-1.
    const enc = charset !== undefined ? utf8ToBin : latin1Bin;
    const userBin = enc(user);
    const passBin = enc(pass);
    const cnonceBin = enc(c);
    const uriBin = enc(servType + "/" + digestUriHost);
    const authzBin = authzid === undefined ? "" : enc(authzid);
    if (
      userBin === undefined || passBin === undefined || cnonceBin === undefined ||
      uriBin === undefined || authzBin === undefined
    ) return fail("DIGEST-MD5 server offers no charset and the credentials are not ISO 8859-1");
    octets = {
      secret: userBin + ":" + (realm ?? "") + ":" + passBin,
      nonce,
      cnonce: cnonceBin,
      nc: DIGEST_MD5_NC,
      digestUri: uriBin,
      authzid: authzid === undefined ? undefined : authzBin,
      legacyA1,
    };
    a1 = digestMd5A1Hex(octets);
    const response = digestMd5ResponseFromA1(a1, octets);
    // gogoc's order: charset first (echoing the server's spelling), qop last.
    const text = (charset !== undefined ? `charset=${charset},` : "") +
      `username=${quote(userBin)},` +
      (realm !== undefined ? `realm=${quote(realm)},` : "") +
      `nonce=${quote(nonce)},nc=${DIGEST_MD5_NC},cnonce=${quote(cnonceBin)},` +
      `digest-uri=${quote(uriBin)},response=${response},qop=${DIGEST_MD5_QOP}` +
      (authzid !== undefined ? `,authzid=${quote(authzBin)}` : "");
    state = "rspauth";
    return { kind: "send", line: bytesFromBin(encodeBase64Bin(text)) };
  };

  const check = (line: Uint8Array): SaslClientStep => {
    const decoded = decodeBase64(line, DIGEST_MD5_MAX_CHALLENGE);
    if (!decoded.ok) return fail(`DIGEST-MD5 rspauth line is not base64 (${decoded.reason})`);
    const parsed = parseDirectives(binFromBytes(decoded.bytes));
    if (!parsed.ok) return fail(`DIGEST-MD5 rspauth line syntax: ${parsed.reason}`);
    const got = parsed.values.get("rspauth")?.[0];
    if (got === undefined) return fail("DIGEST-MD5 server sent no rspauth");
    if (!RSPAUTH_HEX.test(got)) return fail("DIGEST-MD5 rspauth is not 32 hex digits");
    const expected = octets === undefined ? "" : digestMd5RspauthFromA1(a1, octets);
    if (!constantTimeEqualString(got.toLowerCase(), expected)) {
      return fail("DIGEST-MD5 rspauth mismatch: the server does not know the password");
    }
    state = "verified";
    return { kind: "verified" };
  };

  return {
    mechanism: "DIGEST-MD5",
    get successAllowed() {
      return state === "verified";
    },
    start(): SaslClientStep[] {
      if (state !== "new") return [fail("DIGEST-MD5 already started")];
      state = "challenge";
      return [{ kind: "await" }];
    },
    step(line: Uint8Array): SaslClientStep {
      switch (state) {
        case "new":
          return fail("DIGEST-MD5 not started");
        case "challenge":
          return line.length === 0 ? { kind: "await" } : respond(line);
        case "rspauth":
          return line.length === 0 ? { kind: "await" } : check(line);
        case "verified":
          return fail("unexpected server line after DIGEST-MD5 rspauth");
        case "failed":
          return { kind: "failure", reason: "DIGEST-MD5 already failed" };
      }
    },
  };
}
