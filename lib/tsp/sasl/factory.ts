/**
 * Build a SASL server or client by mechanism name, for session machines that pick the mechanism
 * from `AUTHENTICATE <MECH>` (server) or from the `CAPABILITY` line and configuration (client).
 *
 * @module
 */
import { anonymousClient, anonymousServer } from "./anonymous.ts";
import { digestMd5Client } from "./digest_md5_client.ts";
import { digestMd5Server } from "./digest_md5_server.ts";
import type { MechanismName, PasswordLookup, SaslClient, SaslServer } from "./mechanism.ts";
import { plainClient, plainServer } from "./plain.ts";

/**
 * Options of {@link createSaslServer}. ANONYMOUS needs none; PLAIN needs `lookup`; DIGEST-MD5
 * needs `realm`, `lookup` and `nonce`.
 */
export interface SaslServerOptions {
  /** Password of a user, or `undefined` for an unknown user (PLAIN, DIGEST-MD5). */
  lookup?: PasswordLookup;
  /** DIGEST-MD5 realm. */
  realm?: string;
  /** DIGEST-MD5 nonce source. */
  nonce?: () => string;
  /** DIGEST-MD5: also accept gogoc's "Bug1455" A1 (clients at TSP 2.0.0 or older). */
  acceptLegacyA1?: boolean;
}

/**
 * Options of {@link createSaslClient}. ANONYMOUS needs none; PLAIN needs `user` and `pass`;
 * DIGEST-MD5 needs `user`, `pass`, `digestUriHost` and `cnonce`.
 */
export interface SaslClientOptions {
  /** The authentication identity. */
  user?: string;
  /** The password. */
  pass?: string;
  /** DIGEST-MD5: the `<x>` of `digest-uri="tsp/<x>"`. */
  digestUriHost?: string;
  /** DIGEST-MD5 cnonce source. */
  cnonce?: () => string;
  /** DIGEST-MD5 authorization identity. */
  authzid?: string;
  /** DIGEST-MD5: compute gogoc's "Bug1455" A1 (for tests). */
  legacyA1?: boolean;
}

/**
 * A fresh server for one exchange of `name`. Throws `TypeError` for an unknown name or missing
 * options (use `parseMechanismName` on wire input first).
 */
export function createSaslServer(name: MechanismName, opts: SaslServerOptions = {}): SaslServer {
  switch (name) {
    case "ANONYMOUS":
      return anonymousServer();
    case "PLAIN":
      return plainServer(opts.lookup as PasswordLookup);
    case "DIGEST-MD5":
      return digestMd5Server({
        realm: opts.realm as string,
        lookup: opts.lookup as PasswordLookup,
        nonce: opts.nonce as () => string,
        acceptLegacyA1: opts.acceptLegacyA1,
      });
    default:
      throw new TypeError(`Cannot create SASL server: unknown mechanism ${String(name)}`);
  }
}

/**
 * A fresh client for one exchange of `name`. Throws `TypeError` for an unknown name or missing
 * options.
 */
export function createSaslClient(name: MechanismName, opts: SaslClientOptions = {}): SaslClient {
  switch (name) {
    case "ANONYMOUS":
      return anonymousClient();
    case "PLAIN":
      return plainClient(opts.user as string, opts.pass as string);
    case "DIGEST-MD5":
      return digestMd5Client({
        user: opts.user as string,
        pass: opts.pass as string,
        digestUriHost: opts.digestUriHost as string,
        cnonce: opts.cnonce as () => string,
        authzid: opts.authzid,
        legacyA1: opts.legacyA1,
      });
    default:
      throw new TypeError(`Cannot create SASL client: unknown mechanism ${String(name)}`);
  }
}
