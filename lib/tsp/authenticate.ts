/**
 * The `AUTHENTICATE <MECH>` line (protocol brief §2.3, §2.4). gogoc follows it with a NUL byte;
 * the frame reader drops NULs around lines, so the line seen here has none.
 *
 * @module
 */

/** Result of {@link parseAuthenticateLine}. */
export type AuthenticateLineResult =
  | { readonly ok: true; readonly mechanism: string }
  | { readonly ok: false; readonly reason: "not-authenticate" | "missing-mechanism" };

/**
 * Read `AUTHENTICATE <MECH>` (keyword in any case). The mechanism is returned upper case; whether
 * it is offered is the caller's decision. Never throws.
 */
export function parseAuthenticateLine(line: string): AuthenticateLineResult {
  if (typeof line !== "string" || line.length > 128) {
    return { ok: false, reason: "not-authenticate" };
  }
  const tokens = line.trim().split(/[ \t]+/);
  if (tokens[0].toUpperCase() !== "AUTHENTICATE") return { ok: false, reason: "not-authenticate" };
  if (tokens.length !== 2 || tokens[1].length === 0) {
    return { ok: false, reason: "missing-mechanism" };
  }
  return { ok: true, mechanism: tokens[1].toUpperCase() };
}

/** Form `AUTHENTICATE <MECH>` without CR LF. Throws `TypeError` for a bad mechanism token. */
export function formatAuthenticateLine(mechanism: string): string {
  if (typeof mechanism !== "string" || !/^[A-Za-z0-9_-]{1,20}$/.test(mechanism)) {
    throw new TypeError(
      `Cannot format authenticate line: bad mechanism ${JSON.stringify(mechanism)}`,
    );
  }
  return "AUTHENTICATE " + mechanism.toUpperCase();
}
