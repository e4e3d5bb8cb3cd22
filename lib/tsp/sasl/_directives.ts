/**
 * Private parser and writer for RFC 2831 §7.1 directive lists (`name=value,name="quoted"`), the
 * syntax of DIGEST-MD5 challenges, responses and `rspauth`.
 *
 * Works on binary strings (one code unit per octet, see `_binary.ts`) so quoted values keep their
 * exact octets. Lenient where RFC 2831's `#rule` is (empty list elements, linear white space
 * around `,` and `=`), strict where ambiguity would hurt (a duplicated directive is refused unless
 * the caller allows it; control characters are refused). Never throws.
 *
 * @module
 */

/** Why {@link parseDirectives} refused a list. */
export type DirectivesReason =
  | "bad-name"
  | "missing-equals"
  | "bad-value"
  | "unterminated-quote"
  | "control-char"
  | "missing-comma"
  | "duplicate-directive"
  | "too-many-directives";

/** Result of {@link parseDirectives}: lower-cased names to their (unescaped) values. */
export type DirectivesResult =
  | { readonly ok: true; readonly values: ReadonlyMap<string, readonly string[]> }
  | { readonly ok: false; readonly reason: DirectivesReason; readonly name?: string };

/** The default of {@link parseDirectives}' `repeatable`: no name may repeat. */
const NONE_REPEATABLE: ReadonlySet<string> = new Set();

/** Most directives accepted in one list; real lists have fewer than a dozen. */
const MAX_DIRECTIVES = 64;

/** RFC 2616 §2.2 token characters: CHAR except CTLs and separators, as a lookup table. */
const TOKEN = new Uint8Array(128);
for (let c = 0x21; c < 0x7f; c++) {
  TOKEN[c] = '()<>@,;:\\"/[]?={}'.includes(String.fromCharCode(c)) ? 0 : 1;
}

function isTokenChar(c: number): boolean {
  return c < 128 && TOKEN[c] === 1;
}

function isLws(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

/** A control character that is not linear white space (RFC 2616 CTL minus SP/HT). */
function isBadCtl(c: number): boolean {
  return (c < 0x20 && c !== 0x09) || c === 0x7f;
}

/**
 * Parse a directive list. Names are matched case-insensitively (returned lower-cased); a name
 * appearing twice is refused unless it is in `repeatable` (e.g. `realm` in a challenge, RFC 2831
 * §2.1.1). Values may be tokens or quoted strings; quoted-pairs (`\x`) are unescaped.
 */
export function parseDirectives(
  text: string,
  repeatable: ReadonlySet<string> = NONE_REPEATABLE,
): DirectivesResult {
  const values = new Map<string, string[]>();
  let count = 0;
  let i = 0;
  const n = text.length;
  for (;;) {
    while (i < n && isLws(text.charCodeAt(i))) i++;
    if (i >= n) break;
    if (text.charCodeAt(i) === 0x2c) { // empty list element
      i++;
      continue;
    }
    const nameStart = i;
    while (i < n && isTokenChar(text.charCodeAt(i))) i++;
    if (i === nameStart) {
      return { ok: false, reason: isBadCtl(text.charCodeAt(i)) ? "control-char" : "bad-name" };
    }
    const name = text.slice(nameStart, i).toLowerCase();
    while (i < n && isLws(text.charCodeAt(i))) i++;
    if (i >= n || text.charCodeAt(i) !== 0x3d) return { ok: false, reason: "missing-equals", name };
    i++;
    while (i < n && isLws(text.charCodeAt(i))) i++;
    let value = "";
    if (i < n && text.charCodeAt(i) === 0x22) {
      i++;
      let closed = false;
      let runStart = i;
      while (i < n) {
        const c = text.charCodeAt(i);
        if (c === 0x22) {
          value += text.slice(runStart, i);
          i++;
          closed = true;
          break;
        }
        if (isBadCtl(c)) return { ok: false, reason: "control-char", name };
        if (c === 0x5c) {
          if (i + 1 >= n) break;
          const e = text.charCodeAt(i + 1);
          if (isBadCtl(e)) return { ok: false, reason: "control-char", name };
          value += text.slice(runStart, i) + text[i + 1];
          i += 2;
          runStart = i;
          continue;
        }
        i++;
      }
      if (!closed) return { ok: false, reason: "unterminated-quote", name };
    } else {
      const valueStart = i;
      while (i < n && isTokenChar(text.charCodeAt(i))) i++;
      if (i === valueStart) return { ok: false, reason: "bad-value", name };
      value = text.slice(valueStart, i);
    }
    while (i < n && isLws(text.charCodeAt(i))) i++;
    if (i < n && text.charCodeAt(i) !== 0x2c) return { ok: false, reason: "missing-comma", name };
    if (++count > MAX_DIRECTIVES) return { ok: false, reason: "too-many-directives" };
    const list = values.get(name);
    if (list === undefined) values.set(name, [value]);
    else if (repeatable.has(name)) list.push(value);
    else return { ok: false, reason: "duplicate-directive", name };
  }
  return { ok: true, values };
}

/** A value as an RFC 2831 quoted-string: `"` and `\` escaped with `\`. */
export function quote(value: string): string {
  return '"' + value.replace(/["\\]/g, "\\$&") + '"';
}
