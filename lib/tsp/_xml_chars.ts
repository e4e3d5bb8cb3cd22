/**
 * Character classes shared by the XML repair pass and the XML reader (private to `lib/tsp`).
 *
 * @module
 */

/** XML whitespace: space, tab, LF, CR. */
export function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** An ASCII name start character: letter, `_` or `:`. */
export function isNameStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f || c === 0x3a;
}

/** An ASCII name character: a name start, digit, `-` or `.`. */
export function isNameChar(c: number): boolean {
  return isNameStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e;
}
