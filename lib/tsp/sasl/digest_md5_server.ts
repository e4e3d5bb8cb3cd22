/**
 * Server side of DIGEST-MD5 (RFC 2831) for TSP, matching what the deployed gogoc client accepts
 * (brief §2.4, §8.3):
 *
 * 1. `start()` → challenge, base64 of
 *    `realm="…",nonce="…",qop="auth",algorithm=md5-sess,charset=utf-8` (no spaces after commas;
 *    gogoc's parser needs realm, nonce, qop and charset and splits on commas).
 * 2. The client's response line is checked: nonce as issued, `nc=00000001`, `qop=auth`, realm as
 *    offered, any `tsp/…` digest-uri (gogoc uses the host name as the user typed it, e.g.
 *    `tsp/[::1]`; the hash is verified with the URI the client sent), response compared in
 *    constant time.
 * 3. Success carries `final` = base64(`rspauth=<32 hex>`), which the caller sends before
 *    `200 Success` as a separate write.
 *
 * @module
 */
import { decodeBase64, encodeBase64Bin } from "./_base64.ts";
import { binFromBytes, binToUtf8, latin1Bin, utf8ToBin } from "./_binary.ts";
import { constantTimeEqualString } from "./_constant_time.ts";
import { parseDirectives, quote } from "./_directives.ts";
import {
  DIGEST_MD5_NC,
  DIGEST_MD5_QOP,
  digestMd5A1Hex,
  type DigestMd5Octets,
  digestMd5ResponseFromA1,
  digestMd5RspauthFromA1,
  legacyA1Differs,
} from "./digest_md5_hash.ts";
import type { PasswordLookup, SaslServer, SaslServerStep } from "./mechanism.ts";

/** Largest decoded digest-response accepted (RFC 2831 §2.1.2: under 4096 octets). */
export const DIGEST_MD5_MAX_RESPONSE = 4096;

/** The `digest-uri` service type for TSP (`tsp/<host>`, brief §2.4). */
export const TSP_SERV_TYPE = "tsp";

/** Options of {@link digestMd5Server}. */
export interface DigestMd5ServerOptions {
  /**
   * The realm offered in the challenge and required in the response. Printable US-ASCII without
   * `"`, `\` or `,` (gogoc neither escapes nor unescapes it), non-empty.
   */
  realm: string;
  /** Password of a user, or `undefined` for an unknown user. */
  lookup: PasswordLookup;
  /**
   * A fresh, unpredictable nonce per exchange (the caller injects randomness). Printable
   * US-ASCII without `"`, `\` or `,`, 1 to 256 characters; anything else makes `start()` throw a
   * `RangeError`.
   */
  nonce: () => string;
  /**
   * Also accept the A1 hash of TSP 2.0.0-and-older servers (gogoc "Bug1455", brief §2.4). gogoc
   * computes it only after negotiating `VERSION=2.0.0` or older, so a session machine can pass
   * `true` for those versions. Default false.
   */
  acceptLegacyA1?: boolean;
  /**
   * The service type the `digest-uri` must start with, `tsp` by default (brief §2.4). Other
   * values exist for testing against RFC 2831's `imap` example.
   */
  servType?: string;
}

/** Whether a realm or nonce is safe for gogoc's comma-splitting, quote-chopping parser. */
function isPlainValue(s: unknown, max: number): s is string {
  if (typeof s !== "string" || s.length === 0 || s.length > max) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c || c === 0x2c) return false;
  }
  return true;
}

/** The decoded challenge text (brief §8.3 order and spelling). */
export function digestMd5ChallengeText(realm: string, nonce: string): string {
  return `realm=${quote(realm)},nonce=${quote(nonce)},qop="auth",algorithm=md5-sess,charset=utf-8`;
}

const HEX32 = /^[0-9a-fA-F]{32}$/;

/** The password a lookup miss is checked against, so that unknown users cost the same time. */
const DUMMY_PASSWORD = "\u0000dstm-unknown-user\u0000";

/**
 * Server side of DIGEST-MD5. Never throws on client input: bad base64, bad syntax, missing or
 * duplicated directives and wrong values all give `failure` with a reason for the log.
 * Throws `TypeError` for bad options.
 */
export function digestMd5Server(opts: DigestMd5ServerOptions): SaslServer {
  if (opts === null || typeof opts !== "object") {
    throw new TypeError("Cannot create DIGEST-MD5 server: options missing");
  }
  const {
    realm,
    lookup,
    nonce: makeNonce,
    acceptLegacyA1 = false,
    servType = TSP_SERV_TYPE,
  } = opts;
  if (!isPlainValue(realm, 256)) {
    throw new TypeError(
      'Cannot create DIGEST-MD5 server: realm must be 1..256 printable ASCII without ", \\ or ,',
    );
  }
  if (typeof lookup !== "function") {
    throw new TypeError("Cannot create DIGEST-MD5 server: lookup is not a function");
  }
  if (typeof makeNonce !== "function") {
    throw new TypeError("Cannot create DIGEST-MD5 server: nonce is not a function");
  }
  if (typeof servType !== "string" || !/^[a-z0-9-]+$/i.test(servType)) {
    throw new TypeError("Cannot create DIGEST-MD5 server: servType must be a token");
  }
  const uriPrefix = servType + "/";
  let state: "new" | "challenged" | "done" = "new";
  let issued = "";
  const fail = (reason: string): SaslServerStep => ({ kind: "failure", reason });

  const verify = (line: Uint8Array): SaslServerStep => {
    const decoded = decodeBase64(line, DIGEST_MD5_MAX_RESPONSE);
    if (!decoded.ok) return fail(`DIGEST-MD5 response is not base64 (${decoded.reason})`);
    const parsed = parseDirectives(binFromBytes(decoded.bytes));
    if (!parsed.ok) {
      const at = parsed.name === undefined ? "" : ` at ${JSON.stringify(parsed.name)}`;
      return fail(`DIGEST-MD5 response syntax: ${parsed.reason}${at}`);
    }
    const get = (name: string): string | undefined => parsed.values.get(name)?.[0];
    const userBin = get("username");
    const realmBin = get("realm");
    const nonceBin = get("nonce");
    const cnonce = get("cnonce");
    const nc = get("nc");
    const qop = get("qop") ?? DIGEST_MD5_QOP;
    const uri = get("digest-uri");
    const response = get("response");
    const charset = get("charset");
    const authzid = get("authzid");
    if (userBin === undefined || userBin.length === 0) return fail("DIGEST-MD5 no username");
    if (realmBin === undefined) return fail("DIGEST-MD5 no realm");
    if (nonceBin === undefined) return fail("DIGEST-MD5 no nonce");
    if (cnonce === undefined || cnonce.length === 0) return fail("DIGEST-MD5 no cnonce");
    if (nc === undefined) return fail("DIGEST-MD5 no nc");
    if (uri === undefined) return fail("DIGEST-MD5 no digest-uri");
    if (response === undefined) return fail("DIGEST-MD5 no response");
    let utf8 = false;
    if (charset !== undefined) {
      const cs = charset.toLowerCase();
      if (cs !== "utf-8" && cs !== "utf8") return fail("DIGEST-MD5 unsupported charset");
      utf8 = true;
    }
    if (realmBin !== realm) return fail("DIGEST-MD5 realm is not the one offered");
    if (!constantTimeEqualString(nonceBin, issued)) return fail("DIGEST-MD5 nonce mismatch");
    if (nc !== DIGEST_MD5_NC) return fail("DIGEST-MD5 nc is not 00000001");
    if (qop !== DIGEST_MD5_QOP) return fail("DIGEST-MD5 qop is not auth");
    if (uri.length <= uriPrefix.length || !uri.startsWith(uriPrefix)) {
      return fail(`DIGEST-MD5 digest-uri is not ${uriPrefix}<host>`);
    }
    if (!HEX32.test(response)) return fail("DIGEST-MD5 response is not 32 hex digits");
    if (authzid !== undefined && authzid !== userBin) {
      return fail("DIGEST-MD5 authzid differs from username");
    }
    // Without charset the octets are ISO 8859-1 (RFC 2831 §2.1.2.1), so each octet is a char.
    const identity = utf8 ? binToUtf8(userBin) : userBin;
    if (identity === undefined) return fail("DIGEST-MD5 username is not UTF-8");

    let password: string | undefined;
    try {
      password = lookup(identity);
    } catch {
      password = undefined;
    }
    const known = typeof password === "string";
    const pw = known ? password as string : DUMMY_PASSWORD;

    // Candidate secrets: the octets as sent with a UTF-8 password (gogoc hashes its raw
    // configuration bytes), then RFC 2831's conversion of what fits into ISO 8859-1.
    const pwUtf8 = utf8ToBin(pw);
    const pwLatin1 = latin1Bin(pw);
    const secrets = [userBin + ":" + realmBin + ":" + (utf8 ? pwUtf8 : pwLatin1 ?? pwUtf8)];
    const alt = utf8
      ? (latin1Bin(identity) ?? userBin) + ":" + realmBin + ":" + (pwLatin1 ?? pwUtf8)
      : userBin + ":" + realmBin + ":" + pwUtf8;
    if (alt !== secrets[0]) secrets.push(alt);

    const want = response.toLowerCase();
    let rspauth: string | undefined;
    for (const secret of secrets) {
      for (const legacyA1 of acceptLegacyA1 && legacyA1Differs(secret) ? [false, true] : [false]) {
        const o: DigestMd5Octets = {
          secret,
          nonce: nonceBin,
          cnonce,
          nc,
          digestUri: uri,
          authzid,
          legacyA1,
        };
        const a1 = digestMd5A1Hex(o);
        const ok = constantTimeEqualString(digestMd5ResponseFromA1(a1, o), want);
        if (ok && rspauth === undefined) rspauth = digestMd5RspauthFromA1(a1, o);
      }
    }
    if (!known) return fail("DIGEST-MD5 unknown user");
    if (rspauth === undefined) return fail("DIGEST-MD5 response mismatch (wrong password)");
    return {
      kind: "success",
      identity,
      final: encodeBase64Bin("rspauth=" + rspauth),
    };
  };

  return {
    mechanism: "DIGEST-MD5",
    start(): SaslServerStep {
      if (state !== "new") return fail("DIGEST-MD5 already started");
      const n = makeNonce();
      if (!isPlainValue(n, 256)) {
        throw new RangeError(
          'Cannot start DIGEST-MD5: nonce() must give 1..256 printable ASCII without ", \\ or ,',
        );
      }
      issued = n;
      state = "challenged";
      const text = digestMd5ChallengeText(realm, n);
      return { kind: "challenge", line: encodeBase64Bin(text) };
    },
    step(line: Uint8Array): SaslServerStep {
      if (state !== "challenged") {
        return fail(
          state === "new" ? "DIGEST-MD5 not started" : "unexpected client line after DIGEST-MD5",
        );
      }
      state = "done";
      return verify(line);
    },
  };
}
