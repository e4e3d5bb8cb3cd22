/**
 * The `CAPABILITY` line (protocol brief §2.3): `CAPABILITY TUNNEL=V4V6 AUTH=DIGEST-MD5 AUTH=ANONYMOUS`.
 *
 * Tunnel tokens are sent UPPER case, as deployed clients expect, though the XML `type` attribute
 * is lower case. Tokens are read case-insensitively and returned upper case.
 *
 * @module
 */

/** What a `CAPABILITY` line offers. */
export interface Capabilities {
  /** Tunnel types, upper case (`V4V6`). */
  readonly tunnels: readonly string[];
  /** SASL mechanisms, upper case (`DIGEST-MD5`). */
  readonly mechanisms: readonly string[];
  /** Any other token, as sent. */
  readonly other: readonly string[];
}

/** Result of {@link parseCapabilityLine}. */
export type CapabilityLineResult =
  | { readonly ok: true; readonly capabilities: Capabilities }
  | { readonly ok: false; readonly reason: "not-capability" | "too-long" };

/** Longest `CAPABILITY` line read. */
export const MAX_CAPABILITY_LINE = 1024;

/** Read a `CAPABILITY` line (keyword in any case, tokens separated by spaces). Never throws. */
export function parseCapabilityLine(line: string): CapabilityLineResult {
  if (typeof line !== "string") return { ok: false, reason: "not-capability" };
  if (line.length > MAX_CAPABILITY_LINE) return { ok: false, reason: "too-long" };
  const tokens = line.trim().split(/[ \t]+/);
  if (tokens[0].toUpperCase() !== "CAPABILITY") return { ok: false, reason: "not-capability" };
  const tunnels: string[] = [];
  const mechanisms: string[] = [];
  const other: string[] = [];
  for (const tok of tokens.slice(1)) {
    if (tok.length === 0) continue;
    const eq = tok.indexOf("=");
    const key = eq < 0 ? "" : tok.slice(0, eq).toUpperCase();
    const value = eq < 0 ? "" : tok.slice(eq + 1).toUpperCase();
    if (key === "TUNNEL" && value.length > 0) tunnels.push(value);
    else if (key === "AUTH" && value.length > 0) mechanisms.push(value);
    else other.push(tok);
  }
  return { ok: true, capabilities: { tunnels, mechanisms, other } };
}

/**
 * Form a `CAPABILITY` line without CR LF; tokens are upper-cased and keep their order. Throws
 * `TypeError` for a token with a space, `=`, CR, LF or NUL.
 */
export function formatCapabilityLine(
  caps: { readonly tunnels: readonly string[]; readonly mechanisms: readonly string[] },
): string {
  const parts = ["CAPABILITY"];
  for (const t of caps.tunnels) parts.push("TUNNEL=" + checkToken(t));
  for (const m of caps.mechanisms) parts.push("AUTH=" + checkToken(m));
  return parts.join(" ");
}

function checkToken(t: string): string {
  if (typeof t !== "string" || t.length === 0 || /[\s=\0]/.test(t)) {
    throw new TypeError(`Cannot format capability line: bad token ${JSON.stringify(t)}`);
  }
  return t.toUpperCase();
}
