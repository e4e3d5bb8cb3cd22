/**
 * The SASL mechanism interface shared by the TSP session machines (RFC 5572 §2.2, protocol brief
 * §2.3, §2.4, §8.2, §8.3).
 *
 * A mechanism is pure: it never touches a socket, a timer or a random source of its own. The
 * session machine owns the line framing (CR LF, NUL skipping) and the status lines (`200 …`,
 * `300 Authentication failed`); a mechanism only decides what goes between `AUTHENTICATE <MECH>`
 * and the status line.
 *
 * The factories live beside their mechanism (`anonymous.ts`, `plain.ts`, `digest_md5_server.ts`,
 * `digest_md5_client.ts`, `factory.ts`); `mod.ts` re-exports everything.
 *
 * @module
 */

/** The SASL mechanisms TSP peers use (brief §2.3): the token after `AUTHENTICATE` and `AUTH=`. */
export type MechanismName = "ANONYMOUS" | "PLAIN" | "DIGEST-MD5";

/** Every {@link MechanismName}, strongest first (the order a client should prefer them). */
export const MECHANISM_NAMES: readonly MechanismName[] = ["DIGEST-MD5", "PLAIN", "ANONYMOUS"];

/**
 * Read a mechanism name from the wire (`AUTHENTICATE <MECH>`, `AUTH=<MECH>`). SASL mechanism
 * names are upper case (RFC 4422 §3.1), but peers are lenient, so case is ignored. Returns
 * `undefined` for a name this module does not implement; never throws.
 */
export function parseMechanismName(text: string): MechanismName | undefined {
  if (typeof text !== "string" || text.length > 20) return undefined;
  const upper = text.toUpperCase();
  for (const name of MECHANISM_NAMES) if (name === upper) return name;
  return undefined;
}

/** What the server side wants done after it consumed the AUTHENTICATE line or a client line. */
export type SaslServerStep =
  /** Send this line (no CR LF), then wait for a client line. */
  | { kind: "challenge"; line: string }
  /** Send nothing, wait for a client line (PLAIN: the credentials follow unprompted). */
  | { kind: "await" }
  /**
   * Authenticated as `identity`. `final`, when present, is a line to send BEFORE the `200 Success`
   * line (DIGEST-MD5 rspauth, base64), as a separate write (brief §8.3).
   */
  | { kind: "success"; identity: string; final?: string }
  /** Answer `300 Authentication failed` and close. `reason` is for logs, never for the peer. */
  | { kind: "failure"; reason: string };

/** The server side of one SASL exchange. One instance serves exactly one exchange. */
export interface SaslServer {
  /** The mechanism this exchange runs. */
  readonly mechanism: MechanismName;
  /** Call right after `AUTHENTICATE <MECH>` was read. A second call gives `failure`. */
  start(): SaslServerStep;
  /**
   * One client line, CR LF removed, leading/trailing NULs removed by the caller. Never throws on
   * any input; a line after `success`/`failure` (or before `start`) gives `failure`.
   */
  step(line: Uint8Array): SaslServerStep;
}

/** Credentials lookup for servers: the password for a user (DIGEST-MD5 needs it), or undefined. */
export type PasswordLookup = (user: string) => string | undefined;

/** What the client side wants done. */
export type SaslClientStep =
  /** Send this line (the caller appends CR LF). */
  | { kind: "send"; line: Uint8Array }
  /** Nothing to send, wait for the next server line. */
  | { kind: "await" }
  /** (DIGEST-MD5) The server's rspauth checked OK; now expect the `200` line. */
  | { kind: "verified" }
  /** E.g. rspauth mismatch: mutual authentication failed, abort the session. */
  | { kind: "failure"; reason: string };

/** The client side of one SASL exchange. One instance serves exactly one exchange. */
export interface SaslClient {
  /** The mechanism this exchange runs. */
  readonly mechanism: MechanismName;
  /**
   * Whether a success status line (`200 …` / `OK …`) may be accepted now. ANONYMOUS and PLAIN:
   * true once started. DIGEST-MD5: true only after `verified`; a success line before that means
   * the server skipped mutual authentication and the session must be aborted. Optional so that
   * test fakes need not provide it; every client in this module does.
   */
  readonly successAllowed?: boolean;
  /**
   * Call right after sending `AUTHENTICATE <MECH>`; perform the steps in order. PLAIN: one `send`
   * of the raw bytes `\0user\0pass`. ANONYMOUS and DIGEST-MD5: one `await`.
   */
  start(): SaslClientStep[];
  /** One server line that is not a status line. Never throws on any input. */
  step(line: Uint8Array): SaslClientStep;
}
