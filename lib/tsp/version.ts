/**
 * The `VERSION=` line and what each TSP version implies (protocol brief §2.2, §2.3, §8.6).
 *
 * Versions: `1.0` (draft-vg-ngtrans-tsp-01, the 2002 DSTM profile and the multi-TEP draft) has no
 * `accept` step; `2.0.0` (drafts -01...-04, RFC 5572), `2.0.1` and `2.0.2` (gogoc) have one.
 *
 * @module
 */

/** The versions this implementation speaks. */
export type TspVersion = "1.0" | "2.0.0" | "2.0.1" | "2.0.2";

/** Every {@link TspVersion}, newest first: the order a client tries them after each `302`. */
export const TSP_VERSIONS: readonly TspVersion[] = Object.freeze([
  "2.0.2",
  "2.0.1",
  "2.0.0",
  "1.0",
]);

/** True when `text` is one of {@link TSP_VERSIONS}. */
export function isTspVersion(text: string): text is TspVersion {
  return (TSP_VERSIONS as readonly string[]).includes(text);
}

/**
 * True for any 2.0.x version (`2.0.0`, `2.0.2`, `2.0.17`, ...): what the tsps server accepts
 * (any `VERSION=2.0.` line) and what the brief's §2.3 asks a server to accept. Use it in
 * `ServerSessionOptions.acceptVersion`. Takes the `<v>` of a parsed line, not the line.
 */
export function isTsp20Version(version: string): boolean {
  return typeof version === "string" && version.startsWith("2.0.") && version.length > 4;
}

/** Result of {@link parseVersionLine}. */
export type VersionLineResult =
  | { readonly ok: true; readonly version: string }
  | { readonly ok: false; readonly reason: "not-version" | "bad-version" };

const PREFIX = "VERSION=";

/**
 * Read `VERSION=<v>` (prefix in any case, spaces around `<v>` ignored). `<v>` must be dotted
 * decimal with 2 to 4 parts (`1.0`, `2.0.0`); whether it is supported is the caller's decision.
 * Never throws.
 */
export function parseVersionLine(line: string): VersionLineResult {
  if (typeof line !== "string" || line.length > 64) return { ok: false, reason: "not-version" };
  const t = line.trim();
  if (t.length < PREFIX.length || t.slice(0, PREFIX.length).toUpperCase() !== PREFIX) {
    return { ok: false, reason: "not-version" };
  }
  const v = t.slice(PREFIX.length).trim();
  if (!/^\d{1,3}(\.\d{1,3}){1,3}$/.test(v)) return { ok: false, reason: "bad-version" };
  return { ok: true, version: v };
}

/** Form the version line without CR LF: `VERSION=2.0.0`. Throws `TypeError` for a bad version. */
export function formatVersionLine(version: string): string {
  if (typeof version !== "string" || !/^\d{1,3}(\.\d{1,3}){1,3}$/.test(version)) {
    throw new TypeError(`Cannot format version line: bad version ${JSON.stringify(version)}`);
  }
  return PREFIX + version;
}

/**
 * True when a version has the `accept`/`reject` step after a `create` answered with `info`:
 * every 2.x version. 1.x (1.0, gogoc's 1.0.1) has none (brief §2.2, §3.2 item 7).
 */
export function hasAcceptStep(version: string): boolean {
  return !version.startsWith("1.");
}
