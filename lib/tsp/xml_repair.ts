/**
 * The single XML repair allowed by protocol brief §3.2 item 1, plus the structural checks a
 * strict parser cannot express (one root, no DTD).
 *
 * The multi-TEP draft's query (Appendix A) never closes `<server>` before `</tunnel>`. The repair:
 * when a close tag names an element that is open deeper in the stack, or the text ends with
 * elements still open, close the open elements in order and carry on. A close tag that names no
 * open element is not repaired: the document is refused. The caller learns that a repair happened
 * (`repaired: true`) so that it can log it.
 *
 * Refused outright: any `<!` declaration other than a comment or CDATA (`<!DOCTYPE`, `<!ENTITY`:
 * no DTD, no entity definitions), more than one root element, text outside the root, unterminated
 * tags, comments or processing instructions, and nesting deeper than `maxDepth`.
 * Element names are compared case-insensitively. Attribute syntax and entity references are left
 * to the XML validator that runs afterwards.
 *
 * @module
 */
import { isNameChar, isNameStart, isSpace } from "./_xml_chars.ts";

/** Why {@link repairXml} refused a document. */
export type XmlRepairReason =
  /** A `<!DOCTYPE`, `<!ENTITY` or other declaration. */
  | "dtd"
  /** Unterminated markup, text outside the root, a bad tag name. */
  | "malformed"
  /** No element at all. */
  | "no-root"
  /** A second element after the root closed. */
  | "multiple-roots"
  /** A close tag that names no open element. */
  | "stray-close"
  /** Elements nested deeper than `maxDepth`. */
  | "too-deep";

/** Result of {@link repairXml}: the (possibly repaired) text, or why it was refused. */
export type XmlRepairResult =
  | { readonly ok: true; readonly text: string; readonly repaired: boolean }
  | { readonly ok: false; readonly reason: XmlRepairReason; readonly at: number };

/** Default limit on element nesting. A TSP message nests at most 5 deep. */
export const DEFAULT_MAX_XML_DEPTH = 16;

interface Open {
  readonly name: string;
  readonly lower: string;
}

/**
 * Check the document structure and apply the §3.2 repair if needed; see the module
 * documentation. Never throws.
 */
export function repairXml(text: string, maxDepth: number = DEFAULT_MAX_XML_DEPTH): XmlRepairResult {
  if (typeof text !== "string") return { ok: false, reason: "malformed", at: 0 };
  const n = text.length;
  const stack: Open[] = [];
  const parts: string[] = [];
  let last = 0;
  let repaired = false;
  let rootSeen = false;
  let rootClosed = false;
  let i = 0;
  const fail = (reason: XmlRepairReason, at: number): XmlRepairResult => ({
    ok: false,
    reason,
    at,
  });

  while (i < n) {
    const lt = text.indexOf("<", i);
    const textEnd = lt < 0 ? n : lt;
    if (stack.length === 0) {
      for (let k = i; k < textEnd; k++) {
        if (!isSpace(text.charCodeAt(k))) return fail("malformed", k);
      }
    }
    if (lt < 0) break;
    i = lt;
    if (text.startsWith("<!--", i)) {
      const j = text.indexOf("-->", i + 4);
      if (j < 0) return fail("malformed", i);
      i = j + 3;
      continue;
    }
    if (text.startsWith("<![CDATA[", i)) {
      if (stack.length === 0) return fail("malformed", i);
      const j = text.indexOf("]]>", i + 9);
      if (j < 0) return fail("malformed", i);
      i = j + 3;
      continue;
    }
    if (text.startsWith("<!", i)) return fail("dtd", i);
    if (text.startsWith("<?", i)) {
      const j = text.indexOf("?>", i + 2);
      if (j < 0) return fail("malformed", i);
      i = j + 2;
      continue;
    }
    if (text.startsWith("</", i)) {
      const j = text.indexOf(">", i + 2);
      if (j < 0) return fail("malformed", i);
      const name = text.slice(i + 2, j).trim();
      if (!validName(name)) return fail("malformed", i);
      const lower = name.toLowerCase();
      let k = stack.length - 1;
      while (k >= 0 && stack[k].lower !== lower) k--;
      if (k < 0) return fail("stray-close", i);
      if (k < stack.length - 1) {
        // §3.2 repair: close the elements opened after the one this tag closes.
        parts.push(text.slice(last, i));
        for (let m = stack.length - 1; m > k; m--) parts.push(`</${stack[m].name}>`);
        last = i;
        repaired = true;
      }
      stack.length = k;
      if (k === 0) rootClosed = true;
      i = j + 1;
      continue;
    }
    // Open tag.
    let j = i + 1;
    if (j >= n || !isNameStart(text.charCodeAt(j))) return fail("malformed", i);
    while (j < n && isNameChar(text.charCodeAt(j))) j++;
    const name = text.slice(i + 1, j);
    if (rootClosed) return fail("multiple-roots", i);
    let quote = 0;
    for (; j < n; j++) {
      const c = text.charCodeAt(j);
      if (quote !== 0) {
        if (c === quote) quote = 0;
      } else if (c === 0x22 || c === 0x27) {
        quote = c;
      } else if (c === 0x3e) {
        break;
      } else if (c === 0x3c) {
        return fail("malformed", j);
      }
    }
    if (j >= n) return fail("malformed", i);
    rootSeen = true;
    if (text.charCodeAt(j - 1) === 0x2f) {
      if (stack.length === 0) rootClosed = true;
    } else {
      stack.push({ name, lower: name.toLowerCase() });
      if (stack.length > maxDepth) return fail("too-deep", i);
    }
    i = j + 1;
  }
  if (!rootSeen) return fail("no-root", n);
  if (stack.length === 0 && !repaired) return { ok: true, text, repaired: false };
  parts.push(text.slice(last));
  for (let m = stack.length - 1; m >= 0; m--) parts.push(`</${stack[m].name}>`);
  return { ok: true, text: parts.join(""), repaired: true };
}

function validName(name: string): boolean {
  if (name.length === 0 || !isNameStart(name.charCodeAt(0))) return false;
  for (let i = 1; i < name.length; i++) if (!isNameChar(name.charCodeAt(i))) return false;
  return true;
}
