/**
 * Private text helpers shared by the parsers in `lib/addr/`. Not re-exported from `mod.ts`.
 *
 * @module
 */

/** True for the whitespace XML allows around text: space, tab, CR, LF. */
function isXmlSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/**
 * Remove leading and trailing XML whitespace (space, tab, CR, LF). Unlike `String#trim` this
 * keeps Unicode spaces such as U+00A0 or U+2028, which the parsers then refuse as invalid
 * characters. Returns `text` itself when there is nothing to trim.
 */
export function trimXmlSpace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isXmlSpace(text.charCodeAt(start))) start++;
  while (end > start && isXmlSpace(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}
